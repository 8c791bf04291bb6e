"""The "what the server saw" view, from the server's record and from a client's."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization

from p2plab import Identity, lesson
from p2plab.lesson import Seen
from p2plab.serverview import ServerView, appears_in, readable_fields


def private_der(identity: Identity) -> bytes:
    """Return the private key as unencrypted PKCS#8 DER."""
    return identity.private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def seen(message: dict[str, object]) -> Seen:
    """Return a frame the server read, with ``message`` as its JSON."""
    raw = json.dumps(message).encode()
    return Seen("alice", 1, "<", str(message.get("type")), len(raw), message, raw)


@pytest.fixture(autouse=True)
def clean() -> None:
    """Nothing stays open between tests."""
    lesson.reset()
    yield
    lesson.reset()


def test_view_lists_the_servers_frames_with_fields(alice_id: Identity) -> None:
    """The view has a row per frame the server handled for the user, with its fields."""
    server = lesson.start_server()
    lesson.run(lesson.joined("alice", server, alice_id))

    view = ServerView(server.saw("alice"))

    assert view.types == ["hello", "join", "welcome"]
    assert [row[0] for row in view.rows] == ["wrote", "read", "wrote"]
    assert "key=" in view.value and "signature=" in view.value
    assert repr(view) == (
        "<What the server saw: 3 frames: hello ×1, join ×1, welcome ×1>"
    )


def test_client_frames_are_turned_round(alice_id: Identity) -> None:
    """A client's own copy shows the same frames, seen from the server's side."""
    server = lesson.start_server()
    client = lesson.run(lesson.joined("alice", server, alice_id))

    mine = ServerView(client.frames)
    theirs = ServerView(server.saw("alice"))

    assert [r[:4] for r in mine.rows] == [
        (d, "", k, s) for d, _, k, s, _ in theirs.rows
    ]


def test_long_values_are_cut_and_markup_is_escaped() -> None:
    """A long field is cut with its length, and HTML in a field is shown as text."""
    fields = readable_fields({"type": "offer", "sdp": "v=0" * 100})
    assert fields[0] == "type=offer"
    assert fields[1].endswith("(300 chars)") and len(fields[1]) < 60

    view = ServerView([])
    assert "<script>" not in ServerView([], title="<script>").value
    assert view.rows == []


def test_a_published_public_key_appears_and_the_private_key_does_not(
    alice_id: Identity,
) -> None:
    """After a join the SPKI DER is found in the server's frames; no secret part is."""
    server = lesson.start_server()
    client = lesson.run(lesson.joined("alice", server, alice_id))

    assert appears_in(alice_id.public_der, server.saw())
    assert appears_in(alice_id.public_der, client.frames)
    assert not appears_in(private_der(alice_id), server.saw())
    for part in alice_id.secret_parts().values():
        assert not appears_in(part, server.saw(), window=32)


def test_pieces_of_the_pkcs8_der_appear_because_it_holds_the_modulus(
    alice_id: Identity,
) -> None:
    """A 32-byte piece of the private key file is found: PKCS#8 holds n, public."""
    server = lesson.start_server()
    lesson.run(lesson.joined("alice", server, alice_id))

    assert appears_in(private_der(alice_id), server.saw(), window=32)


def test_a_secret_is_found_raw_in_base64_and_in_hex() -> None:
    """The search reads the raw frame and every string decoded from base64 or hex."""
    secret = bytes(range(40))
    as_b64 = seen({"type": "x", "data": base64.b64encode(secret).decode()})
    as_hex = seen({"type": "x", "nested": [{"fp": secret.hex(" ")}]})
    raw = Seen("alice", 1, "<", "?", 42, {}, b"junk" + secret)

    for frame in (as_b64, as_hex, raw):
        assert appears_in(secret, [frame])
        assert appears_in(secret[5:37] + b"other", [frame], window=32)
    assert not appears_in(secret, [seen({"type": "x", "data": "not it"})])


def test_a_window_longer_than_the_secret_looks_for_the_whole() -> None:
    """A short secret with a long window is searched whole, not skipped."""
    frame = seen({"type": "x", "data": base64.b64encode(b"short").decode()})
    assert appears_in(b"short", [frame], window=32)
    assert not appears_in(b"other", [frame], window=32)


@pytest.mark.parametrize(
    "field",
    [
        "nonce and key",
        "6e6f6e636520616e64206b6579",
        "6E6F6E636520616E64206B6579",
        base64.b64encode(b"nonce and key").decode(),
        base64.urlsafe_b64encode(b"nonce and key").decode().rstrip("="),
    ],
    ids=["plain", "hex", "HEX", "base64", "base64url-unpadded"],
)
def test_appears_in_finds_a_secret_in_any_usual_encoding(field: str) -> None:
    """A secret carried as text, hex or base64 in a frame is found."""
    frames = [seen({"type": "offer", "sdp": "v=0"}), seen({"type": "x", "f": field})]
    assert appears_in(b"nonce and key", frames)


def test_appears_in_finds_text_as_json_writes_it() -> None:
    """A text secret is found also with its non-ASCII letters escaped by JSON."""
    assert appears_in("Grüße", [seen({"type": "x", "text": "Grüße"})])
    assert not appears_in("Grüße", [seen({"type": "x", "text": "Grüsse"})])


def test_nothing_absent_appears() -> None:
    """Secrets that no frame carries, or no frames at all, reveal nothing."""
    frames = [seen({"type": "join", "name": "alice"})]
    for secret in (b"session key", "chat text", b""):
        assert not appears_in(secret, frames)
    assert not appears_in(b"session key", [])


def test_server_sees_public_keys_but_no_chat() -> None:
    """In a real chat the server saw the public keys, and no message text or seal."""
    server = lesson.start_server()
    alice, bob = lesson.run(lesson.chat_pair(server))
    sent = lesson.run(alice.send("meet at noon"))
    lesson.run(lesson.received(bob))

    assert appears_in(alice.identity.public_b64, server.saw())
    for secret in ("meet at noon", sent.data["nonce"], sent.data["ciphertext"]):
        assert not appears_in(secret, server.saw())


def test_text_form_is_never_cut() -> None:
    """The notebook's text form of a long table is its whole summary."""
    frames = [seen({"type": f"type-{n}"}) for n in range(12)]
    view = ServerView(frames)
    text = view._repr_mimebundle_()["text/plain"]
    assert text == repr(view) and len(text) > 110 and text.endswith("type-11 ×1>")

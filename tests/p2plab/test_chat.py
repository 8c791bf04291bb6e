"""Tests for p2plab.chat: two sessions exchanging frames in memory, no network."""

from __future__ import annotations

import base64
import json

import pytest

from p2plab import ChatError, DecryptionError, ReplayError, UnwrapError
from p2plab.chat import MAX_TEXT, VERSION, ChatSession, Control, Receipt, Received
from p2plab.identity import Identity
from p2plab.sealing import NonceSequence, seal


def pair(alice_id: Identity, bob_id: Identity) -> tuple[ChatSession, ChatSession]:
    """Return Alice's (initiator) and Bob's (responder) sessions, key exchanged."""
    alice = ChatSession(alice_id, bob_id.public_key, initiator=True)
    bob = ChatSession(bob_id, alice_id.public_key, initiator=False)
    assert bob.receive(alice.start()) is None
    return alice, bob


def edit(frame: str, **fields: str) -> str:
    """Return ``frame`` with some of its JSON fields replaced."""
    return json.dumps({**json.loads(frame), **fields})


def flip_b64(value: str, position: int = 0) -> str:
    """Return base64 ``value`` with one bit of its decoded bytes flipped."""
    data = bytearray(base64.b64decode(value))
    data[position] ^= 0x01
    return base64.b64encode(bytes(data)).decode("ascii")


@pytest.fixture
def sessions(alice_id: Identity, bob_id: Identity) -> tuple[ChatSession, ChatSession]:
    """Alice and Bob with a session key in common."""
    return pair(alice_id, bob_id)


# Key exchange.


def test_key_exchange_gives_both_sides_the_same_key(
    alice_id: Identity, bob_id: Identity
) -> None:
    """After Bob takes Alice's key frame, both sessions are ready with one key."""
    alice = ChatSession(alice_id, bob_id.public_key, initiator=True)
    bob = ChatSession(bob_id, alice_id.public_key, initiator=False)
    assert not alice.ready and not bob.ready

    frame = alice.start()
    assert alice.ready and not bob.ready
    assert bob.receive(frame) is None

    assert bob.ready
    assert bob.session_key == alice.session_key
    assert bob.wrapped_key == alice.wrapped_key
    assert alice.session_key is not None and len(alice.session_key) == 32


def test_key_frame_carries_the_version_and_no_session_key(
    alice_id: Identity, bob_id: Identity
) -> None:
    """The key frame names the protocol version and holds only the wrapped key."""
    alice = ChatSession(alice_id, bob_id.public_key, initiator=True)
    msg = json.loads(alice.start())
    assert msg["type"] == "key"
    assert msg["version"] == VERSION == "seed"
    assert base64.b64decode(msg["wrapped"]) == alice.wrapped_key
    assert alice.session_key is not None
    assert base64.b64encode(alice.session_key).decode() not in json.dumps(msg)


def test_peer_fingerprint_is_the_fingerprint_of_the_peer_key(
    sessions: tuple[ChatSession, ChatSession], alice_id: Identity, bob_id: Identity
) -> None:
    """Each side shows the fingerprint of the other side's public key."""
    alice, bob = sessions
    assert alice.peer_fingerprint == bob_id.fingerprint
    assert bob.peer_fingerprint == alice_id.fingerprint


def test_only_the_initiator_starts(alice_id: Identity, bob_id: Identity) -> None:
    """start() on the responder raises ChatError: only the initiator makes the key."""
    bob = ChatSession(bob_id, alice_id.public_key, initiator=False)
    with pytest.raises(ChatError, match="only the initiator"):
        bob.start()


def test_start_twice_is_refused(alice_id: Identity, bob_id: Identity) -> None:
    """A second start() raises ChatError and keeps the first session key."""
    alice = ChatSession(alice_id, bob_id.public_key, initiator=True)
    alice.start()
    key = alice.session_key
    with pytest.raises(ChatError, match="already sent"):
        alice.start()
    assert alice.session_key == key


def test_second_key_frame_is_refused(
    alice_id: Identity, bob_id: Identity, eve_id: Identity
) -> None:
    """A second key frame raises ChatError; the first session key stays in use."""
    alice, bob = pair(alice_id, bob_id)
    other = ChatSession(eve_id, bob_id.public_key, initiator=True)
    with pytest.raises(ChatError, match="second session key"):
        bob.receive(other.start())
    assert bob.session_key == alice.session_key
    received = bob.receive(alice.seal("still us").frame)
    assert received is not None and received.text == "still us"


def test_session_built_with_the_wrong_peer_key_fails_to_unwrap(
    alice_id: Identity, bob_id: Identity, eve_id: Identity
) -> None:
    """A key wrapped under a swapped public key makes the responder fail to unwrap."""
    alice = ChatSession(alice_id, eve_id.public_key, initiator=True)
    bob = ChatSession(bob_id, alice_id.public_key, initiator=False)
    with pytest.raises(UnwrapError):
        bob.receive(alice.start())
    assert not bob.ready


def test_a_message_before_the_key_is_refused(
    alice_id: Identity, bob_id: Identity
) -> None:
    """A message frame that arrives before the key frame raises UnwrapError."""
    alice = ChatSession(alice_id, bob_id.public_key, initiator=True)
    bob = ChatSession(bob_id, alice_id.public_key, initiator=False)
    alice.start()
    with pytest.raises(UnwrapError, match="before the session key"):
        bob.receive(alice.seal("too early").frame)


def test_a_key_frame_of_another_version_is_refused(
    alice_id: Identity, bob_id: Identity
) -> None:
    """A key frame with another protocol version raises ChatError naming both."""
    alice = ChatSession(alice_id, bob_id.public_key, initiator=True)
    bob = ChatSession(bob_id, alice_id.public_key, initiator=False)
    with pytest.raises(ChatError, match="'v2'.*'seed'"):
        bob.receive(edit(alice.start(), version="v2"))
    assert not bob.ready


# Messages.


def test_messages_flow_both_ways(sessions: tuple[ChatSession, ChatSession]) -> None:
    """Alice's text reaches Bob and Bob's reaches Alice, counted from 0 each."""
    alice, bob = sessions
    for counter, text in enumerate(["hi Bob", "how are you?"]):
        received = bob.receive(alice.seal(text).frame)
        assert received is not None
        assert (received.text, received.counter) == (text, counter)

    received = alice.receive(bob.seal("fine, thanks: ünïcödé ✓").frame)
    assert received is not None
    assert (received.text, received.counter) == ("fine, thanks: ünïcödé ✓", 0)


def test_received_matches_what_was_sealed(
    sessions: tuple[ChatSession, ChatSession],
) -> None:
    """The received record carries the nonce and ciphertext that were sent."""
    alice, bob = sessions
    sealed = alice.seal("hello")
    received = bob.receive(sealed.frame)
    assert received is not None
    assert received.nonce == sealed.nonce
    assert received.ciphertext == sealed.ciphertext
    assert received.counter == sealed.counter == 0


def test_message_frame_does_not_hold_the_plaintext(
    sessions: tuple[ChatSession, ChatSession],
) -> None:
    """A message frame has only type, nonce and ciphertext; the text is not in it."""
    alice, _ = sessions
    frame = alice.seal("a secret plan").frame
    assert set(json.loads(frame)) == {"type", "nonce", "ct"}
    assert "secret" not in frame


def test_nonces_differ_between_the_two_directions(
    sessions: tuple[ChatSession, ChatSession],
) -> None:
    """Both sides count 0, 1, 2 under different prefixes, so no nonce repeats."""
    alice, bob = sessions
    sent_by_alice = [alice.seal("a").nonce for _ in range(3)]
    sent_by_bob = [bob.seal("b").nonce for _ in range(3)]
    assert not set(sent_by_alice) & set(sent_by_bob)
    assert [NonceSequence.split(n)[1] for n in sent_by_alice] == [0, 1, 2]
    assert [NonceSequence.split(n)[1] for n in sent_by_bob] == [0, 1, 2]
    assert (
        NonceSequence.split(sent_by_alice[0])[0]
        != (NonceSequence.split(sent_by_bob[0])[0])
    )


def test_seal_before_ready_is_refused(alice_id: Identity, bob_id: Identity) -> None:
    """Sealing before the session key exists raises ChatError, on either side."""
    alice = ChatSession(alice_id, bob_id.public_key, initiator=True)
    bob = ChatSession(bob_id, alice_id.public_key, initiator=False)
    for session in (alice, bob):
        with pytest.raises(ChatError, match="no session key yet"):
            session.seal("hello")


def test_message_over_max_text_is_refused(
    sessions: tuple[ChatSession, ChatSession],
) -> None:
    """A text over MAX_TEXT UTF-8 bytes is refused; exactly MAX_TEXT is sealed."""
    alice, bob = sessions
    received = bob.receive(alice.seal("x" * MAX_TEXT).frame)
    assert received is not None and len(received.text) == MAX_TEXT

    # Two bytes per character in UTF-8: short in characters, long in bytes.
    with pytest.raises(ChatError, match=f"limit is {MAX_TEXT} bytes"):
        alice.seal("é" * (MAX_TEXT // 2 + 1))


def test_a_refused_text_does_not_use_up_a_nonce(
    sessions: tuple[ChatSession, ChatSession],
) -> None:
    """After a refused oversized text, the next message still has counter 1."""
    alice, _ = sessions
    alice.seal("first")
    with pytest.raises(ChatError):
        alice.seal("x" * (MAX_TEXT + 1))
    assert alice.seal("second").counter == 1


# Refused frames leave the session working.


@pytest.mark.parametrize("field", ["ct", "nonce"])
def test_tampered_message_is_refused_and_the_session_goes_on(
    sessions: tuple[ChatSession, ChatSession], field: str
) -> None:
    """A flipped bit in ciphertext or nonce is refused; the real frame still opens."""
    alice, bob = sessions
    frame = alice.seal("pay Bob 10 euros").frame
    position = -1 if field == "ct" else 11
    tampered = edit(frame, **{field: flip_b64(json.loads(frame)[field], position)})
    with pytest.raises(DecryptionError):
        bob.receive(tampered)

    received = bob.receive(frame)
    assert received is not None and received.text == "pay Bob 10 euros"
    received = bob.receive(alice.seal("next").frame)
    assert received is not None and received.text == "next"


def test_a_forged_counter_does_not_move_the_replay_window(
    sessions: tuple[ChatSession, ChatSession],
) -> None:
    """A nonce with a huge forged counter fails authentication and blocks nothing."""
    alice, bob = sessions
    frame = alice.seal("hello").frame
    forged = bytes.fromhex("00000001") + (2**63).to_bytes(8, "big")
    with pytest.raises(DecryptionError):
        bob.receive(edit(frame, nonce=base64.b64encode(forged).decode()))
    received = bob.receive(frame)
    assert received is not None and received.counter == 0


def test_replayed_frame_is_refused_and_the_session_goes_on(
    sessions: tuple[ChatSession, ChatSession],
) -> None:
    """The same frame delivered twice raises ReplayError; new frames still pass."""
    alice, bob = sessions
    frame = alice.seal("transfer approved").frame
    assert bob.receive(frame) is not None
    with pytest.raises(ReplayError, match="already received"):
        bob.receive(frame)

    received = bob.receive(alice.seal("after the replay").frame)
    assert received is not None
    assert (received.text, received.counter) == ("after the replay", 1)


def test_an_older_message_after_a_newer_one_is_refused(
    sessions: tuple[ChatSession, ChatSession],
) -> None:
    """Counters must grow: message 0 after message 1 is refused as a replay."""
    alice, bob = sessions
    first, second = alice.seal("first"), alice.seal("second")
    assert bob.receive(second.frame) is not None
    with pytest.raises(ReplayError):
        bob.receive(first.frame)


def test_our_own_frame_reflected_back_is_refused(
    sessions: tuple[ChatSession, ChatSession],
) -> None:
    """A message we sent, sent back to us, raises ChatError and is not opened."""
    alice, bob = sessions
    frame = alice.seal("to Bob only").frame
    with pytest.raises(ChatError, match="does not belong to the peer"):
        alice.receive(frame)

    received = alice.receive(bob.seal("a real reply").frame)
    assert received is not None and received.text == "a real reply"


def test_our_own_key_frame_reflected_back_is_refused(
    alice_id: Identity, bob_id: Identity
) -> None:
    """The initiator refuses a key frame, even its own reflected back to it."""
    alice = ChatSession(alice_id, bob_id.public_key, initiator=True)
    frame = alice.start()
    key = alice.session_key
    with pytest.raises(ChatError, match="we are the initiator"):
        alice.receive(frame)
    assert alice.session_key == key


def test_a_message_that_is_not_utf8_is_refused(
    sessions: tuple[ChatSession, ChatSession],
) -> None:
    """An authentic message whose plaintext is not UTF-8 raises ChatError."""
    alice, bob = sessions
    assert alice.session_key is not None
    nonce = bytes.fromhex("00000001") + (0).to_bytes(8, "big")
    sealed = seal(alice.session_key, nonce, b"\xff\xfe not text")
    frame = json.dumps(
        {
            "type": "msg",
            "nonce": base64.b64encode(nonce).decode(),
            "ct": base64.b64encode(sealed).decode(),
        }
    )
    with pytest.raises(ChatError, match="not UTF-8"):
        bob.receive(frame)


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        b"\xc3\x28",
        "[1, 2]",
        '"msg"',
        "{}",
        '{"type": "hello"}',
        '{"type": "msg"}',
        '{"type": "msg", "nonce": "AAAA"}',
        '{"type": "msg", "nonce": 12, "ct": "AAAA"}',
        '{"type": "msg", "nonce": "not base64!", "ct": "AAAA"}',
        '{"type": "msg", "nonce": "AAAAAAAAAAAAAAAA", "ct": "%%%"}',
    ],
    ids=[
        "not-json",
        "not-utf8",
        "array",
        "string",
        "no-type",
        "unknown-type",
        "msg-no-nonce",
        "msg-no-ct",
        "nonce-not-text",
        "nonce-not-base64",
        "ct-not-base64",
    ],
)
def test_malformed_frames_raise_chat_error(
    sessions: tuple[ChatSession, ChatSession], frame: str | bytes
) -> None:
    """A frame that is not a well-formed chat frame is refused; the chat goes on."""
    alice, bob = sessions
    with pytest.raises(ChatError):
        bob.receive(frame)
    received = bob.receive(alice.seal("still here").frame)
    assert received is not None and received.text == "still here"


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "key", "version": "seed"}',
        '{"type": "key", "version": "seed", "wrapped": "***"}',
        '{"type": "key", "version": "seed", "wrapped": "AAAA"}',
    ],
    ids=["no-wrapped", "wrapped-not-base64", "wrapped-garbage"],
)
def test_malformed_key_frames_raise_chat_error(
    alice_id: Identity, bob_id: Identity, frame: str
) -> None:
    """A key frame without a usable wrapped key is refused; a good one still works."""
    alice = ChatSession(alice_id, bob_id.public_key, initiator=True)
    bob = ChatSession(bob_id, alice_id.public_key, initiator=False)
    with pytest.raises(ChatError):
        bob.receive(frame)
    assert not bob.ready
    assert bob.receive(alice.start()) is None
    assert bob.ready


# Receipts and liveness probes.


def test_each_opened_message_yields_a_receipt_for_the_sender(
    sessions: tuple[ChatSession, ChatSession],
) -> None:
    """The receiver's receipt frame confirms the message and clears it on the sender."""
    alice, bob = sessions
    first, second = alice.seal("one"), alice.seal("two")
    assert alice.unconfirmed == {0: "one", 1: "two"}

    received = bob.receive(second.frame)
    assert isinstance(received, Received) and received.reply is not None
    assert alice.receive(received.reply) == Receipt(1)
    assert alice.unconfirmed == {0: "one"}
    assert first.counter == 0


def test_a_receipt_for_an_unknown_message_is_refused(
    sessions: tuple[ChatSession, ChatSession],
) -> None:
    """A receipt for a message never sent, or confirmed twice, raises ChatError."""
    alice, bob = sessions
    received = bob.receive(alice.seal("once").frame)
    assert isinstance(received, Received) and received.reply is not None
    alice.receive(received.reply)
    with pytest.raises(ChatError, match="did not send"):
        alice.receive(received.reply)
    with pytest.raises(ChatError, match="did not send"):
        alice.receive(json.dumps({"type": "ack", "counter": "0"}))


def test_a_ping_is_answered_with_a_pong_of_the_same_number(
    sessions: tuple[ChatSession, ChatSession],
) -> None:
    """ping() makes a numbered probe; the peer's reply names the same number."""
    alice, bob = sessions
    number, frame = alice.ping()
    probe = bob.receive(frame)
    assert isinstance(probe, Control) and probe.reply is not None
    assert alice.receive(probe.reply) == Control(pong=number)
    assert alice.ping()[0] == number + 1


def test_a_probe_without_a_number_is_refused(
    sessions: tuple[ChatSession, ChatSession],
) -> None:
    """A ping or pong whose number is missing or not an integer raises ChatError."""
    _alice, bob = sessions
    for frame in ('{"type": "ping"}', '{"type": "pong", "n": true}'):
        with pytest.raises(ChatError, match="without a number"):
            bob.receive(frame)

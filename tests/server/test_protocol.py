"""Tests for the sans-I/O signaling protocol: parsing, building, fingerprints."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from p2plab_server.protocol import (
    CLOSE_CODES,
    CLOSE_REPLACED,
    ERRORS,
    MAX_FRAME,
    MESSAGES,
    OPTIONAL,
    RELAYED,
    REQUESTS,
    ProtocolError,
    decode_base64,
    encode,
    error,
    fingerprint,
    parse,
    parse_reply,
)

from .clients import Key

# parse only checks that the key, the challenge and the signature are
# canonical base64; what they hold is checked by p2plab_server.proof.
SEQUENCE_KEY = base64.b64encode(b"\x30\x00").decode("ascii")
CHALLENGE = base64.b64encode(bytes(32)).decode("ascii")
SIGNATURE = base64.b64encode(bytes(256)).decode("ascii")
JOIN: dict[str, Any] = {
    "type": "join",
    "room": "lab",
    "name": "alice",
    "key": SEQUENCE_KEY,
    "challenge": CHALLENGE,
    "signature": SIGNATURE,
}

VALID_REQUESTS: list[dict[str, Any]] = [
    JOIN,
    {"type": "lookup", "name": "bob"},
    {"type": "offer", "to": "bob", "sdp": "v=0"},
    {"type": "answer", "to": "bob", "sdp": "v=0"},
    {
        "type": "candidate",
        "to": "bob",
        "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    },
    {"type": "bye", "to": "bob"},
]


def refusal(frame: str | bytes) -> ProtocolError:
    """Return the error that parse raises for ``frame``."""
    with pytest.raises(ProtocolError) as info:
        parse(frame)
    return info.value


@pytest.mark.parametrize("request_", VALID_REQUESTS, ids=lambda r: r["type"])
def test_parse_returns_each_valid_request_unchanged(request_: dict[str, Any]) -> None:
    """Every request type with its required fields parses to the same dict."""
    assert parse(json.dumps(request_)) == request_


def test_parse_accepts_utf8_bytes() -> None:
    """A frame given as UTF-8 bytes parses like the same frame as text."""
    assert parse(b'{"type":"lookup","name":"bob"}') == {"type": "lookup", "name": "bob"}


@pytest.mark.parametrize("msg_id", ["q1", 0, 42])
def test_parse_accepts_a_string_or_integer_id(msg_id: str | int) -> None:
    """An ``id`` that is a string or an integer is kept in the request."""
    assert parse(json.dumps({"type": "bye", "to": "bob", "id": msg_id}))["id"] == msg_id


def test_parse_accepts_null_candidate_fields() -> None:
    """A candidate may carry null ``sdpMid`` and ``sdpMLineIndex``."""
    frame = {
        "type": "candidate",
        "to": "bob",
        "candidate": "",
        "sdpMid": None,
        "sdpMLineIndex": None,
    }
    assert parse(json.dumps(frame)) == frame


def test_parse_accepts_a_frame_of_exactly_max_frame_bytes() -> None:
    """A frame as large as MAX_FRAME is read, not refused as too large."""
    frame = '{"type":"bye","to":"bob"}'
    frame += " " * (MAX_FRAME - len(frame))
    assert parse(frame) == {"type": "bye", "to": "bob"}


@pytest.mark.parametrize(
    "frame",
    [" " * (MAX_FRAME + 1), b" " * (MAX_FRAME + 1)],
    ids=["text", "bytes"],
)
def test_parse_refuses_a_frame_over_max_frame(frame: str | bytes) -> None:
    """A frame one byte over MAX_FRAME is refused as too-large."""
    exc = refusal(frame)
    assert (exc.code, exc.ref, exc.id) == ("too-large", None, None)
    assert str(MAX_FRAME) in exc.message


def test_parse_counts_the_size_of_text_in_utf8_bytes() -> None:
    """A text frame under MAX_FRAME characters but over MAX_FRAME bytes is too-large."""
    frame = encode({"type": "offer", "to": "bob", "sdp": "é" * (MAX_FRAME // 2)})
    assert len(frame) < MAX_FRAME < len(frame.encode())
    assert refusal(frame).code == "too-large"


@pytest.mark.parametrize(
    "frame",
    ["", "{", "{'type': 'bye'}", "not json", b"\xff\xfe\xfd"],
    ids=["empty", "truncated", "single-quotes", "words", "not-utf8"],
)
def test_parse_refuses_text_that_is_not_json(frame: str | bytes) -> None:
    """A frame that is not valid JSON is refused as bad-json with no ref or id."""
    exc = refusal(frame)
    assert (exc.code, exc.ref, exc.id) == ("bad-json", None, None)


@pytest.mark.parametrize("frame", ["[]", '"bye"', "7", "null", "true"])
def test_parse_refuses_json_that_is_not_an_object(frame: str) -> None:
    """Valid JSON other than an object is refused as bad-json."""
    assert refusal(frame).code == "bad-json"


def test_parse_accepts_a_null_id() -> None:
    """A null ``id`` is read as no id rather than refused."""
    assert parse('{"type":"bye","to":"bob","id":null}')["id"] is None


@pytest.mark.parametrize("msg_id", [True, 1.5, [1], {"n": 1}])
def test_parse_refuses_an_id_that_is_not_a_string_or_integer(msg_id: Any) -> None:
    """An ``id`` of any other JSON type, booleans included, is a bad-field."""
    exc = refusal(json.dumps({"type": "bye", "to": "bob", "id": msg_id}))
    assert (exc.code, exc.id) == ("bad-field", None)


@pytest.mark.parametrize(
    "frame",
    [{"to": "bob"}, {"type": "ping"}, {"type": 3}, {"type": None}, {"type": "welcome"}],
    ids=["missing", "unknown", "number", "null", "server-only"],
)
def test_parse_refuses_a_missing_or_unknown_type(frame: dict[str, Any]) -> None:
    """A request without a known request type is bad-type, and keeps its id."""
    exc = refusal(json.dumps({**frame, "id": "q"}))
    assert (exc.code, exc.ref, exc.id) == ("bad-type", None, "q")


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({k: v for k, v in JOIN.items() if k != "key"}, "key"),
        ({k: v for k, v in JOIN.items() if k != "name"}, "name"),
        ({k: v for k, v in JOIN.items() if k != "room"}, "room"),
        ({k: v for k, v in JOIN.items() if k != "signature"}, "signature"),
        ({k: v for k, v in JOIN.items() if k != "challenge"}, "challenge"),
        ({"type": "lookup"}, "name"),
        ({"type": "offer", "to": "bob"}, "sdp"),
        ({"type": "answer", "sdp": "v=0"}, "to"),
        (
            {"type": "candidate", "to": "bob", "candidate": "", "sdpMid": "0"},
            "sdpMLineIndex",
        ),
        ({"type": "bye"}, "to"),
    ],
)
def test_parse_refuses_a_missing_field(frame: dict[str, Any], field: str) -> None:
    """A request without a required field is missing-field, naming the field."""
    exc = refusal(json.dumps({**frame, "id": 9}))
    assert (exc.code, exc.ref, exc.id) == ("missing-field", frame["type"], 9)
    assert repr(field) in exc.message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to", 5),
        ("to", None),
        ("candidate", ["a"]),
        ("sdpMid", 0),
        ("sdpMLineIndex", "0"),
        ("sdpMLineIndex", True),
        ("sdpMLineIndex", 0.0),
    ],
)
def test_parse_refuses_a_field_of_the_wrong_type(field: str, value: Any) -> None:
    """A field of the wrong JSON type is a bad-field; a boolean is not an integer."""
    frame = {**VALID_REQUESTS[4], field: value, "id": "c"}
    exc = refusal(json.dumps(frame))
    assert (exc.code, exc.ref, exc.id) == ("bad-field", "candidate", "c")
    assert repr(field) in exc.message


@pytest.mark.parametrize("extra", ["from", "note"])
def test_parse_refuses_a_field_the_request_does_not_take(extra: str) -> None:
    """An extra field, a forged ``from`` above all, is a bad-field."""
    exc = refusal(json.dumps({"type": "offer", "to": "bob", "sdp": "", extra: "eve"}))
    assert (exc.code, exc.ref) == ("bad-field", "offer")
    assert repr(extra) in exc.message


@pytest.mark.parametrize("name", ["a", "Z9", "alice.b_c-d", "x" * 32])
def test_parse_accepts_valid_names(name: str) -> None:
    """Names of 1-32 letters, digits, dots, underscores and dashes are valid."""
    assert parse(json.dumps({"type": "lookup", "name": name}))["name"] == name


@pytest.mark.parametrize(
    "name",
    ["", "-alice", ".alice", "_alice", "x" * 33, "al ice", "alicé", "a/b", "a\n"],
)
@pytest.mark.parametrize("field", ["name", "to"])
def test_parse_refuses_invalid_names(name: str, field: str) -> None:
    """A ``name`` or ``to`` outside the name pattern is a bad-field."""
    frame = {"type": "lookup", "name": name} if field == "name" else {"type": "bye"}
    frame[field] = name
    exc = refusal(json.dumps(frame))
    assert (exc.code, exc.ref) == ("bad-field", frame["type"])
    assert "not a valid name" in exc.message


@pytest.mark.parametrize("field", ["key", "challenge", "signature"])
@pytest.mark.parametrize(
    "value",
    ["", "not base64!", "MAA", "MAB=", " MAA=", "MA==\n"],
    ids=["empty", "not-base64", "bad-padding", "stray-bits", "space", "newline"],
)
def test_parse_refuses_join_data_that_is_not_canonical_base64(
    field: str, value: str
) -> None:
    """A join key, challenge or signature not in canonical base64 is a bad-field."""
    exc = refusal(json.dumps({**JOIN, field: value}))
    assert (exc.code, exc.ref) == ("bad-field", "join")
    assert field in exc.message
    assert "standard base64" in exc.message


def test_parse_accepts_a_real_public_key(keys: tuple[Key, Key]) -> None:
    """A join with a real RSA key in base64 SPKI DER parses."""
    assert parse(json.dumps({**JOIN, "key": keys[0].public}))


@pytest.mark.parametrize("room", ["", "-lab", "a b", "x" * 33, "salle-é"])
def test_parse_refuses_an_invalid_room(room: str) -> None:
    """A room outside the name pattern is a bad-field that says so."""
    exc = refusal(json.dumps({**JOIN, "room": room}))
    assert (exc.code, exc.ref) == ("bad-field", "join")
    assert f"room {room!r} is not a valid name" in exc.message


def test_a_join_without_a_signature_points_at_protocol_2() -> None:
    """A protocol-1 join (no room, challenge or signature) is told what changed."""
    exc = refusal(json.dumps({"type": "join", "name": "alice", "key": SEQUENCE_KEY}))
    assert exc.code == "missing-field"
    assert "protocol 2" in exc.message
    assert "hello" in exc.message
    assert "docs/protocol.md" in exc.message


def test_encode_writes_compact_json_without_escaping() -> None:
    """encode writes no spaces and keeps non-ASCII text as it is."""
    assert encode({"type": "left", "name": "é"}) == '{"type":"left","name":"é"}'


def test_encode_output_parses_back() -> None:
    """A request built with encode is read back unchanged by parse."""
    for request_ in VALID_REQUESTS:
        assert parse(encode(request_)) == request_


def test_error_builds_the_minimal_message() -> None:
    """error without ref or id carries only the type, code and message."""
    assert error("self", "no") == {"type": "error", "code": "self", "message": "no"}


def test_error_adds_ref_and_id_when_given() -> None:
    """error includes ``ref`` and ``id``, even an id of zero."""
    assert error("self", "no", ref="offer", id=0) == {
        "type": "error",
        "code": "self",
        "message": "no",
        "ref": "offer",
        "id": 0,
    }


def test_error_refuses_an_unknown_code() -> None:
    """error raises ValueError for a code that is not in ERRORS."""
    with pytest.raises(ValueError, match="unknown error code 'oops'"):
        error("oops", "no")


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_every_error_code_has_a_meaning(code: str) -> None:
    """Every stable error code is documented and accepted by error."""
    assert ERRORS[code]
    assert error(code, ERRORS[code])["code"] == code


def test_protocol_error_reads_as_code_and_message() -> None:
    """A ProtocolError's text is its code, a colon and its message."""
    exc = ProtocolError("not-joined", "send join before offer", "offer", 3)
    assert str(exc) == "not-joined: send join before offer"
    assert isinstance(exc, Exception)


def test_protocol_error_reply_is_the_error_message() -> None:
    """ProtocolError.reply builds the error message with its ref and id."""
    exc = ProtocolError("self", "no", ref="bye", id="b")
    assert exc.reply() == error("self", "no", ref="bye", id="b")


def test_fingerprint_of_the_fips_180_vector() -> None:
    """The fingerprint of "abc" is its published SHA-256, in groups of four."""
    key = base64.b64encode(b"abc").decode()
    assert fingerprint(key) == (
        "ba78 16bf 8f01 cfea 4141 40de 5dae 2223 "
        "b003 61a3 9617 7a9c b410 ff61 f200 15ad"
    )


def test_fingerprints_of_distinct_keys_differ(keys: tuple[Key, Key]) -> None:
    """Two different public keys have different fingerprints of 16 groups."""
    first, second = (fingerprint(key.public) for key in keys)
    assert first != second
    assert [len(group) for group in first.split(" ")] == [4] * 16


def test_parse_reply_accepts_unknown_types_and_fields() -> None:
    """A client reads any server object with a string type, extra fields kept."""
    assert parse_reply(b'{"type":"news","extra":1}') == {"type": "news", "extra": 1}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{", "bad-json"),
        (b"\xff", "bad-json"),
        ("[]", "bad-type"),
        ("{}", "bad-type"),
        ('{"type":1}', "bad-type"),
    ],
)
def test_parse_reply_refuses_frames_without_a_type(
    frame: str | bytes, code: str
) -> None:
    """A server frame that is not a JSON object with a string type is refused."""
    with pytest.raises(ProtocolError) as info:
        parse_reply(frame)
    assert info.value.code == code


@pytest.mark.parametrize("kind", sorted(RELAYED))
def test_a_relayed_message_has_the_requests_fields_with_from_for_to(
    kind: str,
) -> None:
    """Each relayed type reaches its recipient with ``from`` in place of ``to``."""
    assert kind in REQUESTS and kind in MESSAGES
    assert set(MESSAGES[kind]) == set(REQUESTS[kind]) - {"to"} | {"from"}


def test_requests_and_optional_fields_name_known_types() -> None:
    """OPTIONAL names server messages only; hello is sent, never requested."""
    assert set(OPTIONAL) <= set(MESSAGES)
    assert set(RELAYED) <= set(REQUESTS)
    assert "hello" in MESSAGES and "hello" not in REQUESTS


def test_the_replaced_close_code_is_a_private_use_code() -> None:
    """4001 is listed in CLOSE_CODES and lies in the private-use range 4000-4999."""
    assert CLOSE_REPLACED == 4001
    assert CLOSE_REPLACED in CLOSE_CODES
    assert all(1000 <= code < 5000 for code in CLOSE_CODES)


@pytest.mark.parametrize(
    ("text", "data"),
    [("AAEC", b"\x00\x01\x02"), ("MA==", b"0"), ("", None), ("MA=", None)],
)
def test_decode_base64_accepts_only_the_canonical_spelling(
    text: str, data: bytes | None
) -> None:
    """decode_base64 returns the bytes of canonical base64, and None otherwise."""
    assert decode_base64(text) == data

"""Tests for the proof of identity on join: challenges, signed bytes, checks."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from p2plab_server.proof import (
    CHALLENGE_SIZE,
    JOIN_CONTEXT,
    check_join,
    new_challenge,
    signed_message,
)
from p2plab_server.protocol import ProtocolError, encode, parse

from .clients import Key, join_request, make_key, sign


def refusal(join: dict[str, Any], challenge: str) -> ProtocolError:
    """Return the error check_join raises for ``join`` on a connection."""
    with pytest.raises(ProtocolError) as info:
        check_join(parse(encode(join)), challenge)
    return info.value


def test_a_challenge_is_32_fresh_random_bytes_in_base64() -> None:
    """Each challenge is 44 base64 characters of 32 bytes, never repeated."""
    challenges = {new_challenge() for _ in range(100)}
    assert len(challenges) == 100
    for challenge in challenges:
        assert len(challenge) == 44
        assert len(base64.b64decode(challenge, validate=True)) == CHALLENGE_SIZE


def test_the_signed_bytes_are_context_challenge_room_zero_name() -> None:
    """The signed bytes are the context, the challenge, the room, 0x00, the name."""
    challenge = bytes(range(32))
    expected = b"p2plab-join-v2\x00" + challenge + b"lab\x00alice"
    assert signed_message(challenge, "lab", "alice") == expected
    assert JOIN_CONTEXT == b"p2plab-join-v2\x00"


def test_moving_a_character_between_room_and_name_changes_the_bytes() -> None:
    """Room "ab" with name "c" and room "a" with name "bc" sign different bytes."""
    challenge = bytes(32)
    assert signed_message(challenge, "ab", "c") != signed_message(challenge, "a", "bc")


@pytest.mark.parametrize("size", [0, 31, 33])
def test_a_challenge_of_another_size_is_refused(size: int) -> None:
    """signed_message raises ValueError for a challenge that is not 32 bytes."""
    with pytest.raises(ValueError, match=f"32 bytes, not {size}"):
        signed_message(bytes(size), "lab", "alice")


def test_a_join_signed_for_this_challenge_passes(keys: tuple[Key, Key]) -> None:
    """A join signed by the key's owner for this challenge passes the check."""
    challenge = new_challenge()
    check_join(parse(encode(join_request(keys[0], challenge, "alice"))), challenge)


def test_a_join_for_another_challenge_is_replayed(keys: tuple[Key, Key]) -> None:
    """A join that answers another challenge is refused as replayed."""
    join = join_request(keys[0], new_challenge(), "alice")
    exc = refusal(join, new_challenge())
    assert (exc.code, exc.ref) == ("replayed", "join")
    assert "this connection" in exc.message


def test_a_signature_by_another_private_key_is_bad_signature(
    keys: tuple[Key, Key],
) -> None:
    """A join with one user's public key, signed by another, is bad-signature."""
    challenge = new_challenge()
    join = join_request(keys[0], challenge, "alice")
    join["signature"] = sign(keys[1].private, challenge, "lab", "alice")
    exc = refusal(join, challenge)
    assert (exc.code, exc.ref) == ("bad-signature", "join")
    assert "private key" in exc.message


@pytest.mark.parametrize(
    ("field", "value"), [("room", "other"), ("name", "mallory")], ids=str
)
def test_a_signature_for_another_room_or_name_is_bad_signature(
    keys: tuple[Key, Key], field: str, value: str
) -> None:
    """A signature made for one room and name does not pass for another."""
    challenge = new_challenge()
    join = {**join_request(keys[0], challenge, "alice"), field: value}
    assert refusal(join, challenge).code == "bad-signature"


def test_a_signature_of_random_bytes_is_bad_signature(keys: tuple[Key, Key]) -> None:
    """Random bytes the size of a signature are refused as bad-signature."""
    challenge = new_challenge()
    join = join_request(keys[0], challenge, "alice")
    join["signature"] = base64.b64encode(bytes(range(256))).decode()
    assert refusal(join, challenge).code == "bad-signature"


def test_a_small_key_is_bad_key() -> None:
    """A join with a 1024-bit key, properly signed, is refused as bad-key."""
    challenge = new_challenge()
    exc = refusal(join_request(make_key(1024), challenge, "alice"), challenge)
    assert (exc.code, exc.ref) == ("bad-key", "join")
    assert "RSA-1024" in exc.message
    assert "2048 to 4096" in exc.message


def test_the_challenge_is_checked_before_the_key(keys: tuple[Key, Key]) -> None:
    """A copied join is refused as replayed without reading its key."""
    join = {**join_request(keys[0], new_challenge(), "alice"), "key": "MAA="}
    assert refusal(join, new_challenge()).code == "replayed"

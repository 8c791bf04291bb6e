"""The checks of the key-wrapping lesson: solutions pass, usual mistakes get hints."""

from __future__ import annotations

import base64
import json

import pytest

from p2plab.chat import ChatSession
from p2plab.exercises import wrapping as check
from p2plab.identity import Identity
from p2plab.wrapping import new_session_key

from .conftest import load_solutions

solutions = load_solutions("06_key_wrapping")


@pytest.fixture
def frame(bob_id: Identity) -> str:
    """A wrapped-key frame for Bob, from the exercise's unseen caller."""
    return check.wrapped_key_frame(bob_id)


def test_the_solutions_pass(bob_id: Identity, frame: str) -> None:
    """Every worked solution passes its check."""
    assert check.oaep_capacity(solutions.oaep_capacity())
    assert check.unwrapped(solutions.unwrapped(frame, bob_id), frame, bob_id)
    assert check.wrapped_chars(solutions.wrapped_chars())


def test_placeholders_are_not_tried_yet(bob_id: Identity, frame: str) -> None:
    """Each check calls the untouched placeholder "not tried yet"."""
    for result in (
        check.oaep_capacity(...),
        check.unwrapped(..., frame, bob_id),
        check.wrapped_chars(...),
    ):
        assert not result and not result.tried


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (192, "two single bytes"),
        (224, "hash length twice"),
        (214, "SHA-1"),
        (245, "PKCS#1 v1.5"),
        (256, "whole modulus"),
        (32, "session key"),
        (2048 - 2 * 256 - 2, "bits mixed with bytes"),
        ("190 bytes", "k - 2·hLen - 2"),
    ],
)
def test_oaep_capacity_hints(answer: object, hint: str) -> None:
    """Forgetting a term, SHA-1 or v1.5 sizes, or bits for bytes each get a hint."""
    result = check.oaep_capacity(answer)
    assert not result and hint in result.message
    assert "190" not in result.message


def test_unwrap_hints_follow_how_far_the_learner_got(
    bob_id: Identity, frame: str
) -> None:
    """The frame, its field, the blob, a new key and other sessions' keys get hints."""
    message = json.loads(frame)
    blob = base64.b64decode(message["wrapped"])
    other = ChatSession(bob_id, bob_id.public_key, initiator=True)
    other.start()
    cases = [
        (frame, "whole frame"),
        (message, "parsed frame"),
        (message["wrapped"], "still in base64"),
        (blob, "still wrapped"),
        (new_session_key(), "not the one in this frame"),
        (other.session_key, "not the one in this frame"),
        (None, "json.loads"),
    ]
    for answer, hint in cases:
        result = check.unwrapped(answer, frame, bob_id)
        assert not result and hint in result.message, answer


def test_the_right_key_written_as_text_gets_the_raw_bytes_hint(
    bob_id: Identity, frame: str
) -> None:
    """The right key in base64 or hex, as text or bytes, is told to give raw bytes."""
    key = solutions.unwrapped(frame, bob_id)
    for answer in (
        base64.b64encode(key),
        base64.b64encode(key).decode(),
        key.hex(),
        key.hex().encode(),
    ):
        result = check.unwrapped(answer, frame, bob_id)
        assert not result and "raw bytes" in result.message, answer


def test_a_frame_for_another_key_pair_is_a_hint_not_an_error(
    alice_id: Identity, bob_id: Identity, frame: str
) -> None:
    """A frame unwrapped against the wrong key pair, or no frame, gets a hint."""
    for args in ((frame, alice_id), ("not a frame", bob_id), (frame, None)):
        result = check.unwrapped(b"x" * 32, *args)
        assert not result and "wrapped_key_frame(bob)" in result.message


def test_each_frame_holds_a_fresh_key(bob_id: Identity) -> None:
    """Two frames from the exercise hold two different session keys."""
    first, second = check.wrapped_key_frame(bob_id), check.wrapped_key_frame(bob_id)
    keys = {solutions.unwrapped(f, bob_id) for f in (first, second)}
    assert len(keys) == 2


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (512, "in bytes"),
        (683, "whole groups"),
        (512 * 4 / 3, "whole groups"),
        (4096, "in bits"),
        (344, "RSA-2048"),
        (700, "rounded up"),
    ],
)
def test_wrapped_chars_hints(answer: float, hint: str) -> None:
    """Bytes for characters, a missed padding, bits, or the 2048 size get hints."""
    result = check.wrapped_chars(answer)
    assert not result and hint in result.message

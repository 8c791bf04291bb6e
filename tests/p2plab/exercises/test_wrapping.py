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
def sent(alice_id: Identity, bob_id: Identity) -> tuple[str, bytes]:
    """A key frame Alice made for Bob, and the session key inside it."""
    session = ChatSession(alice_id, bob_id.public_key, initiator=True)
    frame = session.start()
    assert session.session_key is not None
    return frame, session.session_key


def test_the_solutions_pass(bob_id: Identity, sent: tuple[str, bytes]) -> None:
    """Every worked solution passes its check."""
    frame, key = sent
    assert check.oaep_capacity(solutions.oaep_capacity())
    assert check.unwrapped(solutions.unwrapped(frame, bob_id), key)
    assert check.wrapped_chars(solutions.wrapped_chars())


def test_placeholders_are_not_tried_yet(sent: tuple[str, bytes]) -> None:
    """Each check calls the untouched placeholder "not tried yet"."""
    for result in (
        check.oaep_capacity(...),
        check.unwrapped(..., sent[1]),
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
    sent: tuple[str, bytes],
) -> None:
    """The parsed frame, the base64 text, the blob and a new key each get a hint."""
    frame, key = sent
    message = json.loads(frame)
    blob = base64.b64decode(message["wrapped"])
    cases = [
        (message, "parsed frame"),
        (message["wrapped"], "is base64"),
        (blob, "still wrapped"),
        (new_session_key(), "don't make a new key"),
        (None, "json.loads"),
    ]
    for answer, hint in cases:
        result = check.unwrapped(answer, key)
        assert not result and hint in result.message, answer


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

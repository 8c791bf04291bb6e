"""The checks of lesson 07 (AES-GCM chat): the solutions pass, mistakes get hints."""

from __future__ import annotations

from typing import Any

import pytest

from p2plab.exercises import NOT_TRIED
from p2plab.exercises import sealing as check
from p2plab.misuse import ciphertext_of, keystream, xor

from .conftest import load_solutions

solutions = load_solutions("07_aes_gcm")
PUZZLE = check.reuse_puzzle()


@pytest.mark.parametrize(
    "name", ["tag_size", "third_nonce", "counter_limit", "recovered"]
)
def test_each_solution_passes_its_check(name: str) -> None:
    """The worked answer to each exercise gets a passing verdict."""
    result = getattr(check, name)(getattr(solutions, name)())
    assert result, result
    assert str(result).startswith("✓")


@pytest.mark.parametrize(
    "name", ["tag_size", "third_nonce", "counter_limit", "recovered"]
)
def test_the_placeholder_is_not_tried_yet(name: str) -> None:
    """Every check says "not tried yet" to the placeholder ``...``."""
    result = getattr(check, name)(...)
    assert not result and not result.tried and result.message == NOT_TRIED


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (128, "in bits"),
        (12, "the nonce is not inside"),
        (28, "leave it out"),
        (32, "size of the key"),
        (15, "compare len(seal("),
        ("16 bytes", "compare len(seal("),
    ],
)
def test_tag_size_hints(answer: Any, hint: str) -> None:
    """Bits for bytes, the nonce, the key: each wrong tag size gets its own hint."""
    result = check.tag_size(answer)
    assert not result and hint in result.message


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (bytes(8), "a nonce is 12 bytes"),
        ("00000001 0000000000000002", "prefix 1 belongs to the side that called"),
        ("02000000 0000000000000002", "prefix 1 belongs to the side that called"),
        ("00000002 0000000000000003", "the first message has counter 0"),
        ("00000002 0200000000000000", "big-endian"),
        ("not hex at all", "int.to_bytes"),
        (2, "int.to_bytes"),
    ],
)
def test_third_nonce_hints(answer: Any, hint: str) -> None:
    """A wrong length, prefix, counter or byte order each get their hint."""
    result = check.third_nonce(answer)
    assert not result and hint in result.message


def test_third_nonce_takes_bytes_or_hex() -> None:
    """The nonce may be given as bytes or as hex, with or without spaces."""
    assert check.third_nonce("00000002 0000000000000002")
    assert check.third_nonce("000000020000000000000002")
    assert check.third_nonce(bytearray(solutions.third_nonce()))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (64, "number of bits"),
        (2**64 - 1, "counting starts at 0"),
        (2**96, "the 4-byte prefix is the same"),
        (2**32, "the counter is the other 8 bytes"),
        (2**63, "no sign bit"),
        (1000, "count the values 8 bytes can hold"),
    ],
)
def test_counter_limit_hints(answer: int, hint: str) -> None:
    """Bits for values, off by one, prefix included: each gets its hint."""
    result = check.counter_limit(answer)
    assert not result and hint in result.message


def test_recovered_takes_bytes_or_text() -> None:
    """The recovered message may be given as bytes or as text."""
    answer = solutions.recovered()
    assert check.recovered(answer.decode())
    assert check.recovered(bytearray(answer))


def test_recovered_hints_follow_the_steps_of_the_attack() -> None:
    """Stopping at the plaintexts' XOR, the keystream or the known text is named."""
    first, second = ciphertext_of(PUZZLE.first), ciphertext_of(PUZZLE.second)
    attempts = {
        xor(first, second): "XOR of the two plaintexts",
        keystream(PUZZLE.known, PUZZLE.first): "that is the keystream",
        PUZZLE.known: "the message you already knew",
        xor(PUZZLE.first, PUZZLE.second): "XOR of the two plaintexts",
        b"x" * (len(PUZZLE.known) + 16): "drop the 16-byte tags",
        b"no idea": "XOR the two ciphertexts",
    }
    for answer, hint in attempts.items():
        result = check.recovered(answer)
        assert not result and hint in result.message, answer


def test_the_hidden_message_is_not_in_any_verdict() -> None:
    """No verdict on a wrong answer contains the hidden message."""
    hidden = solutions.recovered()
    for answer in (b"", PUZZLE.known, PUZZLE.first, PUZZLE.second, hidden[:-1]):
        assert hidden.decode() not in check.recovered(answer).message

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
    "name", ["message_bytes", "third_nonce", "counter_limit", "recovered"]
)
def test_each_solution_passes_its_check(name: str) -> None:
    """The worked answer to each exercise gets a passing verdict."""
    result = getattr(check, name)(getattr(solutions, name)())
    assert result, result
    assert str(result).startswith("✓")


@pytest.mark.parametrize(
    "name", ["message_bytes", "third_nonce", "counter_limit", "recovered"]
)
def test_the_placeholder_is_not_tried_yet(name: str) -> None:
    """Every check says "not tried yet" to the placeholder ``...``."""
    result = getattr(check, name)(...)
    assert not result and not result.tried and result.message == NOT_TRIED


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (1016, "the nonce travels too"),
        (1012, "also appends something"),
        (1000, "ciphertext alone"),
        (1060, "session key is never sent"),
        (1372, "length in base64"),
        (1028 * 4 / 3, "length in base64"),
        (1000 + 128 + 96, "bits mixed with bytes"),
        (1000 + 128 + 12, "bits mixed with bytes"),
        (8 * 1028, "bits mixed with bytes"),
        (1040, "check with len()"),
        ("1028 bytes", "check with len()"),
    ],
)
def test_message_bytes_hints(answer: Any, hint: str) -> None:
    """A missing nonce or tag, the key, base64 or bits: each gets its own hint."""
    result = check.message_bytes(answer)
    assert not result and hint in result.message
    assert "1028" not in result.message


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (bytes(8), "a nonce is 12 bytes"),
        ("00000001 0000000000000002", "prefix 1 belongs to the side that called"),
        ("02000000 0000000000000002", "prefix 1 belongs to the side that called"),
        ("00000002 0000000000000000", "the first message has counter 0"),
        ("00000002 0000000000000001", "the first message has counter 0"),
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


@pytest.mark.parametrize("counter", [0, 1, 3])
def test_a_miscounted_third_nonce_hears_about_the_count(counter: int) -> None:
    """The right prefix with counter 0, 1 or 3 hears about counting, not byte order."""
    answer = (2).to_bytes(4, "big") + counter.to_bytes(8, "big")
    message = check.third_nonce(answer).message
    assert "counter 0" in message and "big-endian" not in message


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

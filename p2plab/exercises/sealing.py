"""Checks for the exercises of lesson 07, AES-GCM chat.

Each check takes the learner's answer and returns a
:class:`~p2plab.exercises.Verdict`. The nonce-reuse puzzle
(:func:`reuse_puzzle`) was sealed once under a key that was then thrown
away; its check keeps only a SHA-256 digest of the hidden message, so the
answer is nowhere in this file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ..misuse import ciphertext_of, keystream, xor
from ..sealing import NONCE_SIZE, TAG_SIZE
from . import Hint, Verdict, verdict

__all__ = [
    "ReusePuzzle",
    "counter_limit",
    "message_bytes",
    "recovered",
    "reuse_puzzle",
    "third_nonce",
]


#: The message size of :func:`message_bytes`, in bytes.
MESSAGE_SIZE = 1000


def message_bytes(answer: Any) -> Verdict:
    """Check the bytes a 1,000-byte message takes sealed, its nonce included (1028)."""
    right = NONCE_SIZE + MESSAGE_SIZE + TAG_SIZE
    return verdict(
        "bytes per message",
        answer,
        lambda a: a == right,
        [
            Hint(
                lambda a: a == MESSAGE_SIZE + TAG_SIZE,
                "that is what seal() returns; the nonce travels too, beside it",
            ),
            Hint(
                lambda a: a == MESSAGE_SIZE + NONCE_SIZE,
                "the nonce is counted; seal() also appends something to the ciphertext",
            ),
            Hint(
                lambda a: a == MESSAGE_SIZE,
                "that is the ciphertext alone; two more things travel with it",
            ),
            Hint(
                lambda a: a == right + 32,
                "the session key is never sent: leave it out",
            ),
            Hint(
                lambda a: abs(a - right * 4 / 3) < 2,
                "that is the length in base64; the question asks for bytes, "
                "before base64",
            ),
            Hint(
                lambda a: a in _in_bits(right),
                "bits mixed with bytes: count everything in bytes",
            ),
        ],
        otherwise="the ciphertext is as long as the message; seal() appends the "
        "tag, and the nonce travels beside them: check with len()",
    )


def third_nonce(answer: Any) -> Verdict:
    """Check the nonce of the answering side's third message (bytes or hex)."""
    right = (2).to_bytes(4, "big") + (2).to_bytes(8, "big")
    return verdict(
        "third nonce of the answering side",
        answer,
        lambda a: _bytes(a) == right,
        [
            Hint(
                lambda a: len(_bytes(a)) != NONCE_SIZE,
                f"a nonce is {NONCE_SIZE} bytes: a 4-byte prefix, then an "
                "8-byte counter",
            ),
            Hint(
                lambda a: _bytes(a)[4:] == right[4:] and _bytes(a)[:4] != right[:4],
                "the counter is right, the prefix is not: prefix 1 belongs to "
                "the side that called, and a prefix is 4 bytes, big-endian",
            ),
            Hint(
                lambda a: (
                    _bytes(a)[:4] == right[:4] and _bytes(a)[4:] == right[4:][::-1]
                ),
                "the prefix is right; write the counter big-endian, in 8 bytes "
                "(its last byte changes first)",
            ),
            Hint(
                lambda a: _bytes(a)[:4] == right[:4],
                "the prefix is right, the counter is not: count again, knowing "
                "that the first message has counter 0",
            ),
        ],
        otherwise="build it as the prefix (4 bytes) followed by the counter "
        "(8 bytes), both big-endian, e.g. with int.to_bytes(n, 'big')",
    )


def counter_limit(answer: Any) -> Verdict:
    """Check how many messages one side can seal before its nonces run out."""
    return verdict(
        "messages per side",
        answer,
        lambda a: a == 2**64,
        [
            Hint(
                lambda a: a == 64,
                "64 is the number of bits in the counter; how many different "
                "values can 64 bits hold?",
            ),
            Hint(
                lambda a: a == 2**64 - 1,
                "that is the largest counter, but counting starts at 0: how many "
                "values is that?",
            ),
            Hint(
                lambda a: a in (2**96, 2**96 - 1),
                "only the counter changes; the 4-byte prefix is the same in "
                "every nonce of one side",
            ),
            Hint(
                lambda a: a in (2**32, 2**32 - 1),
                "2**32 counts the prefix's values; the counter is the other 8 bytes",
            ),
            Hint(lambda a: a == 2**63, "the counter has no sign bit: all 64 count"),
        ],
        otherwise="the counter is the last 8 bytes of the nonce: count the "
        "values 8 bytes can hold",
    )


@dataclass(frozen=True)
class ReusePuzzle:
    """Two messages sealed under one key with the same nonce.

    Attributes:
        nonce: The nonce, used twice.
        known: The first message, which an eavesdropper guessed.
        first: The first message, sealed (ciphertext and tag).
        second: The second message, sealed: recover its text.
    """

    nonce: bytes
    known: bytes
    first: bytes
    second: bytes


_PUZZLE = ReusePuzzle(
    nonce=bytes.fromhex("000000010000000000000007"),
    known=b"Alice: see you at the library at 5!",
    first=bytes.fromhex(
        "30b2b6543ded79686efebbbabfea3ef610f78475ab6571c265bcd8c0d25ce1b95d8f30"
        "2e7e8de0bf1c407e471e773995e67260"
    ),
    second=bytes.fromhex(
        "33b1bd0d78a3317e2be8eba2a2fa3efc01aed074bd6568c563abcb92df14e5ed10db65"
        "e6b7e0de5d1c2388f725de5b227108f1"
    ),
)
_HIDDEN_DIGEST = "d750c6b5b13eefc70975de51d83132c2ff0ad25c0fe0f3537b8ad2ed1ba96a04"


def reuse_puzzle() -> ReusePuzzle:
    """Return the puzzle of the nonce-reuse exercise."""
    return _PUZZLE


def recovered(answer: Any) -> Verdict:
    """Check the second message of :func:`reuse_puzzle`, recovered (bytes or str)."""
    puzzle = _PUZZLE
    both = xor(ciphertext_of(puzzle.first), ciphertext_of(puzzle.second))
    stream = keystream(puzzle.known, puzzle.first)
    return verdict(
        "message recovered from a reused nonce",
        answer,
        lambda a: hashlib.sha256(_text(a)).hexdigest() == _HIDDEN_DIGEST,
        [
            Hint(
                lambda a: _text(a)[: len(both)] == both,
                "that is the XOR of the two plaintexts: XOR the known message "
                "into it as well",
            ),
            Hint(
                lambda a: _text(a)[: len(stream)] == stream,
                "that is the keystream: XOR it with the second ciphertext",
            ),
            Hint(
                lambda a: _text(a)[: len(puzzle.known)] == puzzle.known,
                "that is the message you already knew; the second one is the "
                "one to recover",
            ),
            Hint(
                lambda a: len(_text(a)) > len(puzzle.known),
                f"the hidden message is no longer than the known one: drop "
                f"the {TAG_SIZE}-byte tags before XORing",
            ),
        ],
        otherwise="XOR the two ciphertexts (tags left out), then XOR the known "
        "message into the result",
    )


def _in_bits(right: int) -> set[int]:
    """Answers to :func:`message_bytes` that count the tag, the nonce or all in bits."""
    tag, nonce = TAG_SIZE, NONCE_SIZE
    return {
        MESSAGE_SIZE + 8 * tag + nonce,
        MESSAGE_SIZE + tag + 8 * nonce,
        MESSAGE_SIZE + 8 * (tag + nonce),
        MESSAGE_SIZE + 8 * tag,
        8 * right,
    }


def _bytes(answer: Any) -> bytes:
    """Read a nonce given as bytes, or as hex with or without spaces."""
    if isinstance(answer, str):
        return bytes.fromhex(answer.replace(" ", ""))
    if isinstance(answer, bytes | bytearray):
        return bytes(answer)
    raise TypeError("a nonce is bytes")


def _text(answer: Any) -> bytes:
    """Read a message given as bytes or text."""
    if isinstance(answer, str):
        return answer.encode()
    if isinstance(answer, bytes | bytearray):
        return bytes(answer)
    raise TypeError("a message is bytes or text")

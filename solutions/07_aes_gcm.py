"""Worked answers to the exercises of lesson 07, AES-GCM chat."""

from __future__ import annotations

import os

from p2plab.exercises.sealing import reuse_puzzle
from p2plab.misuse import ciphertext_of, xor
from p2plab.sealing import NonceSequence, seal


def message_bytes() -> int:
    """Seal 1,000 bytes and count the nonce too: 12 + 1,000 + the 16-byte tag."""
    nonce = NonceSequence(b"\x00\x00\x00\x01").next()
    sealed = seal(os.urandom(32), nonce, bytes(1000))
    return len(nonce) + len(sealed)


def third_nonce() -> bytes:
    """The answering side has prefix 2; its third message has counter 2."""
    prefix = (2).to_bytes(4, "big")
    return prefix + (2).to_bytes(8, "big")


def counter_limit() -> int:
    """The counter is 8 bytes, 64 bits: 2**64 values, from 0 to 2**64 - 1."""
    return 2 ** (8 * 8)


def recovered() -> bytes:
    """XOR the ciphertexts to cancel the keystream, then XOR the known text out."""
    puzzle = reuse_puzzle()
    both = xor(ciphertext_of(puzzle.first), ciphertext_of(puzzle.second))
    return xor(both, puzzle.known)

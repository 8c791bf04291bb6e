"""Sealing chat messages with AES-256-GCM.

GCM encrypts and authenticates in one step: :func:`seal` returns the
ciphertext with a 16-byte tag appended (the layout Web Crypto uses), and
:func:`unseal` refuses anything that was altered. GCM has one hard rule: a
nonce must never be used twice under the same key. :class:`NonceSequence`
keeps that rule by counting: each side of a chat has its own 4-byte prefix
and an 8-byte counter, so the two sides never collide and no nonce repeats.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import DecryptionError

__all__ = ["NONCE_SIZE", "TAG_SIZE", "NonceSequence", "seal", "unseal"]

NONCE_SIZE = 12
TAG_SIZE = 16
PREFIX_SIZE = 4
_COUNTER_LIMIT = 2**64


def seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes | None = None) -> bytes:
    """Encrypt and authenticate ``plaintext``; return ciphertext || tag.

    Args:
        key: The 32-byte session key.
        nonce: 12 bytes, never used before with this key.
        plaintext: The message.
        aad: Associated data: authenticated, not encrypted, not sent.
    """
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"a GCM nonce is {NONCE_SIZE} bytes, not {len(nonce)}")
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, nonce: bytes, sealed: bytes, aad: bytes | None = None) -> bytes:
    """Check and decrypt ciphertext || tag; return the plaintext.

    Raises:
        DecryptionError: If the tag does not match: the ciphertext, nonce or
            associated data were altered, or the key is not the one used to
            seal. Which of these it was cannot be told, by design.
    """
    if len(nonce) != NONCE_SIZE or len(sealed) < TAG_SIZE:
        raise DecryptionError("the sealed message is malformed")
    try:
        return AESGCM(key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise DecryptionError(
            "the message failed authentication and was dropped: it was altered, "
            "or sealed under another key"
        ) from None


class NonceSequence:
    """Nonces for one sender: a fixed 4-byte prefix, then a counter.

    Args:
        prefix: 4 bytes that no other sender under the same key uses.
    """

    def __init__(self, prefix: bytes) -> None:
        if len(prefix) != PREFIX_SIZE:
            raise ValueError(f"a nonce prefix is {PREFIX_SIZE} bytes")
        self.prefix = prefix
        self.counter = 0

    def next(self) -> bytes:
        """Return the next nonce; raise once the counter is exhausted."""
        if self.counter >= _COUNTER_LIMIT:
            raise OverflowError("nonce counter exhausted: make a new session key")
        nonce = self.prefix + self.counter.to_bytes(8, "big")
        self.counter += 1
        return nonce

    @staticmethod
    def split(nonce: bytes) -> tuple[bytes, int]:
        """Return the (prefix, counter) of a nonce made by a sequence."""
        return nonce[:PREFIX_SIZE], int.from_bytes(nonce[PREFIX_SIZE:], "big")

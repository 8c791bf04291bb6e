"""Session keys: a fresh AES-256 key, wrapped with RSA-OAEP for one peer.

The initiator of a chat makes a random 32-byte key and encrypts ("wraps") it
under the peer's public key. Only the holder of the matching private key can
unwrap it. The parameters are the ones Web Crypto uses for RSA-OAEP: SHA-256
for the hash and for MGF1, and an empty label.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .errors import UnwrapError

__all__ = ["SESSION_KEY_SIZE", "new_session_key", "unwrap_key", "wrap_key"]

#: AES-256: 32 bytes.
SESSION_KEY_SIZE = 32


def _oaep() -> padding.OAEP:
    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()),
        algorithm=hashes.SHA256(),
        label=None,
    )


def new_session_key() -> bytes:
    """Return 32 random bytes from the operating system: a fresh AES-256 key."""
    return os.urandom(SESSION_KEY_SIZE)


def wrap_key(session_key: bytes, public_key: rsa.RSAPublicKey) -> bytes:
    """Encrypt ``session_key`` under ``public_key`` with RSA-OAEP (SHA-256).

    The result is as long as the RSA modulus (384 bytes for RSA-3072) and is
    different every time, because OAEP mixes in fresh randomness.
    """
    if len(session_key) != SESSION_KEY_SIZE:
        raise ValueError(
            f"a session key is {SESSION_KEY_SIZE} bytes, not {len(session_key)}"
        )
    return public_key.encrypt(session_key, _oaep())


def unwrap_key(wrapped: bytes, private_key: rsa.RSAPrivateKey) -> bytes:
    """Decrypt a wrapped session key with our private key.

    Raises:
        UnwrapError: If the blob was not wrapped for this key, or was altered.
            The reason is not given: OAEP failures must all look alike.
    """
    try:
        key = private_key.decrypt(wrapped, _oaep())
    except ValueError:
        raise UnwrapError(
            "the session key could not be unwrapped: it was not wrapped for "
            "this private key, or it was altered on the way"
        ) from None
    if len(key) != SESSION_KEY_SIZE:
        raise UnwrapError(
            f"the unwrapped session key is {len(key)} bytes, not {SESSION_KEY_SIZE}"
        )
    return key

"""Tests for p2plab.wrapping: session keys wrapped with RSA-OAEP (SHA-256)."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from p2plab import UnwrapError
from p2plab.identity import Identity
from p2plab.wrapping import (
    SESSION_KEY_SIZE,
    _oaep,
    new_session_key,
    unwrap_key,
    wrap_key,
)


def test_new_session_key_is_32_fresh_bytes() -> None:
    """A session key is 32 bytes, and two keys are never the same."""
    first, second = new_session_key(), new_session_key()
    assert len(first) == SESSION_KEY_SIZE == 32
    assert first != second


def test_wrap_then_unwrap_returns_the_session_key(bob_id: Identity) -> None:
    """A key wrapped for Bob's public key unwraps with Bob's private key."""
    key = new_session_key()
    wrapped = wrap_key(key, bob_id.public_key)
    assert unwrap_key(wrapped, bob_id.private_key) == key


def test_wrapped_key_is_as_long_as_the_modulus(bob_id: Identity) -> None:
    """The wrapped blob of an RSA-2048 key is 256 bytes and does not hold the key."""
    key = new_session_key()
    wrapped = wrap_key(key, bob_id.public_key)
    assert len(wrapped) == 256
    assert key not in wrapped


def test_wrapping_is_fresh_each_time(bob_id: Identity) -> None:
    """Wrapping the same key twice gives two different blobs that both unwrap."""
    key = new_session_key()
    first = wrap_key(key, bob_id.public_key)
    second = wrap_key(key, bob_id.public_key)
    assert first != second
    assert unwrap_key(first, bob_id.private_key) == key
    assert unwrap_key(second, bob_id.private_key) == key


def test_the_wrong_private_key_cannot_unwrap(
    bob_id: Identity, eve_id: Identity
) -> None:
    """A key wrapped for Bob does not unwrap with Eve's private key."""
    wrapped = wrap_key(new_session_key(), bob_id.public_key)
    with pytest.raises(UnwrapError, match="not wrapped for this private key"):
        unwrap_key(wrapped, eve_id.private_key)


@pytest.mark.parametrize("position", [0, 100, -1])
def test_a_tampered_blob_cannot_be_unwrapped(bob_id: Identity, position: int) -> None:
    """Flipping one bit anywhere in the wrapped key makes unwrapping fail."""
    wrapped = bytearray(wrap_key(new_session_key(), bob_id.public_key))
    wrapped[position] ^= 0x01
    with pytest.raises(UnwrapError):
        unwrap_key(bytes(wrapped), bob_id.private_key)


@pytest.mark.parametrize("blob", [b"", b"\x00" * 255, b"\x00" * 257])
def test_a_blob_of_the_wrong_length_cannot_be_unwrapped(
    bob_id: Identity, blob: bytes
) -> None:
    """A blob that is not as long as the modulus raises UnwrapError, not ValueError."""
    with pytest.raises(UnwrapError):
        unwrap_key(blob, bob_id.private_key)


def test_unwrap_refuses_a_key_that_is_not_32_bytes(bob_id: Identity) -> None:
    """A valid OAEP blob holding 16 bytes is refused: it is not an AES-256 key."""
    wrapped = bob_id.public_key.encrypt(b"\x01" * 16, _oaep())
    with pytest.raises(UnwrapError, match="16 bytes, not 32"):
        unwrap_key(wrapped, bob_id.private_key)


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_wrap_refuses_a_session_key_of_the_wrong_length(
    bob_id: Identity, size: int
) -> None:
    """Only a 32-byte session key can be wrapped; any other length is a ValueError."""
    with pytest.raises(ValueError, match=f"not {size}"):
        wrap_key(b"\x00" * size, bob_id.public_key)


# Wycheproof RSA-OAEP vectors (SHA-256, MGF1-SHA-256, empty label).


@functools.cache
def _private_key(pkcs8_hex: str) -> rsa.RSAPrivateKey:
    key = serialization.load_der_private_key(bytes.fromhex(pkcs8_hex), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def test_wycheproof_rsa_oaep(rsa_oaep_case: dict[str, Any]) -> None:
    """Valid vectors decrypt with the module's OAEP parameters; invalid ones fail."""
    key = _private_key(rsa_oaep_case["privateKeyPkcs8"])
    ciphertext = bytes.fromhex(rsa_oaep_case["ct"])
    message = bytes.fromhex(rsa_oaep_case["msg"])

    if rsa_oaep_case["result"] == "valid":
        assert key.decrypt(ciphertext, _oaep()) == message
        if len(message) == SESSION_KEY_SIZE:
            assert unwrap_key(ciphertext, key) == message
        else:
            with pytest.raises(UnwrapError):
                unwrap_key(ciphertext, key)
        return

    # An invalid vector must fail to decrypt at all, and unwrap_key must turn
    # that failure into an UnwrapError rather than let another error out.
    with pytest.raises(ValueError):
        key.decrypt(ciphertext, _oaep())
    with pytest.raises(UnwrapError):
        unwrap_key(ciphertext, key)

"""Tests for p2plab.sealing: AES-256-GCM sealing and the nonce sequence."""

from __future__ import annotations

import os
from typing import Any

import pytest

from p2plab import DecryptionError
from p2plab.sealing import NONCE_SIZE, TAG_SIZE, NonceSequence, seal, unseal

KEY = bytes(range(32))
NONCE = bytes.fromhex("000000010000000000000000")
TEXT = b"Hello Bob, can the server read this?"
AAD = b"alice->bob #0"


def flip(data: bytes, position: int) -> bytes:
    """Return ``data`` with the lowest bit of one byte flipped."""
    out = bytearray(data)
    out[position] ^= 0x01
    return bytes(out)


# Sealing and unsealing.


def test_seal_appends_a_16_byte_tag() -> None:
    """The sealed message is as long as the plaintext plus the 16-byte tag."""
    sealed = seal(KEY, NONCE, TEXT)
    assert len(sealed) == len(TEXT) + TAG_SIZE
    assert TEXT not in sealed


@pytest.mark.parametrize("aad", [None, AAD], ids=["no-aad", "aad"])
def test_round_trip(aad: bytes | None) -> None:
    """What seal produced, unseal returns, with or without associated data."""
    assert unseal(KEY, NONCE, seal(KEY, NONCE, TEXT, aad), aad) == TEXT


def test_empty_message_round_trips() -> None:
    """An empty plaintext seals to a bare tag and unseals to empty bytes."""
    sealed = seal(KEY, NONCE, b"")
    assert len(sealed) == TAG_SIZE
    assert unseal(KEY, NONCE, sealed) == b""


@pytest.mark.parametrize(
    "position", [0, 10, -TAG_SIZE - 1], ids=["first", "middle", "last"]
)
def test_tampered_ciphertext_is_refused(position: int) -> None:
    """Changing one bit of the ciphertext makes unseal raise DecryptionError."""
    sealed = seal(KEY, NONCE, TEXT)
    with pytest.raises(DecryptionError, match="failed authentication"):
        unseal(KEY, NONCE, flip(sealed, position))


@pytest.mark.parametrize("position", [-TAG_SIZE, -1], ids=["first", "last"])
def test_tampered_tag_is_refused(position: int) -> None:
    """Changing one bit of the tag makes unseal raise DecryptionError."""
    sealed = seal(KEY, NONCE, TEXT)
    with pytest.raises(DecryptionError):
        unseal(KEY, NONCE, flip(sealed, position))


def test_truncated_tag_is_refused() -> None:
    """A sealed message missing the last byte of its tag is refused."""
    sealed = seal(KEY, NONCE, TEXT)
    with pytest.raises(DecryptionError):
        unseal(KEY, NONCE, sealed[:-1])


def test_another_nonce_is_refused() -> None:
    """Unsealing with a nonce other than the sealing one raises DecryptionError."""
    sealed = seal(KEY, NONCE, TEXT)
    with pytest.raises(DecryptionError):
        unseal(KEY, flip(NONCE, -1), sealed)


@pytest.mark.parametrize(
    ("sealed_with", "opened_with"),
    [(AAD, b"alice->bob #1"), (AAD, None), (None, AAD)],
    ids=["changed", "dropped", "added"],
)
def test_mismatched_associated_data_is_refused(
    sealed_with: bytes | None, opened_with: bytes | None
) -> None:
    """Associated data that differs from the sealing one raises DecryptionError."""
    sealed = seal(KEY, NONCE, TEXT, sealed_with)
    with pytest.raises(DecryptionError):
        unseal(KEY, NONCE, sealed, opened_with)


def test_wrong_key_is_refused() -> None:
    """A message sealed under one key does not unseal under another."""
    sealed = seal(KEY, NONCE, TEXT)
    with pytest.raises(DecryptionError):
        unseal(os.urandom(32), NONCE, sealed)


@pytest.mark.parametrize("size", [0, 8, 11, 13, 16])
def test_seal_refuses_a_nonce_that_is_not_12_bytes(size: int) -> None:
    """Sealing with a nonce of any length but 12 bytes raises ValueError."""
    with pytest.raises(ValueError, match=f"not {size}"):
        seal(KEY, b"\x00" * size, TEXT)


@pytest.mark.parametrize(
    ("nonce", "sealed"),
    [(b"\x00" * 11, b"\x00" * 32), (NONCE, b"\x00" * (TAG_SIZE - 1))],
    ids=["short-nonce", "shorter-than-a-tag"],
)
def test_unseal_refuses_malformed_input(nonce: bytes, sealed: bytes) -> None:
    """A nonce that is not 12 bytes, or input shorter than a tag, is refused."""
    with pytest.raises(DecryptionError, match="malformed"):
        unseal(KEY, nonce, sealed)


# The nonce sequence.


def test_nonce_is_the_prefix_then_a_big_endian_counter() -> None:
    """Nonces are the 4-byte prefix followed by the counter in 8 bytes, from 0."""
    nonces = NonceSequence(b"\x00\x00\x00\x07")
    assert nonces.next() == bytes.fromhex("000000070000000000000000")
    assert nonces.next() == bytes.fromhex("000000070000000000000001")
    assert nonces.counter == 2


def test_nonces_never_repeat() -> None:
    """A thousand nonces from one sequence are all 12 bytes and all different."""
    nonces = NonceSequence(b"\x00\x00\x00\x01")
    drawn = [nonces.next() for _ in range(1000)]
    assert {len(n) for n in drawn} == {NONCE_SIZE}
    assert len(set(drawn)) == len(drawn)


def test_split_returns_prefix_and_counter() -> None:
    """split() takes a nonce apart into its prefix and its counter."""
    nonces = NonceSequence(b"\xde\xad\xbe\xef")
    for _ in range(5):
        nonces.next()
    assert NonceSequence.split(nonces.next()) == (b"\xde\xad\xbe\xef", 5)


def test_the_counter_runs_out_rather_than_wrap() -> None:
    """After the last counter value, next() raises instead of repeating a nonce."""
    nonces = NonceSequence(b"\x00\x00\x00\x01")
    nonces.counter = 2**64 - 1
    assert nonces.next() == b"\x00\x00\x00\x01" + b"\xff" * 8
    with pytest.raises(OverflowError, match="new session key"):
        nonces.next()


@pytest.mark.parametrize("prefix", [b"", b"\x01", b"\x00\x00\x00\x00\x01"])
def test_prefix_must_be_4_bytes(prefix: bytes) -> None:
    """A nonce prefix of any length but 4 bytes raises ValueError."""
    with pytest.raises(ValueError, match="4 bytes"):
        NonceSequence(prefix)


# Wycheproof AES-GCM vectors (256-bit key, 96-bit IV, 128-bit tag).


def test_wycheproof_aes_gcm(aes_gcm_case: dict[str, Any]) -> None:
    """Valid vectors seal to the expected ct||tag and open; invalid ones are refused."""
    key = bytes.fromhex(aes_gcm_case["key"])
    nonce = bytes.fromhex(aes_gcm_case["iv"])
    aad = bytes.fromhex(aes_gcm_case["aad"])
    message = bytes.fromhex(aes_gcm_case["msg"])
    sealed = bytes.fromhex(aes_gcm_case["ct"] + aes_gcm_case["tag"])

    if aes_gcm_case["result"] == "valid":
        assert seal(key, nonce, message, aad) == sealed
        assert unseal(key, nonce, sealed, aad) == message
    else:
        with pytest.raises(DecryptionError):
            unseal(key, nonce, sealed, aad)

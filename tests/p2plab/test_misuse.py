"""Tests for p2plab.misuse: what a skipped tag check and a reused nonce give away."""

from __future__ import annotations

import pytest

from p2plab import DecryptionError
from p2plab.misuse import ciphertext_of, keystream, open_unchecked, recover, xor
from p2plab.sealing import TAG_SIZE, seal, unseal

KEY = bytes(range(32))
NONCE = bytes.fromhex("000000010000000000000007")
KNOWN = b"Meet me at the library at noon"
SECRET = b"The exam answers are in box 7!"

# Test case 3 of the GCM specification (McGrew and Viega): AES-128, no
# associated data, a 64-byte message.
SPEC_KEY = bytes.fromhex("feffe9928665731c6d6a8f9467308308")
SPEC_NONCE = bytes.fromhex("cafebabefacedbaddecaf888")
SPEC_PLAINTEXT = bytes.fromhex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
)
SPEC_SEALED = bytes.fromhex(
    "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
    "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985"
    "4d5c2af327cd64a62cf35abd2ba6fab4"
)


def test_xor_of_equal_lengths() -> None:
    """XOR combines two byte strings byte by byte."""
    assert xor(b"\x0f\xf0\xff", b"\xff\xff\x00") == b"\xf0\x0f\xff"


def test_xor_stops_at_the_shorter() -> None:
    """XOR of two lengths is as long as the shorter input, whichever it is."""
    assert xor(b"abc", b"ab") == xor(b"ab", b"abc") == b"\x00\x00"
    assert xor(b"", b"abc") == b""


def test_ciphertext_of_drops_the_tag() -> None:
    """The ciphertext of a sealed message is as long as the plaintext."""
    sealed = seal(KEY, NONCE, KNOWN)
    assert ciphertext_of(sealed) == sealed[:-TAG_SIZE]
    assert len(ciphertext_of(sealed)) == len(KNOWN)


def test_ciphertext_of_refuses_less_than_a_tag() -> None:
    """A sealed message shorter than a tag is refused with its length."""
    with pytest.raises(ValueError, match="15 bytes in all"):
        ciphertext_of(bytes(15))


def test_open_unchecked_matches_the_gcm_specification() -> None:
    """Without the tag check, the specification's ciphertext opens to its plaintext."""
    assert open_unchecked(SPEC_KEY, SPEC_NONCE, SPEC_SEALED) == SPEC_PLAINTEXT


def test_open_unchecked_opens_what_seal_made() -> None:
    """open_unchecked decrypts a sealed message exactly as unseal does."""
    sealed = seal(KEY, NONCE, KNOWN)
    assert open_unchecked(KEY, NONCE, sealed) == unseal(KEY, NONCE, sealed) == KNOWN


def test_open_unchecked_lets_a_flipped_bit_through() -> None:
    """A bit flipped in the ciphertext is refused by unseal but flips the plaintext."""
    tampered = bytearray(seal(KEY, NONCE, KNOWN))
    tampered[0] ^= 0x01

    with pytest.raises(DecryptionError):
        unseal(KEY, NONCE, bytes(tampered))
    assert open_unchecked(KEY, NONCE, bytes(tampered)) == b"L" + KNOWN[1:]


def test_open_unchecked_refuses_a_nonce_of_the_wrong_size() -> None:
    """A nonce that is not 12 bytes is refused, as seal refuses it."""
    with pytest.raises(ValueError, match="12 bytes"):
        open_unchecked(KEY, NONCE[:8], seal(KEY, NONCE, KNOWN))


def test_reused_nonce_xor_of_ciphertexts_is_xor_of_plaintexts() -> None:
    """Under one key and nonce, the XOR of two ciphertexts is the plaintexts' XOR."""
    first, second = seal(KEY, NONCE, KNOWN), seal(KEY, NONCE, SECRET)
    assert xor(ciphertext_of(first), ciphertext_of(second)) == xor(KNOWN, SECRET)


def test_fresh_nonces_hide_the_xor_of_plaintexts() -> None:
    """With two nonces the ciphertexts' XOR is not the plaintexts' XOR."""
    other_nonce = NONCE[:-1] + b"\x08"
    first, second = seal(KEY, NONCE, KNOWN), seal(KEY, other_nonce, SECRET)
    assert xor(ciphertext_of(first), ciphertext_of(second)) != xor(KNOWN, SECRET)


def test_keystream_is_the_same_for_every_message_under_one_nonce() -> None:
    """The keystream read from one message equals the one read from another."""
    first, second = seal(KEY, NONCE, KNOWN), seal(KEY, NONCE, SECRET)
    assert keystream(KNOWN, first) == keystream(SECRET, second)


def test_recover_opens_the_other_message_without_the_key() -> None:
    """One known message and its seal open another sealed with the same nonce."""
    first, second = seal(KEY, NONCE, KNOWN), seal(KEY, NONCE, SECRET)
    assert recover(KNOWN, first, second) == SECRET


def test_recover_reaches_only_as_far_as_the_known_message() -> None:
    """Past the end of the known message the keystream is unknown, so recovery stops."""
    first, second = seal(KEY, NONCE, b"hi Bob"), seal(KEY, NONCE, SECRET)
    assert recover(b"hi Bob", first, second) == SECRET[:6]

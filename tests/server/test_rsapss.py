"""Tests for the standard-library RSA-PSS check and SPKI reader of the server."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from p2plab_server.rsapss import (
    MAX_BITS,
    MIN_BITS,
    InvalidKey,
    RSAPublicKey,
    load_spki,
    verify,
)

from .clients import Key, make_key

PSS_32 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def spki(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    """Return a public key's SPKI DER."""
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def sign(private: rsa.RSAPrivateKey, message: bytes, pss: Any = PSS_32) -> bytes:
    """Sign with cryptography, RSA-PSS SHA-256 unless told otherwise."""
    signature: bytes = private.sign(message, pss, hashes.SHA256())
    return signature


def key_of(private: rsa.RSAPrivateKey) -> RSAPublicKey:
    """Return the server's view of a cryptography key pair's public half."""
    return load_spki(spki(private.public_key()))


def key_of_2057_bits() -> rsa.RSAPrivateKey:
    """Return a key whose modulus has 8k+1 bits, which OpenSSL never generates.

    Its encoded message is one byte shorter than the signature, the one
    branch of RSA-PSS that the usual key sizes never take.
    """
    # OpenSSL primes have their top two bits set, so a 1029-bit prime times a
    # 1028-bit prime has exactly 2057 bits.
    big = rsa.generate_private_key(65537, 2058).private_numbers()
    small = rsa.generate_private_key(65537, 2056).private_numbers()
    p, q, e = big.p, small.q, 65537
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p,
        q,
        d,
        rsa.rsa_crt_dmp1(d, p),
        rsa.rsa_crt_dmq1(d, q),
        rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(e, p * q),
    )
    return numbers.private_key()


@pytest.fixture(scope="module")
def sized_keys(keys: tuple[Key, Key]) -> dict[int, rsa.RSAPrivateKey]:
    """Key pairs of several sizes, the awkward ones included."""
    made = {bits: make_key(bits).private for bits in (2050, 2056, 3072, 4096)}
    return {2048: keys[0].private, 2057: key_of_2057_bits(), **made}


# Official vectors.


def test_wycheproof_rsa_pss_vector(rsa_pss_case: dict[str, Any]) -> None:
    """verify agrees with each Wycheproof RSA-PSS case, valid or invalid."""
    key = load_spki(bytes.fromhex(rsa_pss_case["publicKeyDer"]))
    message = bytes.fromhex(rsa_pss_case["msg"])
    signature = bytes.fromhex(rsa_pss_case["sig"])
    assert verify(key, message, signature) is (rsa_pss_case["result"] == "valid")


# Against cryptography.


@pytest.mark.parametrize("bits", [2048, 2050, 2056, 2057, 3072, 4096])
def test_signatures_made_by_cryptography_verify(
    sized_keys: dict[int, rsa.RSAPrivateKey], bits: int
) -> None:
    """Signatures by cryptography verify, for every key size and message length."""
    private = sized_keys[bits]
    key = key_of(private)
    assert key.bits == bits
    for length in (0, 1, 32, 1000):
        message = os.urandom(length)
        assert verify(key, message, sign(private, message))


@pytest.mark.parametrize("bits", [2048, 2057, 3072])
def test_a_changed_message_or_signature_is_refused(
    sized_keys: dict[int, rsa.RSAPrivateKey], bits: int
) -> None:
    """One flipped bit in the message or anywhere in the signature fails."""
    private = sized_keys[bits]
    key = key_of(private)
    message = b"p2plab"
    signature = sign(private, message)
    assert not verify(key, b"p2plaB", signature)
    for index in (0, len(signature) // 2, len(signature) - 1):
        changed = bytearray(signature)
        changed[index] ^= 0x01
        assert not verify(key, message, bytes(changed))


@pytest.mark.parametrize(
    "pss",
    [
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=0),
        padding.PSS(mgf=padding.MGF1(hashes.SHA1()), salt_length=32),
        padding.PKCS1v15(),
    ],
    ids=["salt-20", "salt-0", "mgf1-sha1", "pkcs1v15"],
)
def test_other_signature_parameters_are_refused(
    keys: tuple[Key, Key], pss: Any
) -> None:
    """Signatures with another salt length, MGF hash or padding do not verify."""
    message = b"join"
    assert not verify(
        key_of(keys[0].private), message, sign(keys[0].private, message, pss)
    )


def test_a_signature_by_another_key_is_refused(keys: tuple[Key, Key]) -> None:
    """A valid signature by one key does not verify with another key."""
    message = b"join"
    assert not verify(key_of(keys[1].private), message, sign(keys[0].private, message))


def test_a_signature_of_the_wrong_length_or_too_large_is_refused(
    keys: tuple[Key, Key],
) -> None:
    """Signatures longer or shorter than the modulus, or not below it, fail."""
    key = key_of(keys[0].private)
    signature = sign(keys[0].private, b"m")
    assert not verify(key, b"m", b"\x00" + signature)
    assert not verify(key, b"m", signature[1:])
    assert not verify(key, b"m", b"")
    assert not verify(key, b"m", key.n.to_bytes(key.size, "big"))
    assert not verify(key, b"m", b"\xff" * key.size)


# Reading SPKI.


def test_load_spki_reads_the_modulus_and_exponent(keys: tuple[Key, Key]) -> None:
    """load_spki returns the same n and e that cryptography reports."""
    numbers = keys[0].private.public_key().public_numbers()
    key = load_spki(base64.b64decode(keys[0].public))
    assert (key.n, key.e, key.bits, key.size) == (numbers.n, numbers.e, 2048, 256)


@pytest.mark.parametrize("bits", [1024, 1536])
def test_keys_under_2048_bits_are_refused(bits: int) -> None:
    """A real RSA key smaller than 2048 bits is refused, naming its size."""
    der = spki(make_key(bits).private.public_key())
    with pytest.raises(
        InvalidKey, match=f"RSA-{bits}; the server accepts 2048 to 4096"
    ):
        load_spki(der)


def test_keys_over_4096_bits_are_refused() -> None:
    """A public key with a 4098-bit modulus is refused, naming its size."""
    n = int.from_bytes(os.urandom(513), "big") | (1 << 4097) | 1
    n &= (1 << 4098) - 1
    der = spki(rsa.RSAPublicNumbers(65537, n).public_key())
    with pytest.raises(InvalidKey, match="RSA-4098"):
        load_spki(der)
    assert (MIN_BITS, MAX_BITS) == (2048, 4096)


def test_an_elliptic_curve_key_is_refused() -> None:
    """An EC public key in SPKI is refused as not an RSA key."""
    der = spki(ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(InvalidKey, match="not an RSA key"):
        load_spki(der)


def test_a_pkcs1_public_key_is_refused(keys: tuple[Key, Key]) -> None:
    """A bare PKCS#1 RSAPublicKey, without the SPKI wrapper, is refused."""
    der = keys[0].private.public_key().public_bytes(Encoding.DER, PublicFormat.PKCS1)
    with pytest.raises(InvalidKey):
        load_spki(der)


def good_der(keys: tuple[Key, Key]) -> bytes:
    """Return the SPKI DER of the first test key."""
    return base64.b64decode(keys[0].public)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda der: der + b"\x00", "extra bytes"),
        (lambda der: der[:-1], "cut short"),
        (lambda der: b"", "cut short"),
        (lambda der: der[:1] + b"\x83\x00" + der[2:], "invalid length"),
        (lambda der: b"\x30\x80" + der[4:], "invalid length"),
        (lambda der: b"\x30\x82\x00\x05" + der[4:], "minimal DER"),
        (lambda der: b"\x31" + der[1:], "not the DER structure"),
        (
            lambda der: der.replace(b"\x03\x82\x01\x0f\x00", b"\x03\x82\x01\x0f\x01"),
            "unused bits",
        ),
    ],
    ids=[
        "trailing",
        "truncated",
        "empty",
        "long-length",
        "indefinite",
        "non-minimal-length",
        "set-not-sequence",
        "unused-bits",
    ],
)
def test_malformed_der_is_refused(
    keys: tuple[Key, Key], change: Any, words: str
) -> None:
    """Broken or non-canonical DER is refused with a message that says how."""
    with pytest.raises(InvalidKey, match=words):
        load_spki(change(good_der(keys)))


def spki_of_numbers(modulus: bytes, exponent: bytes) -> bytes:
    """Build an RSA SPKI by hand from the contents of its two INTEGERs."""

    def tlv(tag: int, value: bytes) -> bytes:
        size = len(value)
        if size < 0x80:
            return bytes([tag, size]) + value
        return bytes([tag, 0x82]) + size.to_bytes(2, "big") + value

    numbers = tlv(0x30, tlv(0x02, modulus) + tlv(0x02, exponent))
    algorithm = bytes.fromhex("300d06092a864886f70d0101010500")
    return tlv(0x30, algorithm + tlv(0x03, b"\x00" + numbers))


def test_spki_of_numbers_rebuilds_a_real_key(keys: tuple[Key, Key]) -> None:
    """The hand-built SPKI of a real key's numbers is that key's DER."""
    numbers = keys[0].private.public_key().public_numbers()
    modulus = b"\x00" + numbers.n.to_bytes(256, "big")
    assert spki_of_numbers(modulus, b"\x01\x00\x01") == good_der(keys)


@pytest.mark.parametrize(
    ("modulus", "exponent", "words"),
    [
        (b"\x80" + bytes(255), b"\x03", "modulus is not a positive integer"),
        (b"\x00\x00\xc1" + bytes(254) + b"\x01", b"\x03", "modulus is not in minimal"),
        (b"\x00\xc1" + bytes(254) + b"\x01", b"\x00\x03", "exponent is not in minimal"),
        (b"\x00\xc1" + bytes(254) + b"\x02", b"\x03", "not a valid RSA value"),
        (b"\x00\xc1" + bytes(254) + b"\x01", b"\x01\x00\x00", "not a valid RSA value"),
        (b"\x00\xc1" + bytes(254) + b"\x01", b"\x01", "not a valid RSA value"),
        (b"\x00\xc1" + bytes(254) + b"\x01", b"", "not a positive integer"),
        (
            b"\x00\xc1" + bytes(254) + b"\x01",
            b"\x01" + bytes(3) + b"\x01",
            "exponent has 33 bits; the server accepts up to 32",
        ),
    ],
    ids=[
        "negative-n",
        "padded-n",
        "padded-e",
        "even-n",
        "even-e",
        "e-is-1",
        "empty-e",
        "huge-e",
    ],
)
def test_invalid_numbers_are_refused(
    modulus: bytes, exponent: bytes, words: str
) -> None:
    """Negative, padded or impossible moduli and exponents are refused."""
    with pytest.raises(InvalidKey, match=words):
        load_spki(spki_of_numbers(modulus, exponent))

"""RSA public keys and RSA-PSS signature checks, with the standard library only.

The server proves that a client holds the private key of the public key it
joins with by checking one RSA-PSS signature. A teacher deploys the server
without the ``cryptography`` package, so the check is written here from the
definitions in RFC 8017 (RSASSA-PSS-VERIFY, EMSA-PSS-VERIFY, MGF1) with
Python's big integers and :mod:`hashlib`. Only verification is here: it uses
the public key alone, and nothing in it depends on a secret, so plain integer
arithmetic is safe to use.

The parameters are fixed to those of the lab: SHA-256 for the message hash and
for MGF1, and a salt of 32 bytes, the same as Web Crypto's
``{name: "RSA-PSS", saltLength: 32}`` with a SHA-256 key.

Public keys arrive as SPKI DER (``SubjectPublicKeyInfo``), the form Web Crypto
exports. :func:`load_spki` reads exactly that structure, in strict DER, for
the ``rsaEncryption`` algorithm, and refuses anything else.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

__all__ = [
    "MAX_BITS",
    "MAX_EXPONENT_BITS",
    "MIN_BITS",
    "SALT_LENGTH",
    "InvalidKey",
    "RSAPublicKey",
    "load_spki",
    "verify",
]

#: Smallest and largest modulus the server accepts, in bits.
MIN_BITS = 2048
MAX_BITS = 4096

#: Largest public exponent the server accepts, in bits. Keys made by the lab,
#: by Web Crypto and by OpenSSL use 65537 (17 bits).
MAX_EXPONENT_BITS = 32

#: Salt length of the lab's RSA-PSS signatures, in bytes (the SHA-256 size).
SALT_LENGTH = 32

_HASH_LENGTH = hashlib.sha256().digest_size

# The DER of AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }.
_RSA_ALGORITHM = bytes.fromhex("300d06092a864886f70d0101010500")

_SEQUENCE, _INTEGER, _BIT_STRING = 0x30, 0x02, 0x03


class InvalidKey(ValueError):
    """A public key is not an RSA SPKI of an accepted size.

    The message says what is wrong in words a learner can act on.
    """


@dataclass(frozen=True)
class RSAPublicKey:
    """An RSA public key: modulus ``n`` and public exponent ``e``."""

    n: int
    e: int

    @property
    def bits(self) -> int:
        """The size of the modulus in bits."""
        return self.n.bit_length()

    @property
    def size(self) -> int:
        """The size of the modulus in bytes: every signature has this length."""
        return (self.bits + 7) // 8


def load_spki(der: bytes) -> RSAPublicKey:
    """Read an RSA public key from its SPKI DER encoding.

    Raises:
        InvalidKey: If ``der`` is not strict DER of an ``rsaEncryption``
            SubjectPublicKeyInfo, the key is smaller than :data:`MIN_BITS` or
            larger than :data:`MAX_BITS`, or its exponent is larger than
            :data:`MAX_EXPONENT_BITS` bits.
    """
    spki = _one(der, _SEQUENCE, "the key")
    algorithm, rest = _split(spki, "the key")
    if algorithm != _RSA_ALGORITHM:
        raise InvalidKey("the key is not an RSA key (rsaEncryption in SPKI)")
    bits = _one(rest, _BIT_STRING, "the key's bit string")
    if bits[:1] != b"\x00":
        raise InvalidKey("the key's bit string has unused bits")
    numbers = _one(bits[1:], _SEQUENCE, "the RSA public key")
    n_der, e_der = _split(numbers, "the RSA public key")
    key = RSAPublicKey(_integer(n_der, "modulus"), _integer(e_der, "exponent"))

    if not MIN_BITS <= key.bits <= MAX_BITS:
        raise InvalidKey(
            f"the key is RSA-{key.bits}; the server accepts {MIN_BITS} to "
            f"{MAX_BITS} bits: make a new key, e.g. Identity.generate(3072)"
        )
    if key.n % 2 == 0 or key.e < 3 or key.e % 2 == 0 or key.e >= key.n:
        raise InvalidKey("the key's modulus or exponent is not a valid RSA value")
    if key.e.bit_length() > MAX_EXPONENT_BITS:
        # A huge exponent would make every check cost as much as signing.
        raise InvalidKey(
            f"the key's public exponent has {key.e.bit_length()} bits; the server "
            f"accepts up to {MAX_EXPONENT_BITS} (keys normally use 65537)"
        )
    return key


def verify(key: RSAPublicKey, message: bytes, signature: bytes) -> bool:
    """Tell whether ``signature`` is an RSA-PSS signature of ``message``.

    RSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (RFC 8017, 8.1.2).
    Every way of failing returns False: the caller learns nothing more, and
    needs nothing more, than "not signed by this key".
    """
    # RSASSA-PSS-VERIFY: the signature is an integer below n, written in
    # exactly as many bytes as the modulus.
    if len(signature) != key.size:
        return False
    s = int.from_bytes(signature, "big")
    if s >= key.n:
        return False
    m = pow(s, key.e, key.n)

    # The encoded message has one bit fewer than the modulus.
    em_bits = key.bits - 1
    em_length = (em_bits + 7) // 8
    if m.bit_length() > em_length * 8:
        return False
    return _pss_matches(message, m.to_bytes(em_length, "big"), em_bits)


def _pss_matches(message: bytes, em: bytes, em_bits: int) -> bool:
    """EMSA-PSS-VERIFY: check the encoded message ``em`` against ``message``."""
    em_length = len(em)
    if em_length < _HASH_LENGTH + SALT_LENGTH + 2 or em[-1] != 0xBC:
        return False

    # em = maskedDB || H || 0xbc. The top bits beyond em_bits must be zero.
    db_length = em_length - _HASH_LENGTH - 1
    masked_db, h = em[:db_length], em[db_length:-1]
    spare_bits = 8 * em_length - em_bits
    top_mask = (0xFF >> spare_bits) & 0xFF
    if masked_db[0] & ~top_mask & 0xFF:
        return False

    # Unmask the data block: DB = PS (zeros) || 0x01 || salt.
    mask = _mgf1(h, db_length)
    db = bytearray(a ^ b for a, b in zip(masked_db, mask, strict=True))
    db[0] &= top_mask
    padding_length = db_length - SALT_LENGTH - 1
    if any(db[:padding_length]) or db[padding_length] != 0x01:
        return False
    salt = bytes(db[-SALT_LENGTH:])

    # H must be the hash of eight zero bytes, the message hash and the salt.
    m_hash = hashlib.sha256(message).digest()
    expected = hashlib.sha256(bytes(8) + m_hash + salt).digest()
    return hmac.compare_digest(h, expected)


def _mgf1(seed: bytes, length: int) -> bytes:
    """MGF1 with SHA-256: hashes of ``seed`` and a 4-byte counter, end to end."""
    blocks = (length + _HASH_LENGTH - 1) // _HASH_LENGTH
    stream = b"".join(
        hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        for counter in range(blocks)
    )
    return stream[:length]


# Strict DER, just enough for SubjectPublicKeyInfo.


def _read(data: bytes, what: str) -> tuple[int, bytes, bytes]:
    """Read one tag-length-value; return the tag, the value and what follows."""
    if len(data) < 2:
        raise InvalidKey(f"{what} is cut short")
    tag, first = data[0], data[1]
    if first < 0x80:
        length, start = first, 2
    else:
        count = first & 0x7F
        # Indefinite lengths (0x80) are not DER; keys need at most 2 bytes.
        if count == 0 or count > 2 or len(data) < 2 + count:
            raise InvalidKey(f"{what} has an invalid length")
        length = int.from_bytes(data[2 : 2 + count], "big")
        if length < 0x80 or data[2] == 0:
            raise InvalidKey(f"{what} has a length that is not in minimal DER form")
        start = 2 + count
    end = start + length
    if end > len(data):
        raise InvalidKey(f"{what} is cut short")
    return tag, data[start:end], data[end:]


def _one(data: bytes, tag: int, what: str) -> bytes:
    """Return the value of the single element ``data`` holds, of type ``tag``."""
    found, value, rest = _read(data, what)
    if found != tag:
        raise InvalidKey(f"{what} is not the DER structure of a public key")
    if rest:
        raise InvalidKey(f"{what} has extra bytes after it")
    return value


def _split(data: bytes, what: str) -> tuple[bytes, bytes]:
    """Split ``data`` after its first element: return that element, and the rest."""
    _tag, _value, rest = _read(data, what)
    if not rest:
        raise InvalidKey(f"{what} is missing a part")
    return data[: len(data) - len(rest)], rest


def _integer(tlv: bytes, what: str) -> int:
    """Read a positive DER INTEGER in minimal form."""
    value = _one(tlv, _INTEGER, f"the {what}")
    if not value or value[0] & 0x80:
        raise InvalidKey(f"the {what} is not a positive integer")
    if len(value) > 1 and value[0] == 0 and not value[1] & 0x80:
        raise InvalidKey(f"the {what} is not in minimal DER form")
    return int.from_bytes(value, "big")

"""Checks for the exercises of the lesson on RSA identities (05-rsa-identities).

Each check takes the learner's answer and returns a
:class:`~p2plab.exercises.Verdict`: praise, or a hint aimed at the usual
mistake (bits taken for bytes, the PEM text hashed instead of the DER).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..identity import Identity
from . import Hint, Verdict, verdict

__all__ = ["fingerprint", "modulus_bytes", "prime_candidates"]


def modulus_bytes(answer: Any) -> Verdict:
    """Check the size in bytes of an RSA-4096 modulus (512)."""
    return verdict(
        "modulus bytes",
        answer,
        lambda a: a == 512,
        [
            Hint(
                lambda a: a == 4096,
                "4096 is the key size in bits; how many bytes is that?",
            ),
            Hint(
                lambda a: a == 550,
                "550 bytes is the whole SPKI DER of an RSA-4096 key: the modulus "
                "plus the exponent and the structure around them; count the "
                "modulus only",
            ),
            Hint(
                lambda a: a in (256, 384),
                "that is the modulus of a smaller key; this one has 4096 bits",
            ),
        ],
        otherwise="the modulus has as many bits as the key size; a byte holds 8",
    )


def fingerprint(answer: Any, identity: Identity) -> Verdict:
    """Check a fingerprint of ``identity`` computed by hand with hashlib."""
    der = identity.public_der
    digest = hashlib.sha256(der).hexdigest()
    pem_digest = hashlib.sha256(identity.public_pem.encode()).hexdigest()
    b64_digest = hashlib.sha256(identity.public_b64.encode()).hexdigest()
    return verdict(
        "fingerprint",
        answer,
        lambda a: a == identity.fingerprint,
        [
            Hint(
                lambda a: isinstance(a, bytes) and len(a) == 32,
                "those are the 32 raw bytes of the digest; write them as hex "
                "digits (.hexdigest()), in groups of four",
            ),
            Hint(
                lambda a: _digits(a) == pem_digest,
                "that hashes the PEM text, header lines and line breaks "
                "included; hash the DER bytes the PEM carries (identity.public_der)",
            ),
            Hint(
                lambda a: _digits(a) == b64_digest,
                "that hashes the base64 text; hash the bytes it decodes to",
            ),
            Hint(
                lambda a: _digits(a) == digest,
                "the right digest, written differently: lowercase hex, 16 groups "
                "of four digits with one space between them",
            ),
            Hint(
                lambda a: len(_digits(a)) in (32, 40),
                "that digest is too short for SHA-256 (MD5 or SHA-1?); "
                "use hashlib.sha256",
            ),
        ],
        otherwise="hash the public key's SPKI DER bytes with hashlib.sha256 and "
        "write the hex digest in groups of four",
    )


def prime_candidates(answer: Any) -> Verdict:
    """Check the expected number of odd 1536-bit candidates per prime (about 532)."""
    return verdict(
        "prime candidates",
        answer,
        lambda a: 500 <= float(a) <= 565,
        [
            Hint(
                lambda a: 0 < float(a) < 1,
                "that looks like a probability; the question asks how many "
                "candidates, on average: its inverse",
            ),
            Hint(
                lambda a: 1000 <= float(a) <= 1130,
                "about twice too many: keygen tries odd numbers only, and among "
                "odd numbers primes are twice as common as among all numbers",
            ),
            Hint(
                lambda a: 2000 <= float(a) <= 2260,
                "that is for numbers of 3072 bits: each prime of an RSA-3072 "
                "key has 1536 bits, half the key",
            ),
            Hint(
                lambda a: (
                    700 <= float(a) <= 830
                    or 1450 <= float(a) <= 1620
                    or 2900 <= float(a) <= 3200
                ),
                "that counts bits: the prime number theorem uses the natural "
                "logarithm, ln(2**1536) = 1536 × ln 2",
            ),
        ],
        otherwise="near N about one number in ln(N) is prime, and keygen tries "
        "odd numbers only",
    )


def _digits(answer: Any) -> str:
    if not isinstance(answer, str):
        return ""
    return answer.replace(" ", "").replace(":", "").lower()

"""Worked answers to the exercises of ``notebooks/05-rsa-identities.ipynb``."""

from __future__ import annotations

import hashlib
import math

from p2plab.identity import Identity


def modulus_bytes() -> int:
    """An RSA-4096 modulus has 4096 bits: 4096 / 8 = 512 bytes."""
    return 4096 // 8


def fingerprint(identity: Identity) -> str:
    """SHA-256 over the SPKI DER bytes, in lowercase hex, groups of four."""
    digest = hashlib.sha256(identity.public_der).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def prime_candidates() -> float:
    """Near 2**1536 one number in ln(2**1536) is prime; odd ones only: half that.

    1536 × ln 2 / 2 ≈ 532 candidates, on average, for each prime.
    """
    return 1536 * math.log(2) / 2

"""The checks of the RSA identities lesson: solutions pass, usual mistakes get hints."""

from __future__ import annotations

import hashlib
import math

import pytest

from p2plab.exercises import identities as check
from p2plab.identity import Identity

from .conftest import load_solutions

solutions = load_solutions("05_rsa_identities")


def test_the_solutions_pass(alice_id: Identity) -> None:
    """Every worked solution passes its check."""
    assert check.modulus_bytes(solutions.modulus_bytes())
    assert check.fingerprint(solutions.fingerprint(alice_id), alice_id)
    assert check.prime_candidates(solutions.prime_candidates())


def test_placeholders_are_not_tried_yet(alice_id: Identity) -> None:
    """Each check calls the untouched placeholder "not tried yet"."""
    for result in (
        check.modulus_bytes(...),
        check.fingerprint(..., alice_id),
        check.prime_candidates(...),
    ):
        assert not result and not result.tried


@pytest.mark.parametrize(
    ("answer", "hint"),
    [(4096, "in bits"), (550, "whole SPKI DER"), (256, "smaller key"), ("x", "8")],
)
def test_modulus_bytes_hints(answer: object, hint: str) -> None:
    """Bits for bytes, the DER size or a smaller key each get their own hint."""
    result = check.modulus_bytes(answer)
    assert not result and hint in result.message
    assert "512" not in result.message


def test_fingerprint_of_the_pem_text_is_explained(alice_id: Identity) -> None:
    """Hashing the PEM text instead of the DER gets the hint about what to hash."""
    digest = hashlib.sha256(alice_id.public_pem.encode()).hexdigest()
    result = check.fingerprint(digest, alice_id)
    assert not result and "PEM text" in result.message


def test_fingerprint_of_the_base64_text_is_explained(alice_id: Identity) -> None:
    """Hashing the published base64 text gets the hint to decode it first."""
    digest = hashlib.sha256(alice_id.public_b64.encode()).hexdigest()
    assert "base64 text" in check.fingerprint(digest, alice_id).message


@pytest.mark.parametrize("form", ["plain", "upper", "colons"])
def test_right_digest_in_another_form_gets_the_format_hint(
    alice_id: Identity, form: str
) -> None:
    """The right digest without groups, in capitals or with colons gets the format."""
    digest = hashlib.sha256(alice_id.public_der).hexdigest()
    answer = {
        "plain": digest,
        "upper": alice_id.fingerprint.upper(),
        "colons": ":".join(digest[i : i + 2] for i in range(0, 64, 2)),
    }[form]
    result = check.fingerprint(answer, alice_id)
    assert not result and "written differently" in result.message


def test_raw_digest_and_other_hashes_get_hints(alice_id: Identity) -> None:
    """The raw digest bytes, and SHA-1 or MD5 digests, are each explained."""
    raw = hashlib.sha256(alice_id.public_der).digest()
    assert "raw bytes" in check.fingerprint(raw, alice_id).message
    for name in ("sha1", "md5"):
        digest = hashlib.new(name, alice_id.public_der).hexdigest()
        assert "too short" in check.fingerprint(digest, alice_id).message


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (1 / 532, "probability"),
        (1064.6, "odd numbers only"),
        (2129.3, "1536 bits"),
        (768, "natural"),
        (1536, "natural"),
        (3072, "natural"),
        (42, "ln(N)"),
    ],
)
def test_prime_candidates_hints(answer: float, hint: str) -> None:
    """A probability, even numbers counted, 3072 bits, or log base 2 get their hint."""
    result = check.prime_candidates(answer)
    assert not result and hint in result.message


def test_counting_even_numbers_too_gets_no_word_about_the_key_size() -> None:
    """ln(2**1536), all numbers counted, is told about odd numbers only, not 3072."""
    result = check.prime_candidates(1536 * math.log(2))
    assert "odd" in result.message and "3072" not in result.message

"""Fixtures shared by every test folder: the Wycheproof test vectors.

The vectors are not copied into the repository: they are read from
``$P2PLAB_VECTORS`` or from ``../shared/vectors/wycheproof`` beside the
repository, and the tests that need them are skipped with a clear reason when
neither is there.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


# Wycheproof vectors.


def vectors_dir() -> Path:
    """Return the folder the Wycheproof files are read from (it may not exist)."""
    named = os.environ.get("P2PLAB_VECTORS")
    if named:
        return Path(named)
    return ROOT.parent / "shared" / "vectors" / "wycheproof"


@functools.cache
def _load(name: str) -> dict[str, Any] | None:
    path = vectors_dir() / name
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def _missing(name: str) -> list[Any]:
    reason = (
        f"Wycheproof vectors not found: {vectors_dir() / name} does not exist; "
        "set P2PLAB_VECTORS to the folder that holds them"
    )
    skip = pytest.mark.skip(reason=reason)
    return [pytest.param(None, id=f"missing-{name}", marks=skip)]


def _aes_gcm_cases() -> list[Any]:
    """AES-GCM cases with a 256-bit key, a 96-bit IV and a 128-bit tag."""
    name = "aes_gcm_test.json"
    data = _load(name)
    if data is None:
        return _missing(name)
    cases = []
    for group in data["testGroups"]:
        if (group["keySize"], group["ivSize"], group["tagSize"]) != (256, 96, 128):
            continue
        for test in group["tests"]:
            if test["result"] in ("valid", "invalid"):
                cases.append(pytest.param(test, id=f"tc{test['tcId']}"))
    return cases


def _rsa_oaep_cases() -> list[Any]:
    """RSA-OAEP SHA-256 cases with an empty label, for 2048 and 3072 bits."""
    cases: list[Any] = []
    for bits in (2048, 3072):
        name = f"rsa_oaep_{bits}_sha256_mgf1sha256_test.json"
        data = _load(name)
        if data is None:
            cases += _missing(name)
            continue
        for group in data["testGroups"]:
            key = group["privateKeyPkcs8"]
            for test in group["tests"]:
                if test["label"] == "" and test["result"] in ("valid", "invalid"):
                    case = {**test, "privateKeyPkcs8": key}
                    cases.append(pytest.param(case, id=f"{bits}-tc{test['tcId']}"))
    return cases


def _rsa_pss_cases() -> list[Any]:
    """RSA-PSS SHA-256, MGF1-SHA-256, 32-byte salt cases, for 2048 and 3072 bits."""
    cases: list[Any] = []
    for bits in (2048, 3072):
        name = f"rsa_pss_{bits}_sha256_mgf1_32_test.json"
        data = _load(name)
        if data is None:
            cases += _missing(name)
            continue
        for group in data["testGroups"]:
            key = group["publicKeyDer"]
            for test in group["tests"]:
                if test["result"] in ("valid", "invalid"):
                    case = {**test, "publicKeyDer": key}
                    cases.append(pytest.param(case, id=f"{bits}-tc{test['tcId']}"))
    return cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give one test per vector to tests that ask for a Wycheproof case."""
    if "aes_gcm_case" in metafunc.fixturenames:
        metafunc.parametrize("aes_gcm_case", _aes_gcm_cases())
    if "rsa_oaep_case" in metafunc.fixturenames:
        metafunc.parametrize("rsa_oaep_case", _rsa_oaep_cases())
    if "rsa_pss_case" in metafunc.fixturenames:
        metafunc.parametrize("rsa_pss_case", _rsa_pss_cases())

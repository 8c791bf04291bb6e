"""Tests for p2plab.identity: key pairs, public key forms, fingerprints, key store."""

from __future__ import annotations

import base64
import hashlib
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from p2plab.identity import (
    DEFAULT_KEY_SIZE,
    Identity,
    Keygen,
    KeyStore,
    fingerprint_of,
    load_public_key,
    public_key_b64,
    public_key_der,
    timed_generate,
)

FINGERPRINT = re.compile(r"[0-9a-f]{4}( [0-9a-f]{4}){15}")
PASSPHRASE = "correct horse battery staple"


def spki_der(identity: Identity) -> bytes:
    """Return the SPKI DER bytes of an identity's public key."""
    return identity.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def mode(path: Path) -> int:
    """Return the permission bits of a file or folder."""
    return stat.S_IMODE(path.stat().st_mode)


# Key pairs.


def test_generate_makes_a_key_of_the_requested_size(alice_id: Identity) -> None:
    """A generated 2048-bit identity has a 2048-bit modulus and exponent 65537."""
    assert alice_id.bits == 2048
    assert alice_id.public_key.public_numbers().e == 65537


def test_generate_defaults_to_3072_bits() -> None:
    """Without a size, generate makes an RSA-3072 key, the documented default."""
    identity = Identity.generate()
    assert DEFAULT_KEY_SIZE == 3072
    assert identity.bits == 3072


@pytest.mark.parametrize("bits", [512, 1024, 2047, 8192])
def test_generate_refuses_other_key_sizes(bits: int) -> None:
    """A key size other than 2048, 3072 or 4096 is refused with ValueError."""
    with pytest.raises(ValueError, match="key size must be one of"):
        Identity.generate(bits)


def test_timed_generate_returns_the_key_pair_and_its_time() -> None:
    """timed_generate makes a key pair of the asked size and says how long it took."""
    keygen = timed_generate(2048)
    assert keygen.identity.bits == 2048
    assert keygen.seconds > 0
    assert re.fullmatch(r"RSA-2048 key pair in \d+ ms", str(keygen))
    assert repr(keygen) == str(keygen)


def test_keygen_time_is_always_in_milliseconds(alice_id: Identity) -> None:
    """A time past a second is still shown in whole milliseconds, one shape for all."""
    assert str(Keygen(alice_id, 1.2345)) == "RSA-2048 key pair in 1234 ms"
    assert str(Keygen(alice_id, 0.0004)) == "RSA-2048 key pair in 0 ms"


def test_timed_generate_refuses_other_key_sizes() -> None:
    """timed_generate refuses the sizes that generate refuses."""
    with pytest.raises(ValueError, match="key size must be one of"):
        timed_generate(1024)


def test_secret_parts_are_the_private_numbers(alice_id: Identity) -> None:
    """The secret parts are p, q, d and the CRT values, big-endian, and p * q = n."""
    parts = alice_id.secret_parts()
    numbers = alice_id.private_key.private_numbers()
    assert list(parts) == ["p", "q", "d", "dmp1", "dmq1", "iqmp"]
    assert int.from_bytes(parts["d"], "big") == numbers.d
    p, q = (int.from_bytes(parts[name], "big") for name in ("p", "q"))
    assert p * q == numbers.public_numbers.n
    assert len(parts["p"]) == len(parts["q"]) == 128


def test_secret_parts_leave_out_the_public_numbers(alice_id: Identity) -> None:
    """The modulus is public: no secret part contains it."""
    n = alice_id.public_key.public_numbers().n.to_bytes(256, "big")
    assert all(n[:32] not in part for part in alice_id.secret_parts().values())


def test_repr_shows_the_fingerprint_and_no_key_material(alice_id: Identity) -> None:
    """The repr names the size and fingerprint prefix and holds no key bytes."""
    text = repr(alice_id)
    assert "RSA-2048" in text
    assert alice_id.fingerprint[:19] in text
    assert alice_id.public_b64[:20] not in text
    assert str(alice_id.private_key.private_numbers().p)[:12] not in text


# Public key forms.


def test_public_b64_is_standard_base64_of_the_spki_der(alice_id: Identity) -> None:
    """public_b64 decodes, with strict base64, to the SPKI DER of the public key."""
    assert base64.b64decode(alice_id.public_b64, validate=True) == spki_der(alice_id)
    assert public_key_b64(alice_id.public_key) == alice_id.public_b64


def test_public_der_is_the_spki_der(alice_id: Identity) -> None:
    """public_der is the SPKI DER: 294 bytes for RSA-2048, a DER SEQUENCE."""
    assert alice_id.public_der == spki_der(alice_id)
    assert public_key_der(alice_id.public_key) == alice_id.public_der
    assert len(alice_id.public_der) == 294
    assert alice_id.public_der[:4] == bytes.fromhex("30820122")


def test_public_pem_wraps_the_der_in_base64_lines(alice_id: Identity) -> None:
    """public_pem is the DER in base64 lines of 64 between PUBLIC KEY lines."""
    lines = alice_id.public_pem.splitlines()
    assert lines[0] == "-----BEGIN PUBLIC KEY-----"
    assert lines[-1] == "-----END PUBLIC KEY-----"
    assert all(len(line) == 64 for line in lines[1:-2])
    assert base64.b64decode("".join(lines[1:-1])) == alice_id.public_der
    assert fingerprint_of(load_public_key(alice_id.public_pem)) == alice_id.fingerprint


def test_spki_base64_round_trips(alice_id: Identity) -> None:
    """Loading the published base64 gives back the same public key."""
    key = load_public_key(alice_id.public_b64)
    assert key.public_numbers() == alice_id.public_key.public_numbers()


def test_base64_given_as_bytes_loads(alice_id: Identity) -> None:
    """The base64 form is accepted as bytes as well as text."""
    key = load_public_key(alice_id.public_b64.encode("ascii"))
    assert key.public_numbers() == alice_id.public_key.public_numbers()


def test_raw_der_loads(alice_id: Identity) -> None:
    """Raw SPKI DER bytes load as the same public key."""
    key = load_public_key(spki_der(alice_id))
    assert key.public_numbers() == alice_id.public_key.public_numbers()


@pytest.mark.parametrize("as_text", [True, False], ids=["str", "bytes"])
def test_pem_loads(alice_id: Identity, as_text: bool) -> None:
    """A PEM public key, as text or bytes, loads as the same public key."""
    pem = alice_id.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = load_public_key(pem.decode("ascii") if as_text else pem)
    assert key.public_numbers() == alice_id.public_key.public_numbers()


@pytest.mark.parametrize(
    "data",
    [
        "",
        "not base64 at all!",
        "QUJD",
        b"\x30\x03\x02\x01\x00",
        "-----BEGIN PUBLIC KEY-----\nQUJD\n-----END PUBLIC KEY-----\n",
        "ünïcode",
    ],
    ids=["empty", "garbage", "base64-not-der", "bad-der", "bad-pem", "non-ascii"],
)
def test_bad_public_key_input_raises_value_error(data: str | bytes) -> None:
    """Input that is not a public key in SPKI DER or PEM raises ValueError."""
    with pytest.raises(ValueError, match="not a public key"):
        load_public_key(data)


def test_a_non_rsa_public_key_is_refused() -> None:
    """A valid SPKI key that is not RSA (an EC key) raises ValueError."""
    der = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )
    with pytest.raises(ValueError, match="expected an RSA public key"):
        load_public_key(base64.b64encode(der).decode("ascii"))


# Fingerprints.


def test_fingerprint_is_16_groups_of_4_hex_digits(alice_id: Identity) -> None:
    """A fingerprint is 64 lowercase hex digits in 16 space-separated groups."""
    assert FINGERPRINT.fullmatch(alice_id.fingerprint)


def test_fingerprint_is_sha256_of_the_spki_der(alice_id: Identity) -> None:
    """The fingerprint's hex digits are the SHA-256 of the SPKI DER bytes."""
    digest = hashlib.sha256(spki_der(alice_id)).hexdigest()
    assert alice_id.fingerprint.replace(" ", "") == digest
    assert fingerprint_of(alice_id.public_key) == alice_id.fingerprint


def test_different_keys_have_different_fingerprints(
    alice_id: Identity, bob_id: Identity
) -> None:
    """Two key pairs have different fingerprints."""
    assert alice_id.fingerprint != bob_id.fingerprint


# Key store.


def test_save_writes_an_owner_only_file_in_an_owner_only_folder(
    tmp_path: Path, alice_id: Identity
) -> None:
    """A saved key file has mode 0600, in a key folder created with mode 0700."""
    store = KeyStore(tmp_path / "keys")
    path = store.save("alice", alice_id, PASSPHRASE)
    assert path == tmp_path / "keys" / "alice.pem"
    assert mode(path) == 0o600
    assert mode(tmp_path / "keys") == 0o700


def test_save_leaves_no_temporary_file(tmp_path: Path, alice_id: Identity) -> None:
    """After a save the key folder holds only the key file."""
    store = KeyStore(tmp_path)
    store.save("alice", alice_id, PASSPHRASE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alice.pem"]


def test_saved_key_is_encrypted_pkcs8(tmp_path: Path, alice_id: Identity) -> None:
    """The file is an encrypted PKCS#8 PEM; no plaintext private key is written."""
    store = KeyStore(tmp_path)
    text = store.save("alice", alice_id, PASSPHRASE).read_text("ascii")
    assert text.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert "BEGIN PRIVATE KEY" not in text
    assert "BEGIN RSA PRIVATE KEY" not in text
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(text.encode(), password=None)


def test_load_with_the_passphrase_returns_the_same_key(
    tmp_path: Path, alice_id: Identity
) -> None:
    """Loading with the right passphrase gives back the saved key pair."""
    store = KeyStore(tmp_path)
    store.save("alice", alice_id, PASSPHRASE)
    loaded = store.load("alice", PASSPHRASE)
    expected = alice_id.private_key.private_numbers()
    assert loaded.private_key.private_numbers() == expected
    assert loaded.fingerprint == alice_id.fingerprint


def test_wrong_passphrase_raises_a_clear_value_error(
    tmp_path: Path, alice_id: Identity
) -> None:
    """A wrong passphrase raises ValueError naming the user and the likely cause."""
    store = KeyStore(tmp_path)
    store.save("alice", alice_id, PASSPHRASE)
    with pytest.raises(ValueError, match="wrong passphrase") as info:
        store.load("alice", "not the passphrase")
    assert "'alice'" in str(info.value)


def test_a_damaged_file_raises_value_error(tmp_path: Path, alice_id: Identity) -> None:
    """A key file whose content was damaged raises ValueError on load."""
    store = KeyStore(tmp_path)
    path = store.save("alice", alice_id, PASSPHRASE)
    path.write_text("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n")
    with pytest.raises(ValueError, match="damaged file"):
        store.load("alice", PASSPHRASE)


def test_loading_a_missing_key_raises_file_not_found(tmp_path: Path) -> None:
    """Loading a name that has no key file raises FileNotFoundError."""
    store = KeyStore(tmp_path)
    assert not store.exists("nobody")
    with pytest.raises(FileNotFoundError):
        store.load("nobody", PASSPHRASE)


def test_empty_passphrase_is_refused(tmp_path: Path, alice_id: Identity) -> None:
    """Saving with an empty passphrase raises ValueError and writes nothing."""
    store = KeyStore(tmp_path / "keys")
    with pytest.raises(ValueError, match="passphrase is required"):
        store.save("alice", alice_id, "")
    assert not (tmp_path / "keys").exists()


@pytest.mark.parametrize(
    "name", ["", "../alice", "a/b", "-alice", ".hidden", "a" * 33, "al ice"]
)
def test_invalid_names_are_refused(tmp_path: Path, name: str) -> None:
    """A name outside the protocol's name pattern raises ValueError before any I/O."""
    store = KeyStore(tmp_path)
    with pytest.raises(ValueError, match="not a valid name"):
        store.path(name)
    assert list(tmp_path.iterdir()) == []


def test_load_or_create_is_idempotent(tmp_path: Path) -> None:
    """The first call makes and saves a key; the second loads that same key."""
    store = KeyStore(tmp_path)
    first = store.load_or_create("alice", PASSPHRASE, bits=2048)
    content = store.path("alice").read_bytes()
    second = store.load_or_create("alice", PASSPHRASE, bits=2048)
    assert first.bits == 2048
    assert second.fingerprint == first.fingerprint
    assert store.path("alice").read_bytes() == content


def test_default_root_follows_p2plab_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a root, the store lives in $P2PLAB_HOME/keys."""
    monkeypatch.setenv("P2PLAB_HOME", str(tmp_path))
    assert KeyStore().root == tmp_path / "keys"

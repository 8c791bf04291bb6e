"""RSA identities: a key pair per user, and a key store on disk.

The public half is published to the signaling server's directory as SPKI DER
in base64, the form the browsers' Web Crypto API imports. The private half
stays on this machine: it is only ever written to the key store, encrypted
with a passphrase, in a file only its owner can read (mode 0600).
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from p2plab_server.directory import lab_home
from p2plab_server.protocol import NAME_PATTERN, fingerprint

__all__ = [
    "Identity",
    "KeyStore",
    "Keygen",
    "fingerprint_of",
    "load_public_key",
    "public_key_b64",
    "public_key_der",
    "timed_generate",
]

#: Key sizes the lab accepts. 3072 bits is the default (about 128-bit
#: security); 2048 is faster for demos, 4096 slower.
KEY_SIZES = (2048, 3072, 4096)
DEFAULT_KEY_SIZE = 3072


def public_key_der(key: rsa.RSAPublicKey) -> bytes:
    """Return a public key's SPKI DER bytes: one key, one encoding."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_b64(key: rsa.RSAPublicKey) -> str:
    """Return a public key as standard base64 of its SPKI DER encoding."""
    return base64.b64encode(public_key_der(key)).decode("ascii")


def fingerprint_of(key: rsa.RSAPublicKey) -> str:
    """Return the SHA-256 fingerprint of a public key's SPKI DER bytes."""
    return fingerprint(public_key_b64(key))


def load_public_key(data: str | bytes) -> rsa.RSAPublicKey:
    """Load an RSA public key from base64 SPKI DER, raw DER, or PEM.

    Raises:
        ValueError: If the data is not an RSA public key in one of those forms.
    """
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    try:
        if raw.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(raw)
        else:
            der = raw if raw[:1] == b"\x30" else base64.b64decode(raw, validate=True)
            key = serialization.load_der_public_key(der)
    except (ValueError, binascii.Error, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a public key in SPKI DER or PEM form: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"expected an RSA public key, got {type(key).__name__}")
    return key


class Identity:
    """One user's RSA key pair.

    Args:
        private_key: The RSA private key. Use :meth:`generate` for a new one
            or :class:`KeyStore` to load a saved one.
    """

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self.private_key = private_key
        self.public_key = private_key.public_key()

    @classmethod
    def generate(cls, bits: int = DEFAULT_KEY_SIZE) -> Identity:
        """Make a new key pair of ``bits`` bits (2048, 3072 or 4096)."""
        if bits not in KEY_SIZES:
            raise ValueError(f"key size must be one of {KEY_SIZES}, not {bits}")
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=bits))

    @property
    def bits(self) -> int:
        """The size of the modulus in bits."""
        return self.private_key.key_size

    @property
    def public_der(self) -> bytes:
        """The public key as SPKI DER bytes: what the fingerprint hashes."""
        return public_key_der(self.public_key)

    @property
    def public_b64(self) -> str:
        """The public key as base64 SPKI DER: what the server publishes."""
        return public_key_b64(self.public_key)

    @property
    def public_pem(self) -> str:
        """The public key as PEM text: the SPKI DER in base64 between two lines."""
        pem = self.public_key.public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        return pem.decode("ascii")

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the public key's SPKI DER, in groups of four hex digits."""
        return fingerprint_of(self.public_key)

    def secret_parts(self) -> dict[str, bytes]:
        """Return the numbers that only the private key holds, as big-endian bytes.

        They are the primes ``p`` and ``q``, the private exponent ``d`` and
        the three values derived from them that speed up decryption
        (``dmp1``, ``dmq1``, ``iqmp``). The modulus and the public exponent
        are left out: they are public. This is for checking that none of
        them ever left the machine (see :func:`p2plab.serverview.appears_in`);
        never log, print or send them.
        """
        numbers = self.private_key.private_numbers()
        values = {
            "p": numbers.p,
            "q": numbers.q,
            "d": numbers.d,
            "dmp1": numbers.dmp1,
            "dmq1": numbers.dmq1,
            "iqmp": numbers.iqmp,
        }
        return {name: _int_bytes(value) for name, value in values.items()}

    def __repr__(self) -> str:
        # Never show key material; the fingerprint identifies the key.
        return f"<Identity RSA-{self.bits} {self.fingerprint[:19]}…>"


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


@dataclass(frozen=True)
class Keygen:
    """A new key pair, and how long it took to make.

    Attributes:
        identity: The key pair.
        seconds: The wall-clock time :meth:`Identity.generate` took.
    """

    identity: Identity
    seconds: float

    def __str__(self) -> str:
        # Always in whole milliseconds, even past a second, so that the text
        # has the same shape on every run.
        return f"RSA-{self.identity.bits} key pair in {self.seconds * 1000:.0f} ms"

    def __repr__(self) -> str:
        return str(self)


def timed_generate(bits: int = DEFAULT_KEY_SIZE) -> Keygen:
    """Make a new key pair of ``bits`` bits and time it.

    The time differs from one call to the next: most of it goes to finding
    two random primes, and how many candidates are tried before one is
    prime is a matter of chance.
    """
    start = time.perf_counter()
    identity = Identity.generate(bits)
    return Keygen(identity, time.perf_counter() - start)


class KeyStore:
    """Private keys on disk, one passphrase-encrypted PKCS#8 PEM file per name.

    Args:
        root: The folder. Defaults to ``$P2PLAB_HOME/keys``, or
            ``~/.p2plab/keys`` when ``P2PLAB_HOME`` is not set. It is created
            with mode 0700 on first use.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = lab_home() / "keys" if root is None else Path(root)

    def path(self, name: str) -> Path:
        """Return the file that holds ``name``'s private key."""
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a valid name: use 1-32 letters, digits, '.', "
                "'_' or '-', starting with a letter or digit"
            )
        return self.root / f"{name}.pem"

    def exists(self, name: str) -> bool:
        """Tell whether a key is stored for ``name``."""
        return self.path(name).exists()

    def save(self, name: str, identity: Identity, passphrase: str) -> Path:
        """Write ``identity``'s private key, encrypted, readable by the owner only.

        Raises:
            ValueError: If the passphrase is empty.
        """
        if not passphrase:
            raise ValueError("a passphrase is required to store a private key")
        pem = identity.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.path(name)
        # Create the file with mode 0600 from the start, so that the key is
        # never readable by others, not even for an instant.
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        os.replace(tmp, path)
        return path

    def load(self, name: str, passphrase: str) -> Identity:
        """Read and decrypt ``name``'s private key.

        Raises:
            FileNotFoundError: If no key is stored for ``name``.
            ValueError: If the passphrase is wrong or the file is damaged.
        """
        pem = self.path(name).read_bytes()
        try:
            key = serialization.load_pem_private_key(pem, passphrase.encode())
        except (ValueError, TypeError):
            raise ValueError(
                f"cannot open the key of {name!r}: wrong passphrase or damaged file"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"the key of {name!r} is not an RSA key")
        return Identity(key)

    def load_or_create(
        self, name: str, passphrase: str, bits: int = DEFAULT_KEY_SIZE
    ) -> Identity:
        """Load ``name``'s key, or make and save a new one if there is none."""
        if self.exists(name):
            return self.load(name, passphrase)
        identity = Identity.generate(bits)
        self.save(name, identity, passphrase)
        return identity

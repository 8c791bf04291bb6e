"""Client-side helpers for the server tests: keys, signed joins, and a lab of clients.

The helpers sign with ``cryptography``, independently of the p2plab client, so
that the server's own RSA-PSS check is tested against another implementation.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import ipaddress
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from cryptography.x509.oid import NameOID
from p2plab_server import Settings, SignalingServer
from p2plab_server.directory import Directory
from p2plab_server.listener import Listener
from p2plab_server.proof import signed_message
from p2plab_server.protocol import DEFAULT_ROOM
from websockets.asyncio.client import ClientConnection, connect
from websockets.protocol import State

# Every wait on the network is bounded, so a broken server fails a test
# quickly instead of hanging the run.
TIMEOUT = 5.0


@dataclass(frozen=True)
class Key:
    """A test user's RSA key pair.

    Attributes:
        private: The private key, which signs joins.
        public: The public key as standard base64 of its SPKI DER.
    """

    private: rsa.RSAPrivateKey
    public: str


def make_key(bits: int = 2048) -> Key:
    """Return a fresh RSA key pair of ``bits`` bits."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return Key(private, public_b64(private.public_key()))


def public_b64(key: rsa.RSAPublicKey) -> str:
    """Return a public key as standard base64 of its SPKI DER."""
    der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def sign(private: rsa.RSAPrivateKey, challenge: str, room: str, name: str) -> str:
    """Return a join signature in base64: RSA-PSS, SHA-256, a 32-byte salt."""
    message = signed_message(base64.b64decode(challenge), room, name)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    signature = private.sign(message, pss, hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def join_request(
    key: Key, challenge: str, name: str, room: str = DEFAULT_ROOM
) -> dict[str, Any]:
    """Return a join for ``name`` in ``room``, signed for ``challenge``."""
    return {
        "type": "join",
        "room": room,
        "name": name,
        "key": key.public,
        "challenge": challenge,
        "signature": sign(key.private, challenge, room, name),
    }


def self_signed(folder: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1 and its key; return both paths.

    The certificate is valid for a day either side of now, for the address
    127.0.0.1 only, and signs itself, so a client that trusts it as its only
    CA can check the server's name.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "p2plab test server")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "server.pem", folder / "server.key"
    cert.write_bytes(certificate.public_bytes(Encoding.PEM))
    private.write_bytes(
        key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    return cert, private


def trusting(cert: Path) -> ssl.SSLContext:
    """Return a client TLS context that trusts ``cert`` and nothing else."""
    return ssl.create_default_context(cafile=str(cert))


async def http_get(
    port: int, path: str, context: ssl.SSLContext | None = None
) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` from 127.0.0.1:``port``; return the status, headers and body."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=context), TIMEOUT
    )
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        response = await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        field, _, value = line.partition(":")
        headers[field.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    """Send one message as a JSON text frame."""
    await ws.send(json.dumps(message))


async def receive(ws: ClientConnection) -> dict[str, Any]:
    """Return the next message the server sent on ``ws``."""
    frame = await asyncio.wait_for(ws.recv(), TIMEOUT)
    message = json.loads(frame)
    assert isinstance(message, dict)
    return message


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Wait, at most TIMEOUT seconds, until ``condition()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


class Lab:
    """A running signaling server and the clients a test opened on it.

    Attributes:
        keys: Two distinct key pairs; joins use the first unless told.
        server: The relay under test.
        listener: What its serve() returned, once listening.
        uri: Where it listens.
        frames: What its observer saw, as ``(connection, direction, frame)``.
        challenges: The challenge each connection's hello carried.
    """

    def __init__(
        self,
        keys: tuple[Key, Key],
        stack: contextlib.AsyncExitStack,
        directory: Directory | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.keys = keys
        self.frames: list[tuple[int, str, str | bytes]] = []
        self.server = SignalingServer(
            directory, observer=self._observe, settings=settings
        )
        self.listener: Listener | None = None
        self.uri = ""
        self.challenges: dict[ClientConnection, str] = {}
        self._stack = stack
        self._joined: dict[ClientConnection, tuple[str, str]] = {}

    def _observe(self, connection: int, direction: str, frame: str | bytes) -> None:
        self.frames.append((connection, direction, frame))

    async def connect(self) -> ClientConnection:
        """Open a connection, read its hello, and return it; it closes at teardown."""
        # The test's clients never ping: only the server's keepalive is on trial.
        client = connect(self.uri, proxy=None, open_timeout=TIMEOUT, ping_interval=None)
        ws = await self._stack.enter_async_context(client)
        hello = await receive(ws)
        assert hello["type"] == "hello"
        self.challenges[ws] = hello["challenge"]
        return ws

    def join_request(
        self,
        ws: ClientConnection,
        name: str,
        key: Key | None = None,
        room: str = DEFAULT_ROOM,
    ) -> dict[str, Any]:
        """Return a join for ``name`` signed for the challenge of ``ws``."""
        return join_request(key or self.keys[0], self.challenges[ws], name, room)

    async def join(
        self,
        name: str,
        key: Key | None = None,
        ws: ClientConnection | None = None,
        room: str = DEFAULT_ROOM,
    ) -> ClientConnection:
        """Join as ``name`` in ``room`` and return the connection once welcomed.

        Every client that joined the same room earlier through this helper
        and is still open is told ``joined``; that notice is consumed here, so
        each test starts from clients with nothing pending. (A connection
        replaced by this join is told nothing.)
        """
        ws = ws if ws is not None else await self.connect()
        await send(ws, self.join_request(ws, name, key, room))
        welcome = await receive(ws)
        assert welcome["type"] == "welcome", welcome
        for other, (other_room, other_name) in self._joined.items():
            told = other_room == room and other_name != name
            if other is not ws and told and other.state is State.OPEN:
                notice = await receive(other)
                assert (notice["type"], notice["name"]) == ("joined", name)
        self._joined[ws] = (room, name)
        return ws

"""Client-side helpers for the server tests: keys, frames, and a lab of clients."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from p2plab_server import SignalingServer
from websockets.asyncio.client import ClientConnection, connect
from websockets.protocol import State

# Every wait on the network is bounded, so a broken server fails a test
# quickly instead of hanging the run.
TIMEOUT = 5.0


def make_public_key() -> str:
    """Return a fresh RSA public key as standard base64 of its SPKI DER."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = private.public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    """Send one message as a JSON text frame."""
    await ws.send(json.dumps(message))


async def receive(ws: ClientConnection) -> dict[str, Any]:
    """Return the next message the server sent on ``ws``."""
    frame = await asyncio.wait_for(ws.recv(), TIMEOUT)
    message = json.loads(frame)
    assert isinstance(message, dict)
    return message


class Lab:
    """A running signaling server and the clients a test opened on it.

    Attributes:
        keys: Two distinct public keys; joins use the first unless told.
        server: The relay under test.
        uri: Where it listens.
        frames: What its observer saw, as ``(connection, direction, frame)``.
    """

    def __init__(self, keys: tuple[str, str], stack: contextlib.AsyncExitStack):
        self.keys = keys
        self.frames: list[tuple[int, str, str | bytes]] = []
        self.server = SignalingServer(observer=self._observe)
        self.uri = ""
        self._stack = stack
        self._joined: dict[ClientConnection, str] = {}

    def _observe(self, connection: int, direction: str, frame: str | bytes) -> None:
        self.frames.append((connection, direction, frame))

    async def connect(self) -> ClientConnection:
        """Open a client connection that has not joined; it closes at teardown."""
        client = connect(self.uri, proxy=None, open_timeout=TIMEOUT)
        return await self._stack.enter_async_context(client)

    async def join(
        self, name: str, key: str | None = None, ws: ClientConnection | None = None
    ) -> ClientConnection:
        """Join as ``name`` and return the connection once welcomed.

        Every client that joined earlier through this helper and is still
        open is told ``joined``; that notice is consumed here, so each test
        starts from clients with nothing pending.
        """
        ws = ws if ws is not None else await self.connect()
        await send(ws, {"type": "join", "name": name, "key": key or self.keys[0]})
        welcome = await receive(ws)
        assert welcome["type"] == "welcome"
        for other in self._joined:
            if other is not ws and other.state is State.OPEN:
                notice = await receive(other)
                assert (notice["type"], notice["name"]) == ("joined", name)
        self._joined[ws] = name
        return ws

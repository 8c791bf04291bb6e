"""An asyncio client for the signaling server.

:class:`SignalingClient` joins the server under a name, in a room, with a
public key, proving that it holds the private key: the server's ``hello``
carries a random challenge, and the ``join`` carries an RSA-PSS signature of
it (:func:`sign_join`). The client then looks keys up and sends the WebRTC
set-up messages. What the server sends on its own (``joined``, ``left``,
relayed offers and answers, errors for relays) reaches the ``on_message``
callback. Every frame in and out is kept in :attr:`SignalingClient.frames`,
so a lesson can show exactly what the server saw from this user.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from p2plab_server.proof import CHALLENGE_SIZE, signed_message
from p2plab_server.protocol import (
    DEFAULT_ROOM,
    PROTOCOL_VERSION,
    ProtocolError,
    decode_base64,
    encode,
    parse_reply,
)
from p2plab_server.rsapss import SALT_LENGTH
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .errors import SignalingClosed, SignalingError
from .identity import Identity

__all__ = ["Frame", "SignalingClient", "sign_join"]

logger = logging.getLogger(__name__)

# websockets logs whole frames at DEBUG; held at INFO so no SDP reaches a log.
wire_logger = logging.getLogger(f"{__name__}.wire")
wire_logger.setLevel(logging.INFO)


def sign_join(identity: Identity, challenge: str, room: str, name: str) -> str:
    """Sign a join: RSA-PSS over the challenge, the room and the name.

    Args:
        identity: Our key pair; the private key signs.
        challenge: The challenge of the server's ``hello``, in base64.
        room: The room to join.
        name: The name to join as.

    Returns:
        The signature, in standard base64, for the ``join``'s ``signature``.

    Raises:
        ValueError: If the challenge is not 32 bytes in standard base64.
    """
    raw = decode_base64(challenge)
    if raw is None:
        raise ValueError("the server's challenge is not standard base64")
    signature = identity.private_key.sign(
        signed_message(raw, room, name),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=SALT_LENGTH),
        hashes.SHA256(),
    )
    return base64.b64encode(signature).decode("ascii")


@dataclass(frozen=True)
class Frame:
    """One frame on the signaling connection.

    Attributes:
        direction: ``">"`` sent to the server, ``"<"`` received from it.
        message: The frame, parsed.
        size: Its size in bytes on the wire.
    """

    direction: str
    message: dict[str, Any] = field(hash=False)
    size: int


class SignalingClient:
    """A connection to the signaling server under one name, in one room.

    Args:
        url: The server, e.g. ``"ws://127.0.0.1:8765"``.
        name: The name to join as.
        identity: Our key pair. The public key is published; the private key
            signs the join and never leaves this process.
        room: The room to join; names, presence and calls are per room.
        on_message: Called with every message the server sends that is not a
            reply to a request: ``joined``, ``left``, relayed messages, and
            errors about relays.
        on_close: Called once when the connection ends, with the reason.
    """

    def __init__(
        self,
        url: str,
        name: str,
        identity: Identity,
        *,
        room: str = DEFAULT_ROOM,
        on_message: Callable[[dict[str, Any]], None] | None = None,
        on_close: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.name = name
        self.room = room
        self.identity = identity
        self.public_key = identity.public_b64
        self.on_message = on_message
        self.on_close = on_close
        self.peers: set[str] = set()
        self.frames: list[Frame] = []
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._hello: asyncio.Future[dict[str, Any]] | None = None
        self._closing = False

    @property
    def connected(self) -> bool:
        """True while the connection to the server is open."""
        return (
            self._ws is not None
            and self._reader is not None
            and not self._reader.done()
        )

    async def connect(self, timeout: float = 10.0) -> dict[str, Any]:
        """Connect, wait for the challenge, sign it and join; return the welcome.

        Raises:
            SignalingError: If the server refuses the join (e.g. ``name-taken``).
            SignalingClosed: If the server cannot be reached, or sends no
                usable ``hello`` within ``timeout`` seconds.
            Cancelling leaves the connection open; call :meth:`close`.
        """
        self._closing = False
        self._hello = asyncio.get_running_loop().create_future()
        try:
            # proxy=None: the lab server is local or on the classroom LAN,
            # never behind the proxy that the environment may name.
            self._ws = await asyncio.wait_for(
                connect(self.url, proxy=None, compression=None, logger=wire_logger),
                timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise SignalingClosed(
                f"cannot reach the signaling server at {self.url}: {exc}"
            ) from None
        self._reader = asyncio.create_task(self._read(self._ws))
        try:
            challenge = await self._challenge(timeout)
            join = {
                "type": "join",
                "room": self.room,
                "name": self.name,
                "key": self.public_key,
                "challenge": challenge,
                "signature": sign_join(self.identity, challenge, self.room, self.name),
            }
            welcome = await self.request(join, timeout)
        except (SignalingError, SignalingClosed):
            await self.close()
            raise
        self.peers = set(welcome.get("peers", []))
        return welcome

    async def _challenge(self, timeout: float) -> str:
        """Wait for the server's ``hello``; return its challenge."""
        assert self._hello is not None
        try:
            hello = await asyncio.wait_for(asyncio.shield(self._hello), timeout)
        except TimeoutError:
            raise SignalingClosed(
                f"the server at {self.url} sent no hello within {timeout:g} s; "
                f"is it a p2plab signaling server of protocol {PROTOCOL_VERSION}?"
            ) from None
        challenge = hello.get("challenge")
        raw = decode_base64(challenge) if isinstance(challenge, str) else None
        if raw is None or len(raw) != CHALLENGE_SIZE:
            raise SignalingClosed(
                f"the server at {self.url} speaks signaling protocol "
                f"{hello.get('version')!r}, without a usable challenge; this client "
                f"speaks protocol {PROTOCOL_VERSION}"
            )
        assert isinstance(challenge, str)
        return challenge

    async def lookup(self, name: str, timeout: float = 10.0) -> dict[str, Any]:
        """Return the server's ``key`` message for ``name``.

        Raises:
            SignalingError: ``unknown-peer`` if no such name published a key.
        """
        return await self.request({"type": "lookup", "name": name}, timeout)

    async def request(
        self, message: dict[str, Any], timeout: float = 10.0
    ) -> dict[str, Any]:
        """Send a request and wait for the reply that carries its ``id``.

        Raises:
            SignalingError: If the server answers with an error.
            SignalingClosed: If the connection ends first.
            Cancelling the wait forgets the request; the server may still act on it.
        """
        request_id = next(self._ids)
        reply = asyncio.get_running_loop().create_future()
        self._pending[request_id] = reply
        try:
            await self.send({**message, "id": request_id})
            return await asyncio.wait_for(reply, timeout)
        except TimeoutError:
            raise SignalingClosed(
                f"the signaling server did not answer the {message['type']} "
                f"within {timeout:g} s"
            ) from None
        finally:
            self._pending.pop(request_id, None)

    async def send(self, message: dict[str, Any]) -> None:
        """Send one message; errors come back later through ``on_message``.

        Raises:
            SignalingClosed: If the connection is closed.
        """
        if self._ws is None:
            raise SignalingClosed("not connected to the signaling server")
        frame = encode(message)
        self.frames.append(Frame(">", message, len(frame.encode())))
        logger.debug("> %s %s", message.get("type"), message.get("to", ""))
        try:
            await self._ws.send(frame)
        except ConnectionClosed:
            raise SignalingClosed(
                "the connection to the signaling server is closed"
            ) from None

    async def relay(self, kind: str, to: str, **fields: Any) -> None:
        """Send an offer, answer, candidate or bye to the user ``to``."""
        await self.send({"type": kind, "to": to, **fields})

    async def close(self) -> None:
        """Leave the server; safe to call twice."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self, ws: ClientConnection) -> None:
        reason = "closed"
        try:
            async for frame in ws:
                self._dispatch(frame)
        except ConnectionClosed:
            pass
        finally:
            if self._closing:
                reason = "closed by this client"
            elif ws.close_code is not None:
                detail = f"{ws.close_code} {ws.close_reason}".strip()
                reason = f"closed by the server ({detail})"
            gone = "the connection to the signaling server closed"
            for pending in self._pending.values():
                if not pending.done():
                    pending.set_exception(SignalingClosed(gone))
            if self._hello is not None and not self._hello.done():
                self._hello.set_exception(SignalingClosed(f"{gone} before its hello"))
                self._hello.exception()  # connect() may no longer be waiting
            if self.on_close is not None:
                self.on_close(reason)

    def _dispatch(self, frame: str | bytes) -> None:
        size = len(frame.encode() if isinstance(frame, str) else frame)
        try:
            msg = parse_reply(frame)
        except ProtocolError as exc:
            logger.warning("ignored a frame from the server: %s", exc.message)
            return
        self.frames.append(Frame("<", msg, size))
        logger.debug("< %s %s", msg["type"], msg.get("from", ""))

        kind = msg["type"]
        if kind == "hello":
            if self._hello is not None and not self._hello.done():
                self._hello.set_result(msg)
            return
        if kind == "joined":
            self.peers.add(str(msg.get("name")))
        elif kind == "left":
            self.peers.discard(str(msg.get("name")))

        waiter = self._pending.get(msg.get("id"))  # type: ignore[arg-type]
        if waiter is not None and not waiter.done():
            if kind == "error":
                waiter.set_exception(
                    SignalingError(
                        msg.get("code", "?"), msg.get("message", ""), msg.get("ref")
                    )
                )
            else:
                waiter.set_result(msg)
        elif self.on_message is not None:
            self.on_message(msg)

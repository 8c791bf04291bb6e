"""The signaling server: a WebSocket relay between named users.

It is a postman. It knows who is connected under which name and which public
key each name published; it forwards offers, answers, candidates and byes to
the named recipient, writing the sender's name on each; it announces joins and
leaves. It never learns a session key and never sees a chat message, because
those travel on the peer-to-peer data channel, not through here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from .directory import Directory
from .protocol import (
    MAX_FRAME,
    PROTOCOL_VERSION,
    RELAYED,
    ProtocolError,
    encode,
    fingerprint,
    parse,
)

__all__ = ["FrameObserver", "SignalingServer"]

logger = logging.getLogger(__name__)

# websockets logs every frame, payload included, at DEBUG. Its connections get
# this logger instead, held at INFO whatever the root level, so that no SDP or
# key ever reaches a log.
wire_logger = logging.getLogger(f"{__name__}.wire")
wire_logger.setLevel(logging.INFO)

#: ``observer(connection_id, direction, frame)`` sees every frame the server
#: reads (direction ``"<"``) or writes (``">"``), as the server has it.
FrameObserver = Callable[[int, str, str | bytes], None]

# Frames up to this size are read and answered with a ``too-large`` error, so
# the connection survives; anything larger is cut off by websockets with close
# code 1009 before it is buffered.
HARD_FRAME_LIMIT = 16 * MAX_FRAME

# Close code sent to a connection whose name was taken over by a new
# connection presenting the same public key.
CLOSE_REPLACED = 4001


class SignalingServer:
    """Relay signaling messages between named users.

    Args:
        directory: Where names are bound to public keys. A fresh in-memory
            directory when omitted.
        observer: Called with every frame read or written; used by the demo,
            the tests and the "what the server saw" lesson.

    Use :meth:`serve` to listen on a socket::

        server = SignalingServer()
        async with server.serve("127.0.0.1", 8765) as ws_server:
            await ws_server.serve_forever()
    """

    def __init__(
        self,
        directory: Directory | None = None,
        *,
        observer: FrameObserver | None = None,
    ) -> None:
        self.directory = directory if directory is not None else Directory()
        self.observer = observer
        self.online: dict[str, ServerConnection] = {}

    def serve(self, host: str = "127.0.0.1", port: int = 8765) -> Server:
        """Return the websockets ``serve`` context manager for this relay.

        Port 0 picks a free port; read it from the returned server's
        ``sockets``.
        """
        return serve(
            self.handle,
            host,
            port,
            max_size=HARD_FRAME_LIMIT,
            compression=None,
            logger=wire_logger,
        )

    async def handle(self, ws: ServerConnection) -> None:
        """Serve one client connection until it closes.

        Bad requests are answered with an ``error`` and the loop goes on:
        one client's mistake never ends its connection or touches anyone else.
        """
        name: str | None = None
        try:
            async for frame in ws:
                self._observe(ws, "<", frame)
                try:
                    msg = parse(frame)
                    name = await self._dispatch(ws, name, msg)
                except ProtocolError as exc:
                    logger.debug("= %s refused: %s", name or ws.id, exc.code)
                    await self._send(ws, exc.reply())
        except ConnectionClosed:
            pass
        finally:
            if name is not None and self.online.get(name) is ws:
                del self.online[name]
                logger.info("%s left (%d online)", name, len(self.online))
                self._broadcast({"type": "left", "name": name})

    async def _dispatch(
        self, ws: ServerConnection, name: str | None, msg: dict[str, Any]
    ) -> str | None:
        """Act on one valid request; return the connection's name afterwards."""
        kind = msg["type"]
        if kind == "join":
            if name is not None:
                raise ProtocolError(
                    "already-joined",
                    f"this connection is already {name!r}",
                    kind,
                    msg.get("id"),
                )
            return await self._join(ws, msg)
        if name is None:
            raise ProtocolError(
                "not-joined", f"send join before {kind}", kind, msg.get("id")
            )
        if kind == "lookup":
            await self._lookup(ws, msg)
        elif kind in RELAYED:
            await self._relay(name, msg)
        return name

    async def _join(self, ws: ServerConnection, msg: dict[str, Any]) -> str:
        name: str = msg["name"]
        key: str = msg["key"]
        if not self.directory.bind(name, key):
            logger.info("refused join as %s: name bound to another key", name)
            raise ProtocolError(
                "name-taken",
                f"the name {name!r} is bound to another public key; pick another "
                "name, or use the key you joined with before",
                "join",
                msg.get("id"),
            )

        # The same key again while an old connection still holds the name: the
        # user came back (a restarted kernel, a dropped network). The newer
        # connection wins, and the old one is told why it was closed.
        previous = self.online.pop(name, None)
        if previous is not None:
            logger.info("%s rejoined; closing the previous connection", name)
            await previous.close(CLOSE_REPLACED, "replaced by a newer connection")

        peers = sorted(self.online)
        self.online[name] = ws
        logger.info("%s joined (%d online)", name, len(self.online))
        welcome: dict[str, Any] = {
            "type": "welcome",
            "name": name,
            "peers": peers,
            "version": PROTOCOL_VERSION,
        }
        if "id" in msg:
            welcome["id"] = msg["id"]
        await self._send(ws, welcome)
        others = [conn for peer, conn in self.online.items() if peer != name]
        self._broadcast(
            {
                "type": "joined",
                "name": name,
                "key": key,
                "fingerprint": fingerprint(key),
            },
            others,
        )
        return name

    async def _lookup(self, ws: ServerConnection, msg: dict[str, Any]) -> None:
        key = self.directory.get(msg["name"])
        if key is None:
            raise ProtocolError(
                "unknown-peer",
                f"no user called {msg['name']!r} has published a key",
                "lookup",
                msg.get("id"),
            )
        reply: dict[str, Any] = {
            "type": "key",
            "name": msg["name"],
            "key": key,
            "fingerprint": fingerprint(key),
            "online": msg["name"] in self.online,
        }
        if "id" in msg:
            reply["id"] = msg["id"]
        await self._send(ws, reply)

    async def _relay(self, sender: str, msg: dict[str, Any]) -> None:
        kind, recipient = msg["type"], msg["to"]
        if recipient == sender:
            raise ProtocolError(
                "self", "a message cannot be sent to yourself", kind, msg.get("id")
            )
        target = self.online.get(recipient)
        if target is None:
            raise ProtocolError(
                "unknown-peer",
                f"{recipient!r} is not connected; the {kind} was not delivered",
                kind,
                msg.get("id"),
            )
        out = {k: v for k, v in msg.items() if k not in ("to", "id")}
        out["from"] = sender
        logger.debug("> %s %s to %s", sender, kind, recipient)
        try:
            await self._send(target, out)
        except ConnectionClosed:
            # The recipient is going away; its "left" is on its way to everyone.
            raise ProtocolError(
                "unknown-peer",
                f"{recipient!r} disconnected; the {kind} was not delivered",
                kind,
                msg.get("id"),
            ) from None

    async def _send(self, ws: ServerConnection, msg: dict[str, Any]) -> None:
        frame = encode(msg)
        self._observe(ws, ">", frame)
        await ws.send(frame)

    def _broadcast(
        self,
        msg: dict[str, Any],
        connections: list[ServerConnection] | None = None,
    ) -> None:
        frame = encode(msg)
        targets = list(self.online.values()) if connections is None else connections
        for ws in targets:
            self._observe(ws, ">", frame)
        broadcast(targets, frame)

    def _observe(
        self, ws: ServerConnection, direction: str, frame: str | bytes
    ) -> None:
        if self.observer is not None:
            self.observer(id(ws), direction, frame)


async def run(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    ready: Callable[[Server], None] | None = None,
    stop: asyncio.Future[None] | None = None,
) -> None:
    """Run a signaling server until ``stop`` completes (or forever).

    Args:
        host: Address to listen on. ``0.0.0.0`` serves a classroom LAN.
        port: TCP port; 0 picks a free one.
        ready: Called with the listening server once it accepts connections.
        stop: A future; the server shuts down when it completes. Cancelling
            the coroutine also shuts the server down.
    """
    relay = SignalingServer()
    async with relay.serve(host, port) as ws_server:
        if ready is not None:
            ready(ws_server)
        if stop is None:
            await ws_server.serve_forever()
        else:
            await stop

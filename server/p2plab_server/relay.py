"""The signaling server: a WebSocket relay between named users, room by room.

It is a postman. It knows who is connected under which name in which room and
which public key each name published; it forwards offers, answers, candidates
and byes to the named recipient in the sender's room, writing the sender's
name on each; it announces joins and leaves to the room. It never learns a
session key and never sees a chat message, because those travel on the
peer-to-peer data channel, not through here.

Every connection starts with ``hello`` and a fresh challenge; a ``join`` must
sign it (see :mod:`p2plab_server.proof`). The protocol is written out in
``docs/protocol.md``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from .directory import MEMORY, Directory
from .proof import check_join, new_challenge
from .protocol import (
    CLOSE_REPLACED,
    DEFAULT_ROOM,
    MAX_FRAME,
    PROTOCOL_VERSION,
    RELAYED,
    ProtocolError,
    encode,
    fingerprint,
    parse,
)

__all__ = ["CLOSE_REPLACED", "FrameObserver", "SignalingServer", "run"]

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


@dataclass
class _Client:
    """One connection: its challenge, and its room and name once joined."""

    ws: ServerConnection
    challenge: str
    room: str | None = None
    name: str | None = None


class SignalingServer:
    """Relay signaling messages between named users, room by room.

    Args:
        directory: Where names are bound to public keys. A fresh in-memory
            directory when omitted.
        observer: Called with every frame read or written; used by the demo,
            the tests and the "what the server saw" lesson.

    Attributes:
        rooms: For each room with someone in it, the connections by name.

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
        self.directory = directory if directory is not None else Directory(MEMORY)
        self.observer = observer
        self.rooms: dict[str, dict[str, ServerConnection]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def online(self) -> dict[str, ServerConnection]:
        """The connections in the default room, by name (a one-room lab's view)."""
        return self.rooms.get(DEFAULT_ROOM, {})

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

        The connection gets ``hello`` with its challenge first. Bad requests
        are answered with an ``error`` and the loop goes on: one client's
        mistake never ends its connection or touches anyone else.
        """
        client = _Client(ws, new_challenge())
        try:
            hello = {
                "type": "hello",
                "version": PROTOCOL_VERSION,
                "challenge": client.challenge,
            }
            await self._send(ws, hello)
            async for frame in ws:
                self._observe(ws, "<", frame)
                try:
                    await self._dispatch(client, parse(frame))
                except ProtocolError as exc:
                    logger.debug("= %s refused: %s", client.name or ws.id, exc.code)
                    await self._send(ws, exc.reply())
        except ConnectionClosed:
            pass
        finally:
            self._leave(client)

    async def _dispatch(self, client: _Client, msg: dict[str, Any]) -> None:
        """Act on one valid request."""
        kind = msg["type"]
        if kind == "join":
            if client.name is not None:
                raise ProtocolError(
                    "already-joined",
                    f"this connection is already {client.name!r} in room "
                    f"{client.room!r}",
                    kind,
                    msg.get("id"),
                )
            await self._join(client, msg)
            return
        if client.name is None or client.room is None:
            raise ProtocolError(
                "not-joined", f"send join before {kind}", kind, msg.get("id")
            )
        if kind == "lookup":
            await self._lookup(client.ws, client.room, msg)
        elif kind in RELAYED:
            await self._relay(client.room, client.name, msg)

    async def _join(self, client: _Client, msg: dict[str, Any]) -> None:
        room: str = msg["room"]
        name: str = msg["name"]
        key: str = msg["key"]
        try:
            check_join(msg, client.challenge)
            if not self.directory.bind(room, name, key):
                raise ProtocolError(
                    "name-taken",
                    f"the name {name!r} is bound to another public key in room "
                    f"{room!r}; pick another name, or use the key you joined "
                    "with before",
                    "join",
                    msg.get("id"),
                )
        except ProtocolError as exc:
            logger.info("refused join as %s in %s: %s", name, room, exc.code)
            raise

        peers = self._admit(client, room, name)
        welcome: dict[str, Any] = {
            "type": "welcome",
            "room": room,
            "name": name,
            "peers": peers,
            "version": PROTOCOL_VERSION,
        }
        if "id" in msg:
            welcome["id"] = msg["id"]
        await self._send(client.ws, welcome)
        joined = {
            "type": "joined",
            "name": name,
            "key": key,
            "fingerprint": fingerprint(key),
        }
        others = [ws for peer, ws in self.rooms[room].items() if peer != name]
        self._broadcast(joined, others)

    def _admit(self, client: _Client, room: str, name: str) -> list[str]:
        """Give ``client`` the name in the room; return the others there, sorted."""
        # The same key again while an old connection still holds the name:
        # the user came back (a restarted kernel, a dropped network), and the
        # signature proves it is them. The newer connection takes the name at
        # once; the old one is closed in the background, because a connection
        # that dropped silently would hold up this join until its close
        # handshake timed out.
        members = self.rooms.setdefault(room, {})
        previous = members.get(name)
        members[name] = client.ws
        client.room, client.name = room, name
        if previous is not None:
            logger.info("%s rejoined %s; closing the previous connection", name, room)
            self._close_replaced(previous)
        logger.info("%s joined %s (%d online)", name, room, len(members))
        return sorted(peer for peer in members if peer != name)

    def _close_replaced(self, ws: ServerConnection) -> None:
        task = asyncio.create_task(
            ws.close(CLOSE_REPLACED, "replaced by a newer connection")
        )
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _leave(self, client: _Client) -> None:
        """Forget a connection that ended; tell its room if it still held a name."""
        room, name = client.room, client.name
        if room is None or name is None:
            return
        members = self.rooms.get(room, {})
        if members.get(name) is not client.ws:
            return  # replaced by a newer connection: no one left
        del members[name]
        if not members:
            del self.rooms[room]
        logger.info("%s left %s (%d online)", name, room, len(members))
        self._broadcast({"type": "left", "name": name}, list(members.values()))

    async def _lookup(
        self, ws: ServerConnection, room: str, msg: dict[str, Any]
    ) -> None:
        name = msg["name"]
        key = self.directory.get(room, name)
        if key is None:
            raise ProtocolError(
                "unknown-peer",
                f"no user called {name!r} has published a key in room {room!r}",
                "lookup",
                msg.get("id"),
            )
        reply: dict[str, Any] = {
            "type": "key",
            "name": name,
            "key": key,
            "fingerprint": fingerprint(key),
            "online": name in self.rooms.get(room, {}),
        }
        if "id" in msg:
            reply["id"] = msg["id"]
        await self._send(ws, reply)

    async def _relay(self, room: str, sender: str, msg: dict[str, Any]) -> None:
        kind, recipient = msg["type"], msg["to"]
        if recipient == sender:
            raise ProtocolError(
                "self", "a message cannot be sent to yourself", kind, msg.get("id")
            )
        target = self.rooms.get(room, {}).get(recipient)
        if target is None:
            raise ProtocolError(
                "unknown-peer",
                f"{recipient!r} is not connected in room {room!r}; the {kind} was "
                "not delivered",
                kind,
                msg.get("id"),
            )
        out = {k: v for k, v in msg.items() if k not in ("to", "id")}
        out["from"] = sender
        logger.debug("> %s %s to %s in %s", sender, kind, recipient, room)
        try:
            await self._send(target, out)
        except ConnectionClosed:
            # The recipient is going away; its "left" is on its way to the room.
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

    def _broadcast(self, msg: dict[str, Any], targets: list[ServerConnection]) -> None:
        frame = encode(msg)
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
    db: str | os.PathLike[str] = MEMORY,
    ready: Callable[[Server], None] | None = None,
    stop: asyncio.Future[None] | None = None,
) -> None:
    """Run a signaling server until ``stop`` completes (or forever).

    Args:
        host: Address to listen on. ``0.0.0.0`` serves a classroom LAN.
        port: TCP port; 0 picks a free one.
        db: The directory's SQLite file, or ``":memory:"``.
        ready: Called with the listening server once it accepts connections.
        stop: A future; the server shuts down when it completes. Cancelling
            the coroutine also shuts the server down.

    Raises:
        OSError: If the address cannot be listened on.
        sqlite3.Error: If the directory file cannot be opened.
    """
    with Directory(db) as directory:
        relay = SignalingServer(directory)
        async with relay.serve(host, port) as ws_server:
            if ready is not None:
                ready(ws_server)
            if stop is None:
                await ws_server.serve_forever()
            else:
                await stop

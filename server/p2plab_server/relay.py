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

Around the relay, the server looks after itself and its users, as its
:class:`~p2plab_server.settings.Settings` say: keepalive pings find
connections that died without a word; a message for a user who is briefly
offline waits in a :mod:`mailbox <p2plab_server.mailbox>`; a :mod:`token
bucket <p2plab_server.ratelimit>` per connection and caps on users keep one
client from crowding out the others; ``GET /health`` reports on the server
(:mod:`p2plab_server.health`); and a shutdown tells every client before it
closes the connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl as ssl_module
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.typing import Origin

from .directory import MEMORY, Directory
from .health import HealthEndpoint, report
from .mailbox import Address, Letter, Mailroom
from .proof import check_join, new_challenge
from .protocol import (
    CLOSE_REPLACED,
    DEFAULT_ROOM,
    PROTOCOL_VERSION,
    RELAYED,
    ProtocolError,
    encode,
    fingerprint,
    parse,
    relayed,
)
from .ratelimit import TokenBucket
from .settings import Settings

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_REPLACED",
    "HARD_FRAME_LIMIT",
    "FrameObserver",
    "SignalingServer",
    "run",
]

logger = logging.getLogger(__name__)

# websockets logs every frame, payload included, at DEBUG, and every
# handshake at INFO. Its connections get this logger instead, held at WARNING
# whatever the root level: no SDP or key ever reaches a log, and a teacher's
# log shows joins and leaves rather than handshakes.
wire_logger = logging.getLogger(f"{__name__}.wire")
wire_logger.setLevel(logging.WARNING)

#: ``observer(connection_id, direction, frame)`` sees every frame the server
#: reads (direction ``"<"``), as bytes, and every frame it writes (``">"``),
#: as text.
FrameObserver = Callable[[int, str, str | bytes], None]

#: Frames up to this size (with the default frame limit) are read and answered
#: with a ``too-large`` error, so the connection survives; anything larger is
#: cut off by websockets with close code 1009 before it is buffered.
HARD_FRAME_LIMIT = Settings().hard_frame_limit

#: The close code of every connection when the server shuts down.
CLOSE_GOING_AWAY = 1001

_SHUTDOWN_REASON = "the server is shutting down"
_SHUTDOWN_MESSAGE = (
    "the signaling server is shutting down; open chats go on peer to peer; "
    "join again once it is back"
)

# Time allowed, beyond the close timeout, for handlers to finish at shutdown.
_SHUTDOWN_SLACK = 1.0


@dataclass(eq=False, slots=True)
class _Client:
    """One connection: its challenge, and its room and name once joined."""

    ws: ServerConnection
    challenge: str
    room: str | None = None
    name: str | None = None

    def __str__(self) -> str:
        if self.name is not None:
            return f"{self.name} in {self.room}"
        address = self.ws.remote_address
        return f"a connection from {address[0] if address else 'an unknown address'}"


class SignalingServer:
    """Relay signaling messages between named users, room by room.

    Args:
        directory: Where names are bound to public keys. A fresh in-memory
            directory when omitted.
        observer: Called with every frame read or written; used by the demo,
            the tests and the "what the server saw" lesson.
        settings: Keepalive, offline queue, limits and origins; the defaults
            when omitted.

    Attributes:
        rooms: For each room with someone in it, the connections by name.
        settings: As given.

    Use :meth:`serve` to listen on a socket, and :meth:`shutdown` to stop
    gracefully (:func:`run` does both)::

        server = SignalingServer()
        async with server.serve("127.0.0.1", 8765) as ws_server:
            await ws_server.serve_forever()
    """

    def __init__(
        self,
        directory: Directory | None = None,
        *,
        observer: FrameObserver | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.directory = directory if directory is not None else Directory(MEMORY)
        self.observer = observer
        self.settings = settings if settings is not None else Settings()
        self.rooms: dict[str, dict[str, ServerConnection]] = {}
        self._users = 0
        self._clients: set[_Client] = set()
        self._mail = Mailroom(self.settings.queue)
        self._expiry: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._started = time.monotonic()
        self._stopping = False

    @property
    def online(self) -> dict[str, ServerConnection]:
        """The connections in the default room, by name (a one-room lab's view)."""
        return self.rooms.get(DEFAULT_ROOM, {})

    @property
    def users(self) -> int:
        """Users online, all rooms together."""
        return self._users

    @property
    def held(self) -> int:
        """Messages held for users who are offline, all rooms together."""
        return len(self._mail)

    def health(self) -> dict[str, Any]:
        """Return the ``health`` message: version, rooms, users and uptime."""
        return report(len(self.rooms), self._users, time.monotonic() - self._started)

    def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        ssl: ssl_module.SSLContext | None = None,
    ) -> Server:
        """Return the websockets ``serve`` context manager for this relay.

        Port 0 picks a free port; read it from the returned server's
        ``sockets``. With an ``ssl`` context the server speaks ``wss://``.
        The same port answers ``GET /health``.
        """
        settings = self.settings
        origins: list[Origin | None] | None = None
        if settings.origins:
            # No Origin header: a program, not a web page. See docs/protocol.md.
            origins = [*(Origin(origin) for origin in settings.origins), None]
        return serve(
            self.handle,
            host,
            port,
            ssl=ssl,
            max_size=settings.hard_frame_limit,
            compression=None,
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            close_timeout=settings.close_timeout,
            origins=origins,
            process_request=HealthEndpoint(self.health),
            process_response=self._log_refused_origin,
            logger=wire_logger,
        )

    async def handle(self, ws: ServerConnection) -> None:
        """Serve one client connection until it closes.

        The connection gets ``hello`` with its challenge first. Bad requests
        are answered with an ``error`` and the loop goes on: one client's
        mistake never ends its connection or touches anyone else.
        """
        if self._stopping:
            await self._turn_away(ws)
            return
        clock = time.monotonic
        settings = self.settings
        bucket = None
        if settings.rate > 0:
            bucket = TokenBucket(settings.rate, settings.burst, clock())
        client = _Client(ws, new_challenge())
        max_frame = settings.max_frame
        self._clients.add(client)
        _forget_headers(ws)
        try:
            hello = {
                "type": "hello",
                "version": PROTOCOL_VERSION,
                "challenge": client.challenge,
            }
            await self._send(ws, hello)
            while True:
                # Frames are read as bytes, text and binary alike: json.loads
                # reads UTF-8 bytes, and a relayed frame goes on as bytes.
                frame = await ws.recv(decode=False)
                self._observe(ws, "<", frame)
                try:
                    if bucket is not None and not bucket.take(clock()):
                        raise self._over_rate(client, bucket, frame)
                    await self._dispatch(client, parse(frame, max_frame), frame)
                except ProtocolError as exc:
                    logger.debug("= %s refused: %s", client, exc.code)
                    await self._send(ws, exc.reply())
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            self._leave(client)

    async def _dispatch(
        self, client: _Client, msg: dict[str, Any], frame: bytes
    ) -> None:
        """Act on one valid request, ``msg``, read as ``frame``."""
        kind = msg["type"]
        room, name = client.room, client.name
        if room is not None and name is not None and kind in RELAYED:
            await self._relay(room, name, msg, frame)
        elif kind == "join":
            self._join(client, msg)
        elif kind == "health":
            logger.debug("< %s health", client)
            await self._send(client.ws, _answer(self.health(), msg))
        elif room is None or name is None:
            raise ProtocolError(
                "not-joined", f"send join before {kind}", kind, msg.get("id")
            )
        else:
            await self._lookup(client.ws, room, msg)

    def _over_rate(
        self, client: _Client, bucket: TokenBucket, frame: bytes
    ) -> ProtocolError:
        """Return the refusal of a frame that came over the rate limit."""
        # The refusal names the request when it can, so that a client can
        # match it; reading the frame costs no more than serving it would.
        try:
            msg = parse(frame, self.settings.max_frame)
            kind, msg_id = msg["type"], msg.get("id")
        except ProtocolError as exc:
            kind, msg_id = exc.ref, exc.id
        rate, burst = bucket.rate, bucket.burst
        if bucket.refused == 1:
            logger.info(
                "rate limit: refusing frames from %s (over %g a second, burst %d)",
                client,
                rate,
                burst,
            )
        return ProtocolError(
            "rate-limited",
            f"this connection sent more than {rate:g} messages a second (burst "
            f"{burst}); the {kind or 'frame'} was not processed: wait a moment "
            "and send it again",
            kind,
            msg_id,
        )

    # Joining and leaving.

    def _join(self, client: _Client, msg: dict[str, Any]) -> None:
        room: str = msg["room"]
        name: str = msg["name"]
        key: str = msg["key"]
        if client.name is not None:
            raise ProtocolError(
                "already-joined",
                f"this connection is already {client.name!r} in room {client.room!r}",
                "join",
                msg.get("id"),
            )
        try:
            check_join(msg, client.challenge)
            if name not in self.rooms.get(room, {}):
                self._check_capacity(room, msg.get("id"))
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
        welcome = {
            "type": "welcome",
            "room": room,
            "name": name,
            "peers": peers,
            "version": PROTOCOL_VERSION,
        }
        # The welcome and the held messages are written at once, before any
        # other task runs: a message relayed live from now on comes after
        # every message held before, so no sender's messages are reordered.
        self._post(client.ws, encode(_answer(welcome, msg)))
        for frame in self._collect(client, room, name):
            self._post(client.ws, frame)
        joined = {
            "type": "joined",
            "name": name,
            "key": key,
            "fingerprint": fingerprint(key),
        }
        others = [ws for peer, ws in self.rooms[room].items() if peer != name]
        self._broadcast(joined, others)

    def _check_capacity(self, room: str, msg_id: str | int | None) -> None:
        """Refuse a newcomer to a full room or a full server."""
        settings = self.settings
        members = len(self.rooms.get(room, {}))
        if members >= settings.room_users:
            raise ProtocolError(
                "room-full",
                f"room {room!r} has {members} users, the most this server allows "
                "in one room: join another room, or ask whoever runs the server "
                "to raise --room-users",
                "join",
                msg_id,
            )
        if self._users >= settings.server_users:
            raise ProtocolError(
                "server-full",
                f"the server has {self._users} users online, the most it allows: "
                "try again later, or ask whoever runs it to raise --server-users",
                "join",
                msg_id,
            )

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
        if previous is None:
            self._users += 1
        else:
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
        self._users -= 1
        if not members:
            del self.rooms[room]
        logger.info("%s left %s (%d online)", name, room, len(members))
        self._broadcast({"type": "left", "name": name}, list(members.values()))

    # Lookups and relays.

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
        reply = {
            "type": "key",
            "name": name,
            "key": key,
            "fingerprint": fingerprint(key),
            "online": name in self.rooms.get(room, {}),
        }
        await self._send(ws, _answer(reply, msg))

    async def _relay(
        self, room: str, sender: str, msg: dict[str, Any], frame: bytes
    ) -> None:
        kind, recipient = msg["type"], msg["to"]
        if recipient == sender:
            raise ProtocolError(
                "self", "a message cannot be sent to yourself", kind, msg.get("id")
            )
        out = relayed(frame, msg, sender)
        target = self.rooms.get(room, {}).get(recipient)
        if target is not None and target.state is State.OPEN:
            logger.debug("> %s %s to %s in %s", sender, kind, recipient, room)
            if self.observer is not None:
                self._observe(target, ">", out.decode())
            try:
                await target.send(out, text=True)
                return
            except ConnectionClosed:
                pass  # the recipient went away during the write: hold it
        self._hold((room, recipient), sender, kind, msg.get("id"), out.decode())

    # Held messages.

    def _hold(
        self,
        address: Address,
        sender: str,
        kind: str,
        msg_id: str | int | None,
        frame: str,
    ) -> None:
        """Keep a message for a recipient who is not connected, or refuse it."""
        room, recipient = address
        target = self.rooms.get(room, {}).get(recipient)
        if target is not None and target.state is State.OPEN:
            # A newer connection took the name while the write failed.
            self._post(target, frame)
            return
        if address not in self._mail:
            self._check_holdable(address, kind, msg_id)
        loop = asyncio.get_running_loop()
        letter = Letter(sender, kind, msg_id, frame, loop.time() + self.settings.hold)
        if not self._mail.put(address, letter):
            mailbox = self._mail.mailbox(address)
            assert mailbox is not None
            if mailbox.refused == 1:
                logger.info(
                    "queue full: %s in %s has %d messages waiting; refusing more",
                    recipient,
                    room,
                    len(mailbox),
                )
            raise ProtocolError(
                "queue-full",
                f"{recipient!r} is offline and already has {len(mailbox)} messages "
                f"waiting, the most the server holds; the {kind} was not "
                f"delivered: send it again once {recipient} is back",
                kind,
                msg_id,
            )
        logger.debug("= holding %s's %s for %s in %s", sender, kind, recipient, room)
        self._schedule_expiry()

    def _check_holdable(
        self, address: Address, kind: str, msg_id: str | int | None
    ) -> None:
        """Refuse a message for a name never bound in the room, or when not holding."""
        room, recipient = address
        bound = self.directory.get(room, recipient) is not None
        if bound and self.settings.hold > 0:
            return
        where = f"{recipient!r} is not connected in room {room!r}"
        if not bound:
            where = f"no user called {recipient!r} has joined room {room!r}"
        raise ProtocolError(
            "unknown-peer", f"{where}; the {kind} was not delivered", kind, msg_id
        )

    def _schedule_expiry(self) -> None:
        """Set the one expiry timer for the mailroom's next deadline, if unset."""
        deadline = self._mail.deadline
        if self._expiry is None and deadline is not None:
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_at(deadline, self._expire)

    def _expire(self) -> None:
        """Tell the senders of the letters now due that they were not delivered."""
        self._expiry = None
        hold = self.settings.hold
        for address, letters in self._mail.expire(asyncio.get_running_loop().time()):
            why = f"{address[1]} did not come back within {hold:g} s"
            self._tell_expired(address, letters, why)
        self._schedule_expiry()

    def _collect(self, client: _Client, room: str, name: str) -> list[str]:
        """Take the letters held for a user who just joined."""
        address = (room, name)
        if address not in self._mail or client.ws.state is not State.OPEN:
            return []
        letters = self._mail.take(address)
        logger.info("%s is back in %s: %d held message(s)", name, room, len(letters))
        return [letter.frame for letter in letters]

    def _tell_expired(self, address: Address, letters: list[Letter], why: str) -> None:
        """Send ``expired`` for each letter to its sender, if still online."""
        room, recipient = address
        members = self.rooms.get(room, {})
        for letter in letters:
            ws = members.get(letter.sender)
            if ws is None:
                continue
            notice: dict[str, Any] = {
                "type": "expired",
                "to": recipient,
                "ref": letter.kind,
                "message": f"{why}; the {letter.kind} was not delivered",
            }
            if letter.id is not None:
                notice["id"] = letter.id
            self._post(ws, encode(notice))
        logger.info(
            "%d message(s) for %s in %s expired: %s", len(letters), recipient, room, why
        )

    # Shutting down.

    async def shutdown(self, ws_server: Server) -> None:
        """Tell every client that the server is going, and close every connection.

        Held messages expire first (their senders get ``expired``); then
        every connection gets ``shutdown`` and is closed with code 1001 and a
        reason, and the server stops listening. Returns within the close
        timeout of :attr:`settings`, and a second, however many clients fail
        to answer: those are cut off. A second call does nothing. Cancelling
        it stops the wait only: the connections go on closing.

        Args:
            ws_server: The server :meth:`serve` returned.
        """
        if self._stopping:
            return
        self._stopping = True
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        for address, letters in self._mail.take_all():
            why = f"the server shut down before {address[1]} came back"
            self._tell_expired(address, letters, why)
        notice = encode({"type": "shutdown", "message": _SHUTDOWN_MESSAGE})
        for client in list(self._clients):
            self._post(client.ws, notice)
        logger.info("shutting down: closing %d connection(s)", len(self._clients))
        ws_server.close(code=CLOSE_GOING_AWAY, reason=_SHUTDOWN_REASON)
        try:
            async with asyncio.timeout(self.settings.close_timeout + _SHUTDOWN_SLACK):
                await ws_server.wait_closed()
        except TimeoutError:
            logger.warning("shutdown: cutting %d connection(s)", len(self._clients))
            for client in list(self._clients):
                client.ws.transport.abort()

    async def _turn_away(self, ws: ServerConnection) -> None:
        """Close a connection that opened while the server was shutting down."""
        self._post(ws, encode({"type": "shutdown", "message": _SHUTDOWN_MESSAGE}))
        await ws.close(CLOSE_GOING_AWAY, _SHUTDOWN_REASON)

    # Writing frames.

    async def _send(self, ws: ServerConnection, msg: dict[str, Any]) -> None:
        """Write one message, waiting while the connection's buffer is full."""
        frame = encode(msg)
        self._observe(ws, ">", frame)
        await ws.send(frame)

    def _post(self, ws: ServerConnection, frame: str) -> None:
        """Write one encoded message now, without waiting; skipped if not open."""
        self._observe(ws, ">", frame)
        broadcast([ws], frame)

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

    def _log_refused_origin(
        self, ws: ServerConnection, request: Request, response: Response
    ) -> None:
        """Log each connection refused for its ``Origin`` header, on one line."""
        if response.status_code == HTTPStatus.FORBIDDEN:
            address = ws.remote_address
            logger.info(
                "refused a connection from %s: origin %r is not allowed",
                address[0] if address else "an unknown address",
                request.headers.get("Origin"),
            )


def _forget_headers(ws: ServerConnection) -> None:
    """Drop the handshake's HTTP headers, which nothing reads once it is over.

    websockets keeps the request and the response of the opening handshake
    for the connection's life; their headers are a good part of what an idle
    connection costs. The origin check and ``/health`` are done by then.
    """
    if ws.request is not None:
        ws.request.headers.clear()
    if ws.response is not None:
        ws.response.headers.clear()


def _answer(reply: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """Return ``reply`` with the ``id`` of ``request``, if it had one."""
    if "id" in request:
        reply["id"] = request["id"]
    return reply


async def run(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    db: str | os.PathLike[str] = MEMORY,
    ready: Callable[[Server], None] | None = None,
    stop: asyncio.Future[None] | None = None,
    settings: Settings | None = None,
    ssl: ssl_module.SSLContext | None = None,
) -> None:
    """Run a signaling server until ``stop`` completes (or forever).

    Args:
        host: Address to listen on. ``0.0.0.0`` serves a classroom LAN.
        port: TCP port; 0 picks a free one.
        db: The directory's SQLite file, or ``":memory:"``.
        ready: Called with the listening server once it accepts connections.
        stop: A future; the server shuts down gracefully when it completes.
            Cancelling the coroutine shuts the server down the same way.
        settings: Keepalive, offline queue, limits and origins.
        ssl: A server TLS context, to serve ``wss://``.

    Raises:
        OSError: If the address cannot be listened on.
        sqlite3.Error: If the directory file cannot be opened.
    """
    with Directory(db) as directory:
        relay = SignalingServer(directory, settings=settings)
        async with relay.serve(host, port, ssl=ssl) as ws_server:
            if ready is not None:
                ready(ws_server)
            try:
                if stop is None:
                    await ws_server.serve_forever()
                else:
                    await stop
            finally:
                await relay.shutdown(ws_server)

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

from websockets.http11 import Request, Response

from .connection import Connection
from .directory import MEMORY, Directory
from .health import HealthEndpoint, report
from .listener import Listener
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

# Time allowed, beyond the close timeout, for connections to close at shutdown.
_SHUTDOWN_SLACK = 1.0


@dataclass(eq=False, slots=True)
class _Client:
    """One connection: its challenge, its rate, and its room and name once joined."""

    connection: Connection
    challenge: str
    bucket: TokenBucket | None
    room: str | None = None
    name: str | None = None

    def __str__(self) -> str:
        if self.name is not None:
            return f"{self.name} in {self.room}"
        address = self.connection.address
        return f"a connection from {address or 'an unknown address'}"


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
        async with server.serve("127.0.0.1", 8765) as listener:
            await listener.serve_forever()

    The server is the :class:`~p2plab_server.connection.Handler` of its
    connections: each method below runs when a connection opens, brings a
    message or closes, to completion, without waiting on anything.
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
        self.rooms: dict[str, dict[str, Connection]] = {}
        self._users = 0
        self._clients: dict[Connection, _Client] = {}
        self._mail = Mailroom(self.settings.queue)
        self._expiry: asyncio.TimerHandle | None = None
        self._started = time.monotonic()
        self._stopping = False
        self._health = HealthEndpoint(self.health)

    @property
    def online(self) -> dict[str, Connection]:
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
    ) -> Listener:
        """Return a listener for this relay; await it, or enter it, to listen.

        Port 0 picks a free port; read it from the listener's ``sockets``.
        With an ``ssl`` context the server speaks ``wss://``. The same port
        answers ``GET /health``.
        """
        return Listener(self, host, port, ssl=ssl, settings=self.settings)

    # The connections' handler.

    def respond(self, request: Request) -> Response | None:
        """Answer ``GET /health``; None lets any other request open a WebSocket."""
        return self._health(request)

    def refused(
        self, connection: Connection, request: Request, response: Response
    ) -> None:
        """Log each connection refused for its ``Origin`` header, on one line."""
        if response.status_code == HTTPStatus.FORBIDDEN:
            logger.info(
                "refused a connection from %s: origin %r is not allowed",
                connection.address or "an unknown address",
                request.headers.get("Origin"),
            )

    def opened(self, connection: Connection) -> None:
        """Greet a new connection with ``hello`` and its challenge."""
        if self._stopping:
            self._turn_away(connection)
            return
        settings = self.settings
        bucket = None
        if settings.rate > 0:
            bucket = TokenBucket(settings.rate, settings.burst, time.monotonic())
        client = _Client(connection, new_challenge(), bucket)
        self._clients[connection] = client
        hello = {
            "type": "hello",
            "version": PROTOCOL_VERSION,
            "challenge": client.challenge,
        }
        self._post(connection, encode(hello))

    def received(self, connection: Connection, frame: bytes) -> None:
        """Serve one frame, read as bytes, text and binary alike.

        A bad request is answered with an ``error`` and the connection goes
        on: one client's mistake never ends its connection or touches anyone
        else.
        """
        if self.observer is not None:
            self._observe(connection, "<", frame)
        client = self._clients.get(connection)
        if client is None:
            return  # turned away at shutdown
        try:
            bucket = client.bucket
            if bucket is not None and not bucket.take(time.monotonic()):
                raise self._over_rate(client, bucket, frame)
            msg = parse(frame, self.settings.max_frame)
            room, name = client.room, client.name
            if name is not None and msg["type"] in RELAYED:
                assert room is not None
                self._relay(room, name, msg, frame)
            else:
                self._dispatch(client, msg)
        except ProtocolError as exc:
            logger.debug("= %s refused: %s", client, exc.code)
            self._post(connection, encode(exc.reply()))

    def closed(self, connection: Connection) -> None:
        """Forget a connection that ended; tell its room if it still held a name."""
        client = self._clients.pop(connection, None)
        if client is not None:
            self._leave(client)

    def _dispatch(self, client: _Client, msg: dict[str, Any]) -> None:
        """Act on one valid request, ``msg``, other than a relay."""
        kind = msg["type"]
        room, name = client.room, client.name
        if kind == "join":
            self._join(client, msg)
        elif kind == "health":
            logger.debug("< %s health", client)
            self._post(client.connection, encode(_answer(self.health(), msg)))
        elif room is None or name is None:
            raise ProtocolError(
                "not-joined", f"send join before {kind}", kind, msg.get("id")
            )
        else:
            self._lookup(client.connection, room, msg)

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
        # The welcome and the held messages are written at once, before
        # anything else is read: a message relayed live from now on comes
        # after every message held before, so no sender's messages are
        # reordered.
        connection = client.connection
        self._post(connection, encode(_answer(welcome, msg)))
        for frame in self._collect(client, room, name):
            self._post(connection, frame)
        joined = {
            "type": "joined",
            "name": name,
            "key": key,
            "fingerprint": fingerprint(key),
        }
        others = [c for peer, c in self.rooms[room].items() if peer != name]
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
        # once, before the old one starts closing, so that the old one's
        # leaving finds the name taken and tells no one.
        members = self.rooms.setdefault(room, {})
        previous = members.get(name)
        members[name] = client.connection
        client.room, client.name = room, name
        if previous is None:
            self._users += 1
        else:
            logger.info("%s rejoined %s; closing the previous connection", name, room)
            previous.begin_close(CLOSE_REPLACED, "replaced by a newer connection")
        logger.info("%s joined %s (%d online)", name, room, len(members))
        return sorted(peer for peer in members if peer != name)

    def _leave(self, client: _Client) -> None:
        """Take a departed client's name out of its room, and tell the room."""
        room, name = client.room, client.name
        if room is None or name is None:
            return
        members = self.rooms.get(room, {})
        if members.get(name) is not client.connection:
            return  # replaced by a newer connection: no one left
        del members[name]
        self._users -= 1
        if not members:
            del self.rooms[room]
        logger.info("%s left %s (%d online)", name, room, len(members))
        # When the whole server closes, everyone is going: no one is told.
        if not client.connection.server_closing:
            self._broadcast({"type": "left", "name": name}, list(members.values()))

    # Lookups and relays.

    def _lookup(self, connection: Connection, room: str, msg: dict[str, Any]) -> None:
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
        self._post(connection, encode(_answer(reply, msg)))

    def _relay(self, room: str, sender: str, msg: dict[str, Any], frame: bytes) -> None:
        kind, recipient = msg["type"], msg["to"]
        if recipient == sender:
            raise ProtocolError(
                "self", "a message cannot be sent to yourself", kind, msg.get("id")
            )
        out = relayed(frame, msg, sender)
        target = self.rooms[room].get(recipient)
        if target is not None and target.open:
            logger.debug("> %s %s to %s in %s", sender, kind, recipient, room)
            if self.observer is not None:
                self._observe(target, ">", out.decode())
            target.write(out)
            return
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
        if address not in self._mail or not client.connection.open:
            return []
        letters = self._mail.take(address)
        logger.info("%s is back in %s: %d held message(s)", name, room, len(letters))
        return [letter.frame for letter in letters]

    def _tell_expired(self, address: Address, letters: list[Letter], why: str) -> None:
        """Send ``expired`` for each letter to its sender, if still online."""
        room, recipient = address
        members = self.rooms.get(room, {})
        for letter in letters:
            connection = members.get(letter.sender)
            if connection is None:
                continue
            notice: dict[str, Any] = {
                "type": "expired",
                "to": recipient,
                "ref": letter.kind,
                "message": f"{why}; the {letter.kind} was not delivered",
            }
            if letter.id is not None:
                notice["id"] = letter.id
            self._post(connection, encode(notice))
        logger.info(
            "%d message(s) for %s in %s expired: %s", len(letters), recipient, room, why
        )

    # Shutting down.

    async def shutdown(self, listener: Listener) -> None:
        """Tell every client that the server is going, and close every connection.

        Held messages expire first (their senders get ``expired``); then
        every connection gets ``shutdown`` and is closed with code 1001 and a
        reason, and the server stops listening. Returns within the close
        timeout of :attr:`settings`, and a second, however many clients fail
        to answer: those are cut off. A second call does nothing. Cancelling
        it stops the wait only: the connections go on closing.

        Args:
            listener: The listener :meth:`serve` returned.
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
        for connection in list(self._clients):
            self._post(connection, notice)
        logger.info("shutting down: closing %d connection(s)", len(self._clients))
        listener.close(CLOSE_GOING_AWAY, _SHUTDOWN_REASON)
        try:
            async with asyncio.timeout(self.settings.close_timeout + _SHUTDOWN_SLACK):
                await listener.wait_closed()
        except TimeoutError:
            logger.warning(
                "shutdown: cutting %d connection(s)", len(listener.connections)
            )
            listener.abort()

    def _turn_away(self, connection: Connection) -> None:
        """Close a connection that opened while the server was shutting down."""
        self._post(
            connection, encode({"type": "shutdown", "message": _SHUTDOWN_MESSAGE})
        )
        connection.begin_close(CLOSE_GOING_AWAY, _SHUTDOWN_REASON)

    # Writing frames.

    def _post(self, connection: Connection, frame: str) -> None:
        """Write one encoded message now; skipped if the connection is not open."""
        if self.observer is not None and connection.open:
            self._observe(connection, ">", frame)
        connection.write(frame.encode())

    def _broadcast(self, msg: dict[str, Any], targets: list[Connection]) -> None:
        """Write one message to every connection of ``targets`` that is open."""
        frame = encode(msg)
        data = frame.encode()
        for connection in targets:
            if self.observer is not None and connection.open:
                self._observe(connection, ">", frame)
            connection.write(data)

    def _observe(
        self, connection: Connection, direction: str, frame: str | bytes
    ) -> None:
        if self.observer is not None:
            self.observer(id(connection), direction, frame)


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
    ready: Callable[[Listener], None] | None = None,
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
        async with relay.serve(host, port, ssl=ssl) as listener:
            if ready is not None:
                ready(listener)
            try:
                if stop is None:
                    await listener.serve_forever()
                else:
                    await stop
            finally:
                await relay.shutdown(listener)

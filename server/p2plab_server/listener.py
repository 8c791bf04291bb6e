"""A listening server: its sockets, its connections and their one keepalive timer.

:meth:`SignalingServer.serve <p2plab_server.relay.SignalingServer.serve>`
returns a :class:`Listener`. It is used the way websockets' own servers are,
as an asynchronous context manager or awaited::

    async with relay.serve("127.0.0.1", 0) as listener:
        port = listener.sockets[0].getsockname()[1]
        await listener.serve_forever()

The listener accepts TCP (or TLS) connections with
:meth:`asyncio.loop.create_server`, makes each one a
:class:`~p2plab_server.connection.Connection`, and runs the keepalive of all
of them on one :class:`~p2plab_server.keepalive.Keepalive` wheel with a single
timer: it pings what is due and fails, with close code 1011, what did not
answer in time.
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl as ssl_module
from collections.abc import Generator, Sequence
from types import TracebackType
from typing import Any, Self

from websockets.server import ServerProtocol
from websockets.typing import Origin

from .connection import Connection, Handler
from .keepalive import Keepalive
from .settings import Settings

__all__ = ["OPEN_TIMEOUT", "Listener"]

#: Seconds a new connection has to complete its opening handshake, as with
#: websockets' own servers.
OPEN_TIMEOUT = 10.0

# A slot of the keepalive wheel is the shortest of the ping interval, the
# ping timeout and the close timeout, divided by this. Rounding to slots may
# then add at most half a close timeout to the time a silent drop takes to
# notice, which the documented bound already allows for: the drop is
# announced as soon as the ping is given up on, not after the close timeout.
_SLOTS_PER_PERIOD = 4

# A connection with this many times the frame limit waiting to be sent to it
# is not reading, and is cut off.
_BACKLOG_FRAMES = 64

# websockets logs every frame, payload included, at DEBUG, and every
# handshake at INFO. Connections get this logger instead, held at WARNING
# whatever the root level: no SDP or key ever reaches a log, and a teacher's
# log shows joins and leaves rather than handshakes.
wire_logger = logging.getLogger("p2plab_server.wire")
wire_logger.setLevel(logging.WARNING)


class Listener:
    """Connections accepted on a host and port, served by one handler.

    Args:
        handler: What to do with each connection (the relay).
        host: Address to listen on.
        port: TCP port; 0 picks a free one.
        ssl: A server TLS context, to serve ``wss://``.
        settings: Keepalive, close timeout, frame limit and origins.

    Attributes:
        handler: As given.
        settings: As given.
        connections: Every connection not yet closed.
        keepalive: The ping schedule of every connection.
        closing: True once :meth:`close` was called.
        backlog: Bytes waiting to be sent to a connection beyond which it is
            cut off.
        open_timeout: Seconds a new connection has to complete its opening
            handshake.
        reading: The connection whose bytes are being handled, if any.
        written: The connections written to meanwhile, whose frames wait.
    """

    def __init__(
        self,
        handler: Handler,
        host: str,
        port: int,
        *,
        ssl: ssl_module.SSLContext | None = None,
        settings: Settings,
    ) -> None:
        self.handler = handler
        self.settings = settings
        self.connections: set[Connection] = set()
        tick = (
            min(settings.ping_interval, settings.ping_timeout, settings.close_timeout)
            / _SLOTS_PER_PERIOD
        )
        self.keepalive: Keepalive[Connection] = Keepalive(
            settings.ping_interval, settings.ping_timeout, tick
        )
        self.closing = False
        self.backlog = _BACKLOG_FRAMES * settings.max_frame
        self.open_timeout = OPEN_TIMEOUT
        self.reading: Connection | None = None
        self.written: list[Connection] = []
        self._host, self._port, self._ssl = host, port, ssl
        self._origins: Sequence[Origin | None] | None = None
        if settings.origins:
            # No Origin header: a program, not a web page. See docs/protocol.md.
            self._origins = [*(Origin(origin) for origin in settings.origins), None]
        self._server: asyncio.Server | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._gone: asyncio.Future[None] | None = None

    # Starting.

    async def start(self) -> Self:
        """Listen on the host and port; a second call does nothing.

        Raises:
            OSError: If the address cannot be listened on.
        """
        if self._server is None:
            loop = asyncio.get_running_loop()
            self._gone = loop.create_future()
            # With TLS, the opening handshake's clock starts once TLS is up;
            # TLS itself gets the same time.
            timeout = self.open_timeout if self._ssl is not None else None
            self._server = await loop.create_server(
                self._connect,
                self._host,
                self._port,
                ssl=self._ssl,
                ssl_handshake_timeout=timeout,
            )
        return self

    def __await__(self) -> Generator[Any, None, Self]:
        return self.start().__await__()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
        await self.wait_closed()

    @property
    def sockets(self) -> tuple[Any, ...]:
        """The listening sockets (empty before :meth:`start`)."""
        return () if self._server is None else tuple(self._server.sockets)

    def _connect(self) -> Connection:
        return Connection(self)

    def new_protocol(self) -> ServerProtocol:
        """Return websockets' Sans-I/O protocol for a new connection."""
        return ServerProtocol(
            origins=self._origins,
            max_size=self.settings.hard_frame_limit,
            logger=wire_logger,
        )

    # Connections coming and going.

    def attach(self, connection: Connection) -> None:
        """Take a new connection, and start the clock on its opening handshake."""
        self.connections.add(connection)
        now = asyncio.get_running_loop().time()
        self.keepalive.expect(connection, now, self.open_timeout)
        self._arm()

    def opened(self, connection: Connection) -> None:
        """Start pinging a connection whose handshake succeeded."""
        self.keepalive.watch(connection, asyncio.get_running_loop().time())
        self._arm()

    def detach(self, connection: Connection) -> None:
        """Forget a connection whose socket closed."""
        self.connections.discard(connection)
        self.keepalive.forget(connection)
        self._check_gone()

    # Keepalive.

    def _arm(self) -> None:
        """Set the one keepalive timer for the wheel's next deadline."""
        deadline = self.keepalive.deadline
        if deadline is None or deadline >= self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = asyncio.get_running_loop().call_at(deadline, self._beat)

    def _beat(self) -> None:
        """Ping what is due and fail what did not answer in time."""
        self._timer, self._timer_at = None, math.inf
        pings, drops = self.keepalive.due(asyncio.get_running_loop().time())
        for connection in pings:
            connection.ping()
        for connection in drops:
            connection.fail(1011, "keepalive ping timeout")
        self._arm()

    # Closing.

    def close(self, code: int = 1001, reason: str = "") -> None:
        """Stop listening and start closing every connection with ``code``.

        A connection still in its opening handshake is refused (HTTP 503).
        Every closing handshake has the close timeout to complete, after
        which the socket is cut. A second call does nothing.
        """
        if self.closing:
            return
        self.closing = True
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.begin_close(code, reason)
        if self._timer is not None:
            self._timer.cancel()
            self._timer, self._timer_at = None, math.inf
        self._check_gone()

    async def wait_closed(self) -> None:
        """Return once :meth:`close` was called and every connection is closed.

        Cancelling the wait does not stop the closing.
        """
        if self._gone is None:
            raise RuntimeError("the listener was never started: await it first")
        await asyncio.shield(self._gone)
        if self._server is not None:
            await self._server.wait_closed()

    async def serve_forever(self) -> None:
        """Wait until the listener is closed; cancelling it closes the listener."""
        try:
            await self.wait_closed()
        except asyncio.CancelledError:
            self.close()
            await self.wait_closed()
            raise

    def abort(self) -> None:
        """Cut every connection still open, without a closing handshake."""
        for connection in list(self.connections):
            connection.abort()

    def _check_gone(self) -> None:
        if self.closing and not self.connections and self._gone is not None:
            if not self._gone.done():
                self._gone.set_result(None)

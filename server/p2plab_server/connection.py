"""One client's WebSocket connection: websockets' Sans-I/O protocol on asyncio.

The server runs no task per connection. Each connection is an
:class:`asyncio.Protocol`: the event loop calls :meth:`Connection.data_received`
with the bytes it read, websockets' :class:`~websockets.server.ServerProtocol`
turns them into the handshake request and into frames, and every complete
message goes to the server's :class:`Handler` in that same call. What the
handler writes, a reply or a relayed message, reaches its connection's
transport before the call returns. Keepalive pings are scheduled for all
connections together by the :class:`~p2plab_server.listener.Listener` (see
:mod:`p2plab_server.keepalive`).

**Writes are gathered.** While the bytes of one connection are being
handled, the frames written to any connection wait in websockets' protocol
object; each connection written to gets them in one write, one system call,
once the bytes are handled. Frames from timers go out at once.

**Flow control.** A connection whose transport holds more than asyncio's
high-water mark of unsent bytes is not *writable*. A write to it still goes
into its buffer, but the connection whose message caused the write stops being
read until the slow one drains: a sender can only get one read's worth of
frames ahead of its slowest recipient. A connection that lets more than
``backlog`` bytes pile up (messages from many senders, or notices of joins and
leaves) is not reading at all, and is cut off.

**Closing.** A close frame from the client, a close started here
(:meth:`Connection.begin_close`), a failure (a frame over the size limit, an
unanswered ping) or a lost socket ends the connection for the handler at once,
with :meth:`Handler.closed`. The closing handshake then gets ``close_timeout``
seconds, after which the socket is cut.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol, cast

from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

if TYPE_CHECKING:
    from .listener import Listener

__all__ = ["Connection", "Handler"]

logger = logging.getLogger(__name__)

# Looked up once: these are compared for every frame.
_OPEN = State.OPEN
_CLOSED = State.CLOSED
_CONNECTING = State.CONNECTING
_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_CONT = Opcode.CONT
_PONG = Opcode.PONG

# Close code and reason when the handler fails on a message (a bug).
_INTERNAL_ERROR = 1011


class Handler(Protocol):
    """What a server does with its connections; the relay is one."""

    def respond(self, request: Request) -> Response | None:
        """Answer a plain HTTP request, or return None to open a WebSocket."""

    def refused(
        self, connection: Connection, request: Request, response: Response
    ) -> None:
        """Hear that a handshake was refused with ``response``."""

    def opened(self, connection: Connection) -> None:
        """Take a connection whose opening handshake succeeded."""

    def received(self, connection: Connection, message: bytes) -> None:
        """Act on one complete message, text or binary, as bytes."""

    def closed(self, connection: Connection) -> None:
        """Forget a connection that is closing or lost; called once, if opened."""


class Connection(asyncio.Protocol):
    """One client's connection to a :class:`~p2plab_server.listener.Listener`.

    Args:
        listener: The listener that accepted it.

    Attributes:
        protocol: websockets' Sans-I/O protocol for this connection.
        transport: The asyncio transport, set once connected.
        address: The client's IP address, if the socket has one.
        writable: False while the transport's buffer is over its high-water
            mark.
    """

    __slots__ = (
        "_closer",
        "_dirty",
        "_drained",
        "_ended",
        "_fragments",
        "_handler",
        "_listener",
        "_lost",
        "_opened",
        "_paused",
        "_stalled",
        "address",
        "protocol",
        "transport",
        "writable",
    )

    transport: asyncio.Transport

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._handler = listener.handler
        self.protocol: ServerProtocol = listener.new_protocol()
        self.address: str | None = None
        self.writable = True
        self._opened = False  # the handshake succeeded
        self._ended = False  # the handler was told the connection closed
        self._paused = False  # reading is paused until a recipient drains
        self._dirty = False  # frames wait for the reader's bytes to be handled
        self._fragments: list[bytes] | None = None
        self._stalled: list[Connection] | None = None
        self._closer: asyncio.TimerHandle | None = None
        self._lost: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"<Connection from {self.address} {self.protocol.state.name}>"

    @property
    def open(self) -> bool:
        """Whether messages can be written: handshake done, no close started."""
        return self.protocol.state is _OPEN and not self.transport.is_closing()

    @property
    def server_closing(self) -> bool:
        """Whether the listener is closing every connection."""
        return self._listener.closing

    # Writing.

    def write(self, message: bytes) -> None:
        """Write ``message``, UTF-8 text, as one text frame; skipped unless open.

        While a connection's bytes are being handled, the frame goes out with
        the others written meanwhile, once they are handled; else at once.
        """
        protocol = self.protocol
        if protocol.state is not _OPEN:
            return
        protocol.send_text(message)
        listener = self._listener
        if listener.reading is None:
            self._flush()
            if not self.writable:
                self._pushed_back(None)
        elif not self._dirty:
            self._dirty = True
            listener.written.append(self)

    async def send(self, message: str | bytes) -> None:
        """Write one text frame and wait while the transport's buffer is full.

        The frame is skipped if the connection is not open. Cancelling the
        wait does not take the frame back.
        """
        self.write(message.encode() if isinstance(message, str) else message)
        if not self.writable and not self.transport.is_closing():
            if self._drained is None:
                self._drained = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drained)

    def ping(self) -> None:
        """Write a keepalive ping; skipped unless open."""
        if self.protocol.state is _OPEN:
            self.protocol.send_ping(b"")
            self._flush()

    def _flush(self) -> None:
        """Write what websockets has to send; an empty chunk is the end of it."""
        chunks = self.protocol.data_to_send()
        transport = self.transport
        if not chunks or transport.is_closing():
            return  # nothing to write, or nowhere to write it any more
        if b"" not in chunks:
            transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            return
        for data in chunks:
            if data:
                transport.write(data)
            elif transport.can_write_eof():
                transport.write_eof()
            else:
                # TLS cannot half-close: close the socket once the data is out.
                transport.close()

    def _flush_written(self) -> None:
        """Write out every frame written while this connection's bytes were handled."""
        written = self._listener.written
        self._listener.written = []
        for connection in written:
            connection._dirty = False
            connection._flush()
            if not connection.writable:
                connection._pushed_back(self)
        self._flush()

    def _pushed_back(self, reader: Connection | None) -> None:
        """React to a write that left this connection's buffer over the mark.

        ``reader``, whose bytes caused the write, if any, waits for this one.
        """
        size = self.transport.get_write_buffer_size()
        if size > self._listener.backlog:
            logger.info(
                "cutting a connection from %s that does not read (%d bytes waiting)",
                self.address,
                size,
            )
            self.transport.abort()
        elif reader is not None:
            reader._stall(self)

    # Flow control.

    def pause_writing(self) -> None:
        """Note that the transport's buffer went over the high-water mark."""
        self.writable = False

    def resume_writing(self) -> None:
        """Note that the buffer drained; resume the connections waiting on it."""
        self.writable = True
        self._release()

    def _stall(self, slow: Connection) -> None:
        """Stop reading this connection until ``slow`` drains."""
        if not self._paused:
            self._paused = True
            self.transport.pause_reading()
        if slow._stalled is None:
            slow._stalled = [self]
        elif self not in slow._stalled:
            slow._stalled.append(self)

    def _unstall(self) -> None:
        if self._paused:
            self._paused = False
            self.transport.resume_reading()

    def _release(self) -> None:
        """Resume every connection stalled on this one, and a waiting send."""
        stalled, self._stalled = self._stalled, None
        for connection in stalled or ():
            connection._unstall()
        if self._drained is not None:
            if not self._drained.done():
                self._drained.set_result(None)
            self._drained = None

    # Reading.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the opening handshake's clock."""
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:
            self.address = str(peer[0])
        self._listener.attach(self)

    def data_received(self, data: bytes) -> None:
        """Feed bytes to websockets and act on every event they complete."""
        protocol = self.protocol
        protocol.receive_data(data)
        events = protocol.events_received()
        listener = self._listener
        listener.reading = self
        try:
            for event in events:
                if type(event) is Frame:
                    opcode = event.opcode
                    if opcode is _TEXT or opcode is _BINARY:
                        message = event.data
                        if not isinstance(message, bytes):
                            message = bytes(message)
                        if event.fin:
                            self._deliver(message)
                        else:
                            self._fragments = [message]
                    elif opcode is _CONT:
                        self._continue(event)
                    elif opcode is _PONG:
                        listener.keepalive.answered(self)
                elif isinstance(event, Request):
                    self._handshake(event)
        finally:
            listener.reading = None
            self._flush_written()
        if protocol.state is not _OPEN:
            self._wind_down()

    def _continue(self, frame: Frame) -> None:
        """Add a continuation frame; deliver the message once it is complete."""
        # websockets checks the order of fragments and their total size.
        fragments = self._fragments
        if fragments is None:
            return
        fragments.append(bytes(frame.data))
        if frame.fin:
            self._fragments = None
            self._deliver(b"".join(fragments))

    def _deliver(self, message: bytes) -> None:
        """Hand one message to the handler; a failure there closes only this one."""
        if self._ended:
            return
        try:
            self._handler.received(self, message)
        except Exception:
            logger.error("failed on a message from %s", self.address, exc_info=True)
            self.fail(_INTERNAL_ERROR, "internal error")

    def _handshake(self, request: Request) -> None:
        """Answer the opening handshake: a plain HTTP answer, a refusal or a 101."""
        protocol = self.protocol
        handler = self._handler
        response = handler.respond(request)
        if response is None:
            if self._listener.closing:
                response = protocol.reject(503, "the server is shutting down\n")
            else:
                response = protocol.accept(request)
        protocol.send_response(response)
        self._flush()
        if response.status_code == 101:
            self._opened = True
            self._listener.opened(self)
            handler.opened(self)
        elif protocol.handshake_exc is not None:
            handler.refused(self, request, response)
        # websockets' parser may keep the request for the connection's life;
        # its headers are a good part of what an idle connection costs, and
        # nothing reads them once the handshake is answered.
        request.headers.clear()

    def eof_received(self) -> bool | None:
        """Feed the end of the stream to websockets; the transport then closes."""
        self.protocol.receive_eof()
        self._flush()
        self._wind_down()
        return None

    # Closing.

    def begin_close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake with ``code`` and ``reason``; don't wait.

        A connection still in its opening handshake is refused (503) when its
        request comes, and cut after the close timeout in any case.
        """
        protocol = self.protocol
        if protocol.state is _OPEN:
            protocol.send_close(code, reason)
            self._flush()
            self._wind_down()
        elif protocol.state is _CONNECTING and self._closer is None:
            self._closer = asyncio.get_running_loop().call_later(
                self._listener.settings.close_timeout, self.transport.abort
            )

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with ``code`` and ``reason``; return once the socket is closed.

        That takes at most the close timeout. Cancelling the wait does not
        stop the closing.
        """
        self.begin_close(code, reason)
        await self.wait_closed()

    async def wait_closed(self) -> None:
        """Return once the socket is closed."""
        if self._lost_already():
            return
        if self._lost is None:
            self._lost = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._lost)

    def fail(self, code: int, reason: str) -> None:
        """Fail the connection: a close frame if it is open, and no more reading.

        A connection still in its opening handshake is cut.
        """
        protocol = self.protocol
        if protocol.state is _OPEN:
            protocol.fail(code, reason)
            self._flush()
            self._wind_down()
        elif protocol.state is _CONNECTING:
            self.transport.abort()

    def abort(self) -> None:
        """Cut the socket now, without a closing handshake."""
        self.transport.abort()

    def _wind_down(self) -> None:
        """Once no longer open: tell the handler, and bound the closing handshake."""
        if self._opened and not self._ended:
            self._ended = True
            self._listener.keepalive.forget(self)
            self._handler.closed(self)
        protocol = self.protocol
        if protocol.state is _CLOSED:
            self.transport.close()
        elif self._closer is None and protocol.close_expected():
            self._closer = asyncio.get_running_loop().call_later(
                self._listener.settings.close_timeout, self.transport.abort
            )

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection: tell the handler, release whoever waited on it."""
        self.protocol.receive_eof()  # idempotent; the state becomes CLOSED
        if self._closer is not None:
            self._closer.cancel()
            self._closer = None
        if self._opened and not self._ended:
            self._ended = True
            self._handler.closed(self)
        self._listener.detach(self)
        self.writable = True
        self._release()
        if self._lost is None:
            self._lost = asyncio.get_running_loop().create_future()
        if not self._lost.done():
            self._lost.set_result(None)

    def _lost_already(self) -> bool:
        return self._lost is not None and self._lost.done()

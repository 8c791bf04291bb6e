"""The load generator: clients in pairs, relaying stamped offers and answers.

Client ``2k`` sends offers to client ``2k+1``, which sends answers back, so
every client both sends and receives one stream. A receiver checks each
message of its stream for the right sender, loss, duplicates and order, and
records its latency from the send time stamped inside it. All clients live on
one asyncio loop in this process; every loop here is bounded by a count and a
deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .wire import Dialect, Received, sdp_template

__all__ = ["Clients", "Stream"]

# Connections opened at once while connecting; the servers' listen backlogs
# are larger than this.
CONNECT_CONCURRENCY = 50


@dataclass
class Stream:
    """The messages one client sends to its partner, as the partner saw them."""

    sender: str
    recipient: str
    before: str = ""
    after: str = ""
    sent: int = 0
    received: int = 0
    duplicated: int = 0
    reordered: int = 0
    highest: int = -1
    seen: set[int] = field(default_factory=set)
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    def frame(self, seq: int) -> str:
        """Return the frame carrying message ``seq``, stamped with the time now."""
        return f"{self.before}{seq} {time.perf_counter_ns()}{self.after}"

    def accept(self, seq: int) -> None:
        """Account for message ``seq`` arriving at the recipient."""
        if seq in self.seen:
            self.duplicated += 1
            return
        self.seen.add(seq)
        if seq < self.highest:
            self.reordered += 1
        else:
            self.highest = seq
        self.received += 1
        self.progress.set()

    @property
    def lost(self) -> int:
        """Messages sent and not (yet) received."""
        return self.sent - self.received


@dataclass
class Tally:
    """Frames that were not stamped messages of the expected stream."""

    broadcasts: int = 0
    misrouted: int = 0
    other: dict[str, int] = field(default_factory=dict)


class Clients:
    """``count`` clients of one server, connected in pairs.

    Args:
        dialect: How to talk to the server.
        port: The server's port on 127.0.0.1.
        count: Number of clients; even.
        prefix: Start of every client name, so warm-up clients differ.
    """

    def __init__(self, dialect: Dialect, port: int, count: int, prefix: str) -> None:
        if count % 2:
            raise ValueError(f"clients come in pairs; {count} is odd")
        self.dialect = dialect
        self.port = port
        self.names = [f"{prefix}{i:05d}" for i in range(count)]
        sdp = sdp_template()
        self.inbound: dict[str, Stream] = {}
        self.outbound: dict[str, Stream] = {}
        for i, name in enumerate(self.names):
            partner = self.names[i ^ 1]
            kind = "offer" if i % 2 == 0 else "answer"
            stream = Stream(name, partner)
            stream.before, stream.after = dialect.frame_parts(kind, partner, sdp)
            self.outbound[name] = stream
            self.inbound[partner] = stream
        self.sockets: dict[str, ClientConnection] = {}
        self.tally = Tally()
        # (send time, latency) of each message of the fixed-rate phase.
        self.latencies_ns: list[tuple[int, int]] = []
        self.recording = False
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    @property
    def frame_size(self) -> int:
        """Size in bytes of one stamped frame as a client sends it."""
        return len(next(iter(self.outbound.values())).frame(0).encode())

    async def connect(self, timeout: float) -> None:
        """Connect every client and finish each handshake.

        Raises:
            TimeoutError: If not all are connected within ``timeout`` seconds.
        """
        await self.dialect.probe(self.port)
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(name: str) -> None:
            async with gate:
                ws = await connect(
                    self.dialect.url(self.port, name),
                    compression=None,
                    proxy=None,
                    ping_interval=None,
                    max_queue=None,
                    open_timeout=timeout,
                )
                await self.dialect.open(ws, name)
                self.sockets[name] = ws
                self._tasks.append(asyncio.create_task(self._read(name, ws)))
                if self.dialect.heartbeat is not None:
                    self._tasks.append(asyncio.create_task(self._beat(ws)))

        async with asyncio.timeout(timeout):
            await asyncio.gather(*(one(name) for name in self.names))

    async def settle(self, timeout: float, quiet: float = 0.5) -> None:
        """Wait for the presence frames of all joins, then for ``quiet`` s of calm.

        Gives up silently at ``timeout``; the caller reads the tally.
        """
        expected = self.dialect.expected_broadcasts(len(self.names))
        deadline = time.monotonic() + timeout
        last, calm_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now_count = self.tally.broadcasts
            if now_count != last:
                last, calm_since = now_count, time.monotonic()
            elif now_count >= expected and time.monotonic() - calm_since >= quiet:
                return
            await asyncio.sleep(0.05)

    async def saturate(self, per_stream: int, window: int, timeout: float) -> None:
        """Send ``per_stream`` messages on every stream, as fast as they go.

        Each sender keeps at most ``window`` messages in flight, so the load is
        the most the server and this generator can carry, with bounded
        buffers. Returns when all arrived or at ``timeout``.
        """

        async def send(name: str) -> None:
            stream, ws = self.outbound[name], self.sockets[name]
            for _ in range(per_stream):
                while stream.sent - stream.received >= window:
                    stream.progress.clear()
                    await stream.progress.wait()
                await ws.send(stream.frame(stream.sent))
                stream.sent += 1
            while stream.received < stream.sent:
                stream.progress.clear()
                await stream.progress.wait()

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(send(name) for name in self.names))

    async def paced(self, rate: float, duration: float, timeout: float) -> None:
        """Send ``rate`` messages per second in all, round robin, for ``duration``.

        Latencies of the messages sent here are recorded. Returns when all
        arrived or ``timeout`` seconds after the start.
        """
        total = int(rate * duration)
        streams = [self.outbound[name] for name in self.names]
        self.recording = True
        start = time.monotonic()
        sent = 0
        while sent < total and time.monotonic() - start < timeout:
            due = min(total, int((time.monotonic() - start) * rate) + 1)
            while sent < due:
                stream = streams[sent % len(streams)]
                await self.sockets[stream.sender].send(stream.frame(stream.sent))
                stream.sent += 1
                sent += 1
            await asyncio.sleep(0.001)
        while time.monotonic() - start < timeout and self.lost():
            await asyncio.sleep(0.01)
        self.recording = False

    def lost(self) -> int:
        """Messages sent so far that have not arrived."""
        return sum(stream.lost for stream in self.outbound.values())

    def sent(self) -> int:
        """Messages sent so far."""
        return sum(stream.sent for stream in self.outbound.values())

    def delivered(self) -> int:
        """Messages received so far, duplicates not counted."""
        return sum(stream.received for stream in self.outbound.values())

    async def close(self) -> None:
        """Stop every task and drop every connection without a handshake."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for ws in self.sockets.values():
            ws.transport.abort()

    async def _read(self, name: str, ws: ClientConnection) -> None:
        stream = self.inbound[name]
        read = self.dialect.read
        with contextlib.suppress(ConnectionClosed):
            async for frame in ws:
                arrived = time.perf_counter_ns()
                try:
                    got = read(frame)
                except (ValueError, KeyError, IndexError, TypeError):
                    got = "unreadable"
                if isinstance(got, Received):
                    if got.sender != stream.sender:
                        self.tally.misrouted += 1
                        continue
                    stream.accept(got.seq)
                    if self.recording:
                        latency = arrived - got.sent_ns
                        self.latencies_ns.append((got.sent_ns, latency))
                elif got == "joined":
                    self.tally.broadcasts += 1
                else:
                    self.tally.other[got] = self.tally.other.get(got, 0) + 1
        if not self._stopping:
            self.tally.other["closed"] = self.tally.other.get("closed", 0) + 1

    async def _beat(self, ws: ClientConnection) -> None:
        interval = self.dialect.heartbeat
        assert interval is not None
        frame = self.dialect.heartbeat_frame()
        # A bound on beats, far above any run's length.
        for _ in range(10_000):
            await asyncio.sleep(interval)
            try:
                await ws.send(frame)
            except ConnectionClosed:
                return

"""Fixtures for the p2plab tests: key pairs, real signaling servers, a waiter."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from p2plab_server import Directory, SignalingServer
from websockets.asyncio.server import Server

from p2plab import Identity

#: Every wait on the network in these tests is bounded by this many seconds,
#: so a broken connection fails its test quickly instead of hanging the run.
TIMEOUT = 10.0

Until = Callable[..., Awaitable[None]]


@pytest.fixture(scope="session")
def alice_id() -> Identity:
    """Alice's key pair; 2048 bits, made once per run because keygen is slow."""
    return Identity.generate(2048)


@pytest.fixture(scope="session")
def bob_id() -> Identity:
    """Bob's key pair."""
    return Identity.generate(2048)


@pytest.fixture(scope="session")
def eve_id() -> Identity:
    """A third key pair, for the cases where the wrong key is used."""
    return Identity.generate(2048)


@dataclass
class RunningServer:
    """A signaling server listening on loopback.

    Attributes:
        relay: The relay object, to look at its directory and online users.
        url: Where clients connect.
        port: The port it picked.
    """

    relay: SignalingServer
    url: str
    port: int


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    """A signaling server on a free port of 127.0.0.1, closed at teardown."""
    relay = SignalingServer()
    async with relay.serve("127.0.0.1", 0) as ws_server:
        port = ws_server.sockets[0].getsockname()[1]
        yield RunningServer(relay, f"ws://127.0.0.1:{port}", port)


@dataclass
class RestartableServer:
    """A signaling server that a test stops and starts again on the same port.

    Its directory is a SQLite file, so names stay bound across restarts, as
    with ``p2plab-server --db``.

    Attributes:
        db: The directory's file.
        port: The port, picked at the first start and kept after.
        relay: The running relay, or None while stopped.
    """

    db: Path
    port: int = 0
    relay: SignalingServer | None = None
    _ws: Server | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Where clients connect."""
        return f"ws://127.0.0.1:{self.port}"

    async def start(self, directory: Directory | None = None) -> SignalingServer:
        """Start listening, with the file's directory unless another is given."""
        assert self._ws is None, "the server is already running"
        relay = SignalingServer(directory or Directory(self.db))
        self._ws = await relay.serve("127.0.0.1", self.port)
        self.port = self._ws.sockets[0].getsockname()[1]
        self.relay = relay
        return relay

    async def stop(self) -> None:
        """Close every connection (code 1001) and stop listening."""
        if self._ws is None or self.relay is None:
            return
        self._ws.close()
        await self._ws.wait_closed()
        self.relay.directory.close()
        self._ws = self.relay = None


@pytest.fixture
async def restartable(tmp_path: Path) -> AsyncIterator[RestartableServer]:
    """A running restartable server on 127.0.0.1, stopped at teardown."""
    server = RestartableServer(tmp_path / "server.sqlite3")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on, found by binding and closing."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def _until(
    predicate: Callable[[], object], timeout: float = TIMEOUT, what: str = ""
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
def until() -> Until:
    """Return ``until(predicate, timeout, what)``: poll until true, or fail."""
    return _until

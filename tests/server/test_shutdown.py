"""Tests for the graceful shutdown: every client is told, within a bound."""

from __future__ import annotations

import asyncio

from p2plab_server import Settings, SignalingServer, run
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server

from .clients import TIMEOUT, Key, join_request, receive, send, wait_until

REASON = "the server is shutting down"


async def joined(uri: str, key: Key, name: str) -> ClientConnection:
    """Open a connection to ``uri`` and join as ``name``; the caller closes it."""
    ws = await connect(uri, proxy=None, open_timeout=TIMEOUT, ping_interval=None)
    challenge = (await receive(ws))["challenge"]
    await send(ws, join_request(key, challenge, name))
    assert (await receive(ws))["type"] == "welcome"
    return ws


def uri_of(server: Server) -> str:
    """Return the ws:// address a server listens on."""
    return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def assert_told_and_closed(ws: ClientConnection) -> None:
    """Check that ``ws`` gets shutdown, then a close 1001 with the reason."""
    notice = await receive(ws)
    assert notice["type"] == "shutdown"
    assert "shutting down" in notice["message"]
    await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
    assert (ws.close_code, ws.close_reason) == (1001, REASON)


async def test_run_tells_every_client_and_returns_when_stopped(
    keys: tuple[Key, Key],
) -> None:
    """Stopping run() sends shutdown to joined and unjoined clients, then 1001."""
    listening: asyncio.Future[Server] = asyncio.get_running_loop().create_future()
    stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        run("127.0.0.1", 0, ready=listening.set_result, stop=stop)
    )
    uri = uri_of(await asyncio.wait_for(listening, TIMEOUT))
    alice = await joined(uri, keys[0], "alice")
    stranger = await connect(uri, proxy=None, open_timeout=TIMEOUT)
    assert (await receive(stranger))["type"] == "hello"

    stop.set_result(None)
    await assert_told_and_closed(alice)
    await assert_told_and_closed(stranger)
    await asyncio.wait_for(task, TIMEOUT)


async def test_held_messages_expire_before_the_shutdown_notice(
    keys: tuple[Key, Key],
) -> None:
    """A sender whose message is held hears expired, then shutdown, then 1001."""
    relay = SignalingServer(settings=Settings(hold=60.0))
    async with relay.serve("127.0.0.1", 0) as server:
        uri = uri_of(server)
        alice = await joined(uri, keys[0], "alice")
        bob = await joined(uri, keys[1], "bob")
        assert (await receive(alice))["type"] == "joined"
        await bob.close()
        assert (await receive(alice))["type"] == "left"
        await send(alice, {"type": "offer", "to": "bob", "sdp": "v=0", "id": 9})
        await wait_until(lambda: relay.held == 1, "the offer to be held")

        await relay.shutdown(server)
        notice = await receive(alice)
        assert (notice["type"], notice["to"], notice["id"]) == ("expired", "bob", 9)
        assert "the server shut down before bob came back" in notice["message"]
        await assert_told_and_closed(alice)
        assert relay.held == 0


async def test_shutdown_is_bounded_when_a_client_never_answers(
    keys: tuple[Key, Key],
) -> None:
    """A client that reads nothing cannot hold a shutdown past the close timeout."""
    settings = Settings(close_timeout=0.3)
    relay = SignalingServer(settings=settings)
    async with relay.serve("127.0.0.1", 0) as server:
        uri = uri_of(server)
        alice = await joined(uri, keys[0], "alice")
        asleep = await joined(uri, keys[1], "bob")
        assert (await receive(alice))["type"] == "joined"
        asleep.transport.pause_reading()
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await relay.shutdown(server)
            assert loop.time() - started <= settings.close_timeout + 1.0
            await assert_told_and_closed(alice)
            assert relay.users == 0
        finally:
            asleep.transport.abort()


async def test_new_connections_are_refused_once_shutting_down(
    keys: tuple[Key, Key],
) -> None:
    """After shutdown, the port no longer accepts connections."""
    relay = SignalingServer()
    async with relay.serve("127.0.0.1", 0) as server:
        uri = uri_of(server)
        await relay.shutdown(server)
        await relay.shutdown(server)  # a second call does nothing
        try:
            ws = await connect(uri, proxy=None, open_timeout=TIMEOUT)
        except OSError:
            return
        await assert_told_and_closed(ws)

"""Tests for the connection layer: fragments, flow control, handshakes, failures."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
from typing import Any

import pytest
from p2plab_server import Settings, SignalingServer
from p2plab_server.listener import Listener
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .clients import TIMEOUT, Key, Lab, join_request, receive, send, wait_until
from .conftest import MakeLab

# Offers this large fill socket buffers quickly: 60 KB of SDP each.
BIG_SDP = "v=0 " + "x" * 60_000

# asyncio reads at most this much from a socket at once; one read's worth of
# frames is what a sender may get ahead of a recipient that stopped reading.
READ_SIZE = 256 * 1024


def listener_of(lab: Lab) -> Listener:
    """Return the listener of a lab's server."""
    assert lab.listener is not None
    return lab.listener


def buffered_for(lab: Lab, name: str) -> int:
    """Return the bytes the server holds, unsent, for the connection of ``name``."""
    return lab.server.online[name].transport.get_write_buffer_size()


async def next_of_type(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """Return the next message of type ``kind`` on ``ws``, skipping others."""
    while True:
        message = await receive(ws)
        if message["type"] == kind:
            return message


async def test_a_fragmented_message_is_served_as_one(lab: Lab) -> None:
    """An offer sent in three fragments reaches its recipient whole."""
    bob = await lab.join("bob")
    alice = await lab.join("alice")
    frame = json.dumps({"type": "offer", "to": "bob", "sdp": "v=0 in pieces"})
    await alice.send([frame[:5], frame[5:20], frame[20:]])
    assert await receive(bob) == {
        "type": "offer",
        "sdp": "v=0 in pieces",
        "from": "alice",
    }


async def test_a_sender_waits_while_its_recipient_does_not_read(
    make_lab: MakeLab,
) -> None:
    """Bob stops reading: alice is held back, nothing piles up, nothing is lost."""
    lab = await make_lab(Settings(rate=0))
    bob = await lab.join("bob")
    alice = await lab.join("alice")
    bob.transport.pause_reading()
    total = 400  # 24 MB, more than the sockets' buffers hold

    async def flood() -> None:
        for seq in range(total):
            await send(alice, {"type": "offer", "to": "bob", "sdp": f"{seq} {BIG_SDP}"})

    sender = asyncio.create_task(flood())
    await wait_until(lambda: not lab.server.online["bob"].writable, "bob's buffer")

    # While bob reads nothing, the server holds at most one read of alice's
    # frames beyond its high-water mark for him, however long alice goes on.
    largest = 0
    for _ in range(20):
        largest = max(largest, buffered_for(lab, "bob"))
        await asyncio.sleep(0.01)
    assert largest <= 2 * READ_SIZE
    assert not sender.done()

    bob.transport.resume_reading()
    for seq in range(total):
        message = await receive(bob)
        assert message["sdp"].split(" ", 1)[0] == str(seq)
    await asyncio.wait_for(sender, TIMEOUT)


async def test_a_recipient_that_never_reads_is_cut_off(
    make_lab: MakeLab, caplog: pytest.LogCaptureFixture
) -> None:
    """Past the backlog, a connection that does not read is cut; alice is told."""
    caplog.set_level(logging.INFO, logger="p2plab_server")
    lab = await make_lab(Settings(rate=0, hold=0))
    # Below asyncio's high-water mark (64 KiB): bob is cut the first time his
    # buffer goes over the mark, before alice would be held back.
    listener_of(lab).backlog = 16 * 1024
    await lab.join("carol")
    bob = await lab.join("bob")
    alice = await lab.join("alice")
    bob.transport.pause_reading()
    flooding = True

    async def flood() -> None:
        while flooding:
            await send(alice, {"type": "offer", "to": "bob", "sdp": BIG_SDP})

    sender = asyncio.create_task(flood())
    try:
        assert (await next_of_type(alice, "left"))["name"] == "bob"
    finally:
        flooding = False
        await asyncio.wait_for(sender, TIMEOUT)
    cut = [r.getMessage() for r in caplog.records if "does not read" in r.getMessage()]
    assert cut and cut[0].startswith("cutting a connection from 127.0.0.1")
    assert set(lab.server.online) == {"alice", "carol"}

    # Bob reads what had reached him, then finds his connection cut; alice's
    # offers sent after he left were refused, one error each.
    bob.transport.resume_reading()
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(bob.recv(), TIMEOUT)
    assert bob.close_code == 1006
    with contextlib.suppress(TimeoutError):
        while True:
            reply = await asyncio.wait_for(alice.recv(), 0.2)
            assert json.loads(reply)["code"] == "unknown-peer"


async def test_a_handshake_that_never_comes_is_cut(lab: Lab) -> None:
    """A TCP connection that sends no request is closed after the open timeout."""
    listener_of(lab).open_timeout = 0.2
    port = int(lab.uri.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
    finally:
        writer.close()
    await wait_until(lambda: not listener_of(lab).connections, "the server to forget")


async def test_a_handshake_while_closing_is_refused_with_503(lab: Lab) -> None:
    """A connection accepted before the server closed, handshaking after, gets 503."""
    port = int(lab.uri.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await wait_until(lambda: bool(listener_of(lab).connections), "the accept")
        listener_of(lab).close()
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        status = await asyncio.wait_for(reader.readline(), TIMEOUT)
        assert status.split()[1] == b"503"
    finally:
        writer.close()


async def test_connections_run_no_task(lab: Lab) -> None:
    """Twenty connections add no asyncio task on the server's side."""
    before = len(asyncio.all_tasks())
    for _ in range(20):
        await lab.connect()
    assert len(asyncio.all_tasks()) == before
    assert len(listener_of(lab).keepalive) == 20


async def test_a_failure_on_a_message_closes_only_that_connection(
    keys: tuple[Key, Key], caplog: pytest.LogCaptureFixture
) -> None:
    """A bug met on one message is logged and closes that connection with 1011."""
    relay = SignalingServer(observer=_boom)
    async with relay.serve("127.0.0.1", 0) as listener:
        uri = f"ws://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
        async with (
            connect(uri, proxy=None, open_timeout=TIMEOUT) as alice,
            connect(uri, proxy=None, open_timeout=TIMEOUT) as bob,
        ):
            for ws, name, key in ((alice, "alice", keys[0]), (bob, "bob", keys[1])):
                challenge = (await receive(ws))["challenge"]
                await send(ws, join_request(key, challenge, name))
                assert (await receive(ws))["type"] == "welcome"
            assert (await receive(alice))["type"] == "joined"

            await send(alice, {"type": "offer", "to": "bob", "sdp": "boom"})
            await asyncio.wait_for(alice.wait_closed(), TIMEOUT)
            assert (alice.close_code, alice.close_reason) == (1011, "internal error")
            assert await receive(bob) == {"type": "left", "name": "alice"}
            await send(bob, {"type": "health", "id": 1})
            assert (await receive(bob))["id"] == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == ["failed on a message from 127.0.0.1"]
    assert "a bug in the server" in str(errors[0].exc_info)


def _boom(connection: int, direction: str, frame: str | bytes) -> None:
    """An observer with a bug: it fails on any frame read that says boom."""
    if direction == "<" and isinstance(frame, bytes) and b"boom" in frame:
        raise RuntimeError("a bug in the server")

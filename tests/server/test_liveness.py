"""Tests for liveness: keepalive pings, silent drops and abrupt drops mid-relay."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from p2plab_server import Settings
from websockets.asyncio.client import ClientConnection

from .clients import TIMEOUT, receive, send
from .conftest import MakeLab

# Short keepalive settings: a silent drop is announced within 0.6 s.
QUICK = Settings(ping_interval=0.2, ping_timeout=0.2, close_timeout=0.2, hold=0.3)

# Scheduling on a busy two-core machine, on top of the stated bound.
SLACK = 0.5


async def next_of_type(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """Return the next message of type ``kind`` on ``ws``, skipping others."""
    while True:
        message = await receive(ws)
        if message["type"] == kind:
            return message


async def test_a_silent_drop_is_announced_within_the_ping_bound(
    make_lab: MakeLab,
) -> None:
    """A client that stops answering is announced as left within the drop bound."""
    lab = await make_lab(QUICK)
    bob = await lab.join("bob")
    alice = await lab.join("alice")

    # Alice's laptop goes to sleep: her socket stays open, nothing is read or
    # answered, and no close frame or reset reaches the server.
    loop = asyncio.get_running_loop()
    alice.transport.pause_reading()
    dropped = loop.time()
    assert await receive(bob) == {"type": "left", "name": "alice"}
    assert loop.time() - dropped <= QUICK.drop_bound + SLACK
    assert "alice" not in lab.server.online

    # When she wakes up, the server's close frame says why.
    alice.transport.resume_reading()
    await asyncio.wait_for(alice.wait_closed(), TIMEOUT)
    assert (alice.close_code, alice.close_reason) == (1011, "keepalive ping timeout")


async def test_silent_drops_do_not_hold_up_each_other(
    make_lab: MakeLab,
) -> None:
    """Two clients stop answering at once: both are announced within the bound."""
    lab = await make_lab(QUICK)
    bob = await lab.join("bob")
    alice = await lab.join("alice", lab.keys[1])
    carol = await lab.join("carol", lab.keys[0])

    # Alice and carol go silent together; bob keeps answering. The shared
    # keepalive must find both without waiting on either.
    loop = asyncio.get_running_loop()
    alice.transport.pause_reading()
    carol.transport.pause_reading()
    dropped = loop.time()
    gone = {(await next_of_type(bob, "left"))["name"] for _ in range(2)}
    assert gone == {"alice", "carol"}
    assert loop.time() - dropped <= QUICK.drop_bound + SLACK
    assert set(lab.server.online) == {"bob"}

    # Awake again, each finds the keepalive's close frame.
    for ws in (alice, carol):
        ws.transport.resume_reading()
        await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
        assert (ws.close_code, ws.close_reason) == (1011, "keepalive ping timeout")


async def test_a_client_that_answers_pings_is_never_dropped(
    make_lab: MakeLab,
) -> None:
    """Idle for five ping intervals, a live client stays online and reachable."""
    lab = await make_lab(QUICK)
    bob = await lab.join("bob")
    alice = await lab.join("alice")
    await asyncio.sleep(5 * QUICK.ping_interval)
    assert set(lab.server.online) == {"alice", "bob"}
    await send(alice, {"type": "offer", "to": "bob", "sdp": "v=0"})
    assert await receive(bob) == {"type": "offer", "sdp": "v=0", "from": "alice"}


async def test_a_connection_cut_mid_relay_is_announced_and_the_sender_told(
    make_lab: MakeLab,
) -> None:
    """Bob's socket is aborted while alice streams offers: left, then expired."""
    lab = await make_lab(QUICK)
    alice = await lab.join("alice")
    bob = await lab.join("bob", lab.keys[1])
    sent: list[int] = []
    after_left: list[int] = []
    left = asyncio.Event()

    async def stream() -> None:
        # Paced under the rate limit; ten more offers once bob is gone.
        for seq in range(200):
            if len(after_left) == 10:
                return
            await send(alice, {"type": "offer", "to": "bob", "sdp": "v=0", "id": seq})
            sent.append(seq)
            if left.is_set():
                after_left.append(seq)
            await asyncio.sleep(0.025)

    async def watch() -> list[dict[str, Any]]:
        # Alice's side: bob left, then one expired notice per undelivered offer.
        assert (await next_of_type(alice, "left"))["name"] == "bob"
        left.set()
        notices = []
        while len(notices) < 10 or notices[-1]["id"] < after_left[-1]:
            notices.append(await next_of_type(alice, "expired"))
        return notices

    watcher = asyncio.create_task(watch())
    sender = asyncio.create_task(stream())
    delivered = [(await receive(bob))["type"] for _ in range(5)]
    assert delivered == ["offer"] * 5
    bob.transport.abort()  # no close frame: the socket is simply gone
    notices = await asyncio.wait_for(watcher, TIMEOUT)
    await asyncio.wait_for(sender, TIMEOUT)

    expired = [notice["id"] for notice in notices]
    assert all(
        (n["to"], n["ref"]) == ("bob", "offer") and "did not come back" in n["message"]
        for n in notices
    )
    # Every offer sent after alice heard that bob left expired, in order, and
    # no offer expired twice or was both delivered and expired.
    assert set(after_left) <= set(expired)
    assert expired == sorted(set(expired))
    assert min(expired) >= 5
    assert lab.server.held == 0


async def test_a_user_who_drops_and_returns_in_time_gets_what_was_held(
    make_lab: MakeLab,
) -> None:
    """After an abort, bob rejoins within the hold time and gets the held offer."""
    lab = await make_lab(Settings(hold=5.0))
    alice = await lab.join("alice")
    bob = await lab.join("bob", lab.keys[1])
    bob.transport.abort()
    assert (await next_of_type(alice, "left"))["name"] == "bob"
    await send(alice, {"type": "offer", "to": "bob", "sdp": "v=0 while away"})
    await asyncio.sleep(0.05)

    bob = await lab.connect()
    await send(bob, lab.join_request(bob, "bob", lab.keys[1]))
    assert (await receive(bob))["type"] == "welcome"
    assert await receive(bob) == {
        "type": "offer",
        "sdp": "v=0 while away",
        "from": "alice",
    }
    with contextlib.suppress(TimeoutError):
        late = await asyncio.wait_for(next_of_type(alice, "expired"), 0.2)
        raise AssertionError(f"alice was told of an expiry: {late!r}")

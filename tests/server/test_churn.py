"""Churn: a thousand users join and leave while two others keep relaying.

The server runs in this process, so :mod:`tracemalloc` sees every allocation
it makes. A warm-up binds every churning name and fills the interpreter's
free lists (memory that Python keeps for reuse, and that tracemalloc counts
as held); then the traced memory is the baseline. A thousand connect, join
and leave cycles run, ten at a time, and the traced memory must come back to
within :data:`TOLERANCE` of the baseline. Meanwhile alice streams offers to
bob, and each of them must see every churner join and leave.
"""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc
from typing import Any

from p2plab_server import SignalingServer
from websockets.asyncio.client import ClientConnection, connect

from .clients import TIMEOUT, Key, join_request, receive, send, wait_until

CYCLES = 1000
AT_ONCE = 10
WARM_UP = 300

# Fifty names take turns; each is always joined with the same key.
NAMES = 50

# Growth allowed after the churn, in bytes: keeping 100 bytes a cycle would
# exceed it (a closed connection is some 16 KB, its challenge alone 93). What
# is left without a leak is bounded bookkeeping that comes and goes: free
# lists topping up, cancelled keepalive timers that asyncio purges by the
# hundred, SQLite's list of recent cursors. Together 25-40 KB on the machine
# this was written on, 60 KB at most.
TOLERANCE = 96 * 1024

# The whole test, churn and checks, must end within this many seconds.
BUDGET = 90.0


class Stable:
    """A user who stays through the churn and counts what the server sends it."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.offers = 0
        self.out_of_order = 0
        self.joined = 0
        self.left = 0

    async def read(self) -> None:
        """Count notices and offers until the connection closes.

        Only counters are kept, so that what this user receives does not
        count as memory the server holds.
        """
        async for frame in self.ws:
            message = _loads(frame)
            if message["type"] == "offer":
                self.out_of_order += int(message["sdp"]) != self.offers
                self.offers += 1
            elif message["type"] == "joined":
                self.joined += 1
            elif message["type"] == "left":
                self.left += 1


def _loads(frame: str | bytes) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(frame)
    return message


async def open_joined(uri: str, key: Key, name: str) -> ClientConnection:
    """Connect to ``uri`` and join as ``name``; the caller closes the connection."""
    ws = await connect(uri, proxy=None, open_timeout=TIMEOUT, ping_interval=None)
    challenge = (await receive(ws))["challenge"]
    await send(ws, join_request(key, challenge, name))
    assert (await receive(ws))["type"] == "welcome"
    return ws


async def churn(uri: str, key_pool: list[Key], cycles: int) -> None:
    """Run ``cycles`` connect-join-leave cycles, AT_ONCE at a time."""
    for start in range(0, cycles, AT_ONCE):
        batch = range(start, min(cycles, start + AT_ONCE))
        connections = await asyncio.gather(
            *(
                open_joined(uri, key_pool[i % NAMES % len(key_pool)], f"c{i % NAMES}")
                for i in batch
            )
        )
        await asyncio.gather(*(ws.close() for ws in connections))


async def test_a_thousand_cycles_leak_nothing_and_lose_no_relay(
    keys: tuple[Key, Key], key_pool: list[Key]
) -> None:
    """Memory returns to baseline within 96 KiB; bob gets every offer, in order."""
    relay = SignalingServer()
    async with asyncio.timeout(BUDGET), relay.serve("127.0.0.1", 0) as server:
        uri = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        alice = Stable(await open_joined(uri, keys[0], "alice"))
        bob = Stable(await open_joined(uri, keys[1], "bob"))
        readers = [asyncio.create_task(user.read()) for user in (alice, bob)]
        tracemalloc.start()
        try:
            await churn(uri, key_pool, WARM_UP)
            await wait_until(lambda: relay.users == 2, "the warm-up to end")
            gc.collect()
            baseline = tracemalloc.get_traced_memory()[0]

            streaming = asyncio.Event()
            streaming.set()
            sent = 0

            async def stream() -> None:
                # Under the default rate limit of 50 a second.
                nonlocal sent
                while streaming.is_set():
                    await send(
                        alice.ws, {"type": "offer", "to": "bob", "sdp": f"{sent}"}
                    )
                    sent += 1
                    await asyncio.sleep(0.025)

            streamer = asyncio.create_task(stream())
            await churn(uri, key_pool, CYCLES)
            streaming.clear()
            await streamer
            await wait_until(lambda: bob.offers == sent, "every offer")
            total = WARM_UP + CYCLES
            for user in (alice, bob):
                await wait_until(lambda u=user: u.left == total, "every left")
            gc.collect()
            growth = tracemalloc.get_traced_memory()[0] - baseline
        finally:
            tracemalloc.stop()

        assert (bob.offers, bob.out_of_order) == (sent, 0) and sent > 10
        assert (alice.joined, bob.joined) == (total + 1, total)
        assert relay.users == 2 and relay.held == 0
        assert growth < TOLERANCE, f"{growth} bytes still held after the churn"
        for user in (alice, bob):
            await user.ws.close()
        await asyncio.gather(*readers)

"""Tests for messages held for a user who is briefly offline, and their expiry."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest
from p2plab_server import Settings
from websockets.asyncio.client import ClientConnection

from .clients import TIMEOUT, Lab, receive, send, wait_until
from .conftest import MakeLab

# Held messages wait this long in these tests: long enough for a rejoin on
# loopback, short enough to watch them expire.
HOLD = 0.4


def offer(to: str, seq: int, **extra: Any) -> dict[str, Any]:
    """Return offer number ``seq`` to ``to``."""
    return {"type": "offer", "to": to, "sdp": f"v=0 seq {seq}", **extra}


async def went_away(lab: Lab, watcher: ClientConnection, ws: ClientConnection) -> None:
    """Close ``ws`` and wait until ``watcher`` is told it left."""
    await ws.close()
    assert (await receive(watcher))["type"] == "left"


async def assert_silent(ws: ClientConnection, seconds: float) -> None:
    """Check that nothing arrives on ``ws`` for ``seconds``."""
    with contextlib.suppress(TimeoutError):
        frame = await asyncio.wait_for(ws.recv(), seconds)
        pytest.fail(f"unexpected frame: {frame!r}")


async def test_held_messages_follow_the_welcome_in_order(make_lab: MakeLab) -> None:
    """Offers sent while bob is away reach him, in order, right after his welcome."""
    lab = await make_lab(Settings(hold=5.0))
    alice = await lab.join("alice")
    await went_away(lab, alice, await lab.join("bob", lab.keys[1]))
    for seq in range(3):
        await send(alice, offer("bob", seq))
    await wait_until(lambda: lab.server.held == 3, "three held offers")

    bob = await lab.connect()
    await send(bob, lab.join_request(bob, "bob", lab.keys[1]))
    assert (await receive(bob))["type"] == "welcome"
    for seq in range(3):
        assert await receive(bob) == {
            "type": "offer",
            "sdp": f"v=0 seq {seq}",
            "from": "alice",
        }
    assert lab.server.held == 0
    assert (await receive(alice))["type"] == "joined"
    await assert_silent(alice, HOLD + 0.2)


async def test_held_and_live_messages_arrive_in_the_order_sent(
    make_lab: MakeLab,
) -> None:
    """Bob drops out and back while alice streams offers: he gets all, in order."""
    lab = await make_lab(Settings(hold=5.0, rate=0, queue=1000))
    alice = await lab.join("alice")
    bob = await lab.join("bob", lab.keys[1])
    total = 300
    received: list[int] = []

    async def stream() -> None:
        for seq in range(total):
            await send(alice, offer("bob", seq))
            await asyncio.sleep(0.001 if seq % 10 else 0.005)

    async def collect(ws: ClientConnection, until: int) -> None:
        while len(received) < until:
            message = await receive(ws)
            if message["type"] == "offer":
                received.append(int(message["sdp"].split()[-1]))

    sender = asyncio.create_task(stream())
    await collect(bob, 50)
    await bob.close()
    # Alice goes on streaming while bob is away; he comes back mid-stream.
    await asyncio.sleep(0.05)
    bob = await lab.connect()
    await send(bob, lab.join_request(bob, "bob", lab.keys[1]))
    await asyncio.wait_for(collect(bob, total), TIMEOUT)
    await sender
    assert received == list(range(total))


async def test_a_message_that_waits_too_long_expires_with_a_notice(
    make_lab: MakeLab,
) -> None:
    """After the hold time the sender gets expired with the recipient, type and id."""
    lab = await make_lab(Settings(hold=HOLD))
    alice = await lab.join("alice")
    await went_away(lab, alice, await lab.join("bob", lab.keys[1]))
    loop = asyncio.get_running_loop()
    sent = loop.time()
    await send(alice, offer("bob", 1, id=41))
    await send(alice, {"type": "bye", "to": "bob"})

    notice = await receive(alice)
    assert loop.time() - sent >= HOLD
    assert notice == {
        "type": "expired",
        "to": "bob",
        "ref": "offer",
        "message": f"bob did not come back within {HOLD:g} s; the offer was not "
        "delivered",
        "id": 41,
    }
    second = await receive(alice)
    assert (second["type"], second["ref"], "id" in second) == ("expired", "bye", False)
    assert lab.server.held == 0


async def test_expiry_is_logged_at_info_without_payloads(
    make_lab: MakeLab, caplog: pytest.LogCaptureFixture
) -> None:
    """Holding nothing secret: the expiry is one INFO line, with no SDP in it."""
    caplog.set_level(logging.INFO, logger="p2plab_server")
    lab = await make_lab(Settings(hold=HOLD))
    alice = await lab.join("alice")
    await went_away(lab, alice, await lab.join("bob", lab.keys[1]))
    await send(alice, offer("bob", 7))
    await receive(alice)
    lines = [r.getMessage() for r in caplog.records if "expired" in r.getMessage()]
    assert lines == [f"1 message(s) for bob in lab expired: bob did not come back "
                     f"within {HOLD:g} s"]  # fmt: skip
    assert "seq 7" not in caplog.text


async def test_the_expiry_notice_reaches_the_senders_new_connection(
    make_lab: MakeLab,
) -> None:
    """A sender who rejoined since sending is told on the connection it has now."""
    lab = await make_lab(Settings(hold=HOLD))
    carol = await lab.join("carol")
    alice = await lab.join("alice")
    await went_away(lab, carol, await lab.join("bob", lab.keys[1]))
    await send(alice, offer("bob", 1, id="a1"))
    alice_again = await lab.join("alice")
    notice = await receive(alice_again)
    assert (notice["type"], notice["id"]) == ("expired", "a1")


async def test_a_held_message_whose_sender_left_expires_quietly(
    make_lab: MakeLab,
) -> None:
    """With its sender gone too, a held message expires and is forgotten."""
    lab = await make_lab(Settings(hold=HOLD))
    carol = await lab.join("carol")
    alice = await lab.join("alice")
    await went_away(lab, carol, await lab.join("bob", lab.keys[1]))
    await send(alice, offer("bob", 1))
    await went_away(lab, carol, alice)
    await wait_until(lambda: lab.server.held == 0, "the offer to expire")
    await assert_silent(carol, 0.1)


async def test_a_relay_to_a_name_never_bound_is_unknown_peer_at_once(
    lab: Lab,
) -> None:
    """A name no one joined with is refused at once, and nothing is held."""
    alice = await lab.join("alice")
    await send(alice, offer("zoe", 1, id=3))
    reply = await receive(alice)
    assert (reply["code"], reply["ref"], reply["id"]) == ("unknown-peer", "offer", 3)
    assert "no user called 'zoe' has joined room 'lab'" in reply["message"]
    assert lab.server.held == 0


async def test_a_name_bound_in_another_room_only_is_unknown_peer(lab: Lab) -> None:
    """Bob bound in room two, then offline, is unknown to alice in room one."""
    bob = await lab.join("bob", room="two")
    await bob.close()
    alice = await lab.join("alice", room="one")
    await send(alice, offer("bob", 1))
    assert (await receive(alice))["code"] == "unknown-peer"
    assert lab.server.held == 0


async def test_a_hold_of_zero_refuses_relays_to_offline_users(
    make_lab: MakeLab,
) -> None:
    """With --hold 0 an offline recipient is unknown-peer: "not connected"."""
    lab = await make_lab(Settings(hold=0))
    alice = await lab.join("alice")
    await went_away(lab, alice, await lab.join("bob", lab.keys[1]))
    await send(alice, offer("bob", 1))
    reply = await receive(alice)
    assert reply["code"] == "unknown-peer"
    assert "'bob' is not connected in room 'lab'" in reply["message"]
    assert lab.server.held == 0


async def test_a_full_queue_refuses_more_with_queue_full(
    make_lab: MakeLab, caplog: pytest.LogCaptureFixture
) -> None:
    """Past --queue messages for one user, the rest get queue-full; one INFO line."""
    caplog.set_level(logging.INFO, logger="p2plab_server")
    lab = await make_lab(Settings(hold=5.0, queue=3))
    alice = await lab.join("alice")
    await went_away(lab, alice, await lab.join("bob", lab.keys[1]))
    for seq in range(6):
        await send(alice, offer("bob", seq, id=seq))
    refusals = [await receive(alice) for _ in range(3)]
    assert [(r["code"], r["ref"], r["id"]) for r in refusals] == [
        ("queue-full", "offer", seq) for seq in (3, 4, 5)
    ]
    assert "already has 3 messages waiting" in refusals[0]["message"]
    assert lab.server.held == 3
    full = [r for r in caplog.records if r.getMessage().startswith("queue full")]
    assert [r.getMessage() for r in full] == [
        "queue full: bob in lab has 3 messages waiting; refusing more"
    ]

    # The three held ones are still delivered.
    bob = await lab.join("bob", lab.keys[1])
    assert [(await receive(bob))["sdp"] for _ in range(3)] == [
        f"v=0 seq {seq}" for seq in range(3)
    ]


async def test_held_expired_and_refused_messages_never_reach_the_log(
    make_lab: MakeLab, caplog: pytest.LogCaptureFixture
) -> None:
    """At DEBUG, holding, expiring and refusing an offer log no SDP and no key."""
    caplog.set_level(logging.DEBUG)
    lab = await make_lab(Settings(hold=HOLD, queue=1, rate=1, burst=3))
    alice = await lab.join("alice")
    await went_away(lab, alice, await lab.join("bob", lab.keys[1]))
    for seq in range(2):
        await send(alice, offer("bob", seq))
    assert (await receive(alice))["code"] == "queue-full"
    await send(alice, offer("bob", 2))
    assert (await receive(alice))["code"] == "rate-limited"
    assert (await receive(alice))["type"] == "expired"

    records = [r for r in caplog.records if r.name.startswith("p2plab_server")]
    assert any(r.levelno == logging.DEBUG for r in records)
    logged = "\n".join(r.getMessage() for r in records)
    for secret in ("v=0 seq", *(key.public for key in lab.keys)):
        assert secret not in logged

"""Tests for the server's limits: frame size, rate, users per room and server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import pytest
from p2plab_server import Settings
from websockets.exceptions import ConnectionClosed

from .clients import TIMEOUT, Lab, receive, send, wait_until
from .conftest import MakeLab


def info_lines(caplog: pytest.LogCaptureFixture, start: str) -> list[str]:
    """Return the server's INFO lines that start with ``start``."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "p2plab_server.relay"
        and record.levelno == logging.INFO
        and record.getMessage().startswith(start)
    ]


# Frame size.


async def test_the_frame_limit_can_be_set(make_lab: MakeLab) -> None:
    """With a 2 KiB limit, a 3 KiB frame is too-large and the connection goes on."""
    lab = await make_lab(Settings(max_frame=2048))
    alice = await lab.join("alice")
    bob = await lab.join("bob")
    await send(alice, {"type": "offer", "to": "bob", "sdp": "x" * 3000})
    reply = await receive(alice)
    assert reply["code"] == "too-large"
    assert "the limit is 2048 bytes" in reply["message"]
    await send(alice, {"type": "offer", "to": "bob", "sdp": "x" * 1900})
    assert (await receive(bob))["from"] == "alice"


async def test_a_frame_over_16_times_the_set_limit_closes_with_1009(
    make_lab: MakeLab,
) -> None:
    """With a 2 KiB limit, a 33 KiB frame closes its connection with 1009."""
    lab = await make_lab(Settings(max_frame=2048))
    alice = await lab.join("alice")
    with contextlib.suppress(ConnectionClosed):
        await alice.send("x" * (16 * 2048 + 1))
    await asyncio.wait_for(alice.wait_closed(), TIMEOUT)
    assert alice.close_code == 1009
    assert alice.close_reason


# Rate.


async def test_frames_over_the_rate_are_refused_and_the_connection_goes_on(
    make_lab: MakeLab, caplog: pytest.LogCaptureFixture
) -> None:
    """Past the burst, frames get rate-limited with their id; later ones pass."""
    caplog.set_level(logging.INFO, logger="p2plab_server")
    lab = await make_lab(Settings(rate=20, burst=5))
    alice = await lab.connect()
    for n in range(8):
        await send(alice, {"type": "health", "id": n})
    replies = [await receive(alice) for _ in range(8)]
    assert [r["type"] for r in replies] == ["health"] * 5 + ["error"] * 3
    refused = replies[5:]
    assert [(r["code"], r["ref"], r["id"]) for r in refused] == [
        ("rate-limited", "health", n) for n in (5, 6, 7)
    ]
    assert "more than 20 messages a second (burst 5)" in refused[0]["message"]
    assert info_lines(caplog, "rate limit") == [
        "rate limit: refusing frames from a connection from 127.0.0.1 "
        "(over 20 a second, burst 5)"
    ]

    # A moment later the same connection is served again, join included.
    await asyncio.sleep(0.2)
    await lab.join("alice", ws=alice)


async def test_a_refused_malformed_frame_is_rate_limited_without_a_ref(
    make_lab: MakeLab,
) -> None:
    """Every frame counts; a refused one that cannot be read gets no ref or id."""
    lab = await make_lab(Settings(rate=1, burst=1))
    alice = await lab.connect()
    await alice.send("not json")
    assert (await receive(alice))["code"] == "bad-json"
    await alice.send("not json either")
    reply = await receive(alice)
    assert reply["code"] == "rate-limited"
    assert "ref" not in reply and "id" not in reply


async def test_one_flooding_client_does_not_slow_another(make_lab: MakeLab) -> None:
    """While mallory floods, alice and bob keep relaying and are never refused."""
    lab = await make_lab(Settings(rate=50, burst=30))
    alice = await lab.join("alice")
    bob = await lab.join("bob")
    mallory = await lab.join("mallory")
    flood = json.dumps({"type": "lookup", "name": "alice"})
    for _ in range(200):
        await mallory.send(flood)
    for n in range(20):
        await send(alice, {"type": "offer", "to": "bob", "sdp": f"v=0 {n}"})
        assert (await receive(bob))["sdp"] == f"v=0 {n}"
    replies = [json.loads(await mallory.recv()) for _ in range(200)]
    assert sum(r.get("code") == "rate-limited" for r in replies) >= 140


async def test_a_rate_of_zero_means_no_limit(make_lab: MakeLab) -> None:
    """With --rate 0 a thousand frames at once are all served."""
    lab = await make_lab(Settings(rate=0))
    alice = await lab.connect()
    frame = json.dumps({"type": "health"})
    for _ in range(1000):
        await alice.send(frame)
    replies = [await receive(alice) for _ in range(1000)]
    assert {r["type"] for r in replies} == {"health"}


# Users per room and per server.


async def test_a_full_room_refuses_a_newcomer_with_room_full(
    make_lab: MakeLab, caplog: pytest.LogCaptureFixture
) -> None:
    """With two users a room, a third is refused there but welcome elsewhere."""
    caplog.set_level(logging.INFO, logger="p2plab_server")
    lab = await make_lab(Settings(room_users=2))
    await lab.join("alice")
    await lab.join("bob")
    carol = await lab.connect()
    await send(carol, {**lab.join_request(carol, "carol"), "id": 1})
    reply = await receive(carol)
    assert (reply["code"], reply["ref"], reply["id"]) == ("room-full", "join", 1)
    assert "--room-users" in reply["message"]
    assert info_lines(caplog, "refused join") == [
        "refused join as carol in lab: room-full"
    ]
    assert lab.server.directory.get("lab", "carol") is None
    await lab.join("carol", ws=carol, room="other")


async def test_a_comeback_to_a_full_room_is_not_refused(lab: Lab) -> None:
    """A user who rejoins under its online name takes no new place."""
    await lab.join("alice")
    await lab.join("bob")
    lab.server.settings = Settings(room_users=2, server_users=2)
    await lab.join("alice")
    assert lab.server.users == 2


async def test_a_full_server_refuses_a_newcomer_with_server_full(
    make_lab: MakeLab, caplog: pytest.LogCaptureFixture
) -> None:
    """With two users on the server, a third is refused in any room until one leaves."""
    caplog.set_level(logging.INFO, logger="p2plab_server")
    lab = await make_lab(Settings(server_users=2))
    alice = await lab.join("alice", room="one")
    await lab.join("bob", room="two")
    carol = await lab.connect()
    await send(carol, lab.join_request(carol, "carol", room="three"))
    reply = await receive(carol)
    assert (reply["code"], reply["ref"]) == ("server-full", "join")
    assert "--server-users" in reply["message"]
    assert info_lines(caplog, "refused join") == [
        "refused join as carol in three: server-full"
    ]

    await alice.close()
    await wait_until(lambda: lab.server.users < 2, "alice to leave")
    await lab.join("carol", ws=carol, room="three")
    assert lab.server.users == 2

"""Tests for rooms: names, presence, lookups and relays stay inside a room."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from websockets.asyncio.client import ClientConnection

from .clients import Lab, receive, send


async def assert_silent(ws: ClientConnection) -> None:
    """Check that nothing arrives on ``ws`` for a short while."""
    with contextlib.suppress(TimeoutError):
        frame = await asyncio.wait_for(ws.recv(), 0.2)
        pytest.fail(f"unexpected frame: {frame!r}")


async def test_the_same_name_binds_to_different_keys_in_two_rooms(lab: Lab) -> None:
    """Alice in room one and another alice in room two both join, with their keys."""
    await lab.join("alice", lab.keys[0], room="one")
    await lab.join("alice", lab.keys[1], room="two")
    assert lab.server.directory.get("one", "alice") == lab.keys[0].public
    assert lab.server.directory.get("two", "alice") == lab.keys[1].public


async def test_a_join_in_another_room_replaces_nothing(lab: Lab) -> None:
    """The same name and key in a second room leaves the first connection open."""
    first = await lab.join("alice", room="one")
    await lab.join("alice", room="two")
    await send(first, {"type": "lookup", "name": "alice", "id": 1})
    assert (await receive(first))["online"] is True
    assert set(lab.server.rooms) == {"one", "two"}


async def test_the_welcome_lists_only_the_room(lab: Lab) -> None:
    """A welcome names the room and lists only the users in it."""
    await lab.join("bob", room="one")
    await lab.join("carol", room="two")
    alice = await lab.connect()
    await send(alice, lab.join_request(alice, "alice", room="one"))
    welcome = await receive(alice)
    assert (welcome["room"], welcome["peers"]) == ("one", ["bob"])


async def test_joins_and_leaves_are_told_only_to_the_room(lab: Lab) -> None:
    """Users in another room hear nothing of a join or a leave."""
    bob = await lab.join("bob", room="one")
    carol = await lab.join("carol", room="two")
    alice = await lab.join("alice", room="one")
    await alice.close()
    assert await receive(bob) == {"type": "left", "name": "alice"}
    await assert_silent(carol)


async def test_a_lookup_in_another_room_is_unknown_peer(lab: Lab) -> None:
    """A name bound only in another room cannot be looked up."""
    await lab.join("bob", room="two")
    alice = await lab.join("alice", room="one")
    await send(alice, {"type": "lookup", "name": "bob", "id": 3})
    reply = await receive(alice)
    assert (reply["type"], reply["code"], reply["id"]) == ("error", "unknown-peer", 3)
    assert "room 'one'" in reply["message"]


async def test_a_relay_to_another_room_is_unknown_peer(lab: Lab) -> None:
    """An offer to a user who is online in another room is not delivered."""
    bob = await lab.join("bob", room="two")
    alice = await lab.join("alice", room="one")
    await send(alice, {"type": "offer", "to": "bob", "sdp": "v=0"})
    reply = await receive(alice)
    assert (reply["code"], reply["ref"]) == ("unknown-peer", "offer")
    await assert_silent(bob)


async def test_relays_reach_the_same_name_in_the_senders_room(lab: Lab) -> None:
    """With bob in two rooms, an offer reaches the bob of the sender's room."""
    bob_one = await lab.join("bob", room="one")
    bob_two = await lab.join("bob", lab.keys[1], room="two")
    alice = await lab.join("alice", room="two")
    await send(alice, {"type": "offer", "to": "bob", "sdp": "v=0"})
    assert await receive(bob_two) == {"type": "offer", "sdp": "v=0", "from": "alice"}
    await assert_silent(bob_one)


async def test_an_empty_room_is_forgotten(lab: Lab) -> None:
    """When the last user of a room leaves, the room is no longer listed."""
    alice = await lab.join("alice", room="one")
    assert set(lab.server.rooms) == {"one"}
    await alice.close()
    for _ in range(100):
        if not lab.server.rooms:
            break
        await asyncio.sleep(0.01)
    assert lab.server.rooms == {}


async def test_the_default_room_is_lab(lab: Lab) -> None:
    """The lab's default room is "lab", and ``online`` shows that room."""
    await lab.join("alice")
    await lab.join("bob", room="other")
    assert list(lab.server.online) == ["alice"]
    assert set(lab.server.rooms) == {"lab", "other"}

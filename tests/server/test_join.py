"""Tests for joining: the hello, the signed join, name bindings and comebacks."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from pathlib import Path

import pytest
from p2plab_server import SignalingServer
from p2plab_server.directory import Directory
from p2plab_server.protocol import CLOSE_REPLACED, PROTOCOL_VERSION, fingerprint
from websockets.asyncio.client import ClientConnection, connect

from .clients import TIMEOUT, Key, Lab, join_request, receive, send


async def assert_refused(
    ws: ClientConnection, join: dict[str, object], code: str
) -> None:
    """Send ``join`` on ``ws`` and check that it is refused with ``code``."""
    await send(ws, join)
    reply = await receive(ws)
    assert (reply["type"], reply["code"], reply["ref"]) == ("error", code, "join")


# The hello.


async def test_every_connection_starts_with_a_hello(lab: Lab) -> None:
    """The first frame on a connection is hello, with the version and a challenge."""
    async with connect(lab.uri, proxy=None, open_timeout=TIMEOUT) as ws:
        hello = await receive(ws)
    assert set(hello) == {"type", "version", "challenge"}
    assert hello["type"] == "hello"
    assert hello["version"] == PROTOCOL_VERSION == "2"
    assert len(base64.b64decode(hello["challenge"], validate=True)) == 32


async def test_each_connection_gets_its_own_challenge(lab: Lab) -> None:
    """Twenty connections get twenty different challenges."""
    for _ in range(20):
        await lab.connect()
    assert len(set(lab.challenges.values())) == 20


# Proof of identity.


async def test_a_join_copied_to_another_connection_is_replayed(lab: Lab) -> None:
    """A join signed on one connection is refused as replayed on another."""
    first = await lab.connect()
    second = await lab.connect()
    await assert_refused(second, lab.join_request(first, "alice"), "replayed")
    # The original connection can still use it.
    await lab.join("alice", ws=first)


async def test_a_join_sent_twice_after_leaving_is_replayed(lab: Lab) -> None:
    """A join replayed after its user left, on a new connection, is refused."""
    first = await lab.connect()
    join = lab.join_request(first, "alice")
    await lab.join("alice", ws=first)
    await first.close()
    await assert_refused(await lab.connect(), join, "replayed")


async def test_another_users_key_without_their_private_key_is_refused(
    lab: Lab,
) -> None:
    """Claiming a free name with someone else's public key fails: bad-signature."""
    eve = await lab.connect()
    join = lab.join_request(eve, "mallory", lab.keys[1])
    join["key"] = lab.keys[0].public
    await assert_refused(eve, join, "bad-signature")
    assert lab.server.directory.get("lab", "mallory") is None


async def test_refused_joins_are_logged_with_their_code(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    """Each refused join is one INFO line with the name, room and error code."""
    await lab.join("alice")
    caplog.set_level(logging.INFO, logger="p2plab_server")
    eve = await lab.connect()
    join = {**lab.join_request(eve, "bob"), "key": lab.keys[1].public}
    await assert_refused(eve, join, "bad-signature")
    await assert_refused(eve, lab.join_request(eve, "alice", lab.keys[1]), "name-taken")
    lines = [
        record.getMessage()
        for record in caplog.records
        if record.name == "p2plab_server.relay" and record.levelno == logging.INFO
    ]
    assert lines == [
        "refused join as bob in lab: bad-signature",
        "refused join as alice in lab: name-taken",
    ]


# Names bound to keys.


async def test_a_name_stays_bound_to_its_key_after_its_user_leaves(lab: Lab) -> None:
    """After a user leaves, its name refuses another key and accepts its own."""
    first = await lab.join("alice")
    await first.close()
    second = await lab.connect()
    await assert_refused(
        second, lab.join_request(second, "alice", lab.keys[1]), "name-taken"
    )
    await lab.join("alice", ws=second)


async def test_a_name_taken_error_says_what_to_do(lab: Lab) -> None:
    """The name-taken message names the room and suggests another name."""
    await lab.join("alice")
    eve = await lab.connect()
    await send(eve, lab.join_request(eve, "alice", lab.keys[1]))
    reply = await receive(eve)
    assert reply["code"] == "name-taken"
    assert "room 'lab'" in reply["message"]
    assert "pick another name" in reply["message"]


async def test_concurrent_joins_for_one_name_have_exactly_one_winner(
    lab: Lab, key_pool: list[Key]
) -> None:
    """Eight connections racing for one name with eight keys: one wins."""
    connections = [await lab.connect() for _ in key_pool]
    joins = [
        lab.join_request(ws, "alice", key)
        for ws, key in zip(connections, key_pool, strict=True)
    ]
    await asyncio.gather(
        *(send(ws, join) for ws, join in zip(connections, joins, strict=True))
    )
    replies = await asyncio.gather(*(receive(ws) for ws in connections))

    kinds = [reply["type"] for reply in replies]
    assert kinds.count("welcome") == 1
    codes = [reply.get("code") for reply in replies if reply["type"] == "error"]
    assert codes == ["name-taken"] * (len(key_pool) - 1)
    winner = kinds.index("welcome")
    assert lab.server.directory.get("lab", "alice") == key_pool[winner].public


async def test_a_restarted_server_remembers_every_binding(
    tmp_path: Path, keys: tuple[Key, Key]
) -> None:
    """Restarted on the same file, the server refuses another key, accepts the same."""
    path = tmp_path / "server.sqlite3"

    async def join_once(key: Key) -> dict[str, object]:
        with Directory(path) as directory:
            async with SignalingServer(directory).serve("127.0.0.1", 0) as server:
                uri = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
                async with connect(uri, proxy=None, open_timeout=TIMEOUT) as ws:
                    hello = await receive(ws)
                    await send(ws, join_request(key, hello["challenge"], "alice"))
                    return await receive(ws)

    assert (await join_once(keys[0]))["type"] == "welcome"
    refused = await join_once(keys[1])
    assert (refused["type"], refused["code"]) == ("error", "name-taken")
    assert (await join_once(keys[0]))["type"] == "welcome"


# Coming back.


async def test_a_rejoin_with_the_same_key_replaces_the_old_connection(lab: Lab) -> None:
    """The same name and key again closes the old connection with 4001, no ``left``."""
    bob = await lab.join("bob")
    old = await lab.join("alice")
    new = await lab.connect()
    await send(new, lab.join_request(new, "alice"))
    welcome = await receive(new)
    assert (welcome["type"], welcome["peers"]) == ("welcome", ["bob"])

    await asyncio.wait_for(old.wait_closed(), TIMEOUT)
    assert old.close_code == CLOSE_REPLACED == 4001

    # Bob sees alice join again and never sees her leave; his offer reaches
    # the new connection.
    assert await receive(bob) == {
        "type": "joined",
        "name": "alice",
        "key": lab.keys[0].public,
        "fingerprint": fingerprint(lab.keys[0].public),
    }
    await send(bob, {"type": "offer", "to": "alice", "sdp": "v=0"})
    assert await receive(new) == {"type": "offer", "sdp": "v=0", "from": "bob"}


async def test_a_silently_dropped_user_comes_back_at_once(lab: Lab) -> None:
    """A user whose old connection hangs unanswered is welcomed back at once."""
    bob = await lab.join("bob")
    old = await lab.join("alice")
    # The old connection stops reading, like a laptop that went to sleep: it
    # never answers the server's close frame.
    old.transport.pause_reading()

    loop = asyncio.get_running_loop()
    started = loop.time()
    new = await lab.join("alice")
    assert loop.time() - started < 1.0
    await send(bob, {"type": "offer", "to": "alice", "sdp": "v=0"})
    assert await receive(new) == {"type": "offer", "sdp": "v=0", "from": "bob"}
    assert len(lab.server.online) == 2

    # Once it reads again, the old connection learns why it was closed.
    old.transport.resume_reading()
    await asyncio.wait_for(old.wait_closed(), TIMEOUT)
    assert old.close_code == CLOSE_REPLACED
    with contextlib.suppress(TimeoutError):
        notice = await asyncio.wait_for(bob.recv(), 0.2)
        pytest.fail(f"bob was told something after the comeback: {notice!r}")

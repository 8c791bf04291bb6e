"""Tests for the signaling relay, over real WebSocket connections on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import types
from collections.abc import Callable
from typing import Any

import pytest
from p2plab_server import SignalingServer
from p2plab_server.listener import Listener
from p2plab_server.protocol import MAX_FRAME, PROTOCOL_VERSION, fingerprint
from p2plab_server.relay import HARD_FRAME_LIMIT
from websockets.asyncio.client import ClientConnection, connect
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed

from .clients import TIMEOUT, Lab, make_key, receive, send

# The fields of each relayed request besides ``type`` and ``to``.
RELAYED_FIELDS: dict[str, dict[str, Any]] = {
    "offer": {"sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"},
    "answer": {"sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\n"},
    "candidate": {
        "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    },
    "bye": {},
}


async def assert_relays(
    sender: ClientConnection, recipient: ClientConnection, route: tuple[str, str]
) -> None:
    """Check that an offer along ``route`` is the next frame its recipient gets."""
    source, target = route
    sdp = f"v=0 from {source} to {target}"
    await send(sender, {"type": "offer", "to": target, "sdp": sdp})
    assert await receive(recipient) == {"type": "offer", "sdp": sdp, "from": source}


async def test_the_first_user_is_welcomed_with_no_peers(lab: Lab) -> None:
    """A join on an empty server gets a welcome with no peers, echoing the id."""
    alice = await lab.connect()
    await send(alice, {**lab.join_request(alice, "alice"), "id": 1})
    assert await receive(alice) == {
        "type": "welcome",
        "room": "lab",
        "name": "alice",
        "peers": [],
        "version": PROTOCOL_VERSION,
        "id": 1,
    }


async def test_the_welcome_lists_the_users_already_online(lab: Lab) -> None:
    """A welcome lists every other online user, sorted by name."""
    await lab.join("bob")
    await lab.join("alice")
    carol = await lab.connect()
    await send(carol, lab.join_request(carol, "carol"))
    assert (await receive(carol))["peers"] == ["alice", "bob"]


async def test_others_are_told_who_joined_with_key_and_fingerprint(lab: Lab) -> None:
    """Users already online get ``joined`` with the newcomer's key and fingerprint."""
    alice = await lab.join("alice")
    bob = await lab.connect()
    await send(bob, lab.join_request(bob, "bob", lab.keys[1]))
    await receive(bob)
    assert await receive(alice) == {
        "type": "joined",
        "name": "bob",
        "key": lab.keys[1].public,
        "fingerprint": fingerprint(lab.keys[1].public),
    }


async def test_others_are_told_who_left(lab: Lab) -> None:
    """When a user closes its connection, everyone else gets ``left``."""
    alice = await lab.join("alice")
    carol = await lab.join("carol")
    bob = await lab.join("bob")
    await bob.close()
    assert await receive(alice) == {"type": "left", "name": "bob"}
    assert await receive(carol) == {"type": "left", "name": "bob"}


async def test_a_dropped_connection_is_announced_as_left(lab: Lab) -> None:
    """A connection lost without a close frame is announced as ``left``."""
    bob = await lab.join("bob")
    alice = await lab.join("alice")
    alice.transport.abort()
    assert await receive(bob) == {"type": "left", "name": "alice"}


async def test_joins_and_leaves_are_logged_at_info(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    """The server logs one INFO line for each join and each leave."""
    caplog.set_level(logging.INFO, logger="p2plab_server")
    alice = await lab.join("alice")
    bob = await lab.join("bob")
    await bob.close()
    await receive(alice)

    lines = [
        record.getMessage().split()[:2]
        for record in caplog.records
        if record.name == "p2plab_server.relay" and record.levelno == logging.INFO
    ]
    assert lines == [["alice", "joined"], ["bob", "joined"], ["bob", "left"]]


async def test_relayed_payloads_never_reach_the_log(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    """No log record of any logger, even at DEBUG, holds an SDP, key or signature."""
    caplog.set_level(logging.DEBUG)
    alice = await lab.connect()
    join = lab.join_request(alice, "alice")
    await lab.join("alice", ws=alice)
    bob = await lab.join("bob", lab.keys[1])
    for kind, fields in RELAYED_FIELDS.items():
        await send(alice, {"type": kind, "to": "bob", **fields})
        await receive(bob)
    await send(bob, {"type": "offer", "to": "carol", "sdp": "v=0 undelivered"})
    await receive(bob)

    # The test's own raw clients log their frames; only the server is on trial.
    records = [r for r in caplog.records if not r.name.startswith("websockets.client")]
    logged = "\n".join(record.getMessage() for record in records)
    assert any(record.levelno == logging.DEBUG for record in records)
    for secret in [
        RELAYED_FIELDS["offer"]["sdp"],
        RELAYED_FIELDS["answer"]["sdp"],
        RELAYED_FIELDS["candidate"]["candidate"],
        "undelivered",
        join["signature"],
        join["challenge"],
        *(key.public for key in lab.keys),
    ]:
        assert secret not in logged


async def test_lookup_returns_the_key_of_an_online_user(lab: Lab) -> None:
    """A lookup of an online user returns its key, fingerprint and online flag."""
    alice = await lab.join("alice")
    await lab.join("bob", lab.keys[1])
    await send(alice, {"type": "lookup", "name": "bob", "id": "q"})
    assert await receive(alice) == {
        "type": "key",
        "name": "bob",
        "key": lab.keys[1].public,
        "fingerprint": fingerprint(lab.keys[1].public),
        "online": True,
        "id": "q",
    }


async def test_lookup_of_a_user_who_left_says_offline(lab: Lab) -> None:
    """A name stays in the directory after its user leaves, marked offline."""
    alice = await lab.join("alice")
    bob = await lab.join("bob", lab.keys[1])
    await bob.close()
    await receive(alice)
    await send(alice, {"type": "lookup", "name": "bob"})
    reply = await receive(alice)
    assert (reply["key"], reply["online"]) == (lab.keys[1].public, False)


async def test_lookup_of_an_unknown_name_is_unknown_peer(lab: Lab) -> None:
    """A lookup of a name nobody joined with is an unknown-peer error."""
    alice = await lab.join("alice")
    await send(alice, {"type": "lookup", "name": "zoe", "id": 4})
    reply = await receive(alice)
    assert (reply["type"], reply["code"]) == ("error", "unknown-peer")
    assert (reply["ref"], reply["id"]) == ("lookup", 4)


@pytest.mark.parametrize("kind", sorted(RELAYED_FIELDS))
async def test_a_relayed_message_reaches_its_recipient_from_the_sender(
    lab: Lab, kind: str
) -> None:
    """A relayed request reaches its recipient with ``from`` set and no ``id``."""
    alice = await lab.join("alice")
    bob = await lab.join("bob")
    await send(alice, {"type": kind, "to": "bob", "id": "r1", **RELAYED_FIELDS[kind]})
    assert await receive(bob) == {"type": kind, **RELAYED_FIELDS[kind], "from": "alice"}

    # A delivered message is not acknowledged: the sender's next frame is
    # the answer to its next request.
    await send(alice, {"type": "lookup", "name": "bob", "id": "r2"})
    assert (await receive(alice))["id"] == "r2"


async def test_binary_frames_are_read_like_text(lab: Lab) -> None:
    """Binary frames holding JSON are served as text frames are; replies are text."""
    bob = await lab.join("bob")
    alice = await lab.connect()
    await alice.send(json.dumps(lab.join_request(alice, "alice")).encode())
    assert (await receive(alice))["peers"] == ["bob"]
    assert (await receive(bob))["type"] == "joined"

    await alice.send(b'{"type":"offer","to":"bob","sdp":"v=0"}')
    frame = await asyncio.wait_for(bob.recv(), TIMEOUT)
    assert isinstance(frame, str)
    assert json.loads(frame) == {"type": "offer", "sdp": "v=0", "from": "alice"}


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"offer","to":"bob","sdp":"v=0 caf\u00e9"}',
        b'{"type":"offer","to":"bob","sdp":"v=0 \\"to\\":\\"carol\\""}',
        '{"type": "offer", "to": "bob", "sdp": "v=0"}',
        '{"type":"offer","to":"bob","sdp":"v=0","id":"o1"}',
        '{"type":"offer","to":"bob","sdp":"v=0","t\\u006f":"bob"}',
        '{"type":"offer","to":"bob","sdp":"\\ud800"}',
        b'{"type":"offer","to":"bob","sdp":"\xed\xa0\x80"}',
    ],
    ids=["fast", "fast-binary", "spaced", "id", "escaped-to", "lone-esc", "lone-raw"],
)
async def test_a_relayed_frame_carries_the_servers_from_and_no_to_or_id(
    lab: Lab, frame: str | bytes
) -> None:
    """However the offer was written, bob reads one from, and no to or id."""
    bob = await lab.join("bob")
    alice = await lab.join("alice")
    await alice.send(frame)
    got = await asyncio.wait_for(bob.recv(), TIMEOUT)
    assert isinstance(got, str)  # a text frame, so strict UTF-8
    pairs = json.loads(got, object_pairs_hook=list)
    keys = [key for key, _ in pairs]
    assert sorted(keys) == ["from", "sdp", "type"]
    assert dict(pairs)["from"] == "alice"


# A join built for a connection: ``(lab, ws) -> request``.
JoinFor = Callable[[Lab, ClientConnection], dict[str, Any]]


def unsigned(lab: Lab, ws: ClientConnection) -> dict[str, Any]:
    """A join for alice without its signature."""
    join = lab.join_request(ws, "alice")
    del join["signature"]
    return join


def signed_by_another_key(lab: Lab, ws: ClientConnection) -> dict[str, Any]:
    """A join with alice's public key and a signature by bob's private key."""
    return {
        **lab.join_request(ws, "alice"),
        "signature": lab.join_request(ws, "alice", lab.keys[1])["signature"],
    }


def copied_from_another_connection(lab: Lab, ws: ClientConnection) -> dict[str, Any]:
    """Alice's join, signed for the challenge of a connection other than ``ws``."""
    other = next(conn for conn in lab.challenges if conn is not ws)
    return lab.join_request(other, "alice")


def with_a_small_key(lab: Lab, ws: ClientConnection) -> dict[str, Any]:
    """A join, properly signed, with a 1024-bit key."""
    return lab.join_request(ws, "alice", make_key(1024))


# A bad request: whether its sender joined first, the frame (or a function of
# the lab and the connection that builds it), the error code, and the id the
# error must echo. Every frame that can be read carries id 7.
BAD_REQUESTS = [
    pytest.param(True, '{"type": "lookup", ', "bad-json", None, id="malformed"),
    pytest.param(True, '["lookup", "bob"]', "bad-json", None, id="not-an-object"),
    pytest.param(True, b"\xff\xfe", "bad-json", None, id="binary-not-utf8"),
    pytest.param(True, {"type": "ping"}, "bad-type", 7, id="unknown-type"),
    pytest.param(True, {"type": "hello"}, "bad-type", 7, id="server-only-type"),
    pytest.param(True, {"name": "bob"}, "bad-type", 7, id="missing-type"),
    pytest.param(True, {"type": "offer", "to": "bob"}, "missing-field", 7, id="no-sdp"),
    pytest.param(
        True, {"type": "offer", "to": "bob", "sdp": 5}, "bad-field", 7, id="sdp-number"
    ),
    pytest.param(
        True, {"type": "lookup", "name": "bob smith"}, "bad-field", 7, id="bad-name"
    ),
    pytest.param(
        True,
        {"type": "offer", "to": "bob", "sdp": "v=0", "from": "carol"},
        "bad-field",
        7,
        id="forged-from",
    ),
    pytest.param(
        True, {"type": "bye", "to": "zoe"}, "unknown-peer", 7, id="unknown-recipient"
    ),
    pytest.param(
        False,
        lambda lab, ws: lab.join_request(ws, "carol", lab.keys[1]),
        "name-taken",
        7,
        id="name-taken",
    ),
    pytest.param(False, unsigned, "missing-field", 7, id="join-unsigned"),
    pytest.param(
        False,
        lambda lab, ws: {**lab.join_request(ws, "alice"), "signature": "not base64"},
        "bad-field",
        7,
        id="join-signature-not-base64",
    ),
    pytest.param(False, signed_by_another_key, "bad-signature", 7, id="join-other-key"),
    pytest.param(
        False, copied_from_another_connection, "replayed", 7, id="join-replayed"
    ),
    pytest.param(False, with_a_small_key, "bad-key", 7, id="join-small-key"),
    pytest.param(
        True,
        {"type": "offer", "to": "bob", "sdp": "x" * MAX_FRAME},
        "too-large",
        None,
        id="too-large",
    ),
    pytest.param(False, {"type": "bye", "to": "bob"}, "not-joined", 7, id="not-joined"),
    pytest.param(
        True,
        lambda lab, ws: lab.join_request(ws, "alice2"),
        "already-joined",
        7,
        id="already-joined",
    ),
    pytest.param(True, {"type": "bye", "to": "alice"}, "self", 7, id="to-self"),
]


@pytest.mark.parametrize(("joined", "frame", "code", "echoed_id"), BAD_REQUESTS)
async def test_a_bad_request_gets_an_error_and_harms_no_one(
    lab: Lab,
    joined: bool,
    frame: str | bytes | dict[str, Any] | JoinFor,
    code: str,
    echoed_id: int | None,
) -> None:
    """A bad request gets its error code; its connection and others carry on."""
    carol = await lab.join("carol")
    dave = await lab.join("dave")
    bob = await lab.join("bob")
    alice = await lab.join("alice") if joined else await lab.connect()

    if callable(frame):
        frame = frame(lab, alice)
    await alice.send(
        json.dumps({**frame, "id": 7}) if isinstance(frame, dict) else frame
    )
    reply = await receive(alice)
    assert (reply["type"], reply["code"], reply.get("id")) == ("error", code, echoed_id)
    assert reply["message"]

    # The same connection still works, and bob got nothing from the bad
    # request: the next thing he receives is the good offer.
    if not joined:
        await lab.join("alice", ws=alice)
    await send(alice, {"type": "lookup", "name": "bob", "id": 8})
    assert (await receive(alice))["id"] == 8
    await assert_relays(alice, bob, ("alice", "bob"))

    # Another pair of users relays as before.
    await assert_relays(carol, dave, ("carol", "dave"))


async def test_a_frame_over_the_hard_limit_closes_only_its_connection(lab: Lab) -> None:
    """A frame above the hard limit closes its connection with 1009, no other."""
    carol = await lab.join("carol")
    dave = await lab.join("dave")
    alice = await lab.join("alice")

    # The server may close the connection before the whole frame is written.
    with contextlib.suppress(ConnectionClosed):
        await alice.send("x" * (HARD_FRAME_LIMIT + 1))
    await asyncio.wait_for(alice.wait_closed(), TIMEOUT)
    assert alice.close_code == 1009

    assert await receive(carol) == {"type": "left", "name": "alice"}
    assert await receive(dave) == {"type": "left", "name": "alice"}
    await assert_relays(carol, dave, ("carol", "dave"))


async def test_the_observer_sees_every_frame_both_ways(lab: Lab) -> None:
    """The observer gets each frame read, as bytes, and written, per connection."""
    async with (
        connect(lab.uri, proxy=None, open_timeout=TIMEOUT) as alice,
        connect(lab.uri, proxy=None, open_timeout=TIMEOUT) as bob,
    ):
        sent: dict[ClientConnection, list[str | bytes]] = {alice: [], bob: []}
        received: dict[ClientConnection, list[str | bytes]] = {alice: [], bob: []}

        async def take(client: ClientConnection) -> dict[str, Any]:
            frame = await asyncio.wait_for(client.recv(), TIMEOUT)
            received[client].append(frame)
            message: dict[str, Any] = json.loads(frame)
            return message

        async def exchange(
            ws: ClientConnection,
            frame: str | bytes,
            replies: dict[ClientConnection, int],
        ) -> None:
            await ws.send(frame)
            # The server reads text and binary frames alike, as bytes.
            sent[ws].append(frame.encode() if isinstance(frame, str) else frame)
            for client, count in replies.items():
                for _ in range(count):
                    await take(client)

        for ws, name in ((alice, "alice"), (bob, "bob")):
            lab.challenges[ws] = (await take(ws))["challenge"]
            join = json.dumps(lab.join_request(ws, name))
            await exchange(ws, join, {ws: 1} if ws is alice else {bob: 1, alice: 1})
        await exchange(alice, '{"type":"offer","to":"bob","sdp":"v=0"}', {bob: 1})
        await exchange(bob, b'{"type":"nonsense"}', {bob: 1})

        # Compared before the connections close, which writes "left" to alice.
        seen: dict[int, dict[str, list[str | bytes]]] = {}
        for connection, direction, frame in lab.frames:
            seen.setdefault(connection, {"<": [], ">": []})[direction].append(frame)
        # The two connections' hellos may be written in either order.
        assert len(seen) == 2
        assert {"<": sent[alice], ">": received[alice]} in seen.values()
        assert {"<": sent[bob], ">": received[bob]} in seen.values()


async def test_a_connection_keeps_no_handshake_headers(lab: Lab) -> None:
    """Once a client is served, its connection holds no HTTP header."""
    await lab.join("alice")
    connection = lab.server.online["alice"]

    # Everything the connection refers to, short of what is shared: the
    # listener, the relay, the transport and its loop, which hold every
    # connection or none, and modules, classes, functions and loggers, which
    # lead to everything in the process, the test's own clients included.
    shared = (
        Listener,
        SignalingServer,
        asyncio.BaseTransport,
        asyncio.BaseEventLoop,
        logging.Logger,
        types.ModuleType,
        types.FunctionType,
        types.BuiltinFunctionType,
        type,
    )
    seen: set[int] = set()
    todo: list[object] = [connection]
    held: list[object] = []
    while todo:
        item = todo.pop()
        if id(item) in seen or (item is not connection and isinstance(item, shared)):
            continue
        if isinstance(item, dict) and "__builtins__" in item:
            continue  # a module's globals
        seen.add(id(item))
        held.append(item)
        todo.extend(gc.get_referents(item))
    assert len(held) > 10
    assert [item for item in held if isinstance(item, Headers) and item] == []

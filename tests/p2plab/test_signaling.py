"""Tests for p2plab.signaling: the client against a real server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest
from p2plab_server import SignalingServer
from p2plab_server.protocol import PROTOCOL_VERSION, encode, fingerprint
from websockets.asyncio.server import ServerConnection, serve

from p2plab import SignalingClient, SignalingClosed, SignalingError
from p2plab.identity import Identity

if TYPE_CHECKING:
    from conftest import RunningServer

Until = Callable[..., Awaitable[None]]

OFFER_SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"


class Recorder:
    """Collects what a client's callbacks receive."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.closes: list[str] = []

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """Return the messages received of one type."""
        return [m for m in self.messages if m["type"] == kind]


Clients = Callable[[str, Identity], tuple[SignalingClient, Recorder]]


@pytest.fixture
async def clients(server: RunningServer) -> AsyncIterator[Clients]:
    """Return a factory of clients for the test server; all close at teardown."""
    made: list[SignalingClient] = []

    def make(name: str, identity: Identity) -> tuple[SignalingClient, Recorder]:
        record = Recorder()
        client = SignalingClient(
            server.url,
            name,
            identity.public_b64,
            on_message=record.messages.append,
            on_close=record.closes.append,
        )
        made.append(client)
        return client, record

    yield make
    for client in made:
        await client.close()


# Joining.


async def test_connect_returns_the_welcome(
    clients: Clients, alice_id: Identity
) -> None:
    """Connecting joins the server and returns its welcome with no peers."""
    alice, _ = clients("alice", alice_id)
    welcome = await alice.connect()
    assert welcome["type"] == "welcome"
    assert welcome["name"] == "alice"
    assert welcome["peers"] == []
    assert welcome["version"] == PROTOCOL_VERSION
    assert alice.connected
    assert alice.peers == set()


async def test_peers_follow_joins_and_leaves(
    clients: Clients,
    alice_id: Identity,
    bob_id: Identity,
    until: Until,
) -> None:
    """The welcome lists who is online; joined and left keep peers up to date."""
    alice, alice_record = clients("alice", alice_id)
    bob, _ = clients("bob", bob_id)
    await alice.connect()
    welcome = await bob.connect()
    assert welcome["peers"] == ["alice"]
    assert bob.peers == {"alice"}

    await until(lambda: alice.peers == {"bob"}, what="alice to see bob join")
    joined = alice_record.of_type("joined")[0]
    assert joined["key"] == bob_id.public_b64
    assert joined["fingerprint"] == fingerprint(bob_id.public_b64)

    await bob.close()
    await until(lambda: alice.peers == set(), what="alice to see bob leave")
    assert alice_record.of_type("left") == [{"type": "left", "name": "bob"}]


async def test_a_name_taken_by_another_key_is_refused(
    clients: Clients,
    alice_id: Identity,
    eve_id: Identity,
) -> None:
    """Joining as a name bound to another key raises SignalingError name-taken."""
    alice, _ = clients("alice", alice_id)
    await alice.connect()
    impostor, _ = clients("alice", eve_id)
    with pytest.raises(SignalingError) as info:
        await impostor.connect()
    assert info.value.code == "name-taken"
    assert info.value.ref == "join"
    assert "name-taken" in str(info.value)
    assert not impostor.connected
    assert alice.connected


async def test_rejoining_with_the_same_key_replaces_the_old_connection(
    clients: Clients,
    alice_id: Identity,
    until: Until,
) -> None:
    """A second join with the same name and key wins; the first is told why."""
    first, first_record = clients("alice", alice_id)
    second, _ = clients("alice", alice_id)
    await first.connect()
    await second.connect()
    await until(lambda: first_record.closes, what="the first connection to close")
    assert "4001" in first_record.closes[0]
    assert not first.connected
    assert second.connected


# Requests.


async def test_lookup_returns_key_and_fingerprint(
    clients: Clients,
    alice_id: Identity,
    bob_id: Identity,
) -> None:
    """Looking up an online user returns their key, fingerprint and presence."""
    alice, _ = clients("alice", alice_id)
    bob, _ = clients("bob", bob_id)
    await alice.connect()
    await bob.connect()
    reply = await alice.lookup("bob")
    assert reply["type"] == "key"
    assert reply["key"] == bob_id.public_b64
    assert reply["fingerprint"] == bob_id.fingerprint
    assert reply["online"] is True


async def test_lookup_of_an_unknown_name_raises_unknown_peer(
    clients: Clients, alice_id: Identity
) -> None:
    """Looking up a name nobody joined with raises SignalingError unknown-peer."""
    alice, _ = clients("alice", alice_id)
    await alice.connect()
    with pytest.raises(SignalingError) as info:
        await alice.lookup("nobody")
    assert info.value.code == "unknown-peer"
    assert info.value.ref == "lookup"
    assert alice.connected


async def test_a_request_without_a_reply_times_out(
    clients: Clients,
    alice_id: Identity,
    bob_id: Identity,
) -> None:
    """A request the server never answers raises SignalingClosed after the timeout."""
    alice, _ = clients("alice", alice_id)
    bob, _ = clients("bob", bob_id)
    await alice.connect()
    await bob.connect()
    # A relayed offer gets no reply, so this request can only time out.
    request = {"type": "offer", "to": "bob", "sdp": OFFER_SDP}
    with pytest.raises(SignalingClosed, match="did not answer .* within 0.2 s"):
        await alice.request(request, timeout=0.2)
    assert alice.connected


# Relaying.


async def test_a_relay_reaches_the_other_client_with_from_set(
    clients: Clients,
    alice_id: Identity,
    bob_id: Identity,
    until: Until,
) -> None:
    """An offer sent to bob reaches bob's on_message with from set to alice."""
    alice, _ = clients("alice", alice_id)
    bob, bob_record = clients("bob", bob_id)
    await alice.connect()
    await bob.connect()
    await alice.relay("offer", "bob", sdp=OFFER_SDP)
    await until(lambda: bob_record.of_type("offer"), what="the offer")
    assert bob_record.of_type("offer") == [
        {"type": "offer", "sdp": OFFER_SDP, "from": "alice"}
    ]


async def test_a_relay_to_an_absent_user_comes_back_as_an_error(
    clients: Clients,
    alice_id: Identity,
    until: Until,
) -> None:
    """An offer to a user who is not online comes back as an unknown-peer error."""
    alice, record = clients("alice", alice_id)
    await alice.connect()
    await alice.relay("offer", "bob", sdp=OFFER_SDP)
    await until(lambda: record.of_type("error"), what="the error")
    error = record.of_type("error")[0]
    assert (error["code"], error["ref"]) == ("unknown-peer", "offer")


async def test_frames_are_recorded_with_direction_and_size(
    clients: Clients,
    alice_id: Identity,
    bob_id: Identity,
    until: Until,
) -> None:
    """Every frame in and out is kept with its direction and its size in bytes."""
    alice, _ = clients("alice", alice_id)
    bob, bob_record = clients("bob", bob_id)
    await alice.connect()
    await bob.connect()
    await until(lambda: "bob" in alice.peers, what="alice to see bob join")
    await alice.relay("offer", "bob", sdp=OFFER_SDP)
    await until(lambda: bob_record.of_type("offer"), what="the offer")

    sent = [(f.direction, f.message["type"]) for f in alice.frames]
    assert sent[:3] == [(">", "join"), ("<", "welcome"), ("<", "joined")]
    assert sent[3:] == [(">", "offer")]
    assert [(f.direction, f.message["type"]) for f in bob.frames] == [
        (">", "join"),
        ("<", "welcome"),
        ("<", "offer"),
    ]
    for frame in alice.frames + bob.frames:
        assert frame.size == len(encode(frame.message).encode("utf-8"))
    assert alice.frames[0].size > len(alice_id.public_b64)


async def test_frames_that_are_not_json_are_ignored(alice_id: Identity) -> None:
    """A server frame that is not a JSON object is dropped, not recorded or raised."""

    async def handler(ws: ServerConnection) -> None:
        request = json.loads(await ws.recv())
        await ws.send("this is not json")
        await ws.send(json.dumps({"no": "type"}))
        welcome = {"type": "welcome", "name": "alice", "peers": []}
        await ws.send(json.dumps({**welcome, "id": request["id"]}))
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as fake:
        port = fake.sockets[0].getsockname()[1]
        client = SignalingClient(f"ws://127.0.0.1:{port}", "alice", alice_id.public_b64)
        try:
            welcome = await client.connect(timeout=5)
        finally:
            await client.close()
    assert welcome["type"] == "welcome"
    assert [f.message["type"] for f in client.frames] == ["join", "welcome"]


# Losing the server.


async def test_an_unreachable_server_raises_signaling_closed_quickly(
    alice_id: Identity, closed_port: int
) -> None:
    """Connecting to a closed port on 127.0.0.1 raises SignalingClosed at once."""
    url = f"ws://127.0.0.1:{closed_port}"
    client = SignalingClient(url, "alice", alice_id.public_b64)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(SignalingClosed, match="cannot reach the signaling server"):
        await client.connect(timeout=5)
    assert loop.time() - start < 2
    assert not client.connected


async def test_send_before_connect_raises_signaling_closed(
    alice_id: Identity, closed_port: int
) -> None:
    """Sending before connecting raises SignalingClosed, not an AttributeError."""
    url = f"ws://127.0.0.1:{closed_port}"
    client = SignalingClient(url, "alice", alice_id.public_b64)
    with pytest.raises(SignalingClosed, match="not connected"):
        await client.send({"type": "lookup", "name": "bob"})


async def test_server_shutdown_calls_on_close_and_fails_pending_requests(
    alice_id: Identity, bob_id: Identity, until: Until
) -> None:
    """When the server shuts down, on_close runs once and a waiting request fails."""
    record = Recorder()
    async with contextlib.AsyncExitStack() as stack:
        ws_server = await stack.enter_async_context(
            SignalingServer().serve("127.0.0.1", 0)
        )
        url = f"ws://127.0.0.1:{ws_server.sockets[0].getsockname()[1]}"
        alice = SignalingClient(
            url, "alice", alice_id.public_b64, on_close=record.closes.append
        )
        bob = SignalingClient(url, "bob", bob_id.public_b64)
        stack.push_async_callback(alice.close)
        stack.push_async_callback(bob.close)
        await alice.connect()
        await bob.connect()

        # An offer sent as a request gets no reply: it stays pending until
        # the connection ends, long before its 30 s timeout.
        request = {"type": "offer", "to": "bob", "sdp": OFFER_SDP}
        pending = asyncio.create_task(alice.request(request, timeout=30))
        await until(
            lambda: any(f.message["type"] == "offer" for f in alice.frames),
            what="the request to be sent",
        )

        loop = asyncio.get_running_loop()
        start = loop.time()
        ws_server.close()
        await ws_server.wait_closed()
        with pytest.raises(SignalingClosed, match="signaling server closed"):
            await asyncio.wait_for(pending, 5)
        assert loop.time() - start < 5

        await until(lambda: record.closes, what="on_close")
        assert record.closes == ["closed by the server (1001)"]
        assert not alice.connected
        with pytest.raises(SignalingClosed):
            await alice.lookup("bob")


async def test_close_is_safe_twice(clients: Clients, alice_id: Identity) -> None:
    """close() may be called twice; on_close runs once and says we closed it."""
    alice, record = clients("alice", alice_id)
    await alice.connect()
    await alice.close()
    await alice.close()
    assert not alice.connected
    assert record.closes == ["closed by this client"]

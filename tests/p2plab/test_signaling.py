"""Tests for p2plab.signaling: the client against a real server on loopback."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from p2plab_server import Directory, SignalingServer
from p2plab_server.proof import signed_message
from p2plab_server.protocol import PROTOCOL_VERSION, encode, fingerprint
from p2plab_server.rsapss import load_spki, verify
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from p2plab import SignalingClient, SignalingClosed, SignalingError
from p2plab.identity import Identity
from p2plab.signaling import Backoff, Retry, sign_join

if TYPE_CHECKING:
    from conftest import RestartableServer, RunningServer

Until = Callable[..., Awaitable[None]]

OFFER_SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"
CHALLENGE = base64.b64encode(bytes(range(32))).decode("ascii")

# Short waits, so that a test sees several attempts to reconnect in a second.
FAST = Backoff(first=0.02, cap=0.1)


class Recorder:
    """Collects what a client's callbacks receive."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.closes: list[str] = []
        self.retries: list[Retry] = []
        self.rejoins: list[dict[str, Any]] = []

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """Return the messages received of one type."""
        return [m for m in self.messages if m["type"] == kind]


Clients = Callable[..., tuple[SignalingClient, Recorder]]


@pytest.fixture
async def clients(server: RunningServer) -> AsyncIterator[Clients]:
    """Return a factory of clients for the test server; all close at teardown."""
    made: list[SignalingClient] = []

    def make(
        name: str,
        identity: Identity,
        room: str = "lab",
        *,
        url: str = server.url,
        backoff: Backoff | None = FAST,
    ) -> tuple[SignalingClient, Recorder]:
        record = Recorder()
        client = SignalingClient(
            url,
            name,
            identity,
            room=room,
            on_message=record.messages.append,
            on_close=record.closes.append,
            on_reconnecting=record.retries.append,
            on_rejoined=record.rejoins.append,
            backoff=backoff,
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


# Proving the key.


async def test_the_join_signs_this_connections_challenge(
    clients: Clients, alice_id: Identity
) -> None:
    """The join echoes the hello's challenge, signed with RSA-PSS by our key."""
    alice, _ = clients("alice", alice_id)
    await alice.connect()
    hello, join = (frame.message for frame in alice.frames[:2])
    assert (hello["type"], join["type"]) == ("hello", "join")
    assert join["challenge"] == hello["challenge"]
    assert (join["room"], join["name"], join["key"]) == (
        "lab",
        "alice",
        alice_id.public_b64,
    )
    signed = signed_message(base64.b64decode(hello["challenge"]), "lab", "alice")
    alice_id.public_key.verify(
        base64.b64decode(join["signature"]),
        signed,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


def test_sign_join_signs_what_the_server_checks(alice_id: Identity) -> None:
    """sign_join's signature passes the server's own standard-library check."""
    signature = sign_join(alice_id, CHALLENGE, "room1", "alice")
    key = load_spki(base64.b64decode(alice_id.public_b64))
    message = signed_message(base64.b64decode(CHALLENGE), "room1", "alice")
    assert verify(key, message, base64.b64decode(signature))
    assert not verify(key, message + b"x", base64.b64decode(signature))


@pytest.mark.parametrize("challenge", ["not base64", "AAAA"], ids=["text", "short"])
def test_sign_join_refuses_a_challenge_it_cannot_use(
    alice_id: Identity, challenge: str
) -> None:
    """A challenge that is not 32 bytes of canonical base64 raises ValueError."""
    with pytest.raises(ValueError, match="challenge"):
        sign_join(alice_id, challenge, "lab", "alice")


async def fake_server(greeting: str | None, stack: contextlib.AsyncExitStack) -> str:
    """Start a server that sends ``greeting`` (if any), then reads and waits."""

    async def handler(ws: ServerConnection) -> None:
        if greeting is not None:
            await ws.send(greeting)
        with contextlib.suppress(ConnectionClosed):
            async for _frame in ws:
                pass

    fake = await stack.enter_async_context(serve(handler, "127.0.0.1", 0))
    return f"ws://127.0.0.1:{fake.sockets[0].getsockname()[1]}"


@pytest.mark.parametrize(
    ("greeting", "words"),
    [
        (None, "sent no hello within 0.3 s.*protocol 2"),
        ('{"type":"hello","version":"9"}', "protocol '9', without a usable challenge"),
        ('{"type":"hello","challenge":"AAAA"}', "without a usable challenge"),
    ],
    ids=["no-hello", "no-challenge", "short-challenge"],
)
async def test_a_server_without_a_usable_hello_is_refused(
    alice_id: Identity, greeting: str | None, words: str
) -> None:
    """A server that sends no hello, or one without a challenge, fails the connect."""
    async with contextlib.AsyncExitStack() as stack:
        url = await fake_server(greeting, stack)
        client = SignalingClient(url, "alice", alice_id)
        with pytest.raises(SignalingClosed, match=words):
            await client.connect(timeout=0.3)
        assert not client.connected
        assert not any(f.message["type"] == "join" for f in client.frames)


async def test_a_server_that_closes_before_its_hello_fails_the_connect(
    alice_id: Identity,
) -> None:
    """A server that hangs up at once makes connect raise SignalingClosed."""

    async def handler(ws: ServerConnection) -> None:
        await ws.close()

    async with serve(handler, "127.0.0.1", 0) as fake:
        url = f"ws://127.0.0.1:{fake.sockets[0].getsockname()[1]}"
        client = SignalingClient(url, "alice", alice_id)
        with pytest.raises(SignalingClosed, match="closed"):
            await client.connect(timeout=5)
        assert not client.connected


# Rooms.


async def test_users_in_other_rooms_are_invisible(
    clients: Clients, alice_id: Identity, bob_id: Identity, until: Until
) -> None:
    """Two rooms share no peers, no joins, no lookups and no relays."""
    alice, alice_record = clients("alice", alice_id, "one")
    bob, bob_record = clients("bob", bob_id, "two")
    await alice.connect()
    welcome = await bob.connect()
    assert (welcome["room"], welcome["peers"]) == ("two", [])
    with pytest.raises(SignalingError) as info:
        await bob.lookup("alice")
    assert info.value.code == "unknown-peer"
    await bob.relay("offer", "alice", sdp=OFFER_SDP)
    await until(lambda: bob_record.of_type("error"), what="the relay error")
    assert bob_record.of_type("error")[0]["code"] == "unknown-peer"
    assert alice.peers == set()
    assert alice_record.messages == []


async def test_the_same_name_may_join_two_rooms_with_two_keys(
    clients: Clients, alice_id: Identity, eve_id: Identity
) -> None:
    """Alice in one room and another alice in another room are both welcome."""
    first, _ = clients("alice", alice_id, "one")
    second, _ = clients("alice", eve_id, "two")
    await first.connect()
    await second.connect()
    assert first.connected and second.connected
    assert (first.room, second.room) == ("one", "two")


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
    assert sent[:4] == [
        ("<", "hello"),
        (">", "join"),
        ("<", "welcome"),
        ("<", "joined"),
    ]
    assert sent[4:] == [(">", "offer")]
    assert [(f.direction, f.message["type"]) for f in bob.frames] == [
        ("<", "hello"),
        (">", "join"),
        ("<", "welcome"),
        ("<", "offer"),
    ]
    for frame in alice.frames + bob.frames:
        assert frame.size == len(encode(frame.message).encode("utf-8"))
    assert alice.frames[1].size > len(alice_id.public_b64)


async def test_frames_that_are_not_json_are_ignored(alice_id: Identity) -> None:
    """A server frame that is not a JSON object is dropped, not recorded or raised."""

    async def handler(ws: ServerConnection) -> None:
        await ws.send(encode({"type": "hello", "version": "2", "challenge": CHALLENGE}))
        request = json.loads(await ws.recv())
        await ws.send("this is not json")
        await ws.send(json.dumps({"no": "type"}))
        welcome = {"type": "welcome", "name": "alice", "peers": []}
        await ws.send(json.dumps({**welcome, "id": request["id"]}))
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as fake:
        port = fake.sockets[0].getsockname()[1]
        client = SignalingClient(f"ws://127.0.0.1:{port}", "alice", alice_id)
        try:
            welcome = await client.connect(timeout=5)
        finally:
            await client.close()
    assert welcome["type"] == "welcome"
    assert [f.message["type"] for f in client.frames] == ["hello", "join", "welcome"]


# Losing the server.


async def test_an_unreachable_server_raises_signaling_closed_quickly(
    alice_id: Identity, closed_port: int
) -> None:
    """Connecting to a closed port on 127.0.0.1 raises SignalingClosed at once."""
    url = f"ws://127.0.0.1:{closed_port}"
    client = SignalingClient(url, "alice", alice_id)
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
    client = SignalingClient(url, "alice", alice_id)
    with pytest.raises(SignalingClosed, match="not connected"):
        await client.send({"type": "lookup", "name": "bob"})


async def test_without_a_backoff_a_server_shutdown_ends_the_client(
    alice_id: Identity, bob_id: Identity, until: Until
) -> None:
    """With backoff=None a shutdown calls on_close once and fails a waiting request."""
    record = Recorder()
    async with contextlib.AsyncExitStack() as stack:
        ws_server = await stack.enter_async_context(
            SignalingServer().serve("127.0.0.1", 0)
        )
        url = f"ws://127.0.0.1:{ws_server.sockets[0].getsockname()[1]}"
        alice = SignalingClient(
            url, "alice", alice_id, on_close=record.closes.append, backoff=None
        )
        bob = SignalingClient(url, "bob", bob_id, backoff=None)
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
        with pytest.raises(SignalingClosed, match="ended .*1001.*no reply came"):
            await asyncio.wait_for(pending, 5)
        assert loop.time() - start < 5

        await until(lambda: record.closes, what="on_close")
        assert record.closes == ["closed by the server (1001)"]
        assert (alice.state, alice.ended) == ("closed", "lost")
        assert not alice.connected
        with pytest.raises(SignalingClosed, match="closed by the server"):
            await alice.lookup("bob")


async def test_close_is_safe_twice(clients: Clients, alice_id: Identity) -> None:
    """close() may be called twice; on_close runs once and says we closed it."""
    alice, record = clients("alice", alice_id)
    await alice.connect()
    await alice.close()
    await alice.close()
    assert not alice.connected
    assert record.closes == ["closed by this client"]


# Reconnecting.


def test_backoff_doubles_from_the_first_wait_up_to_the_cap() -> None:
    """Without jitter the waits are 0.2, 0.4, 0.8, 1.6, 3.2 s, then 5 s for good."""
    backoff = Backoff()
    delays = [backoff.delay(attempt) for attempt in range(1, 9)]
    assert delays == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])
    assert backoff.delay(10_000) == 5.0
    assert Backoff(first=1, factor=10, cap=60).delay(10_000) == 60


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.5, 0.999, 1.0])
def test_backoff_jitter_takes_off_at_most_its_share(draw: float) -> None:
    """A random draw shortens a wait by at most the jitter's share, never more."""
    backoff = Backoff(first=0.2, cap=5.0, jitter=0.5)
    for attempt in range(1, 12):
        longest = backoff.delay(attempt)
        assert longest / 2 <= backoff.delay(attempt, draw) <= longest <= 5.0


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"first": 0}, "first wait"),
        ({"first": 6, "cap": 5}, "at most the cap"),
        ({"factor": 0.5}, "factor"),
        ({"jitter": 1.5}, "jitter"),
        ({"attempts": 0}, "backoff=None"),
    ],
    ids=["first", "over-cap", "factor", "jitter", "attempts"],
)
def test_backoff_refuses_settings_that_make_no_sense(
    options: dict[str, Any], words: str
) -> None:
    """A backoff that could not work raises ValueError saying which setting."""
    with pytest.raises(ValueError, match=words):
        Backoff(**options)
    with pytest.raises(ValueError, match="count from 1"):
        Backoff().delay(0)


async def test_a_restarted_server_is_rejoined_by_itself(
    clients: Clients,
    restartable: RestartableServer,
    alice_id: Identity,
    bob_id: Identity,
    until: Until,
) -> None:
    """After a restart both clients sign new challenges, rejoin, and see each other."""
    alice, alice_record = clients("alice", alice_id, url=restartable.url)
    bob, bob_record = clients("bob", bob_id, url=restartable.url)
    await alice.connect()
    await bob.connect()
    await until(lambda: alice.peers == {"bob"}, what="alice to see bob")

    await restartable.stop()
    await until(lambda: len(alice_record.retries) >= 3, what="a few attempts")
    assert alice.state == "reconnecting" and not alice.connected
    assert alice.peers == set()
    assert [r.attempt for r in alice_record.retries[:3]] == [1, 2, 3]
    assert "1001" in alice_record.retries[0].reason
    assert "cannot reach" in alice_record.retries[-1].reason
    with pytest.raises(SignalingClosed, match="reconnecting, attempt"):
        await alice.relay("offer", "bob", sdp=OFFER_SDP)

    await restartable.start()
    await until(lambda: alice.connected and bob.connected, what="both to rejoin")
    await until(
        lambda: alice.peers == {"bob"} and bob.peers == {"alice"},
        what="presence after the rejoin",
    )
    assert len(alice_record.rejoins) == len(bob_record.rejoins) == 1
    assert alice.retry is None and alice_record.closes == []

    # Each connection had its own challenge, and each join signed its own.
    hellos = [f.message for f in alice.frames if f.message["type"] == "hello"]
    joins = [f.message for f in alice.frames if f.message["type"] == "join"]
    assert len(hellos) == len(joins) == 2
    assert [j["challenge"] for j in joins] == [h["challenge"] for h in hellos]
    assert hellos[0]["challenge"] != hellos[1]["challenge"]

    # The rejoined connection works: a lookup and a relay go through.
    assert (await alice.lookup("bob"))["online"] is True
    await alice.relay("offer", "bob", sdp=OFFER_SDP)
    await until(lambda: bob_record.of_type("offer"), what="the relayed offer")


async def test_presence_after_a_rejoin_comes_from_the_welcome(
    clients: Clients,
    restartable: RestartableServer,
    alice_id: Identity,
    bob_id: Identity,
    until: Until,
) -> None:
    """A peer that left while the server was down is not in peers after the rejoin."""
    alice, alice_record = clients("alice", alice_id, url=restartable.url)
    bob, _ = clients("bob", bob_id, url=restartable.url)
    await alice.connect()
    await bob.connect()
    await until(lambda: alice.peers == {"bob"}, what="alice to see bob")

    await restartable.stop()
    await bob.close()
    await restartable.start()
    await until(lambda: alice_record.rejoins, what="alice to rejoin")
    assert alice_record.rejoins[0]["peers"] == []
    assert alice.peers == set()
    assert bob.state == "closed" and not bob.connected


async def test_a_request_pending_when_the_connection_drops_fails_clearly(
    clients: Clients,
    restartable: RestartableServer,
    alice_id: Identity,
    bob_id: Identity,
    until: Until,
) -> None:
    """A waiting request fails with SignalingClosed saying the client reconnects."""
    alice, alice_record = clients("alice", alice_id, url=restartable.url)
    bob, _ = clients("bob", bob_id, url=restartable.url)
    await alice.connect()
    await bob.connect()
    request = {"type": "offer", "to": "bob", "sdp": OFFER_SDP}
    pending = asyncio.create_task(alice.request(request, timeout=30))
    await until(
        lambda: any(f.message["type"] == "offer" for f in alice.frames),
        what="the request to be sent",
    )

    await restartable.stop()
    with pytest.raises(SignalingClosed, match="1001.*reconnects by itself"):
        await asyncio.wait_for(pending, 5)
    await restartable.start()
    await until(lambda: alice.connected, what="alice to rejoin")
    assert alice_record.closes == []


async def test_a_shutdown_notice_is_passed_on_and_the_client_comes_back(
    clients: Clients, server: RunningServer, alice_id: Identity, until: Until
) -> None:
    """The server's shutdown notice reaches on_message; after close 1001 it rejoins."""
    alice, record = clients("alice", alice_id)
    await alice.connect()

    # What a server going down for an update sends: a notice, then 1001.
    ws = server.relay.online["alice"]
    notice = {"type": "shutdown", "message": "restarting for an update"}
    await ws.send(json.dumps(notice))
    await ws.close(1001, "going away")

    await until(lambda: record.rejoins, what="alice to rejoin")
    assert record.of_type("shutdown") == [notice]
    assert record.retries[0].attempt == 1
    assert record.retries[0].reason == "closed by the server (1001 going away)"
    assert alice.connected and server.relay.online["alice"] is not ws


async def test_close_while_joined_stops_for_good(
    clients: Clients, server: RunningServer, alice_id: Identity
) -> None:
    """After close() the client never connects again, and says it closed itself."""
    alice, record = clients("alice", alice_id)
    await alice.connect()
    await alice.close()
    await asyncio.sleep(10 * FAST.cap)
    assert "alice" not in server.relay.online
    assert record.retries == [] and record.closes == ["closed by this client"]
    assert (alice.state, alice.ended) == ("closed", "closed")
    with pytest.raises(SignalingClosed, match="closed by this client"):
        await alice.lookup("bob")


async def test_close_while_reconnecting_stops_the_attempts(
    clients: Clients,
    restartable: RestartableServer,
    alice_id: Identity,
    until: Until,
) -> None:
    """close() during the backoff ends the attempts; a server back later sees none."""
    alice, record = clients("alice", alice_id, url=restartable.url)
    await alice.connect()
    await restartable.stop()
    await until(lambda: len(record.retries) >= 2, what="the attempts to start")

    await alice.close()
    attempts = len(record.retries)
    relay = await restartable.start()
    await asyncio.sleep(10 * FAST.cap)
    assert relay.rooms == {}
    assert len(record.retries) == attempts
    assert record.closes == ["closed by this client"]
    assert record.rejoins == []


async def test_a_replaced_connection_does_not_fight_back(
    clients: Clients, server: RunningServer, alice_id: Identity, until: Until
) -> None:
    """A connection replaced by a newer one (4001) stops, says why, and stays away."""
    first, first_record = clients("alice", alice_id)
    second, second_record = clients("alice", alice_id)
    await first.connect()
    await second.connect()
    await until(lambda: first_record.closes, what="the first to stop")

    await asyncio.sleep(10 * FAST.cap)
    assert first.ended == "replaced"
    (reason,) = first_record.closes
    assert "replaced by a newer connection" in reason and "4001" in reason
    assert "not reconnecting" in reason
    assert first_record.retries == []
    assert second.connected and second_record.retries == []
    assert server.relay.online["alice"] is not None
    joins = [
        f for c in (first, second) for f in c.frames if f.message["type"] == "join"
    ]
    assert len(joins) == 2


async def test_a_refused_rejoin_stops_retrying_and_says_why(
    clients: Clients,
    restartable: RestartableServer,
    alice_id: Identity,
    eve_id: Identity,
    until: Until,
) -> None:
    """A rejoin refused with name-taken is not tried again; the refusal is kept."""
    alice, record = clients("alice", alice_id, url=restartable.url)
    await alice.connect()
    await restartable.stop()

    # The server comes back with a directory where eve holds the name.
    directory = Directory()
    directory.bind("lab", "alice", eve_id.public_b64)
    await restartable.start(directory)
    await until(lambda: record.closes, what="alice to give up")
    await asyncio.sleep(10 * FAST.cap)

    assert alice.ended == "refused"
    assert alice.refusal is not None and alice.refusal.code == "name-taken"
    (reason,) = record.closes
    assert "name-taken" in reason and "not reconnecting" in reason
    joins = [f for f in alice.frames if f.message["type"] == "join"]
    assert len(joins) == 2
    with pytest.raises(SignalingClosed, match="name-taken"):
        await alice.lookup("bob")


async def test_the_client_gives_up_when_its_time_runs_out(
    clients: Clients, restartable: RestartableServer, alice_id: Identity, until: Until
) -> None:
    """With the server gone for good, the attempts stop after give_up_after seconds."""
    backoff = Backoff(first=0.02, cap=0.05, give_up_after=0.3)
    alice, record = clients("alice", alice_id, url=restartable.url, backoff=backoff)
    await alice.connect()
    loop = asyncio.get_running_loop()
    start = loop.time()
    await restartable.stop()

    await until(lambda: record.closes, what="alice to give up")
    assert loop.time() - start < 0.3 + 2
    assert alice.ended == "gave-up"
    (reason,) = record.closes
    assert f"gave up reconnecting after {len(record.retries)} attempt(s)" in reason
    assert "cannot reach" in reason
    assert 3 <= len(record.retries) <= backoff.attempts


async def test_a_connection_dropped_without_a_close_frame_is_rejoined(
    clients: Clients, server: RunningServer, alice_id: Identity, until: Until
) -> None:
    """A TCP connection cut without a closing handshake (1006) is rejoined too."""
    alice, record = clients("alice", alice_id)
    await alice.connect()
    dropped = server.relay.online["alice"]

    dropped.transport.abort()

    await until(lambda: record.rejoins, what="alice to rejoin")
    assert record.retries[0].reason.startswith("dropped without a closing handshake")
    assert alice.connected and server.relay.online["alice"] is not dropped

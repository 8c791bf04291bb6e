"""Tests for p2plab.client: whole chats, with a real server and real aiortc peers.

Everything runs in one process and one event loop, on 127.0.0.1, with no ICE
server: the clients take the loopback host policy from the server URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest
from p2plab_server import Directory, SignalingServer

from p2plab import (
    ChatClient,
    ClosedByUser,
    ConnectError,
    Event,
    PeerGone,
    SignalingClient,
    SignalingClosed,
    SignalingError,
)
from p2plab.client import PROBE_TIMEOUT
from p2plab.identity import Identity
from p2plab.peer import sdp_candidates
from p2plab.signaling import Backoff

if TYPE_CHECKING:
    from conftest import RestartableServer, RunningServer

Until = Callable[..., Awaitable[None]]
MakeClient = Callable[..., ChatClient]

# Every wait on the network is bounded, so a broken chat fails fast.
TIMEOUT = 10.0

# Short waits between attempts to reconnect, so that restarts take little time.
FAST = Backoff(first=0.02, cap=0.1)


def states(client: ChatClient) -> list[str]:
    """Return the states a client went through, in order."""
    return [e.data["state"] for e in client.events if e.kind == "state"]


def of_kind(client: ChatClient, kind: str) -> list[Event]:
    """Return the events of one kind that a client reported."""
    return [e for e in client.events if e.kind == kind]


def received(client: ChatClient) -> list[str]:
    """Return the texts of the messages a client received (not sent)."""
    return [e.data["text"] for e in of_kind(client, "message") if not e.data["sent"]]


def server_news(client: ChatClient) -> list[str]:
    """Return the server states a client reported in "server" events, in order."""
    return [e.data["server"] for e in of_kind(client, "server")]


def assert_nothing_crashed(*clients: ChatClient) -> None:
    """Check that no client reported an unexpected failure."""
    for client in clients:
        for event in of_kind(client, "error"):
            assert "unexpected failure" not in event.text, event.text


@pytest.fixture
async def make_client(server: RunningServer) -> AsyncIterator[MakeClient]:
    """Return a factory of chat clients; every client made is closed at teardown."""
    made: list[ChatClient] = []

    def make(
        name: str, identity: Identity, *, url: str = server.url, **options: Any
    ) -> ChatClient:
        client = ChatClient(name, identity, url, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


async def chat_pair(
    make_client: MakeClient,
    alice_id: Identity,
    bob_id: Identity,
    **options: Any,
) -> tuple[ChatClient, ChatClient]:
    """Start Alice, then Bob, as each other's partner; return them connected."""
    alice = make_client("alice", alice_id, partner="bob", **options)
    bob = make_client("bob", bob_id, partner="alice", **options)
    await alice.start()
    await bob.start()
    await bob.wait_ready(TIMEOUT)
    await alice.wait_ready(TIMEOUT)
    return alice, bob


# Getting connected.


async def test_the_first_waits_and_the_second_calls(
    make_client: MakeClient, alice_id: Identity, bob_id: Identity
) -> None:
    """Alice waits for her partner; Bob, arriving second, calls; both connect."""
    alice = make_client("alice", alice_id, partner="bob")
    bob = make_client("bob", bob_id, partner="alice")
    await alice.start()
    assert alice.state == "waiting"

    await bob.start()
    await bob.wait_ready(TIMEOUT)
    await alice.wait_ready(TIMEOUT)

    assert states(alice) == ["joining", "waiting", "connecting", "connected"]
    assert states(bob) == ["joining", "calling", "connected"]
    assert alice.peer_name == "bob" and bob.peer_name == "alice"
    assert alice.peer_fingerprint == bob_id.fingerprint
    assert bob.peer_fingerprint == alice_id.fingerprint
    assert_nothing_crashed(alice, bob)


async def test_a_stale_answer_is_ignored(
    make_client: MakeClient, alice_id: Identity, bob_id: Identity, until: Until
) -> None:
    """An answer arriving when no offer waits for one is skipped, not an error."""
    alice, bob = await chat_pair(make_client, alice_id, bob_id)

    await alice.signaling.relay("answer", "bob", sdp="v=0\r\n")
    await until(lambda: any("stale answer" in e.text for e in of_kind(bob, "step")))

    assert of_kind(bob, "error") == []
    assert bob.state == "connected"
    await bob.send("still here")
    await until(lambda: received(alice) == ["still here"])


async def test_partners_in_one_room_connect(
    make_client: MakeClient, alice_id: Identity, bob_id: Identity
) -> None:
    """Alice and Bob in a room of their own chat as in the default room."""
    alice, bob = await chat_pair(make_client, alice_id, bob_id, room="pair7")
    assert alice.room == bob.room == alice.signaling.room == "pair7"
    assert alice.state == bob.state == "connected"
    assert any("joined room pair7 as alice" in e.text for e in of_kind(alice, "step"))


async def test_partners_in_different_rooms_never_meet(
    make_client: MakeClient, alice_id: Identity, bob_id: Identity
) -> None:
    """Alice and Bob in two rooms both wait; neither is told of the other."""
    alice = make_client("alice", alice_id, partner="bob", room="one")
    bob = make_client("bob", bob_id, partner="alice", room="two")
    await alice.start()
    await bob.start()
    assert alice.state == bob.state == "waiting"
    with pytest.raises(ConnectError):
        await bob.wait_ready(0.3)
    assert alice.peer is None and bob.peer is None
    assert not any("bob joined" in e.text for e in of_kind(alice, "step"))


async def test_the_chat_uses_loopback_candidates_and_no_ice_server(
    make_client: MakeClient, alice_id: Identity, bob_id: Identity
) -> None:
    """With a 127.0.0.1 server, both SDPs carry 127.0.0.1 host candidates only."""
    alice, bob = await chat_pair(make_client, alice_id, bob_id)
    for client in (alice, bob):
        assert client.policy == "loopback"
        assert client.ice_servers == ()
        sdps = [e.data["sdp"] for e in of_kind(client, "step") if "sdp" in e.data]
        assert len(sdps) == 2
        for sdp in sdps:
            assert sdp_candidates(sdp)
            for line in sdp_candidates(sdp):
                fields = line.split()
                assert (fields[4], fields[6], fields[7]) == ("127.0.0.1", "typ", "host")
            assert "srflx" not in sdp and "relay" not in sdp


async def test_call_connects_two_clients_without_partners(
    make_client: MakeClient, alice_id: Identity, bob_id: Identity
) -> None:
    """An explicit call() to an online user returns once the chat is ready."""
    alice = make_client("alice", alice_id)
    bob = make_client("bob", bob_id)
    await alice.start()
    await bob.start()
    assert alice.state == bob.state == "online"

    await bob.call("alice", timeout=TIMEOUT)
    await alice.wait_ready(TIMEOUT)
    assert alice.state == bob.state == "connected"


async def test_calling_an_unknown_user_raises_unknown_peer(
    make_client: MakeClient, alice_id: Identity
) -> None:
    """call() to a name that never joined raises SignalingError unknown-peer."""
    alice = make_client("alice", alice_id)
    await alice.start()
    with pytest.raises(SignalingError) as info:
        await alice.call("nobody", timeout=1)
    assert info.value.code == "unknown-peer"
    assert alice.peer is None


async def test_wait_ready_times_out_with_connect_error(
    make_client: MakeClient, alice_id: Identity
) -> None:
    """Waiting for a partner who never comes raises ConnectError naming the state."""
    alice = make_client("alice", alice_id, partner="bob")
    await alice.start()
    with pytest.raises(ConnectError, match="not ready after 0.2 s.*waiting"):
        await alice.wait_ready(0.2)


async def test_a_call_from_someone_else_is_ignored(
    make_client: MakeClient, alice_id: Identity, eve_id: Identity, until: Until
) -> None:
    """A client waiting for its partner refuses a call from anyone else."""
    alice = make_client("alice", alice_id, partner="bob")
    carol = make_client("carol", eve_id)
    await alice.start()
    await carol.start()
    with pytest.raises(ConnectError):
        await carol.call("alice", timeout=0.3)
    await until(lambda: of_kind(alice, "error"), TIMEOUT, "alice to refuse the call")
    assert "ignored a call from carol" in of_kind(alice, "error")[0].text
    assert alice.state == "waiting"
    assert alice.peer is None


async def test_joining_an_unreachable_server_fails_cleanly(
    make_client: MakeClient, alice_id: Identity, closed_port: int
) -> None:
    """start() against a closed port raises SignalingClosed and leaves "offline"."""
    alice = make_client("alice", alice_id, url=f"ws://127.0.0.1:{closed_port}")
    with pytest.raises(SignalingClosed):
        await alice.start()
    assert alice.state == "offline"


async def test_joining_under_a_taken_name_fails_cleanly(
    make_client: MakeClient, alice_id: Identity, eve_id: Identity
) -> None:
    """start() with a name bound to another key raises name-taken, state offline."""
    await make_client("alice", alice_id).start()
    impostor = make_client("alice", eve_id)
    with pytest.raises(SignalingError) as info:
        await impostor.start()
    assert info.value.code == "name-taken"
    assert impostor.state == "offline"


# Chatting.


async def test_messages_flow_both_ways(
    make_client: MakeClient, alice_id: Identity, bob_id: Identity, until: Until
) -> None:
    """Each side's text arrives at the other as a message event from the sender."""
    alice, bob = await chat_pair(make_client, alice_id, bob_id)

    sent = await alice.send("Hi Bob, can the server read this?")
    assert sent.kind == "message"
    assert sent.data["sent"] is True and sent.data["counter"] == 0
    await bob.send("No, it only saw our keys.")
    await alice.send("Good.")

    await until(lambda: len(received(bob)) == 2, TIMEOUT, "bob's messages")
    await until(lambda: received(alice), TIMEOUT, "alice's message")
    assert received(bob) == ["Hi Bob, can the server read this?", "Good."]
    assert received(alice) == ["No, it only saw our keys."]

    event = [e for e in of_kind(bob, "message") if not e.data["sent"]][0]
    assert event.data["sender"] == "alice"
    assert event.data["counter"] == 0
    assert event.data["nonce"] == sent.data["nonce"]
    assert event.data["ciphertext"] == sent.data["ciphertext"]
    assert_nothing_crashed(alice, bob)


async def test_send_without_a_chat_raises_peer_gone(
    make_client: MakeClient, alice_id: Identity
) -> None:
    """send() with no open chat raises PeerGone that names the state."""
    alice = make_client("alice", alice_id, partner="bob")
    await alice.start()
    with pytest.raises(PeerGone, match="no open chat.*waiting"):
        await alice.send("hello?")


async def test_send_after_close_raises_closed_by_user(
    make_client: MakeClient, alice_id: Identity, bob_id: Identity
) -> None:
    """After close(), send() raises ClosedByUser: we closed it, nobody else."""
    alice, _ = await chat_pair(make_client, alice_id, bob_id)
    await alice.close()
    assert alice.state == "closed"
    assert of_kind(alice, "state")[-1].text == "closed by you"
    with pytest.raises(ClosedByUser, match="closed"):
        await alice.send("too late")

    # A second close() is harmless and reports nothing new.
    count = len(alice.events)
    await alice.close()
    assert len(alice.events) == count


async def test_a_swapped_public_key_surfaces_as_an_error_event(
    alice_id: Identity, bob_id: Identity, eve_id: Identity, until: Until
) -> None:
    """If the server hands out a wrong key, Bob reports an error; nothing crashes."""

    class SwappingDirectory(Directory):
        """A malicious directory that answers lookups for bob with Eve's key."""

        def get(self, room: str, name: str) -> str | None:
            return eve_id.public_b64 if name == "bob" else super().get(room, name)

    relay = SignalingServer(SwappingDirectory())
    async with contextlib.AsyncExitStack() as stack:
        ws_server = await stack.enter_async_context(relay.serve("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{ws_server.sockets[0].getsockname()[1]}"
        bob = ChatClient("bob", bob_id, url, partner="alice")
        alice = ChatClient("alice", alice_id, url, partner="bob")
        stack.push_async_callback(bob.close)
        stack.push_async_callback(alice.close)

        # Bob waits; Alice calls him with the key the server gave her.
        await bob.start()
        await alice.start()
        await alice.wait_ready(TIMEOUT)
        assert alice.peer_fingerprint == eve_id.fingerprint != bob_id.fingerprint

        await until(lambda: of_kind(bob, "error"), TIMEOUT, "bob's unwrap error")
        assert "could not be unwrapped" in of_kind(bob, "error")[0].text
        assert bob.state != "connected"

        # Alice's messages cannot be read and are refused one by one.
        await alice.send("can you read this?")
        await until(lambda: len(of_kind(bob, "error")) == 2, TIMEOUT, "the refusal")
        assert received(bob) == []
        assert_nothing_crashed(alice, bob)


# Losing the peer or the server.


async def test_the_peer_closing_is_reported(
    make_client: MakeClient, alice_id: Identity, bob_id: Identity, until: Until
) -> None:
    """When Alice closes, Bob leaves "connected" with a text that names her."""
    alice, bob = await chat_pair(make_client, alice_id, bob_id)
    await alice.close()
    await until(lambda: bob.state != "connected", TIMEOUT, "bob to notice")
    assert bob.state in ("waiting", "disconnected")
    last = of_kind(bob, "state")[-1]
    assert "alice" in last.text
    with pytest.raises(PeerGone):
        await bob.send("still there?")
    assert_nothing_crashed(alice, bob)


async def test_hanging_up_keeps_both_on_the_server(
    make_client: MakeClient, alice_id: Identity, bob_id: Identity, until: Until
) -> None:
    """hang_up() ends the chat; Bob hears that Alice hung up; both stay joined."""
    alice, bob = await chat_pair(make_client, alice_id, bob_id)
    await alice.hang_up()
    assert alice.state == "waiting"
    assert of_kind(alice, "state")[-1].text == "you ended the chat with bob"
    await until(lambda: bob.state != "connected", TIMEOUT, "bob to notice")
    assert bob.state in ("waiting", "disconnected")
    assert alice.signaling.connected and bob.signaling.connected


async def test_a_server_restart_keeps_the_chat_and_both_rejoin(
    make_client: MakeClient,
    restartable: RestartableServer,
    alice_id: Identity,
    bob_id: Identity,
    until: Until,
) -> None:
    """The chat stays connected while the server is down; both rejoin by themselves."""
    alice, bob = await chat_pair(
        make_client, alice_id, bob_id, url=restartable.url, backoff=FAST
    )
    before = {c.name: states(c) for c in (alice, bob)}

    await restartable.stop()
    for client in (alice, bob):
        await until(
            lambda c=client: "reconnecting" in server_news(c), TIMEOUT, "the notice"
        )
        notice = of_kind(client, "server")[0]
        assert "unreachable" in notice.text and "goes on peer to peer" in notice.text
        assert notice.data["attempt"] == 1
        assert client.state == "connected"

    # While the server is down, the chat goes on both ways.
    await alice.send("still here?")
    await bob.send("yes, peer to peer")
    await until(lambda: received(bob) == ["still here?"], TIMEOUT, "bob's message")
    await until(lambda: received(alice) == ["yes, peer to peer"], TIMEOUT, "reply")

    await restartable.start()
    for client in (alice, bob):
        await until(lambda c=client: c.signaling.connected, TIMEOUT, "the rejoin")
        await until(lambda c=client: server_news(c)[-1] == "joined", TIMEOUT, "news")
        assert "went on peer to peer" in of_kind(client, "server")[-1].text
        assert states(client) == before[client.name]
    assert alice.peer_fingerprint == bob_id.fingerprint

    # A new chat can be set up through the restarted server.
    await alice.hang_up()
    await until(lambda: bob.peer is None, TIMEOUT, "bob to see the chat end")
    await alice.call("bob", timeout=TIMEOUT)
    await bob.wait_ready(TIMEOUT)
    await alice.send("and a new chat")
    await until(lambda: received(bob)[-1:] == ["and a new chat"], TIMEOUT, "message")
    assert_nothing_crashed(alice, bob)


async def test_without_a_chat_the_state_is_reconnecting_then_waiting(
    make_client: MakeClient,
    restartable: RestartableServer,
    alice_id: Identity,
    bob_id: Identity,
    until: Until,
) -> None:
    """A waiting client shows "reconnecting" with the attempt, then waits again."""
    alice = make_client(
        "alice", alice_id, url=restartable.url, partner="bob", backoff=FAST
    )
    await alice.start()
    await restartable.stop()
    await until(lambda: alice.state == "reconnecting", TIMEOUT, "reconnecting")
    event = of_kind(alice, "state")[-1]
    assert event.data["attempt"] == 1 and event.data["delay"] <= FAST.first
    assert "attempt 1 to reconnect in" in event.text
    with pytest.raises(SignalingClosed, match="reconnecting"):
        await alice.call("bob", timeout=1)

    await restartable.start()
    await until(lambda: alice.state == "waiting", TIMEOUT, "waiting again")
    assert of_kind(alice, "state")[-1].text.startswith("back on the server")
    assert server_news(alice) == []

    # The usual rule still holds: Bob arrives second and calls.
    bob = make_client("bob", bob_id, url=restartable.url, partner="alice")
    await bob.start()
    await alice.wait_ready(TIMEOUT)
    assert_nothing_crashed(alice, bob)


async def test_partners_both_back_after_a_restart_call_once(
    make_client: MakeClient,
    restartable: RestartableServer,
    alice_id: Identity,
    bob_id: Identity,
    until: Until,
) -> None:
    """Two partners without an open chat rejoin; the one who rejoins second calls."""
    alice, bob = await chat_pair(
        make_client, alice_id, bob_id, url=restartable.url, backoff=FAST
    )
    await alice.hang_up()
    await until(lambda: bob.peer is None, TIMEOUT, "bob to see the chat end")
    counts = {c.name: len(states(c)) for c in (alice, bob)}

    await restartable.stop()
    for client in (alice, bob):
        await until(lambda c=client: c.state == "reconnecting", TIMEOUT, "the loss")
    await restartable.start()
    await alice.wait_ready(TIMEOUT)
    await bob.wait_ready(TIMEOUT)

    after = {c.name: states(c)[counts[c.name] :] for c in (alice, bob)}
    assert all(s[0] == "reconnecting" and s[-1] == "connected" for s in after.values())
    assert sum(s.count("calling") for s in after.values()) == 1
    await bob.send("back")
    await until(lambda: received(alice)[-1:] == ["back"], TIMEOUT, "the message")
    assert_nothing_crashed(alice, bob)


async def test_crossed_calls_end_in_one_chat_called_by_the_first_name(
    make_client: MakeClient, alice_id: Identity, bob_id: Identity
) -> None:
    """When both call at once, alice's call wins, bob answers it, and both chat."""
    alice = make_client("alice", alice_id)
    bob = make_client("bob", bob_id)
    await alice.start()
    await bob.start()

    await asyncio.gather(
        alice.call("bob", timeout=TIMEOUT), bob.call("alice", timeout=TIMEOUT)
    )
    assert alice.state == bob.state == "connected"
    assert alice.session is not None and bob.session is not None
    assert alice.session.initiator and not bob.session.initiator
    assert alice.session.session_key == bob.session.session_key
    crossed = [e.text for c in (alice, bob) for e in of_kind(c, "step")]
    assert any("crossed" in text for text in crossed)
    await bob.send("one chat")
    assert_nothing_crashed(alice, bob)


async def test_the_caller_by_the_rule_ignores_an_offer_sent_before_its_join(
    make_client: MakeClient,
    server: RunningServer,
    alice_id: Identity,
    bob_id: Identity,
    until: Until,
) -> None:
    """Bob, finding Alice online, calls her and ignores her offer sent meanwhile."""
    offers: list[dict[str, Any]] = []
    alice = SignalingClient(server.url, "alice", alice_id, on_message=offers.append)
    await alice.connect()
    try:
        bob = make_client("bob", bob_id, partner="alice")
        await bob.start()
        # Alice sends an offer of her own as soon as Bob is there, as one
        # held for Bob while he was away, or sent before she saw him, would be.
        await alice.relay("offer", "bob", sdp="v=0\r\n")
        await until(lambda: any(m["type"] == "offer" for m in offers), TIMEOUT, "offer")
        await until(
            lambda: any("ignored an offer from alice" in e.text for e in bob.events),
            TIMEOUT,
            "bob to ignore alice's offer",
        )
        assert bob.state == "calling" and bob.peer_name == "alice"
        assert of_kind(bob, "error") == []
    finally:
        await alice.close()


async def test_a_refused_rejoin_leaves_the_client_offline_saying_why(
    make_client: MakeClient,
    restartable: RestartableServer,
    alice_id: Identity,
    eve_id: Identity,
    until: Until,
) -> None:
    """A rejoin refused with name-taken ends in "offline" and a red line; no retry."""
    alice = make_client(
        "alice", alice_id, url=restartable.url, partner="bob", backoff=FAST
    )
    await alice.start()
    await restartable.stop()
    directory = Directory()
    directory.bind("lab", "alice", eve_id.public_b64)
    await restartable.start(directory)

    await until(lambda: alice.state == "offline", TIMEOUT, "alice to stop")
    assert of_kind(alice, "state")[-1].text == "the server refused to let us join again"
    (error,) = of_kind(alice, "error")
    assert "name-taken" in error.text and "not reconnecting" in error.text
    retries = len([s for s in states(alice) if s == "reconnecting"])
    await asyncio.sleep(10 * FAST.cap)
    assert len([s for s in states(alice) if s == "reconnecting"]) == retries
    assert_nothing_crashed(alice)


async def test_a_replaced_client_goes_offline_and_stays_away(
    make_client: MakeClient, server: RunningServer, alice_id: Identity, until: Until
) -> None:
    """A second client with the same name and key takes over; the first says so."""
    first = make_client("alice", alice_id, partner="bob", backoff=FAST)
    second = make_client("alice", alice_id, partner="bob", backoff=FAST)
    await first.start()
    await second.start()

    await until(lambda: first.state == "offline", TIMEOUT, "the first to stop")
    assert "replaced by a newer connection" in of_kind(first, "error")[-1].text
    await asyncio.sleep(10 * FAST.cap)
    assert "reconnecting" not in states(first) + states(second)
    assert second.state == "waiting" and second.signaling.connected
    assert server.relay.online["alice"] is not None


async def test_closing_during_an_outage_stops_the_reconnection(
    make_client: MakeClient,
    restartable: RestartableServer,
    alice_id: Identity,
    until: Until,
) -> None:
    """close() while reconnecting ends in "closed"; a server back later sees no one."""
    alice = make_client("alice", alice_id, url=restartable.url, backoff=FAST)
    await alice.start()
    await restartable.stop()
    await until(lambda: alice.state == "reconnecting", TIMEOUT, "reconnecting")
    await alice.close()
    count = len(alice.events)

    relay = await restartable.start()
    await asyncio.sleep(10 * FAST.cap)
    assert alice.state == "closed" and len(alice.events) == count
    assert relay.rooms == {}


async def test_server_notices_become_events(
    make_client: MakeClient, server: RunningServer, alice_id: Identity, until: Until
) -> None:
    """An expired relay is an error event; a shutdown notice an informative one."""
    alice = make_client("alice", alice_id, partner="bob", backoff=FAST)
    await alice.start()
    ws = server.relay.online["alice"]

    expired = {
        "type": "expired",
        "to": "bob",
        "ref": "offer",
        "message": "bob did not come back within 30 s",
    }
    await ws.send(json.dumps(expired))
    await until(lambda: of_kind(alice, "error"), TIMEOUT, "the expired notice")
    assert of_kind(alice, "error")[0].text == (
        "our offer to bob expired on the server, undelivered: "
        "bob did not come back within 30 s"
    )

    shutdown = {"type": "shutdown", "message": "the server is shutting down"}
    await ws.send(json.dumps(shutdown))
    await until(lambda: server_news(alice) == ["shutdown"], TIMEOUT, "the notice")
    text = of_kind(alice, "server")[0].text
    assert "notice from the signaling server: the server is shutting down" in text
    assert "reconnects and rejoins by itself" in text
    assert alice.state == "waiting"
    assert_nothing_crashed(alice)


# Receipts and a peer that vanished.


async def test_the_peer_confirms_each_message(
    make_client: MakeClient, alice_id: Identity, bob_id: Identity, until: Until
) -> None:
    """Every message Alice sends comes back as a "delivered" event for its number."""
    alice, bob = await chat_pair(make_client, alice_id, bob_id)
    for text in ("one", "two", "three"):
        await alice.send(text)
    await until(lambda: len(of_kind(alice, "delivered")) == 3, TIMEOUT, "receipts")

    assert [e.data["counter"] for e in of_kind(alice, "delivered")] == [0, 1, 2]
    assert alice.session is not None and alice.session.unconfirmed == {}
    assert of_kind(bob, "delivered") == []


async def test_a_peer_that_left_and_went_silent_ends_the_chat_quickly(
    make_client: MakeClient, alice_id: Identity, bob_id: Identity, until: Until
) -> None:
    """When the peer leaves the server and ignores a probe, the chat ends in seconds."""
    alice, bob = await chat_pair(make_client, alice_id, bob_id)

    # Bob's kernel "dies": his data channel stops answering, and his
    # connection to the server drops without a close frame.
    assert bob.peer is not None
    bob.peer.on_message = None
    await alice.send("into the void")
    transport = bob.signaling._ws.transport  # type: ignore[union-attr]
    bob.signaling.backoff = None
    transport.abort()

    await until(lambda: alice.state != "connected", 2 * PROBE_TIMEOUT + 2, "the end")
    assert alice.state == "waiting"
    errors = " ".join(e.text for e in of_kind(alice, "error"))
    assert "'into the void'" in errors and "may not have arrived" in errors

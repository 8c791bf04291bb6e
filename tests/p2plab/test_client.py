"""Tests for p2plab.client: whole chats, with a real server and real aiortc peers.

Everything runs in one process and one event loop, on 127.0.0.1, with no ICE
server: the clients take the loopback host policy from the server URL.
"""

from __future__ import annotations

import contextlib
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
    SignalingClosed,
    SignalingError,
)
from p2plab.identity import Identity
from p2plab.peer import sdp_candidates

if TYPE_CHECKING:
    from conftest import RunningServer

Until = Callable[..., Awaitable[None]]
MakeClient = Callable[..., ChatClient]

# Every wait on the network is bounded, so a broken chat fails fast.
TIMEOUT = 10.0


def states(client: ChatClient) -> list[str]:
    """Return the states a client went through, in order."""
    return [e.data["state"] for e in client.events if e.kind == "state"]


def of_kind(client: ChatClient, kind: str) -> list[Event]:
    """Return the events of one kind that a client reported."""
    return [e for e in client.events if e.kind == kind]


def received(client: ChatClient) -> list[str]:
    """Return the texts of the messages a client received (not sent)."""
    return [e.data["text"] for e in of_kind(client, "message") if not e.data["sent"]]


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


async def test_a_server_restart_does_not_stop_the_chat(
    make_client: MakeClient, alice_id: Identity, bob_id: Identity, until: Until
) -> None:
    """The chat goes on peer to peer without the server; a new one takes joins."""
    relay = SignalingServer()
    ws_server = await relay.serve("127.0.0.1", 0)
    port = ws_server.sockets[0].getsockname()[1]
    url = f"ws://127.0.0.1:{port}"
    try:
        alice, bob = await chat_pair(make_client, alice_id, bob_id, url=url)
    finally:
        # Stop the server: the chat is already peer to peer.
        ws_server.close()
        await ws_server.wait_closed()

    for client in (alice, bob):
        await until(lambda c=client: of_kind(c, "error"), TIMEOUT, "the notice")
        notice = of_kind(client, "error")[-1].text
        assert "signaling server connection closed" in notice
        assert "goes on peer to peer" in notice
        assert not client.signaling.connected
        assert client.state == "connected"

    await alice.send("still here?")
    await bob.send("yes, peer to peer")
    await until(lambda: received(bob) == ["still here?"], TIMEOUT, "bob's message")
    await until(lambda: received(alice) == ["yes, peer to peer"], TIMEOUT, "reply")

    # A new server on the same port takes new users.
    async with SignalingServer().serve("127.0.0.1", port):
        carol = make_client("carol", alice_id, url=url)
        await carol.start()
        assert carol.state == "online"
        assert carol.signaling.connected
    assert_nothing_crashed(alice, bob, carol)

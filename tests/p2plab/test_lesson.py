"""The lessons' runtime: a server that writes down what it saw, reset, safe failures."""

from __future__ import annotations

import pytest

from p2plab import Identity, Peer, SignalingClosed, lesson
from p2plab.peer import live_peers
from p2plab.signaling import live_clients


@pytest.fixture(autouse=True)
def clean() -> None:
    """Every test starts and ends with nothing open in this process."""
    lesson.reset()
    yield
    lesson.reset()


def test_server_writes_down_each_frame_by_user(alice_id: Identity) -> None:
    """The lesson server records every frame of a join, by user and direction."""
    server = lesson.start_server()
    alice = lesson.run(lesson.joined("alice", server, alice_id))

    assert [(s.direction, s.type) for s in server.saw("alice")] == [
        (">", "hello"),
        ("<", "join"),
        (">", "welcome"),
    ]
    join = server.saw()[1]
    assert join.size == len(join.raw)
    assert join.message["key"] == alice_id.public_b64
    assert alice.connected


def test_server_sees_a_relay_from_both_sides(
    alice_id: Identity, bob_id: Identity
) -> None:
    """A relayed message is seen read from its sender and written to its recipient."""
    server = lesson.start_server()
    alice = lesson.run(lesson.joined("alice", server, alice_id))
    lesson.run(lesson.joined("bob", server, bob_id))

    lesson.run(alice.relay("offer", "bob", sdp="v=0"))
    lesson.run(_until(lambda: any(s.type == "offer" for s in server.saw("bob"))))

    assert [s.direction for s in server.saw() if s.type == "offer"] == ["<", ">"]
    assert [s.user for s in server.saw() if s.type == "offer"] == ["alice", "bob"]


def test_reset_closes_servers_clients_and_peers(alice_id: Identity) -> None:
    """After reset nothing the kernel opened is still open, and it can run twice."""
    server = lesson.start_server()
    client = lesson.run(lesson.joined("alice", server, alice_id))
    lesson.run(_make_peer())
    assert live_peers() and live_clients()

    lesson.reset()
    lesson.reset()

    assert not live_peers() and not live_clients()
    assert client.state == "closed"
    with pytest.raises(SignalingClosed):
        lesson.run(lesson.joined("bob", server))


def test_shows_error_prints_the_error_and_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An error raised on purpose is printed as one line instead of propagating."""
    with lesson.shows_error():
        raise ValueError("the tag does not match")
    with lesson.shows_error():
        pass

    assert capsys.readouterr().out.splitlines() == [
        "ValueError raised: the tag does not match",
        "no error was raised",
    ]


async def _make_peer() -> Peer:
    return Peer()


async def _until(test: object, timeout: float = 5.0) -> None:
    import asyncio

    async def wait() -> None:
        while not test():  # type: ignore[operator]
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), timeout)


def test_chat_pair_connects_and_chats() -> None:
    """Two chat clients made by chat_pair exchange a sealed message at once."""
    server = lesson.start_server()
    alice, bob = lesson.run(lesson.chat_pair(server))

    lesson.run(alice.send("hello Bob"))

    assert lesson.run(lesson.received(bob)) == ["hello Bob"]
    assert alice.state == bob.state == "connected"
    assert all(s.type != "message" for s in server.saw())
    lesson.reset()
    assert alice.state == bob.state == "closed"


def test_relayed_waits_for_the_message_as_delivered(
    alice_id: Identity, bob_id: Identity
) -> None:
    """relayed returns the relayed offer as the recipient got it, or times out."""
    server = lesson.start_server()
    alice = lesson.run(lesson.joined("alice", server, alice_id))
    bob = lesson.run(lesson.joined("bob", server, bob_id))

    lesson.run(alice.relay("offer", "bob", sdp="v=0\r\n"))

    offer = lesson.run(lesson.relayed(bob, "offer"))
    assert offer == {"type": "offer", "from": "alice", "sdp": "v=0\r\n"}
    with pytest.raises(TimeoutError):
        lesson.run(lesson.relayed(alice, "answer", timeout=0.1))

"""The lessons' runtime: a server that writes down what it saw, reset, safe failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2plab import Identity, Peer, SignalingClosed, SignalingError, lesson
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


def test_key_store_is_a_fresh_folder_that_reset_deletes(
    alice_id: Identity, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each key_store is empty and outside the lab's home; reset deletes it."""
    monkeypatch.setenv("P2PLAB_HOME", str(tmp_path))
    first, second = lesson.key_store(), lesson.key_store()
    path = first.save("alice", alice_id, "a lesson passphrase")

    assert first.root != second.root and not second.exists("alice")
    assert tmp_path not in path.parents
    assert first.load("alice", "a lesson passphrase").fingerprint == (
        alice_id.fingerprint
    )
    lesson.reset()
    assert not path.exists() and not first.root.parent.exists()


def test_a_refused_join_leaves_the_connection_unnamed(
    alice_id: Identity, eve_id: Identity
) -> None:
    """A connection refused the name it asked for is recorded as ``?``, not under it."""
    server = lesson.start_server()
    lesson.run(lesson.joined("alice", server, alice_id))

    with pytest.raises(SignalingError):
        lesson.run(lesson.joined("alice", server, eve_id))

    assert [s.type for s in server.saw("alice")] == ["hello", "join", "welcome"]
    assert [s.type for s in server.saw("?")] == ["hello", "join", "error"]


def test_listeners_see_each_frame_and_cannot_break_the_server(
    alice_id: Identity, caplog: pytest.LogCaptureFixture
) -> None:
    """Each listener gets every new frame; one that raises is logged and skipped."""
    server = lesson.start_server()
    heard: list[str] = []

    def broken(seen: object) -> None:
        raise RuntimeError("a display that fails")

    server.listeners += [broken, lambda seen: heard.append(seen.type)]
    alice = lesson.run(lesson.joined("alice", server, alice_id))

    assert alice.connected
    assert heard == ["hello", "join", "welcome"]
    assert "a listener of the lesson server failed" in caplog.text


def test_arrived_returns_the_message_the_client_received(
    alice_id: Identity, bob_id: Identity
) -> None:
    """arrived() waits for a relayed message and returns it as the recipient got it."""
    server = lesson.start_server()
    alice = lesson.run(lesson.joined("alice", server, alice_id))
    bob = lesson.run(lesson.joined("bob", server, bob_id))

    lesson.run(alice.relay("offer", "bob", sdp="v=0"))

    assert lesson.run(lesson.arrived(bob, "offer")) == {
        "type": "offer",
        "from": "alice",
        "sdp": "v=0",
    }
    with pytest.raises(TimeoutError, match="bob received 1 'offer'"):
        lesson.run(lesson.arrived(bob, "offer", count=2, timeout=0.1))
    with pytest.raises(TimeoutError):
        lesson.run(lesson.arrived(alice, "answer", timeout=0.1))

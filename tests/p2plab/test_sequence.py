"""The sequence diagram of the signaling exchange, drawn from real runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from p2plab import Identity, SignalingError, lesson
from p2plab.sequence import SERVER, SequenceDiagram, layout
from p2plab.signaling import Frame

from .conftest import TIMEOUT


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    """Nothing stays open between tests."""
    lesson.reset()
    yield
    lesson.reset()


def wait_for(test: Callable[[], bool], what: str) -> None:
    """Poll ``test`` from this thread until it holds, or fail after TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT
    while not test():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_a_relay_goes_through_the_server(alice_id: Identity, bob_id: Identity) -> None:
    """Each frame is an arrow to or from the server; a relay is one in, one out."""
    server = lesson.start_server()
    alice = lesson.run(lesson.joined("alice", server, alice_id))
    bob = lesson.run(lesson.joined("bob", server, bob_id))
    lesson.run(alice.relay("offer", "bob", sdp="v=0"))
    lesson.run(lesson.arrived(bob, "offer"))

    diagram = SequenceDiagram(server)

    assert diagram.lifelines == ["alice", SERVER, "bob"]
    assert [(a.start, a.end, a.type) for a in diagram.arrows] == [
        (SERVER, "alice", "hello"),
        ("alice", SERVER, "join"),
        (SERVER, "alice", "welcome"),
        (SERVER, "bob", "hello"),
        ("bob", SERVER, "join"),
        (SERVER, "bob", "welcome"),
        (SERVER, "alice", "joined"),
        ("alice", SERVER, "offer"),
        (SERVER, "bob", "offer"),
    ]
    offer_in, offer_out = diagram.arrows[-2:]
    assert offer_in.label == f"offer to bob · {offer_in.size} B"
    assert offer_out.label == f"offer from alice · {offer_out.size} B"
    assert offer_in.style == offer_out.style == "relay"
    assert "offer from alice" in diagram.value


def test_live_diagram_grows_while_the_lesson_runs(
    alice_id: Identity, bob_id: Identity
) -> None:
    """A diagram made before anyone joined draws the frames as the server sees them."""
    server = lesson.start_server()
    diagram = SequenceDiagram(server)
    assert repr(diagram) == "<SequenceDiagram: 1 lifeline (server), 0 arrows>"
    assert "no frames yet" in diagram.value

    alice = lesson.run(lesson.joined("alice", server, alice_id))
    bob = lesson.run(lesson.joined("bob", server, bob_id))
    lesson.run(bob.relay("bye", "alice"))
    lesson.run(lesson.arrived(alice, "bye"))

    assert repr(diagram) == (
        "<SequenceDiagram: 3 lifelines (alice, server, bob), 9 arrows>"
    )
    wait_for(lambda: "bye from bob" in diagram.value, "the diagram to be redrawn")
    assert "no frames yet" not in diagram.value


def test_stopped_diagram_keeps_what_it_had(alice_id: Identity) -> None:
    """After stop() the diagram no longer follows the server, until refreshed."""
    server = lesson.start_server()
    diagram = SequenceDiagram(server)
    diagram.stop()

    lesson.run(lesson.joined("alice", server, alice_id))

    assert not diagram.live and diagram.arrows == []
    assert server.listeners == []
    diagram.refresh()
    assert [a.type for a in diagram.arrows] == ["hello", "join", "welcome"]


def test_errors_and_refused_joins_are_drawn(
    alice_id: Identity, eve_id: Identity
) -> None:
    """An error is red, and a connection refused its name has a lifeline of its own."""
    server = lesson.start_server()
    alice = lesson.run(lesson.joined("alice", server, alice_id))
    lesson.run(alice.relay("offer", "carol", sdp="v=0"))
    lesson.run(lesson.arrived(alice, "error"))
    with pytest.raises(SignalingError):
        lesson.run(lesson.joined("alice", server, eve_id))

    diagram = SequenceDiagram(server, live=False)

    assert diagram.lifelines == ["alice", SERVER, "not joined"]
    errors = [a for a in diagram.arrows if a.type == "error"]
    assert [(a.end, a.style) for a in errors] == [
        ("alice", "error"),
        ("not joined", "error"),
    ]
    assert errors[0].label.startswith("error unknown-peer")
    assert errors[1].label.startswith("error name-taken")


def test_client_frames_are_drawn_between_it_and_the_server(
    alice_id: Identity,
) -> None:
    """A client's own frames make two lifelines; what it sent goes to the server."""
    server = lesson.start_server()
    alice = lesson.run(lesson.joined("alice", server, alice_id))

    diagram = SequenceDiagram(alice.frames, user="alice")
    lesson.run(alice.lookup("alice"))

    assert diagram.lifelines == ["alice", SERVER]
    assert [(a.start, a.type) for a in diagram.arrows] == [
        (SERVER, "hello"),
        ("alice", "join"),
        (SERVER, "welcome"),
    ]
    diagram.refresh()
    assert [a.label.split(" · ")[0] for a in diagram.arrows[3:]] == [
        "lookup alice",
        "key of alice",
    ]


def test_long_runs_are_cut_with_a_note() -> None:
    """Past the limit only the latest arrows are drawn, and a note says so."""
    frames = [Frame(">", {"type": "health", "id": n}, 30) for n in range(12)]

    diagram = SequenceDiagram(frames, limit=5)

    assert len(diagram.arrows) == 12
    assert diagram.value.count("<polygon") == 5
    assert "7 earlier frames are not drawn; the latest 5 are." in diagram.value
    assert repr(diagram).endswith("12 arrows, the last 5 drawn>")
    with pytest.raises(ValueError, match="limit"):
        SequenceDiagram(frames, limit=0)


def test_markup_in_frames_is_shown_as_text() -> None:
    """A type or a name holding markup is escaped, and a long one is cut."""
    frames = [
        Frame(">", {"type": "<script>"}, 20),
        Frame("<", {"type": "joined", "name": "<u>" + "x" * 40}, 60),
    ]

    diagram = SequenceDiagram(frames, user="<i>")

    assert "<script>" not in diagram.value and "<u>" not in diagram.value
    assert "&lt;script&gt;" in diagram.value
    assert len(diagram.arrows[1].label) < 40


def test_users_sit_on_both_sides_of_the_server() -> None:
    """Users take the left and right of the server in turn, as they appear."""
    users = [
        lesson.Seen(name, n, "<", "join", 10, {"type": "join", "name": name}, b"")
        for n, name in enumerate("abcd")
    ]

    assert layout(users)[0] == ["c", "a", SERVER, "b", "d"]
    assert layout([lesson.Seen("server", 1, "<", "x", 1, {}, b"")])[0] == [
        "server (a user)",
        SERVER,
    ]

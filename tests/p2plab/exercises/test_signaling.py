"""The checks of the signaling lesson: solutions pass, usual mistakes get hints."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from p2plab import Identity, SignalingClient, SignalingError, lesson
from p2plab.exercises import signaling as check

from .conftest import load_solutions


@pytest.fixture(scope="module")
def solutions() -> ModuleType:
    """The worked answers in solutions/02_signaling.py."""
    return load_solutions("02_signaling")


@pytest.fixture
def run(
    alice_id: Identity, bob_id: Identity, eve_id: Identity
) -> Iterator[tuple[lesson.LessonServer, SignalingClient, SignalingClient]]:
    """The lesson's run: a server, alice and bob joined, relays and errors."""
    lesson.reset()
    server = lesson.start_server()
    alice = lesson.run(lesson.joined("alice", server, alice_id))
    bob = lesson.run(lesson.joined("bob", server, bob_id))
    lesson.run(alice.relay("offer", "bob", sdp="v=0"))
    lesson.run(alice.relay("offer", "carol", sdp="v=0"))
    lesson.run(lesson.arrived(bob, "offer"))
    lesson.run(lesson.arrived(alice, "error"))
    with pytest.raises(SignalingError):
        lesson.run(lesson.joined("alice", server, eve_id))
    yield server, alice, bob
    lesson.reset()


def test_sender(run: tuple, solutions: ModuleType) -> None:
    """The solution's sender passes; the recipient, the server or a dict get hints."""
    _, alice, bob = run
    assert check.sender(solutions.sender(alice, bob), alice)

    assert "recipient" in check.sender("alice", alice).message
    assert "not its own" in check.sender("server", alice).message
    assert "whole message" in check.sender({"from": "bob"}, alice).message
    assert "names are exact" in check.sender("Bob", alice).message
    assert "names are exact" in check.sender(" bob ", alice).message
    assert not check.sender(..., alice).tried


def test_sender_needs_a_relayed_candidate(run: tuple) -> None:
    """Before any candidate reached alice, even "bob" is refused, with what to do."""
    _, alice, _ = run
    result = check.sender("bob", alice)
    assert not result and "make bob relay one first" in result.message


def test_frames_read(run: tuple, solutions: ModuleType) -> None:
    """The count of frames read passes; counting writes or everyone's gets a hint."""
    server = run[0]
    right = solutions.frames_read(server)
    assert right == 3  # join, offer to bob, offer to carol
    assert check.frames_read(right, server)

    mine = server.saw("alice")
    assert "wrote to alice too" in check.frames_read(len(mine), server).message
    assert "'>' what it wrote" in check.frames_read(len(mine) - right, server).message
    everyone = sum(s.direction == "<" for s in server.saw())
    assert "every user's" in check.frames_read(everyone, server).message
    assert "close" in check.frames_read(right - 1, server).message
    assert "number" in check.frames_read("3", server).message
    assert "number" in check.frames_read(True, server).message
    assert check.frames_read(float(right), server)


def test_frames_read_follows_the_run(run: tuple) -> None:
    """The check counts the server's record as it is when the check runs."""
    server, alice, bob = run
    lesson.run(alice.lookup("bob"))
    lesson.run(lesson.arrived(alice, "key"))

    assert check.frames_read(4, server)
    assert not check.frames_read(3, server)


def test_join_fields(run: tuple, solutions: ModuleType) -> None:
    """The join's keys pass, in any collection; secrets and slips get hints."""
    right = solutions.join_fields(run[0])
    assert right == check.JOIN_FIELDS
    assert check.join_fields(right) and check.join_fields(sorted(right))

    def hint(answer: object) -> str:
        return check.join_fields(answer).message

    assert "set of field names" in hint("type room name")
    assert "no secret" in hint(right | {"private_key"})
    assert "'from'" in hint(right | {"from"})
    assert "not in the join" in hint(right | {"version"})
    assert "proof" in hint(right - {"signature"})
    assert "match" in hint(right - {"id"})
    assert "'type'" in hint(right - {"type"})
    assert "every key" in hint({"type", "room", "challenge", "signature", "id"})


def test_other_room(run: tuple, solutions: ModuleType) -> None:
    """The code of a lookup from another room passes; other codes get hints."""
    assert check.other_room(solutions.other_room(run[0]))

    error = SignalingError("unknown-peer", "no user called 'bob'")
    assert "exception" in check.other_room(error).message
    assert "just the code" in check.other_room(str(error)).message
    for slip in ("Unknown-Peer", " unknown-peer", "unknown_peer", "UNKNOWN PEER"):
        assert "codes are exact" in check.other_room(slip).message, slip
    assert "did join" in check.other_room("not-joined").message
    assert "refuses a join" in check.other_room("name-taken").message
    assert "shows_error" in check.other_room("bad-field").message

"""Worked answers to the exercises of 02-signaling.ipynb.

Each function takes what the lesson has at hand (its server, alice and bob)
and returns the answer its check expects.
"""

from __future__ import annotations

from p2plab import SignalingClient, SignalingError, lesson


def sender(alice: SignalingClient, bob: SignalingClient) -> str:
    """Relay a bye from alice to bob; return the 'from' field bob received."""
    byes = sum(f.message["type"] == "bye" for f in bob.frames if f.direction == "<")
    lesson.run(alice.relay("bye", "bob"))
    bye = lesson.run(lesson.arrived(bob, "bye", count=byes + 1))
    return str(bye["from"])


def frames_read(server: lesson.LessonServer) -> int:
    """Count the frames the server read from alice: direction '<'."""
    return sum(s.direction == "<" for s in server.saw("alice"))


def join_fields(server: lesson.LessonServer) -> set[str]:
    """Return the keys of alice's join, as the server read it."""
    join = next(s for s in server.saw("alice") if s.type == "join")
    return set(join.message)


def other_room(server: lesson.LessonServer) -> str:
    """Join carol in another room, look bob up, and return the error code."""
    carol = lesson.run(lesson.joined("carol", server, room="other"))
    try:
        lesson.run(carol.lookup("bob"))
    except SignalingError as exc:
        return exc.code
    return "no error"

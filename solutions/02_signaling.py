"""Worked answers to the exercises of 02-signaling.ipynb.

Each function takes what the lesson has at hand (its server, alice and bob)
and returns the answer its check expects.
"""

from __future__ import annotations

from p2plab import SignalingClient, SignalingError, lesson


def sender(alice: SignalingClient, bob: SignalingClient) -> str:
    """Relay a candidate from bob to alice; return the 'from' field alice received."""
    line = "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host"
    lesson.run(
        bob.relay("candidate", "alice", candidate=line, sdpMid="0", sdpMLineIndex=0)
    )
    candidate = lesson.run(lesson.arrived(alice, "candidate"))
    return str(candidate["from"])


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

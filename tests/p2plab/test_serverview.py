"""The "what the server saw" view, from the server's record and from a client's."""

from __future__ import annotations

import pytest

from p2plab import Identity, lesson
from p2plab.serverview import ServerView, readable_fields


@pytest.fixture(autouse=True)
def clean() -> None:
    """Nothing stays open between tests."""
    lesson.reset()
    yield
    lesson.reset()


def test_view_lists_the_servers_frames_with_fields(alice_id: Identity) -> None:
    """The view has a row per frame the server handled for the user, with its fields."""
    server = lesson.start_server()
    lesson.run(lesson.joined("alice", server, alice_id))

    view = ServerView(server.saw("alice"))

    assert view.types == ["hello", "join", "welcome"]
    assert [row[0] for row in view.rows] == ["wrote", "read", "wrote"]
    assert "key=" in view.value and "signature=" in view.value
    assert repr(view) == (
        "<What the server saw: 3 frames: hello ×1, join ×1, welcome ×1>"
    )


def test_client_frames_are_turned_round(alice_id: Identity) -> None:
    """A client's own copy shows the same frames, seen from the server's side."""
    server = lesson.start_server()
    client = lesson.run(lesson.joined("alice", server, alice_id))

    mine = ServerView(client.frames)
    theirs = ServerView(server.saw("alice"))

    assert [r[:4] for r in mine.rows] == [
        (d, "", k, s) for d, _, k, s, _ in theirs.rows
    ]


def test_long_values_are_cut_and_markup_is_escaped() -> None:
    """A long field is cut with its length, and HTML in a field is shown as text."""
    fields = readable_fields({"type": "offer", "sdp": "v=0" * 100})
    assert fields[0] == "type=offer"
    assert fields[1].endswith("(300 chars)") and len(fields[1]) < 60

    view = ServerView([])
    assert "<script>" not in ServerView([], title="<script>").value
    assert view.rows == []

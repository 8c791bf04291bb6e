"""The "what the server saw" view: every frame the server handled, as it had it.

Each lesson ends by showing what the signaling server read and wrote for a
user. The frames come from a :class:`~p2plab.lesson.LessonServer`, which
writes them down on the server's side, or from a client's own copy,
:attr:`~p2plab.signaling.SignalingClient.frames`, which holds the same
frames seen from the other end of the socket.

The view is a table: the direction, the message type, the size on the wire,
and every field the server could read, with long values cut short. Its text
form (what a notebook shows without widgets, and what nbval compares) gives
only what is the same on every run: how many frames, and their types.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

import ipywidgets as widgets

from .lesson import Seen
from .signaling import Frame

__all__ = ["ServerView", "readable_fields"]

_CUT = 40


def readable_fields(message: dict[str, Any]) -> list[str]:
    """Return the fields of a message as ``name=value`` texts, long values cut."""
    out = []
    for key, value in message.items():
        text = str(value)
        if len(text) > _CUT:
            text = f"{text[: _CUT - 12]}… ({len(text)} chars)"
        out.append(f"{key}={text}")
    return out


class ServerView(widgets.HTML):  # type: ignore[misc]
    """A table of the frames a signaling server handled.

    Args:
        frames: Frames as the server had them (:class:`~p2plab.lesson.Seen`),
            or a client's frames (:class:`~p2plab.signaling.Frame`), which
            are turned round: what the client sent, the server read.
        title: Shown above the table.

    Attributes:
        rows: One ``(direction, user, type, size, fields)`` tuple per frame,
            where direction is ``"read"`` or ``"wrote"`` from the server's
            side.
    """

    def __init__(self, frames: Iterable[Seen | Frame], title: str = "") -> None:
        self.rows = [_row(frame) for frame in frames]
        self.title = title or "What the server saw"
        super().__init__(value=_table(self.title, self.rows))
        self.add_class("p2plab-server-view")

    @property
    def types(self) -> list[str]:
        """The message types, in order."""
        return [row[2] for row in self.rows]

    def __repr__(self) -> str:
        kinds: dict[str, int] = {}
        for kind in self.types:
            kinds[kind] = kinds.get(kind, 0) + 1
        summary = ", ".join(f"{kind} ×{n}" for kind, n in kinds.items())
        return f"<{self.title}: {len(self.rows)} frames: {summary}>"


def _row(frame: Seen | Frame) -> tuple[str, str, str, int, list[str]]:
    if isinstance(frame, Seen):
        direction = "read" if frame.direction == "<" else "wrote"
        user = frame.user
    else:
        direction = "read" if frame.direction == ">" else "wrote"
        user = ""
    kind = str(frame.message.get("type", "?"))
    return direction, user, kind, frame.size, readable_fields(frame.message)


def _table(title: str, rows: Sequence[tuple[str, str, str, int, list[str]]]) -> str:
    cells = []
    for number, (direction, user, kind, size, fields) in enumerate(rows, 1):
        arrow = "→ server" if direction == "read" else "server →"
        shown = "<br>".join(html.escape(field) for field in fields)
        cells.append(
            f"<tr><td>{number}</td><td>{arrow}</td><td>{html.escape(user)}</td>"
            f"<td><b>{html.escape(kind)}</b></td><td>{size} B</td>"
            f"<td style='font-family:monospace;font-size:85%'>{shown}</td></tr>"
        )
    head = (
        "<tr><th>#</th><th>direction</th><th>user</th><th>type</th>"
        "<th>size</th><th>fields the server can read</th></tr>"
    )
    # Room between the columns, and each row's fields read from the top.
    style = (
        "<style>.p2plab-frames td, .p2plab-frames th {padding:2px 8px;"
        "text-align:left;vertical-align:top}</style>"
    )
    return (
        f"{style}<b>{html.escape(title)}</b><table class='p2plab-frames' "
        f"style='border-collapse:collapse'>{head}{''.join(cells)}</table>"
    )

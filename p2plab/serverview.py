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

:func:`reveals` answers the question a lesson asks at its end: did a secret
(a chat message, a nonce, a key) cross the server in any of those frames?
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Sequence
from typing import Any

import ipywidgets as widgets

from .lesson import Seen
from .signaling import Frame

__all__ = ["ServerView", "readable_fields", "reveals"]

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
    return (
        f"<b>{html.escape(title)}</b>"
        f"<table style='border-collapse:collapse'>{head}{''.join(cells)}</table>"
    )


def reveals(frames: Iterable[Seen], *secrets: bytes | str) -> bool:
    """Return True if any frame's bytes carry one of ``secrets``, plain or encoded.

    Each secret is looked for as it is (text in UTF-8, and as JSON writes
    it), in hex, and in base64 (standard and URL-safe, with or without
    padding): the ways a frame could carry it as a field of its own.

    Args:
        frames: Frames as the server had them, e.g. ``server.saw()``.
        secrets: What the server must not have seen.
    """
    wire = [frame.raw for frame in frames]
    return any(
        form in raw for secret in secrets for form in _forms(secret) for raw in wire
    )


def _forms(secret: bytes | str) -> set[bytes]:
    if isinstance(secret, str):
        data = secret.encode()
        forms = {data, json.dumps(secret)[1:-1].encode()}
    else:
        data = secret
        forms = {data}
    forms |= {data.hex().encode(), data.hex().upper().encode()}
    for encoded in (base64.b64encode(data), base64.urlsafe_b64encode(data)):
        forms |= {encoded, encoded.rstrip(b"=")}
    forms.discard(b"")
    return forms

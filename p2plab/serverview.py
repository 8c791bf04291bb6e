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

:func:`appears_in` answers the other question a lesson
asks of those frames: did a secret (a private key, a session key, a chat
message, a nonce) pass through the server, in any form it could read?
"""

from __future__ import annotations

import base64
import binascii
import html
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import ipywidgets as widgets

from .lesson import Seen
from .signaling import Frame

__all__ = ["ServerView", "appears_in", "readable_fields"]

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


def appears_in(
    secret: bytes | str, frames: Iterable[Seen | Frame], *, window: int | None = None
) -> bool:
    """Tell whether ``secret`` is in any of ``frames``, as bytes the server could read.

    Each frame is searched as it crossed the socket, and so is every string
    in it, as UTF-8 and decoded from base64 or from hex, the forms in which
    the protocol carries text and binary data (keys, signatures,
    fingerprints).

    Args:
        secret: The bytes to look for; a text is looked for in UTF-8.
        frames: Frames as the server had them (:class:`~p2plab.lesson.Seen`,
            searched byte for byte), or a client's frames
            (:class:`~p2plab.signaling.Frame`, searched as JSON again).
        window: If given, look for every piece of ``secret`` this many bytes
            long, not only for the whole: a secret that shows up cut, or
            inside something else, is found too.

    Returns:
        True if the secret, or one of its pieces, was found.
    """
    if isinstance(secret, str):
        secret = secret.encode()
    if not secret:
        return False
    if window is None or window >= len(secret):
        pieces = [secret]
    else:
        pieces = [secret[i : i + window] for i in range(len(secret) - window + 1)]
    readable = [data for frame in frames for data in _readable(frame)]
    return any(piece in data for data in readable for piece in pieces)


def _readable(frame: Seen | Frame) -> Iterator[bytes]:
    """Yield the frame's bytes, then each of its strings decoded, where one decodes."""
    if isinstance(frame, Seen):
        yield frame.raw
    else:
        yield json.dumps(frame.message).encode()
    for text in _strings(frame.message):
        yield text.encode()
        padded = text + "=" * (-len(text) % 4)
        for altchars in (None, b"-_"):
            try:
                yield base64.b64decode(padded, altchars, validate=True)
            except (binascii.Error, ValueError):
                pass
        try:
            yield bytes.fromhex(text)
        except ValueError:
            pass


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


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

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # ipywidgets cuts the text form at 110 characters; keep it whole.
        bundle: dict[str, Any] = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle

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

"""A sequence diagram of the signaling exchange, drawn from the frames of a run.

A sequence diagram gives each party a vertical line, its lifeline: here the
server in the middle and the users on either side. Time runs down the page,
and each frame is one arrow: from a user to the server for a frame the
server read, from the server to a user for a frame it wrote. A relayed
message (``offer``, ``answer``, ``candidate``, ``bye``) is two arrows of the
same colour, one in from its sender ("offer to bob") and one out to its
recipient ("offer from alice"), so it reads as going through the server.
Errors are red.

:class:`SequenceDiagram` draws the frames a
:class:`~p2plab.lesson.LessonServer` wrote down, and keeps drawing while the
lesson runs: it listens to the server on the network thread and redraws at
most every :data:`REDRAW_EVERY` seconds. It also draws a client's own
frames (:attr:`~p2plab.signaling.SignalingClient.frames`), between that
client and the server; those are a snapshot, redrawn by
:meth:`SequenceDiagram.refresh`.

Its text form, the one nbval compares, counts the lifelines and the arrows,
which are the same on every run once the frames have arrived.
"""

from __future__ import annotations

import asyncio
import html
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
from p2plab_server.protocol import RELAYED

from .lesson import LessonServer, Seen
from .signaling import Frame

__all__ = ["REDRAW_EVERY", "SERVER", "Arrow", "SequenceDiagram", "layout"]

#: The lifeline of the signaling server.
SERVER = "server"

#: A live diagram redraws at most this often, in seconds, however fast
#: frames arrive; what it counts is always up to date.
REDRAW_EVERY = 0.1

_COLOURS = {"relay": "#1f6feb", "error": "#cf222e", "plain": "#57606a"}
_COLUMN = 200
_MARGIN = 36
_ROW = 26
_HEAD = 34
_SCROLL_AFTER = 520
_CUT = 20


@dataclass(frozen=True)
class Arrow:
    """One frame, as an arrow between two lifelines.

    Attributes:
        start: The lifeline it leaves: a user, or :data:`SERVER`.
        end: The lifeline it reaches.
        type: The message type.
        size: Its size in bytes on the wire.
        label: The text on the arrow, e.g. ``"offer from alice · 52 B"``.
        style: ``"relay"`` for a relayed message, ``"error"`` for an error,
            ``"plain"`` for the rest.
    """

    start: str
    end: str
    type: str
    size: int
    label: str
    style: str


def layout(
    frames: Sequence[Seen | Frame], user: str = "you"
) -> tuple[list[str], list[Arrow]]:
    """Turn frames into lifelines, left to right, and arrows, in order.

    Args:
        frames: Frames as a server had them (:class:`~p2plab.lesson.Seen`),
            or a client's (:class:`~p2plab.signaling.Frame`).
        user: The lifeline of the client whose frames these are; unused for
            a server's frames, which carry their user.

    Returns:
        The lifelines, with the server in the middle and the users placed
        on alternate sides in the order they first appear, and one arrow
        per frame. A connection that never joined gets a lifeline of its
        own, ``"not joined"`` (then ``"not joined 2"``, ...).
    """
    users: list[str] = []
    unnamed: dict[int, str] = {}
    out = []
    for frame in frames:
        if isinstance(frame, Seen):
            who = frame.user
            if who == "?":
                label = (
                    "not joined" if not unnamed else f"not joined {len(unnamed) + 1}"
                )
                who = unnamed.setdefault(frame.conn, label)
            read = frame.direction == "<"
        else:
            who = user
            read = frame.direction == ">"
        if who == SERVER:
            who = f"{SERVER} (a user)"
        if who not in users:
            users.append(who)
        kind = str(frame.message.get("type", "?"))
        start, end = (who, SERVER) if read else (SERVER, who)
        label = f"{_describe(kind, frame.message, read)} · {frame.size} B"
        out.append(Arrow(start, end, kind, frame.size, label, _style(kind)))
    left, right = users[0::2], users[1::2]
    return [*left[::-1], SERVER, *right], out


class SequenceDiagram(widgets.HTML):  # type: ignore[misc]
    """A live sequence diagram of the frames a signaling server handled.

    Args:
        source: A :class:`~p2plab.lesson.LessonServer`, followed live, or a
            list of frames (a client's ``frames``, or part of a server's
            ``seen``), drawn as it is now.
        user: The lifeline of the client, when ``source`` is a client's
            frames.
        limit: The most arrows drawn; past it, the latest ones are drawn,
            with a note saying how many earlier ones are left out.
        title: Shown above the diagram.
        live: Follow a server as frames arrive; False draws a snapshot.

    Attributes:
        limit: As given.
        title: As given.
        live: True while the diagram follows a server.

    The drawing is written under a lock, from the network thread while it
    follows a server and from the caller's thread in :meth:`refresh`:
    ipywidgets is not thread-safe.
    """

    def __init__(
        self,
        source: LessonServer | Sequence[Seen | Frame],
        *,
        user: str = "you",
        limit: int = 50,
        title: str = "The signaling exchange",
        live: bool = True,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self._lock = threading.Lock()
        self._source = source
        self._user = user
        self._frames = self._read()
        self._pending = False
        self._drawn_at = 0.0
        self.limit = limit
        self.title = title
        self.live = False
        super().__init__(value=self._render())
        self.add_class("p2plab-sequence")
        if live and isinstance(source, LessonServer):
            source.listeners.append(self._heard)
            self.live = True

    @property
    def lifelines(self) -> list[str]:
        """The lifelines, left to right."""
        with self._lock:
            return layout(self._frames, self._user)[0]

    @property
    def arrows(self) -> list[Arrow]:
        """One arrow per frame, in order, drawn or not."""
        with self._lock:
            return layout(self._frames, self._user)[1]

    def refresh(self) -> None:
        """Read the frames again and redraw now."""
        with self._lock:
            self._frames = self._read()
            self._draw_locked()

    def stop(self) -> None:
        """Stop following the server; the diagram keeps what it has drawn."""
        # getattr: ipywidgets closes a widget whose __init__ raised, too.
        source = getattr(self, "_source", None)
        if isinstance(source, LessonServer) and self._heard in source.listeners:
            source.listeners.remove(self._heard)
        self.live = False

    def close(self) -> None:
        """Stop following the server and close the widget."""
        self.stop()
        super().close()

    def __repr__(self) -> str:
        with self._lock:
            lifelines, every = layout(self._frames, self._user)
        text = (
            f"<SequenceDiagram: {_count(len(lifelines), 'lifeline')} "
            f"({', '.join(lifelines)}), {_count(len(every), 'arrow')}"
        )
        if len(every) > self.limit:
            text += f", the last {self.limit} drawn"
        return text + ">"

    # Following a server.

    def _heard(self, seen: Seen) -> None:
        """Take in a new frame; called by the server on the network thread."""
        with self._lock:
            self._frames = self._read()
            if self._pending:
                return
            self._pending = True
            wait = self._drawn_at + REDRAW_EVERY - time.monotonic()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._draw()
            return
        # Frames come in bursts (a join brings three): one drawing for each.
        loop.call_later(max(wait, 0.0), self._draw)

    def _draw(self) -> None:
        with self._lock:
            self._draw_locked()

    def _draw_locked(self) -> None:
        self._pending = False
        self._drawn_at = time.monotonic()
        self.value = self._render()

    def _read(self) -> list[Seen | Frame]:
        if isinstance(self._source, LessonServer):
            return list(self._source.seen)
        return list(self._source)

    # Drawing.

    def _render(self) -> str:
        lifelines, every = layout(self._frames, self._user)
        shown = every[-self.limit :]
        first = len(every) - len(shown)
        x = {
            name: _MARGIN + _COLUMN // 2 + i * _COLUMN
            for i, name in enumerate(lifelines)
        }
        width = _MARGIN + len(lifelines) * _COLUMN
        height = len(shown) * _ROW + 14

        head = [
            f"<svg width='{width}' height='{_HEAD}' xmlns='http://www.w3.org/2000/svg'"
            " style='font-family:sans-serif;font-size:12px'>"
        ]
        for name, at in x.items():
            fill = "#f6f8fa" if name == SERVER else "#ffffff"
            head.append(
                f"<rect x='{at - 70}' y='4' width='140' height='24' rx='4' "
                f"fill='{fill}' stroke='#57606a'/>"
                f"<text x='{at}' y='20' text-anchor='middle'>{html.escape(name)}</text>"
            )
        head.append("</svg>")

        body = [
            f"<svg width='{width}' height='{height}' xmlns='http://www.w3.org/2000/svg'"
            " style='font-family:sans-serif;font-size:11px'>"
        ]
        for at in x.values():
            body.append(
                f"<line x1='{at}' y1='0' x2='{at}' y2='{height}' stroke='#8c959f' "
                "stroke-dasharray='4 4'/>"
            )
        for row, arrow in enumerate(shown):
            body.append(_arrow(first + row + 1, arrow, x, 18 + row * _ROW))
        body.append("</svg>")

        parts = [f"<div><b>{html.escape(self.title)}</b> ({len(every)} frames)</div>"]
        if first:
            parts.append(
                f"<div><i>{first} earlier frames are not drawn; the latest "
                f"{len(shown)} are.</i></div>"
            )
        if not every:
            parts.append("<div><i>no frames yet</i></div>")
        parts.append(f"<div>{''.join(head)}</div>")
        parts.append(
            f"<div style='max-height:{_SCROLL_AFTER}px;overflow-y:auto'>"
            f"{''.join(body)}</div>"
        )
        return "".join(parts)


def _describe(kind: str, message: dict[str, Any], read: bool) -> str:
    """Say what a frame is in a few words, from the fields the server reads."""

    def field(name: str) -> str:
        text = str(message.get(name, "?"))
        return text if len(text) <= _CUT else f"{text[: _CUT - 1]}…"

    if kind in RELAYED:
        return f"{kind} to {field('to')}" if read else f"{kind} from {field('from')}"
    if kind == "error":
        return f"error {field('code')}"
    if kind == "join":
        return f"join as {field('name')}"
    if kind == "lookup":
        return f"lookup {field('name')}"
    if kind == "key":
        return f"key of {field('name')}"
    if kind in ("joined", "left"):
        return f"{kind}: {field('name')}"
    if kind == "expired":
        return f"expired: {field('ref')} to {field('to')}"
    return kind if len(kind) <= _CUT else f"{kind[: _CUT - 1]}…"


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _style(kind: str) -> str:
    if kind in RELAYED:
        return "relay"
    if kind in ("error", "expired"):
        return "error"
    return "plain"


def _arrow(number: int, arrow: Arrow, x: dict[str, int], y: int) -> str:
    """Draw one arrow: its number, the line, its head and its label.

    The label has a white outline, so that a lifeline it crosses does not
    cut through its letters.
    """
    colour = _COLOURS[arrow.style]
    start, end = x[arrow.start], x[arrow.end]
    way = 1 if end > start else -1
    tip = end - way * 2
    head = f"{tip},{y} {tip - way * 8},{y - 4} {tip - way * 8},{y + 4}"
    return (
        f"<text x='4' y='{y + 4}' fill='#8c959f'>{number}</text>"
        f"<line x1='{start}' y1='{y}' x2='{tip - way * 8}' y2='{y}' "
        f"stroke='{colour}' stroke-width='1.5'/>"
        f"<polygon points='{head}' fill='{colour}'/>"
        f"<text x='{(start + end) // 2}' y='{y - 4}' text-anchor='middle' "
        f"fill='{colour}' stroke='#ffffff' stroke-width='3' paint-order='stroke'>"
        f"{html.escape(arrow.label)}</text>"
    )

"""The chat pane: an ipywidgets view of one :class:`~p2plab.client.ChatClient`.

The pane shows the connection state, both fingerprints (yours and the
peer's), the transcript, an input box and a Send button, a "show the wire"
toggle, and a log of every protocol step (the history of states among
them). With the toggle on, each message in the transcript also shows how it
travelled: its nonce, the size of its ciphertext and the ciphertext itself,
cut short. Events arrive on the kernel's network thread while widget
clicks arrive on the main thread; ipywidgets is not thread-safe, so every
write to the pane goes through one lock. Nothing here calls ``print()``:
output from background work would land in whichever cell happens to be
running.

When the signaling server goes away, the client reconnects by itself; the
pane says so (a ``reconnecting`` badge when no chat is open, a hint in any
case) and goes back to normal once the client has joined again.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any, NamedTuple

import ipywidgets as widgets

from .client import ChatClient, Event
from .ice import policy_for_url

__all__ = ["ChatPane", "Line"]

# Colours of the state badge, by state.
_STATE_COLOURS = {
    "connected": "#1a7f37",
    "waiting": "#9a6700",
    "calling": "#0969da",
    "connecting": "#0969da",
    "joining": "#0969da",
    "online": "#0969da",
    "reconnecting": "#bc4c00",
}
_DEFAULT_COLOUR = "#cf222e"
_MAX_LOG = 400
_MAX_SHOWN = 200
# A ciphertext up to this many bytes is shown whole on the wire line.
_WIRE_BYTES = 12

#: Seconds to wait, after Enter, for the browser to send the box's new value.
ENTER_WAIT = 0.25


class Line(NamedTuple):
    """One line of the transcript.

    Attributes:
        sender: Who said it; ``"!"`` for a refusal or an error.
        text: What was said.
        time: When the line reached the pane, in seconds since the epoch.
        counter: For a message we sent, its number in our sequence.
        delivered: For a message we sent, whether the peer confirmed it.
        nonce: The message's AES-GCM nonce, as it travelled; empty for a
            line that did not travel (a refusal).
        ciphertext: The sealed text with its 16-byte tag, as it travelled.
    """

    sender: str
    text: str
    time: float
    counter: int | None = None
    delivered: bool = False
    nonce: bytes = b""
    ciphertext: bytes = b""

    @property
    def wire(self) -> str:
        """How the message travelled, in one line; empty if it did not travel.

        For example ``nonce 000000010000000000000001 · 18 bytes ·
        9f86d081884c7d65…2b0b822c``: the nonce in hex, the size of the
        ciphertext (the text's UTF-8 bytes plus the 16-byte tag), and the
        ciphertext in hex, cut to its first 8 and last 4 bytes.
        """
        if not self.ciphertext:
            return ""
        data = self.ciphertext
        shown = data.hex()
        if len(data) > _WIRE_BYTES:
            shown = f"{data[:8].hex()}…{data[-4:].hex()}"
        return f"nonce {self.nonce.hex()} · {len(data)} bytes · {shown}"


class ChatPane(widgets.VBox):  # type: ignore[misc]
    """A chat window for one user.

    Args:
        name: Our name, shown in the title.
        partner: The peer's name, if known.

    Attributes:
        lines: The transcript as :class:`Line` tuples, in order.
        states: The history of ``(time, state, detail)``.
    """

    def __init__(self, name: str, partner: str | None = None) -> None:
        self.name = name
        self.partner = partner
        self.lines: list[Line] = []
        self.states: list[tuple[float, str, str]] = []
        self._log: list[str] = []
        self._lock = threading.Lock()
        self._client: ChatClient | None = None
        self._submit: Callable[[str], Future[Any]] | None = None
        self._own_fingerprint = ""
        self._peer_fingerprint = ""
        # A hint about the signaling server while a chat is open; it takes
        # the place of the state's hint until the next state change.
        self._server_hint = ""

        title = f"{name} ↔ {partner}" if partner else name
        self.heading = widgets.HTML(f"<b>{html.escape(title)}</b>")
        self.state = widgets.HTML("offline")
        self.hint = widgets.HTML("")
        self.fingerprint = widgets.HTML("")
        self.transcript = widgets.HTML("")
        # The browser keeps the draft and sends it on Enter or when the box
        # loses focus; only a value that follows Enter, or a click on Send, is
        # sent (see _on_value). Syncing every keystroke instead would let the
        # browser's pending keystrokes override the kernel clearing the box.
        self.input = widgets.Text(
            placeholder="type a message and press Enter",
            continuous_update=False,
            layout=widgets.Layout(flex="1"),
        )
        self.send_button = widgets.Button(description="Send", button_style="primary")
        self.wire = widgets.ToggleButton(
            value=False,
            description="show the wire",
            tooltip="show each message as it travelled: nonce, size, ciphertext",
        )
        self.connection_log = widgets.HTML("")
        details = widgets.Accordion(
            children=[self.connection_log], titles=("Connection log",)
        )
        details.selected_index = None

        for widget, cls in (
            (self.state, "p2plab-state"),
            (self.hint, "p2plab-hint"),
            (self.fingerprint, "p2plab-fingerprint"),
            (self.transcript, "p2plab-transcript"),
            (self.input, "p2plab-input"),
            (self.send_button, "p2plab-send"),
            (self.wire, "p2plab-wire"),
            (self.connection_log, "p2plab-log"),
        ):
            widget.add_class(cls)

        self._enter: threading.Timer | None = None
        self.input.on_msg(self._on_input_message)
        self.input.observe(self._on_value, names="value")
        self.send_button.on_click(lambda _button: self.submit())
        self.wire.observe(self._on_wire, names="value")
        super().__init__(
            [
                widgets.HBox([self.heading, self.state]),
                self.hint,
                self.fingerprint,
                self.transcript,
                widgets.HBox([self.input, self.send_button, self.wire]),
                details,
            ]
        )
        self.add_class("p2plab-pane")
        self._show_state("offline", "not connected yet")
        self._show_fingerprints()

    def __repr__(self) -> str:
        # The widget default repr holds every child's value (log times,
        # fingerprints); a notebook saved without a kernel shows this instead.
        title = f"{self.name} ↔ {self.partner}" if self.partner else self.name
        return f"<ChatPane {title}>"

    @property
    def client(self) -> ChatClient | None:
        """The chat client this pane shows, once :meth:`attach` was called."""
        return self._client

    @property
    def connection_state(self) -> str:
        """The name of the latest state shown, e.g. ``"waiting"`` or ``"connected"``."""
        with self._lock:
            return self.states[-1][1]

    def attach(self, client: ChatClient, submit: Callable[[Any], Future[Any]]) -> None:
        """Show ``client``'s events here and send typed text through it.

        Args:
            client: The chat client whose events this pane shows.
            submit: Runs a coroutine on the client's loop; returns a future.
        """
        with self._lock:
            self._client = client
            self._own_fingerprint = client.identity.fingerprint
            self._show_fingerprints()
        self._submit = lambda text: submit(client.send(text))
        client.on_event = self.handle

    def handle(self, event: Event) -> None:
        """Show one client event. Safe to call from any thread."""
        with self._lock:
            if event.kind == "state":
                self._show_state(event.data["state"], event.text, event.data)
            elif event.kind == "server":
                self._show_server(event.data.get("server", ""), event.data)
            elif event.kind == "message":
                mine = event.data.get("sent", False)
                sender = self.name if mine else str(event.data["sender"])
                counter = event.data.get("counter") if mine else None
                self._add_line(
                    Line(
                        sender,
                        event.data["text"],
                        time.time(),
                        counter,
                        nonce=bytes(event.data.get("nonce", b"")),
                        ciphertext=bytes(event.data.get("ciphertext", b"")),
                    )
                )
            elif event.kind == "delivered":
                self._mark_delivered(event.data["counter"])
            elif event.kind == "error":
                self._add_line(Line("!", event.text, time.time()))
            self._add_log(event)
            peer = self._client.peer_fingerprint if self._client else None
            if peer and peer != self._peer_fingerprint:
                self._peer_fingerprint = peer
                self._show_fingerprints()

    def transcript_text(self) -> str:
        """Return the transcript as plain text, one ``sender: text`` per line."""
        with self._lock:
            return "\n".join(f"{line.sender}: {line.text}" for line in self.lines)

    # Internals; callers hold the lock.

    def _show_state(
        self, state: str, detail: str, data: dict[str, Any] | None = None
    ) -> None:
        self.states.append((time.time(), state, detail))
        colour = _STATE_COLOURS.get(state, _DEFAULT_COLOUR)
        self.state.value = (
            f'<span style="color:{colour}"><b>{html.escape(state)}</b></span>'
            f" — {html.escape(detail)}"
        )
        self._server_hint = ""
        self.hint.value = self._hint(state, data or {})

    def _show_server(self, server: str, data: dict[str, Any]) -> None:
        """Show news about the signaling server; the state badge stays."""
        if server == "reconnecting":
            self._server_hint = _retry_hint(data)
        elif server == "shutdown":
            self._server_hint = (
                "<i>The signaling server is shutting down. This pane reconnects "
                "by itself when it is back; an open chat keeps working.</i>"
            )
        elif server == "offline":
            self._server_hint = (
                "<i>Off the signaling server for good (the red line says why): "
                "this chat goes on peer to peer, but for a new call run the cell "
                "that opened this pane again.</i>"
            )
        else:
            self._server_hint = ""
        self.hint.value = self._server_hint or self._hint(self.states[-1][1], {})

    def _hint(self, state: str, data: dict[str, Any]) -> str:
        """Say what to do next when the state alone does not."""
        if state == "reconnecting":
            return _retry_hint(data)
        if state == "waiting" and self.partner:
            partner = html.escape(self.partner)
            # The bot only joins a server on this machine (see p2plab.bot).
            alone = ""
            if self._client is None or policy_for_url(self._client.url) == "loopback":
                alone = (
                    f" Alone? A partner bot can play {partner} meanwhile: "
                    "<code>bot.start_partner</code>, as in a cell of alice.ipynb."
                )
            return (
                f"<i>{partner} is not here yet. Open {partner}'s notebook in "
                f"another tab, or ask {partner} to run it: this pane connects "
                f"by itself when they arrive.{alone}</i>"
            )
        if state == "offline" and self.states[1:]:
            return "<i>Not on the server: run the cell that opened this pane again.</i>"
        if state == "closed":
            return "<i>This pane is closed; the pane opened last is the live one.</i>"
        return ""

    def _show_fingerprints(self) -> None:
        own = self._own_fingerprint or "(no key yet)"
        peer = self._peer_fingerprint or "(no peer yet)"
        self.fingerprint.value = (
            f"your fingerprint: <code>{html.escape(own)}</code><br>"
            f"peer fingerprint: <code>{html.escape(peer)}</code>"
        )

    def _add_line(self, line: Line) -> None:
        self.lines.append(line)
        self._render_transcript()

    def _mark_delivered(self, counter: int) -> None:
        for index in range(len(self.lines) - 1, -1, -1):
            line = self.lines[index]
            if line.sender == self.name and line.counter == counter:
                self.lines[index] = line._replace(delivered=True)
                self._render_transcript()
                return

    def _render_transcript(self) -> None:
        rows = []
        wire = self.wire.value
        for line in self.lines[-_MAX_SHOWN:]:
            style = "color:#cf222e" if line.sender == "!" else ""
            who, said = html.escape(line.sender), html.escape(line.text)
            tick = (
                " <span title='confirmed by the peer'>✓</span>"
                if line.delivered
                else ""
            )
            travelled = ""
            if wire and line.wire:
                travelled = (
                    '<div class="p2plab-wire-line" style="font-family:monospace;'
                    'font-size:85%;color:#57606a;margin-left:1.5em">'
                    f"on the wire: {html.escape(line.wire)}</div>"
                )
            rows.append(
                f'<div style="{style}"><b>{who}:</b> {said}{tick}{travelled}</div>'
            )
        # Newest last, in a box that stays scrolled to the bottom: a reversed
        # flex column starts at its end, so new lines are always in view.
        self.transcript.value = (
            '<div style="display:flex;flex-direction:column-reverse;'
            "min-height:8em;max-height:20em;overflow-y:auto;"
            'overflow-wrap:anywhere;white-space:pre-wrap">'
            f"<div>{''.join(rows)}</div></div>"
        )

    def _add_log(self, event: Event) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
        self._log.append(f"{stamp} {event.kind}: {event.text}")
        del self._log[:-_MAX_LOG]
        self.connection_log.value = (
            "<pre>" + html.escape("\n".join(self._log)) + "</pre>"
        )

    # Main-thread callbacks.

    def _on_wire(self, _change: dict[str, Any]) -> None:
        with self._lock:
            self._render_transcript()

    def submit(self) -> None:
        """Send what the input box holds, as pressing Enter or Send does."""
        text = self.input.value
        if not text.strip():
            return
        with self._lock:
            # Clear only what was sent: text typed since stays in the box.
            if self.input.value == text:
                self.input.value = ""
        if self._submit is None:
            self.handle(Event("error", "not connected: this pane has no chat client"))
            self._restore(text)
            return
        future = self._submit(text)
        future.add_done_callback(lambda done: self._after_send(done, text))

    def _on_input_message(
        self, _widget: Any, content: dict[str, Any], _buffers: Any
    ) -> None:
        # On Enter the browser sends {"event": "submit"} first, then the new
        # value, if it changed since the last sync. The value, when it comes,
        # is what to send; if none comes soon, the box already held it.
        if content.get("event") == "submit":
            self._cancel_enter()
            self._enter = threading.Timer(ENTER_WAIT, self._enter_without_change)
            self._enter.daemon = True
            self._enter.start()

    def _on_value(self, change: dict[str, Any]) -> None:
        if self._enter is not None and change["new"]:
            self._cancel_enter()
            self.submit()

    def _enter_without_change(self) -> None:
        if self._enter is not None:
            self._enter = None
            self.submit()

    def _cancel_enter(self) -> None:
        if self._enter is not None:
            self._enter.cancel()
            self._enter = None

    def _restore(self, text: str) -> None:
        """Put unsent text back in the box, unless something new was typed."""
        with self._lock:
            if not self.input.value:
                self.input.value = text

    def _after_send(self, future: Future[Any], text: str) -> None:
        try:
            exc = future.exception()
        except CancelledError:
            exc = CancelledError("the network thread stopped first")
        if exc is not None:
            short = text if len(text) <= 40 else text[:39] + "…"
            self.handle(Event("error", f"not sent: {short!r}: {exc}"))
            self._restore(text)


def _retry_hint(data: dict[str, Any]) -> str:
    """Return the hint shown while the client reconnects to the server."""
    delay = data.get("delay")
    when = (
        f"retrying in {delay:.1f} s" if isinstance(delay, float | int) else "retrying"
    )
    attempt = data.get("attempt")
    if isinstance(attempt, int):
        when += f" (attempt {attempt})"
    return (
        f"<i>The signaling server is unreachable; {when}. An open chat keeps "
        "working: its messages go peer to peer. This pane rejoins by itself once "
        "the server is back; if the server was stopped, start it again, or run "
        "the cell that opened this pane.</i>"
    )

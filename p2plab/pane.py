"""The chat pane: an ipywidgets view of one :class:`~p2plab.client.ChatClient`.

The pane shows the connection state, the peer's fingerprint, the transcript,
an input box and a Send button, and a log of every protocol step. Events
arrive on the kernel's network thread while widget clicks arrive on the main
thread; ipywidgets is not thread-safe, so every write to the pane goes
through one lock. Nothing here calls ``print()``: output from background work
would land in whichever cell happens to be running.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import ipywidgets as widgets

from .client import ChatClient, Event

__all__ = ["ChatPane"]

# Colours of the state badge, by state.
_STATE_COLOURS = {
    "connected": "#1a7f37",
    "waiting": "#9a6700",
    "calling": "#0969da",
    "connecting": "#0969da",
    "joining": "#0969da",
    "online": "#0969da",
}
_DEFAULT_COLOUR = "#cf222e"
_MAX_LOG = 400


class ChatPane(widgets.VBox):  # type: ignore[misc]
    """A chat window for one user.

    Args:
        name: Our name, shown in the title.
        partner: The peer's name, if known.

    Attributes:
        lines: The transcript as ``(sender, text)`` pairs, in order.
        states: The history of ``(time, state, detail)``.
    """

    def __init__(self, name: str, partner: str | None = None) -> None:
        self.name = name
        self.partner = partner
        self.lines: list[tuple[str, str]] = []
        self.states: list[tuple[float, str, str]] = []
        self._log: list[str] = []
        self._lock = threading.Lock()
        self._submit: Callable[[str], Future[Any]] | None = None

        title = f"{name} ↔ {partner}" if partner else name
        self.heading = widgets.HTML(f"<b>{html.escape(title)}</b>")
        self.state = widgets.HTML("offline")
        self.fingerprint = widgets.HTML("peer fingerprint: (no peer yet)")
        self.transcript = widgets.HTML(
            "",
            layout=widgets.Layout(min_height="8em", max_height="20em", overflow="auto"),
        )
        self.input = widgets.Text(
            placeholder="type a message and press Enter",
            continuous_update=False,
            layout=widgets.Layout(flex="1"),
        )
        self.send_button = widgets.Button(description="Send", button_style="primary")
        self.log = widgets.HTML("")
        details = widgets.Accordion(children=[self.log], titles=("Connection log",))
        details.selected_index = None

        for widget, cls in (
            (self.state, "p2plab-state"),
            (self.fingerprint, "p2plab-fingerprint"),
            (self.transcript, "p2plab-transcript"),
            (self.input, "p2plab-input"),
            (self.send_button, "p2plab-send"),
            (self.log, "p2plab-log"),
        ):
            widget.add_class(cls)

        self.input.observe(self._on_input, names="value")
        self.send_button.on_click(lambda _button: self._send(self.input.value))
        super().__init__(
            [
                widgets.HBox([self.heading, self.state]),
                self.fingerprint,
                self.transcript,
                widgets.HBox([self.input, self.send_button]),
                details,
            ]
        )
        self.add_class("p2plab-pane")
        self._show_state("offline", "not connected yet")

    def attach(self, client: ChatClient, submit: Callable[[Any], Future[Any]]) -> None:
        """Show ``client``'s events here and send typed text through it.

        Args:
            client: The chat client whose events this pane shows.
            submit: Runs a coroutine on the client's loop; returns a future.
        """
        client.on_event = self.handle
        self._submit = lambda text: submit(client.send(text))
        self._client = client

    def handle(self, event: Event) -> None:
        """Show one client event. Safe to call from any thread."""
        with self._lock:
            if event.kind == "state":
                self._show_state(event.data["state"], event.text)
            elif event.kind == "message":
                mine = event.data.get("sent", False)
                sender = self.name if mine else str(event.data["sender"])
                self._add_line(sender, event.data["text"])
            elif event.kind == "error":
                self._add_line("!", event.text)
            self._add_log(event)
            fingerprint = (
                getattr(self, "_client", None) and self._client.peer_fingerprint
            )
            if fingerprint:
                self.fingerprint.value = (
                    f"peer fingerprint: <code>{html.escape(fingerprint)}</code>"
                )

    def transcript_text(self) -> str:
        """Return the transcript as plain text, one ``sender: text`` per line."""
        with self._lock:
            return "\n".join(f"{sender}: {text}" for sender, text in self.lines)

    # Internals; callers hold the lock.

    def _show_state(self, state: str, detail: str) -> None:
        self.states.append((time.time(), state, detail))
        colour = _STATE_COLOURS.get(state, _DEFAULT_COLOUR)
        self.state.value = (
            f'<span style="color:{colour}"><b>{html.escape(state)}</b></span>'
            f" — {html.escape(detail)}"
        )

    def _add_line(self, sender: str, text: str) -> None:
        self.lines.append((sender, text))
        rows = []
        for who, said in self.lines[-200:]:
            style = "color:#cf222e" if who == "!" else ""
            who, said = html.escape(who), html.escape(said)
            rows.append(f'<div style="{style}"><b>{who}:</b> {said}</div>')
        self.transcript.value = "".join(rows)

    def _add_log(self, event: Event) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
        self._log.append(f"{stamp} {event.kind}: {event.text}")
        del self._log[:-_MAX_LOG]
        self.log.value = "<pre>" + html.escape("\n".join(self._log)) + "</pre>"

    # Main-thread callbacks.

    def _on_input(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self._send(change["new"])

    def _send(self, text: str) -> None:
        if not text:
            return
        with self._lock:
            self.input.value = ""
        if self._submit is None:
            self.handle(Event("error", "not connected: this pane has no chat client"))
            return
        future = self._submit(text)
        future.add_done_callback(self._sent)

    def _sent(self, future: Future[Any]) -> None:
        exc = future.exception()
        if exc is not None:
            self.handle(Event("error", f"not sent: {exc}"))

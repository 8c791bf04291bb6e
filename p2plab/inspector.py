"""The connection inspector: what ICE did, and what crossed the data channel.

An :class:`Inspector` is a widget that looks at one :class:`~p2plab.peer.Peer`,
or at the current peer of a :class:`~p2plab.client.ChatClient`, and shows:

* the timeline of its states: signaling, candidate gathering, ICE, connection;
* its local and remote candidates, each priority split into its parts;
* the candidate pairs of the ICE check list, the state of each check, the
  steps of the checks seen since the inspector was made, and the pair that
  ICE selected;
* the messages and bytes sent and received on the data channel.

:meth:`Inspector.snapshot` returns all of it as plain data, for tests and for
printing facts that are the same on every run; the text tables below print
them.

aiortc's ``getStats()`` reports no candidate pairs, so the check list and the
selected pair are read from the ICE library underneath (aioice), and the
certificate the peer presented from the DTLS transport. Those are private
attributes: every read of one goes through :func:`internal`, which names the
attribute and the class if a new version of aiortc or aioice has moved it.

Candidates and their priorities are in :mod:`p2plab.candidate`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
from aioice.ice import candidate_pair_priority
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .candidate import Candidate
from .client import ChatClient
from .network import get_network
from .peer import Peer, StateChange, Traffic, internal

__all__ = [
    "CheckStep",
    "FingerprintCheck",
    "Inspector",
    "Pair",
    "Snapshot",
    "check_fingerprint",
    "pair_table",
    "tamper_fingerprint",
    "timeline_table",
]

# Seconds from a change of state or check to the redraw that shows it.
_REDRAW = 0.1
# Seconds between two redraws while nothing changes but the traffic.
_TICK = 0.5


# Pairs, check steps and snapshots.


@dataclass(frozen=True)
class Pair:
    """One candidate pair of the ICE check list.

    Attributes:
        local: Our candidate.
        remote: The peer's candidate.
        state: The state of its check: ``"frozen"``, ``"waiting"``,
            ``"in-progress"``, ``"succeeded"`` or ``"failed"``.
        nominated: True once the controlling side nominated it.
        selected: True for the pair the data now flows on.
        priority: The pair priority, from both candidates' priorities.
    """

    local: Candidate
    remote: Candidate
    state: str
    nominated: bool
    selected: bool
    priority: int

    def __str__(self) -> str:
        return f"{self.local.endpoint} → {self.remote.endpoint}"


@dataclass(frozen=True)
class CheckStep:
    """A check of one pair changing state.

    Attributes:
        at: Seconds since the peer was made.
        pair: The pair, as ``local → remote``.
        before: Its state before.
        after: Its state after.
    """

    at: float
    pair: str
    before: str
    after: str


@dataclass(frozen=True)
class Snapshot:
    """Everything the inspector shows, at one moment, as plain data.

    Attributes:
        name: Whose connection it is.
        states: The current ``"signaling"``, ``"gathering"``, ``"ice"`` and
            ``"connection"`` states.
        role: ``"controlling"`` (the side that nominates the pair),
            ``"controlled"``, or None before ICE has a transport.
        timeline: Every state change so far, in order.
        local: Our candidates.
        remote: The peer's candidates, including peer-reflexive ones that
            ICE discovered from the checks.
        pairs: The check list, highest priority first.
        selected: The pair the data flows on, once there is one.
        checks: The check steps seen since the inspector was made.
        traffic: Messages and bytes on the data channel.
    """

    name: str
    states: dict[str, str]
    role: str | None
    timeline: tuple[StateChange, ...]
    local: tuple[Candidate, ...]
    remote: tuple[Candidate, ...]
    pairs: tuple[Pair, ...]
    selected: Pair | None
    checks: tuple[CheckStep, ...]
    traffic: Traffic

    def summary(self) -> str:
        """One line of facts that are the same on every run: no ports, no times.

        For example ``alice: connected, controlling, 2 pairs, selected
        host→host; sent 1 (345 B), received 2 (420 B)``.
        """
        if self.selected is None:
            selected = "none selected"
        else:
            selected = (
                f"selected {self.selected.local.type}→{self.selected.remote.type}"
            )
        count = len(self.pairs)
        t = self.traffic
        return (
            f"{self.name}: {self.states['connection']}, {self.role or 'no role yet'}, "
            f"{count} pair{'' if count == 1 else 's'}, {selected}; "
            f"sent {t.messages_sent} ({t.bytes_sent} B), "
            f"received {t.messages_received} ({t.bytes_received} B)"
        )


# Tables as text: every column that varies from run to run comes last, so
# that masking it in a notebook's output leaves the rest in place.


def pair_table(pairs: Iterable[Pair]) -> str:
    """Return candidate pairs as a text table: check state, nomination, selection."""
    lines = [f"{'state':<12}{'nominated':<10}{'selected':<9} pair"]
    for p in pairs:
        nominated = "yes" if p.nominated else "no"
        selected = "yes" if p.selected else "no"
        lines.append(f"{p.state:<12}{nominated:<10}{selected:<9} {p}")
    return "\n".join(lines)


def timeline_table(changes: Iterable[StateChange | CheckStep]) -> str:
    """Return state changes or check steps as text, one a line, times last."""
    lines = []
    for change in changes:
        at = f"at {change.at * 1000:.0f} ms"
        if isinstance(change, CheckStep):
            lines.append(f"{change.before:>11} → {change.after:<11} {change.pair} {at}")
        else:
            lines.append(f"{change.kind:<10} {change.state:<16} {at}")
    return "\n".join(lines)


# The DTLS fingerprint.


@dataclass(frozen=True)
class FingerprintCheck:
    """The DTLS fingerprint the peer announced, against the one it presented.

    Attributes:
        algorithm: The hash, as in the SDP: ``"sha-256"``.
        in_sdp: The fingerprint in the peer's SDP, as written there.
        presented: The same hash of the certificate the peer presented in
            the DTLS handshake, written the same way.
    """

    algorithm: str
    in_sdp: str
    presented: str

    @property
    def matches(self) -> bool:
        """True if the certificate is the one the SDP announced."""
        return self.in_sdp.upper() == self.presented.upper()


def check_fingerprint(target: Peer | ChatClient) -> FingerprintCheck:
    """Compare the peer's SHA-256 fingerprint in its SDP with its certificate.

    aiortc makes this same check at the end of the DTLS handshake and fails
    the connection on a mismatch; this repeats it so that a lesson can show it.

    Raises:
        ValueError: If there is no remote SDP with a SHA-256 fingerprint yet,
            or no certificate because the DTLS handshake did not run.
    """
    peer = _peer_of(target)
    remote = peer.pc.remoteDescription
    found = re.search(
        r"^a=fingerprint:sha-256 (\S+)", remote.sdp if remote else "", re.M
    )
    if found is None:
        raise ValueError("no remote SDP with a sha-256 fingerprint yet")
    dtls = peer.pc.sctp.transport if peer.pc.sctp else None
    ssl = internal(dtls, "_ssl") if dtls is not None else None
    certificate = ssl.get_peer_certificate(as_cryptography=True) if ssl else None
    if not isinstance(certificate, x509.Certificate):
        raise ValueError("the peer presented no certificate: no DTLS handshake yet")
    digest = certificate.fingerprint(hashes.SHA256()).hex().upper()
    presented = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    return FingerprintCheck("sha-256", found.group(1), presented)


def tamper_fingerprint(sdp: str) -> str:
    """Return ``sdp`` with one hex digit of its SHA-256 fingerprint changed.

    Raises:
        ValueError: If the SDP has no SHA-256 fingerprint.
    """
    found = re.search(r"^a=fingerprint:sha-256 ([0-9A-Fa-f])", sdp, re.M)
    if found is None:
        raise ValueError("the SDP has no sha-256 fingerprint to tamper with")
    digit = "1" if found.group(1) == "0" else "0"
    return sdp[: found.start(1)] + digit + sdp[found.end(1) :]


# The inspector.


class Inspector(widgets.HTML):  # type: ignore[misc]
    """A live view of one peer connection: states, candidates, checks, traffic.

    Args:
        target: A :class:`~p2plab.peer.Peer`, or a chat client, whose current
            peer is inspected.
        name: Shown in the title; the chat client's name by default.

    Check steps are recorded from the moment the inspector is made, so make
    it before the peer applies the other side's description to see all of
    them. The view redraws itself when a state or a check changes, and every
    half second while the peer is open. Its text form, what a notebook shows
    without widgets and what nbval compares, is :meth:`Snapshot.summary`,
    short enough that ipywidgets does not cut it (110 characters).
    """

    def __init__(self, target: Peer | ChatClient, name: str = "") -> None:
        super().__init__()
        self.add_class("p2plab-inspector")
        self.target = target
        self.name = name or (target.name if isinstance(target, ChatClient) else "peer")
        self._checks: list[CheckStep] = []
        self._watched: weakref.WeakSet[Peer] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._redraw_pending = False
        self.refresh()

    def snapshot(self) -> Snapshot:
        """Return what the view shows, as plain data."""
        peer = _peer_or_none(self.target)
        if peer is None:
            return _empty(self.name, tuple(self._checks))
        self._watch(peer)
        pc = peer.pc
        ice = pc.sctp.transport.transport if pc.sctp else None
        pairs, selected = _pairs(ice) if ice is not None else ((), None)
        return Snapshot(
            name=self.name,
            states={
                "signaling": str(pc.signalingState),
                "gathering": str(pc.iceGatheringState),
                "ice": str(pc.iceConnectionState),
                "connection": str(pc.connectionState),
            },
            role=str(ice.role) if ice is not None else None,
            timeline=tuple(peer.timeline),
            local=tuple(
                _from_rtc(c)
                for c in (ice.iceGatherer.getLocalCandidates() if ice else [])
            ),
            remote=tuple(
                _from_rtc(c) for c in (ice.getRemoteCandidates() if ice else [])
            ),
            pairs=pairs,
            selected=selected,
            checks=tuple(self._checks),
            traffic=dataclasses.replace(peer.traffic),
        )

    def refresh(self) -> None:
        """Redraw the view now."""
        snapshot = self.snapshot()
        with self._lock:
            self.value = _render(snapshot)

    def __repr__(self) -> str:
        return f"<Inspector {self.snapshot().summary()}>"

    def _watch(self, peer: Peer) -> None:
        """Record the peer's check steps from now on, and keep the view live."""
        if peer.pc.sctp is None or peer in self._watched:
            return
        self._watched.add(peer)
        connection = internal(peer.pc.sctp.transport.transport, "_connection")
        original = internal(connection, "check_state")

        def check_state(pair: Any, state: Any) -> None:
            before = pair.state
            original(pair, state)
            at = time.monotonic() - peer.created
            step = CheckStep(
                at, _describe(pair), _state_name(before), _state_name(state)
            )
            self._checks.append(step)
            self._redraw_soon()

        # aioice's connection calls its check_state for every change of a
        # check; this instance's calls now go through the recorder first.
        connection.check_state = check_state
        for event in ("connectionstatechange", "iceconnectionstatechange"):
            peer.pc.on(event, self._redraw_soon)

        # The peer lives on the loop running now (in a test) or on the
        # kernel's network thread (in a notebook).
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = get_network().loop
        loop.call_soon_threadsafe(self._tick, peer)

    def _tick(self, peer: Peer) -> None:
        """Redraw now and then while the peer is open, for the traffic counts."""
        self.refresh()
        if peer.pc.connectionState != "closed":
            asyncio.get_running_loop().call_later(_TICK, self._tick, peer)

    def _redraw_soon(self) -> None:
        if self._redraw_pending:
            return
        self._redraw_pending = True
        asyncio.get_running_loop().call_later(_REDRAW, self._redraw)

    def _redraw(self) -> None:
        self._redraw_pending = False
        self.refresh()


def _peer_or_none(target: Peer | ChatClient) -> Peer | None:
    return target.peer if isinstance(target, ChatClient) else target


def _peer_of(target: Peer | ChatClient) -> Peer:
    peer = _peer_or_none(target)
    if peer is None:
        raise ValueError("this chat client has no peer connection yet")
    return peer


def _empty(name: str, checks: tuple[CheckStep, ...]) -> Snapshot:
    states = dict.fromkeys(("signaling", "gathering", "ice", "connection"), "none")
    return Snapshot(name, states, None, (), (), (), (), None, checks, Traffic())


def _from_rtc(c: Any) -> Candidate:
    """Turn an aiortc ``RTCIceCandidate`` into a :class:`Candidate`."""
    return Candidate(
        c.foundation,
        c.component,
        c.protocol,
        c.priority,
        c.ip,
        c.port,
        c.type,
        c.relatedAddress,
        c.relatedPort,
    )


def _from_aioice(c: Any) -> Candidate:
    """Turn an aioice ``Candidate`` into a :class:`Candidate`."""
    return Candidate(
        c.foundation,
        c.component,
        c.transport,
        c.priority,
        c.host,
        c.port,
        c.type,
        c.related_address,
        c.related_port,
    )


def _state_name(state: Any) -> str:
    return str(getattr(state, "name", state)).lower().replace("_", "-")


def _describe(pair: Any) -> str:
    local, remote = pair.local_candidate, pair.remote_candidate
    return f"{_from_aioice(local).endpoint} → {_from_aioice(remote).endpoint}"


def _pairs(ice: Any) -> tuple[tuple[Pair, ...], Pair | None]:
    """Read the check list and the selected pair of an aiortc ICE transport."""
    connection = internal(ice, "_connection")
    check_list = list(internal(connection, "_check_list"))
    nominated = dict(internal(connection, "_nominated"))
    chosen = nominated.get(min(nominated)) if nominated else None
    controlling = bool(connection.ice_controlling)
    pairs = []
    for item in check_list:
        local, remote = item.local_candidate, item.remote_candidate
        pairs.append(
            Pair(
                _from_aioice(local),
                _from_aioice(remote),
                _state_name(item.state),
                bool(item.nominated),
                item is chosen,
                candidate_pair_priority(local, remote, controlling),
            )
        )
    selected = next((p for p in pairs if p.selected), None)
    return tuple(pairs), selected


# The HTML view.


_CELL = "style='text-align:left;padding:1px 10px 1px 0'"


def _table(title: str, head: list[str], rows: Iterable[list[object]]) -> str:
    th = "".join(f"<th {_CELL}>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(f"<td {_CELL}>{html.escape(str(v))}</td>" for v in row)
        + "</tr>"
        for row in rows
    )
    return (
        f"<div style='margin-top:6px'><b>{html.escape(title)}</b></div>"
        f"<table style='border-collapse:collapse'><tr>{th}</tr>{body}</table>"
    )


def _render(s: Snapshot) -> str:
    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    def candidates(title: str, items: tuple[Candidate, ...]) -> str:
        rows = [[c.type, c.endpoint, c.priority, *c.parts] for c in items]
        head = ["type", "address", "priority", "type pref", "local pref", "comp"]
        return _table(title, head, rows)

    t = s.traffic
    states = ", ".join(f"{k} <b>{html.escape(v)}</b>" for k, v in s.states.items())
    selected = html.escape(str(s.selected)) if s.selected else "none yet"
    parts = [
        f"<h4 style='margin:0'>Connection of {html.escape(s.name)}</h4>",
        f"<div>{states}; ICE role {html.escape(s.role or 'not set')}</div>",
        f"<div>selected pair: <b>{selected}</b></div>",
        candidates("Local candidates", s.local),
        candidates("Remote candidates", s.remote),
        _table(
            "Check list",
            ["pair", "state", "nominated", "selected"],
            [[p, p.state, yes(p.nominated), yes(p.selected)] for p in s.pairs],
        ),
        _table(
            "Check steps seen",
            ["ms", "pair", "from", "to"],
            [[f"{c.at * 1000:.0f}", c.pair, c.before, c.after] for c in s.checks],
        ),
        _table(
            "Timeline",
            ["ms", "what", "state"],
            [[f"{c.at * 1000:.0f}", c.kind, c.state] for c in s.timeline],
        ),
        _table(
            "Data channel",
            ["", "messages", "bytes"],
            [
                ["sent", t.messages_sent, t.bytes_sent],
                ["received", t.messages_received, t.bytes_received],
            ],
        ),
    ]
    return "<div style='font-size:90%'>" + "".join(parts) + "</div>"

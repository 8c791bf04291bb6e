"""Reading an SDP offer or answer line by line, and the states it moves a peer through.

An SDP (Session Description Protocol, RFC 8866) is plain text, one
``type=value`` line each. WebRTC uses it to tell the other side how to
reach this one: where it can be reached (ICE candidates), how to check
the other's connectivity checks (the ICE username fragment and password),
which certificate it will show in the DTLS handshake (its fingerprint),
which DTLS role it takes, and what runs inside (an SCTP association for
data channels). The caller's description is the offer, the callee's is
the answer; the signaling server carries both.

:func:`read_sdp` turns each line into an :class:`SdpLine`: the field's
name, what it means, its value and, for lines that hold several fields
(an origin, a media line, a candidate, a fingerprint), their
:class:`Part` s. A line this reader does not know is kept as ``unknown``,
never dropped. :class:`SdpTable` shows the lines as a table in a notebook.

Some values are new on every run: the session id, the ports, the ICE
username fragment and password, the certificate's fingerprint. Each
:class:`SdpLine` has a :attr:`~SdpLine.masked` form in which they read
``<port>``, ``<ice-pwd>`` and so on, so that what a lesson prints is the
same every time.

:class:`SignalingStates` writes down the signaling states of a peer
connection (``stable``, ``have-local-offer``, ``have-remote-offer``) as the
offer and the answer are applied.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ipywidgets as widgets
from aiortc import RTCPeerConnection

from .peer import Peer

__all__ = ["Part", "SdpLine", "SdpTable", "SignalingStates", "read_sdp"]

_UNKNOWN = "not explained by this reader; kept as it is"


@dataclass(frozen=True)
class Part:
    """One field inside a line, such as a candidate's port.

    Attributes:
        name: The field's name, e.g. ``"port"``.
        value: Its text in the line.
        meaning: What it says, in a sentence.
        varies: True if it is new on every run (a port, a session id).
    """

    name: str
    value: str
    meaning: str
    varies: bool = False

    @property
    def shown(self) -> str:
        """The value, or ``<name>`` if it is new on every run."""
        return f"<{self.name}>" if self.varies else self.value


@dataclass(frozen=True)
class SdpLine:
    """One line of an SDP, read.

    Attributes:
        number: Its place in the description, from 1.
        line: The line, as it was.
        field: The field's name: ``"version"``, ``"origin"``, ``"media"``...
            for the lines of one letter, the attribute's name for ``a=``
            lines (``"setup"``, ``"candidate"``...).
        meaning: What the line says, in a sentence or two.
        value: What follows ``=`` (or ``a=name:``).
        parts: The fields inside the value, for lines that have several.
        known: False for a line this reader does not explain.
        masked: The line with every value that is new on every run
            replaced by ``<its name>``.
    """

    number: int
    line: str
    field: str
    meaning: str
    value: str
    parts: tuple[Part, ...] = ()
    known: bool = True
    masked: str = ""

    @property
    def varies(self) -> bool:
        """True if the line holds a value that is new on every run."""
        return self.masked != self.line

    def get(self, name: str) -> str | None:
        """Return the value of the part called ``name``, or None."""
        return next((part.value for part in self.parts if part.name == name), None)

    def __str__(self) -> str:
        lines = [self.masked]
        lines += textwrap.wrap(
            f"{self.field}: {self.meaning}",
            84,
            initial_indent="    ",
            subsequent_indent="      ",
        )
        for part in self.parts:
            lines += textwrap.wrap(
                f"{part.name} = {part.shown}: {part.meaning}",
                84,
                initial_indent="      · ",
                subsequent_indent="        ",
            )
        return "\n".join(lines)


def read_sdp(sdp: str, *fields: str) -> list[SdpLine]:
    """Read an SDP line by line.

    Args:
        sdp: The description, as ``RTCSessionDescription.sdp`` or a relayed
            ``offer`` or ``answer`` message carries it.
        *fields: Keep only the lines of these fields (``"setup"``,
            ``"candidate"``...); every line if none is given.

    Returns:
        One :class:`SdpLine` per line, in order; unknown lines included.
        Only the empty line after the final line break is left out.
    """
    texts = sdp.splitlines()
    if texts and not texts[-1]:
        texts.pop()
    rows = [_read_line(number, text) for number, text in enumerate(texts, 1)]
    return [row for row in rows if not fields or row.field in fields]


# One line.

# A parser turns a value into tokens, each with the part it is, or None for
# a keyword such as "typ"; it raises ValueError if the value does not fit.
_Tokens = list[tuple[str, Part | None]]


@dataclass(frozen=True)
class _Field:
    name: str
    meaning: Callable[[str], str]
    parse: Callable[[str], _Tokens] | None = None
    varies: bool = False


def _read_line(number: int, text: str) -> SdpLine:
    kind, equals, value = text.partition("=")
    if not equals or len(kind) != 1:
        return SdpLine(number, text, "?", _UNKNOWN, text, known=False, masked=text)
    if kind == "a":
        name, colon, value = value.partition(":")
        prefix = f"a={name}{colon}"
        spec = _ATTRIBUTES.get(name)
        field = name or "?"
    else:
        prefix = f"{kind}="
        spec = _LINES.get(kind)
        field = spec.name if spec else kind
    if spec is None:
        return SdpLine(number, text, field, _UNKNOWN, value, known=False, masked=text)

    try:
        tokens = spec.parse(value) if spec.parse else []
    except (ValueError, IndexError):
        meaning = f"does not read as a {spec.name} line; {_UNKNOWN}"
        return SdpLine(number, text, field, meaning, value, known=False, masked=text)
    if tokens:
        parts = tuple(part for _, part in tokens if part is not None)
        shown = " ".join(part.shown if part else token for token, part in tokens)
    else:
        parts = ()
        shown = f"<{spec.name}>" if spec.varies else value
    return SdpLine(
        number, text, field, spec.meaning(value), value, parts, masked=prefix + shown
    )


def _fixed(text: str) -> Callable[[str], str]:
    return lambda value: text


def _fields(*names: str) -> Callable[[str], _Tokens]:
    """Return a parser for a value of space-separated fields with these names."""

    def parse(value: str) -> _Tokens:
        tokens = value.split()
        if len(tokens) != len(names):
            raise ValueError(f"{len(names)} fields expected")
        return [
            (token, Part(name, token, *_PART_MEANINGS[name]))
            for token, name in zip(tokens, names, strict=True)
        ]

    return parse


# What each named part means, and whether it is new on every run.
_PART_MEANINGS: dict[str, tuple[str, bool]] = {
    "username": ("who made it; - for no one in particular", False),
    "session-id": ("a number chosen for this session, new each time", True),
    "session-version": (
        "goes up each time this side changes its description",
        True,
    ),
    "network-type": ("the Internet", False),
    "address-type": ("IPv4 or IPv6", False),
    "address": ("an IP address", False),
    "start": ("start time; 0 for now", False),
    "stop": ("stop time; 0 for never", False),
    "media": (
        "audio, video or application; application is for data channels",
        False,
    ),
    "port": (
        "the UDP port of this side's default candidate, new on every run",
        True,
    ),
    "protocol": (
        "the layers the data rides on: SCTP inside DTLS over UDP",
        False,
    ),
    "format": ("the media are data channels", False),
    "hash-function": ("the hash used to make the fingerprint", False),
    "fingerprint": (
        "the certificate's hash, in hex bytes, new with each certificate",
        True,
    ),
}


def _media_meaning(value: str) -> str:
    if value.split()[-1:] == ["webrtc-datachannel"]:
        return (
            "starts a media section for data channels: SCTP messages inside a "
            "DTLS connection over UDP; the port is the default candidate's, "
            "ICE finds the one actually used"
        )
    return "starts a media section (audio, video or application)"


def _group_meaning(value: str) -> str:
    semantics, _, mids = value.partition(" ")
    if semantics == "BUNDLE":
        return (
            f"the media sections with mid {mids or '(none)'} share one "
            "transport: one ICE connection and one DTLS handshake for all"
        )
    return f"groups the media sections {mids} for {semantics}"


def _max_size_meaning(value: str) -> str:
    size = int(value) if value.isdigit() else -1
    if size == 0:
        said = "0: messages of any size"
    elif size > 0:
        said = f"{size} bytes ({size / 1024:g} KiB)"
    else:
        said = value
    return (
        f"the largest message this side accepts on a data channel: {said}; "
        "without this line 64 KiB is assumed"
    )


def _fingerprint_parse(value: str) -> _Tokens:
    function, fingerprint = value.split()
    return [
        (function, Part("hash-function", function, *_PART_MEANINGS["hash-function"])),
        (fingerprint, Part("fingerprint", fingerprint, *_PART_MEANINGS["fingerprint"])),
    ]


def _fingerprint_meaning(value: str) -> str:
    function = value.split(" ", 1)[0]
    return (
        f"the {function} hash of this side's DTLS certificate. The handshake "
        "checks that the certificate shown hashes to this value: that ties the "
        "encrypted channel to this description, so whoever can change the "
        "description on its way can put a fingerprint of their own"
    )


_SETUP_MEANINGS = {
    "actpass": (
        "the offerer can take either DTLS role, and the answer "
        "decides: active or passive"
    ),
    "active": (
        "this side opens the DTLS handshake, so it is the DTLS client "
        "and the other side the DTLS server"
    ),
    "passive": (
        "this side waits for the other to open the DTLS handshake, so "
        "it is the DTLS server and the other side the DTLS client"
    ),
    "holdconn": "no DTLS connection for now",
}


def _setup_meaning(value: str) -> str:
    return _SETUP_MEANINGS.get(value, f"{value!r} is not a DTLS role WebRTC knows")


# The candidate line (RFC 8839): six fields, "typ" and a type, then pairs.
_CANDIDATE_FIELDS: list[tuple[str, str, bool]] = [
    (
        "foundation",
        "the same for candidates of the same type, base address and server; "
        "ICE checks similar pairs together",
        False,
    ),
    (
        "component",
        "the one component of a data channel (2 was RTCP, for media)",
        False,
    ),
    ("transport", "the transport protocol, UDP or TCP", False),
    (
        "priority",
        "higher is tried first: type preference × 2²⁴ + local preference × 2⁸ "
        "+ (256 − component)",
        False,
    ),
    ("address", "the IP address the other side sends to", False),
    ("port", "the port there; new on every run", True),
]

_CANDIDATE_TYPES = {
    "host": "an address of one of this machine's own interfaces",
    "srflx": "this side's address as a STUN server saw it, outside a NAT",
    "prflx": "an address learnt from a connectivity check",
    "relay": "an address on a TURN server that relays for this side",
}

_CANDIDATE_EXTRAS: dict[str, tuple[str, bool]] = {
    "raddr": ("related address: the local address this one stands for", False),
    "rport": ("related port: the local port this one stands for", True),
    "tcptype": ("for TCP: who opens the connection, active, passive or so", False),
    "generation": ("counts ICE restarts; 0 before any", False),
    "ufrag": ("the ICE username fragment this candidate belongs to", True),
    "network-id": ("which of the machine's networks this is", False),
    "network-cost": ("how costly that network is; lower is preferred", False),
}


def _candidate_parse(value: str) -> _Tokens:
    tokens = value.split()
    if len(tokens) < 8 or tokens[6] != "typ" or len(tokens) % 2:
        raise ValueError("not a candidate")
    for number in (tokens[1], tokens[3], tokens[5]):
        int(number)
    out: _Tokens = [
        (token, Part(name, token, meaning, varies))
        for token, (name, meaning, varies) in zip(
            tokens[:6], _CANDIDATE_FIELDS, strict=True
        )
    ]
    kind = tokens[7]
    priority = int(tokens[3])
    out[3] = (
        tokens[3],
        Part(
            "priority",
            tokens[3],
            f"{_CANDIDATE_FIELDS[3][1]}; here type preference {priority >> 24}, "
            f"local preference {(priority >> 8) & 0xFFFF}",
        ),
    )
    out.append(("typ", None))
    out.append((kind, Part("type", kind, _CANDIDATE_TYPES.get(kind, kind))))
    for name, extra in zip(tokens[8::2], tokens[9::2], strict=True):
        meaning, varies = _CANDIDATE_EXTRAS.get(name, ("an extension", False))
        out.append((name, None))
        out.append((extra, Part(name, extra, meaning, varies)))
    return out


_LINES: dict[str, _Field] = {
    "v": _Field("version", _fixed("the SDP version; always 0")),
    "o": _Field(
        "origin",
        _fixed(
            "who made the description and which one it is: a session id and a "
            "version that goes up when this side changes it; the address is a "
            "placeholder, the real ones are in the candidates"
        ),
        _fields(
            "username",
            "session-id",
            "session-version",
            "network-type",
            "address-type",
            "address",
        ),
    ),
    "s": _Field(
        "session-name",
        _fixed("a name for the session; WebRTC has none and writes -"),
    ),
    "t": _Field(
        "timing",
        _fixed("when the session is on: 0 0 is always, the only value WebRTC uses"),
        _fields("start", "stop"),
    ),
    "m": _Field(
        "media", _media_meaning, _fields("media", "port", "protocol", "format")
    ),
    "c": _Field(
        "connection",
        _fixed(
            "the default candidate's address, for software that knows no ICE; "
            "the a=candidate lines list every address ICE may try"
        ),
        _fields("network-type", "address-type", "address"),
    ),
}

_ATTRIBUTES: dict[str, _Field] = {
    "group": _Field("group", _group_meaning),
    "msid-semantic": _Field(
        "msid-semantic",
        _fixed(
            "how audio and video tracks are tied to media streams; nothing to "
            "do with data channels, written anyway"
        ),
    ),
    "mid": _Field(
        "mid",
        _fixed(
            "the media section's id, named by a=group:BUNDLE and by each "
            "candidate sent on its own (sdpMid)"
        ),
    ),
    "sctp-port": _Field(
        "sctp-port",
        _fixed(
            "the SCTP port inside the DTLS connection, not a UDP port: no "
            "router ever sees it. 5000 by convention"
        ),
    ),
    "max-message-size": _Field("max-message-size", _max_size_meaning),
    "candidate": _Field(
        "candidate",
        _fixed(
            "one address where this side can be reached. ICE pairs each of ours "
            "with each of the other side's and checks them, best priority first, "
            "until a pair works"
        ),
        _candidate_parse,
    ),
    "end-of-candidates": _Field(
        "end-of-candidates",
        _fixed(
            "no more candidates will come: this side gathered them all "
            "before writing the description"
        ),
    ),
    "ice-ufrag": _Field(
        "ice-ufrag",
        _fixed(
            "ICE username fragment, random: names this side in the "
            "connectivity checks, whose username is the two fragments "
            "joined by a colon"
        ),
        varies=True,
    ),
    "ice-pwd": _Field(
        "ice-pwd",
        _fixed(
            "ICE password, random: the key that authenticates the "
            "connectivity checks, so only a peer that read this description "
            "can answer them"
        ),
        varies=True,
    ),
    "ice-options": _Field(
        "ice-options",
        _fixed(
            "ICE extensions this side supports; trickle: candidates may "
            "follow the description one by one"
        ),
    ),
    "fingerprint": _Field("fingerprint", _fingerprint_meaning, _fingerprint_parse),
    "setup": _Field("setup", _setup_meaning),
}


# Showing it.


class SdpTable(widgets.HTML):  # type: ignore[misc]
    """A table of an SDP's lines: each line, its field, and what it means.

    The table shows the real values. Its text form, which is what a notebook
    saves and nbval compares, only counts the lines, so it is the same on
    every run; print the rows' :attr:`SdpLine.masked` forms to see the
    lines themselves as text.

    Args:
        sdp: The description.
        title: Shown above the table, e.g. ``"Alice's offer"``.
        fields: Show only the lines of these fields; all if empty.

    Attributes:
        rows: The lines shown, read by :func:`read_sdp`.
    """

    def __init__(
        self, sdp: str, title: str = "SDP", fields: Sequence[str] = ()
    ) -> None:
        self.rows = read_sdp(sdp, *fields)
        self.title = title
        super().__init__(value=_table(title, self.rows))
        self.add_class("p2plab-sdp-table")

    def __repr__(self) -> str:
        # One line: ipywidgets cuts a widget's text form after 110 characters.
        count = len(self.rows)
        unknown = sum(not row.known for row in self.rows)
        varying = sum(row.varies for row in self.rows)
        return (
            f"<{self.title}: {count} line{'' if count == 1 else 's'}, "
            f"{varying} with values new on every run, {unknown} unknown>"
        )


# Long values (fingerprints) break anywhere; every cell reads from its top.
_CELL = "vertical-align:top;text-align:left;padding:2px 6px"
_CODE = "font-family:monospace;font-size:85%;word-break:break-all"
_COLUMNS = (("#", "3%"), ("line", "36%"), ("field", "13%"), ("what it says", "48%"))


def _table(title: str, rows: Sequence[SdpLine]) -> str:
    cells = []
    for row in rows:
        meaning = html.escape(row.meaning)
        if row.parts:
            items = "".join(
                f"<li><b>{html.escape(p.name)}</b> = "
                f"<span style='{_CODE}'>{html.escape(p.value)}</span>: "
                f"{html.escape(p.meaning)}</li>"
                for p in row.parts
            )
            meaning += f"<ul style='margin:2px 0;padding-left:1.2em'>{items}</ul>"
        field = html.escape(row.field) if row.known else "<i>unknown</i>"
        cells.append(
            "<tr style='border-top:1px solid #ddd'>"
            f"<td style='{_CELL}'>{row.number}</td>"
            f"<td style='{_CELL};{_CODE}'>{html.escape(row.line)}</td>"
            f"<td style='{_CELL}'><b>{field}</b></td>"
            f"<td style='{_CELL}'>{meaning}</td></tr>"
        )
    head = "".join(
        f"<th style='{_CELL};width:{width}'>{name}</th>" for name, width in _COLUMNS
    )
    return (
        f"<b>{html.escape(title)}</b><table style='border-collapse:collapse;"
        f"table-layout:fixed;width:100%'><tr>{head}</tr>{''.join(cells)}</table>"
    )


class SignalingStates:
    """The signaling states a peer connection went through, in order.

    It starts with the state at the time it is made, usually ``stable``,
    and adds each new one as the connection reports it: an offer set as
    local description gives ``have-local-offer``, one set as remote
    description ``have-remote-offer``, and the answer that completes the
    exchange ``stable`` again.

    Args:
        peer: The peer to watch, or its ``RTCPeerConnection``.
        name: Whose peer it is, shown first.

    Attributes:
        states: The states so far.
    """

    def __init__(self, peer: Peer | RTCPeerConnection, name: str) -> None:
        pc = peer.pc if isinstance(peer, Peer) else peer
        self.name = name
        self.states: list[str] = [str(pc.signalingState)]

        @pc.on("signalingstatechange")
        def _changed() -> None:
            self.states.append(str(pc.signalingState))

    def __repr__(self) -> str:
        return f"{self.name}: {' → '.join(self.states)}"

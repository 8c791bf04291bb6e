"""ICE candidates and their priorities, read from text.

A candidate is a transport address where a peer may be reached, as written
in an ``a=candidate`` line of the SDP. :func:`parse_candidate` reads such a
line into a :class:`Candidate`. Its priority packs three numbers into 32 bits
(RFC 8445, section 5.1.2.1)::

    priority = 2**24 * type_preference + 2**8 * local_preference + (256 - component)

:func:`split_priority` takes a priority apart, :func:`join_priority` puts
it together, and :func:`candidate_table` prints candidates with the parts.
Nothing here touches the network.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "TYPE_PREFERENCES",
    "Candidate",
    "Priority",
    "candidate_table",
    "join_priority",
    "parse_candidate",
    "priority_bits",
    "split_priority",
]

#: The type preference RFC 8445 recommends for each candidate type, and
#: that aioice uses: the higher, the more a candidate is preferred.
TYPE_PREFERENCES = {"host": 126, "prflx": 110, "srflx": 100, "relay": 0}


class Priority(NamedTuple):
    """The three parts of a candidate's priority."""

    type_preference: int
    local_preference: int
    component: int


def join_priority(type_preference: int, local_preference: int, component: int) -> int:
    """Return the priority made of these parts (RFC 8445, section 5.1.2.1).

    Raises:
        ValueError: If a part is out of its range: type preference 0-126,
            local preference 0-65535, component 1-256.
    """
    if not 0 <= type_preference <= 126:
        raise ValueError(f"type preference must be 0-126, not {type_preference}")
    if not 0 <= local_preference <= 0xFFFF:
        raise ValueError(f"local preference must be 0-65535, not {local_preference}")
    if not 1 <= component <= 256:
        raise ValueError(f"component must be 1-256, not {component}")
    return (type_preference << 24) + (local_preference << 8) + (256 - component)


def split_priority(priority: int) -> Priority:
    """Take a candidate's priority apart: the reverse of :func:`join_priority`.

    Raises:
        ValueError: If ``priority`` does not fit in 32 bits.
    """
    if not 0 <= priority < 1 << 32:
        raise ValueError(f"a priority fits in 32 bits; {priority} does not")
    return Priority(priority >> 24, (priority >> 8) & 0xFFFF, 256 - (priority & 0xFF))


def priority_bits(priority: int) -> str:
    """Return the 32 bits of a priority, cut into its 8, 16 and 8 bits of parts."""
    split_priority(priority)  # checks the range
    bits = f"{priority:032b}"
    return f"{bits[:8]} {bits[8:24]} {bits[24:]}"


# Candidates.


@dataclass(frozen=True)
class Candidate:
    """One ICE candidate: an address where a peer may be reached.

    Attributes:
        foundation: Equal for candidates of the same type from the same base.
        component: 1 for the data channel (RTP would add 2 for RTCP).
        transport: ``"udp"`` (aiortc offers no TCP candidates).
        priority: The candidate's priority; see :attr:`parts`.
        address: The IP address.
        port: The port.
        type: ``"host"``, ``"srflx"``, ``"prflx"`` or ``"relay"``.
        related_address: For srflx, prflx and relay candidates, the address
            they were derived from, if the peer says.
        related_port: Its port.
    """

    foundation: str
    component: int
    transport: str
    priority: int
    address: str
    port: int
    type: str
    related_address: str | None = None
    related_port: int | None = None

    @property
    def parts(self) -> Priority:
        """The priority split into type preference, local preference, component."""
        return split_priority(self.priority)

    @property
    def endpoint(self) -> str:
        """``address:port``, with an IPv6 address in brackets."""
        return _endpoint(self.address, self.port)

    def __str__(self) -> str:
        return f"{self.type} {self.endpoint}"


_CANDIDATE = re.compile(
    r"^(?:a=)?candidate:(\S+) (\d+) (\S+) (\d+) (\S+) (\d+) typ (\S+)((?: \S+ \S+)*)$"
)


def parse_candidate(line: str) -> Candidate:
    """Read one candidate line, with or without its ``a=`` and ``candidate:``.

    Raises:
        ValueError: If the line is not a candidate.
    """
    text = line.strip()
    if not text.startswith(("a=candidate:", "candidate:")):
        text = "candidate:" + text
    match = _CANDIDATE.match(text)
    if match is None:
        raise ValueError(
            f"not an ICE candidate: {line!r}; expected 'candidate:FOUNDATION "
            "COMPONENT TRANSPORT PRIORITY ADDRESS PORT typ TYPE ...'"
        )
    foundation, component, transport, priority, address, port, kind, rest = (
        match.groups()
    )
    words = rest.split()
    extra = dict(zip(words[::2], words[1::2], strict=True))
    rport = extra.get("rport")
    return Candidate(
        foundation,
        int(component),
        transport.lower(),
        int(priority),
        address,
        int(port),
        kind,
        extra.get("raddr"),
        int(rport) if rport is not None and rport.isdigit() else None,
    )


def candidate_table(candidates: Iterable[Candidate]) -> str:
    """Return candidates as a text table, the priority split into its parts.

    The address comes last: its port differs from run to run, and a notebook's
    saved output masks it without moving the other columns.
    """
    lines = [
        f"{'type':<6} {'priority':>10} {'type':>5} {'local':>6} {'comp':>5}  address"
    ]
    for c in candidates:
        t, local, comp = c.parts
        lines.append(
            f"{c.type:<6} {c.priority:>10} {t:>5} {local:>6} {comp:>5}  {c.endpoint}"
        )
    return "\n".join(lines)


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"

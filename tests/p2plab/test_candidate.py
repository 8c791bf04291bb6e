"""Tests for p2plab.candidate: priorities and candidate lines, with no network."""

from __future__ import annotations

import pytest
from aioice.candidate import candidate_priority

from p2plab.candidate import (
    TYPE_PREFERENCES,
    Candidate,
    Priority,
    candidate_table,
    join_priority,
    parse_candidate,
    priority_bits,
    split_priority,
)

# Priorities.


@pytest.mark.parametrize(
    ("parts", "priority"),
    [
        ((126, 65535, 1), 2130706431),
        ((110, 65535, 1), 1862270975),
        ((100, 65535, 1), 1694498815),
        ((0, 65535, 1), 16777215),
        ((126, 0, 2), 2113929470),
    ],
)
def test_priorities_join_and_split(parts: tuple[int, int, int], priority: int) -> None:
    """join_priority follows the RFC 8445 formula and split_priority undoes it."""
    assert join_priority(*parts) == priority
    assert split_priority(priority) == Priority(*parts)


@pytest.mark.parametrize(
    ("parts", "words"),
    [
        ((127, 0, 1), "type preference"),
        ((-1, 0, 1), "type preference"),
        ((126, 65536, 1), "local preference"),
        ((126, 0, 0), "component"),
        ((126, 0, 257), "component"),
    ],
)
def test_join_priority_refuses_parts_out_of_range(
    parts: tuple[int, int, int], words: str
) -> None:
    """A part out of its range is refused with a message naming that part."""
    with pytest.raises(ValueError, match=words):
        join_priority(*parts)


def test_split_priority_refuses_what_does_not_fit_in_32_bits() -> None:
    """Negative priorities and priorities of 2**32 or more are refused."""
    for priority in (-1, 1 << 32):
        with pytest.raises(ValueError, match="32 bits"):
            split_priority(priority)


@pytest.mark.parametrize("kind", ["host", "prflx", "srflx", "relay"])
def test_type_preferences_are_those_aioice_uses(kind: str) -> None:
    """The table of type preferences agrees with the priorities aioice computes."""
    assert split_priority(candidate_priority(1, kind)) == Priority(
        TYPE_PREFERENCES[kind], 65535, 1
    )


def test_priority_bits_cut_the_parts_apart() -> None:
    """The 32 bits are shown as 8 bits of type, 16 of local preference, 8 more."""
    assert priority_bits(2130706431) == "01111110 1111111111111111 11111111"


# Candidates.


def test_parse_candidate_reads_a_host_candidate() -> None:
    """A host candidate line gives its fields and its priority's parts."""
    c = parse_candidate("a=candidate:abc 1 UDP 2130706431 127.0.0.1 5000 typ host")
    assert c == Candidate("abc", 1, "udp", 2130706431, "127.0.0.1", 5000, "host")
    assert c.parts == Priority(126, 65535, 1)
    assert c.endpoint == "127.0.0.1:5000"
    assert str(c) == "host 127.0.0.1:5000"


def test_parse_candidate_reads_related_address_and_ignores_other_fields() -> None:
    """raddr and rport are kept; generation and the like are read past."""
    line = (
        "candidate:x 1 udp 1694498815 192.0.2.7 40000 typ srflx "
        "raddr 10.0.0.2 rport 5000 generation 0"
    )
    for text in (line, line.removeprefix("candidate:")):
        c = parse_candidate(text)
        assert (c.type, c.related_address, c.related_port) == (
            "srflx",
            "10.0.0.2",
            5000,
        )
        assert c.parts.type_preference == 100


def test_an_ipv6_endpoint_is_bracketed() -> None:
    """An IPv6 address is written in brackets before its port."""
    c = parse_candidate("candidate:a 1 udp 2130706431 ::1 5000 typ host")
    assert c.endpoint == "[::1]:5000"


@pytest.mark.parametrize(
    "line",
    [
        "",
        "a=fingerprint:sha-256 AB:CD",
        "candidate:a 1 udp high 127.0.0.1 5000 typ host",
        "candidate:a 1 udp 1 127.0.0.1 5000 host",
        "candidate:a 1 udp 1 127.0.0.1 5000 typ host raddr",
    ],
)
def test_parse_candidate_refuses_what_is_not_a_candidate(line: str) -> None:
    """A line that is not a candidate raises ValueError showing the expected form."""
    with pytest.raises(ValueError, match="not an ICE candidate"):
        parse_candidate(line)


def test_candidate_table_puts_the_address_last() -> None:
    """The table shows type, priority and its parts, then the address."""
    c = parse_candidate("candidate:silent 1 udp 2130706431 127.0.0.1 9 typ host")
    table = candidate_table([c])
    assert table.splitlines()[1].split() == [
        "host",
        "2130706431",
        "126",
        "65535",
        "1",
        "127.0.0.1:9",
    ]

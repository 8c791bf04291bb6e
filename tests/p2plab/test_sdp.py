"""Reading SDP line by line: real aiortc offers and answers, and small literal ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from p2plab.peer import Peer
from p2plab.sdp import SdpTable, SignalingStates, read_sdp

TIMEOUT = 10.0

# What aiortc writes for a data channel on loopback, field by field.
AIORTC_FIELDS = [
    "version",
    "origin",
    "session-name",
    "timing",
    "group",
    "msid-semantic",
    "media",
    "connection",
    "mid",
    "sctp-port",
    "max-message-size",
    "candidate",
    "end-of-candidates",
    "ice-ufrag",
    "ice-pwd",
    "fingerprint",
    "fingerprint",
    "fingerprint",
    "setup",
]

# A description as a browser might write it, with lines this reader does not
# explain among the ones it does.
BROWSER_SDP = (
    "v=0\r\n"
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0\r\n"
    "a=extmap-allow-mixed\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:30\r\n"
    "a=candidate:842163049 1 udp 1677729535 203.0.113.7 61434 typ srflx "
    "raddr 192.168.1.20 rport 61434 generation 0 network-cost 999\r\n"
    "a=ice-ufrag:Hk3e\r\n"
    "a=ice-pwd:2Xv8kNYtiQuXWsKmlE7J9Wzb\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 0F:3B:5A:44:E1:90:2C:77:8D:1E:6B:A0:55:31:C9:"
    "7E:02:D4:8A:6F:93:B7:10:EC:4D:28:F5:66:0A:B3:91:CE\r\n"
    "a=setup:passive\r\n"
    "a=mid:0\r\n"
    "a=sctp-port:5000\r\n"
    "a=max-message-size:0\r\n"
)


@dataclass
class Exchange:
    """Two connected peers and the descriptions they traded."""

    offer: str
    answer: str
    caller: Peer
    callee: Peer
    caller_states: SignalingStates
    callee_states: SignalingStates


async def exchange() -> Exchange:
    """Run an offer and answer between two loopback peers, until the channel opens."""
    caller = Peer(ice_servers=[], policy="loopback")
    callee = Peer(ice_servers=[], policy="loopback")
    caller_states = SignalingStates(caller, "alice")
    callee_states = SignalingStates(callee.pc, "bob")
    offer = await caller.create_offer()
    answer = await callee.accept_offer(offer)
    await caller.accept_answer(answer)
    await caller.opened(TIMEOUT)
    await callee.opened(TIMEOUT)
    return Exchange(offer, answer, caller, callee, caller_states, callee_states)


@pytest.fixture
async def traded() -> AsyncIterator[Exchange]:
    """One offer and answer between two real peers, closed at teardown."""
    done = await exchange()
    yield done
    await done.caller.close()
    await done.callee.close()


async def test_every_line_of_a_real_offer_and_answer_is_read(
    traded: Exchange,
) -> None:
    """Each line of aiortc's offer and answer is one known row, in order."""
    for sdp in (traded.offer, traded.answer):
        rows = read_sdp(sdp)
        assert [row.line for row in rows] == sdp.splitlines()
        assert [row.number for row in rows] == list(range(1, len(rows) + 1))
        assert [row.field for row in rows] == AIORTC_FIELDS
        assert all(row.known and row.meaning for row in rows)


async def test_the_candidate_of_a_loopback_peer(traded: Exchange) -> None:
    """The one candidate is a UDP host candidate on 127.0.0.1, at the m= line's port."""
    (media,) = read_sdp(traded.offer, "media")
    (candidate,) = read_sdp(traded.offer, "candidate")

    assert candidate.get("address") == "127.0.0.1"
    assert candidate.get("port") == media.get("port")
    assert candidate.get("component") == "1"
    assert candidate.get("transport") == "udp"
    assert candidate.get("type") == "host"
    # Type preference 126 (host), local preference 65535, component 1.
    assert candidate.get("priority") == str((126 << 24) + (65535 << 8) + 255)
    assert "type preference 126" in candidate.parts[3].meaning


async def test_the_masked_form_is_the_same_on_every_run(traded: Exchange) -> None:
    """Masked, two runs' descriptions are equal and hold none of the random values."""
    again = await exchange()
    try:
        for ours, theirs in (
            (traded.offer, again.offer),
            (traded.answer, again.answer),
        ):
            assert ours != theirs
            assert [r.masked for r in read_sdp(ours)] == [
                r.masked for r in read_sdp(theirs)
            ]
    finally:
        await again.caller.close()
        await again.callee.close()

    masked = "\n".join(row.masked for row in read_sdp(traded.offer))
    for field in ("ice-ufrag", "ice-pwd"):
        (row,) = read_sdp(traded.offer, field)
        assert row.value not in masked and row.varies
    for row in read_sdp(traded.offer, "fingerprint"):
        assert str(row.get("fingerprint")) not in masked
    assert "a=ice-pwd:<ice-pwd>" in masked
    assert "127.0.0.1 <port> typ host" in masked


async def test_the_answer_takes_the_role_the_offer_left_open(
    traded: Exchange,
) -> None:
    """The offer says actpass, the answer active: the answerer is the DTLS client."""
    (offered,) = read_sdp(traded.offer, "setup")
    (answered,) = read_sdp(traded.answer, "setup")

    assert offered.value == "actpass" and "answer decides" in offered.meaning
    assert answered.value == "active" and "DTLS client" in answered.meaning
    # What the explanation claims, checked against aiortc's own DTLS roles.
    assert traded.callee.pc.sctp is not None and traded.caller.pc.sctp is not None
    assert traded.callee.pc.sctp.transport._role == "client"
    assert traded.caller.pc.sctp.transport._role == "server"


async def test_signaling_states_of_caller_and_callee(traded: Exchange) -> None:
    """The caller goes through have-local-offer, the callee have-remote-offer."""
    assert traded.caller_states.states == ["stable", "have-local-offer", "stable"]
    assert traded.callee_states.states == ["stable", "have-remote-offer", "stable"]
    assert repr(traded.callee_states) == "bob: stable → have-remote-offer → stable"


async def test_each_fingerprint_names_its_hash(traded: Exchange) -> None:
    """aiortc gives its certificate's fingerprint with three hash functions."""
    rows = read_sdp(traded.offer, "fingerprint")
    assert [row.get("hash-function") for row in rows] == [
        "sha-256",
        "sha-384",
        "sha-512",
    ]
    for row, size in zip(rows, (32, 48, 64), strict=True):
        assert len(str(row.get("fingerprint")).split(":")) == size


def test_a_browser_description_keeps_its_unknown_lines() -> None:
    """Lines this reader does not know are listed as unknown, in place, not dropped."""
    rows = read_sdp(BROWSER_SDP)

    assert [row.line for row in rows] == BROWSER_SDP.splitlines()
    unknown = [(row.number, row.field) for row in rows if not row.known]
    assert unknown == [(6, "extmap-allow-mixed"), (9, "b")]
    assert rows[8].value == "AS:30" and rows[8].masked == "b=AS:30"


def test_a_browser_description_is_explained() -> None:
    """Trickle, a passive setup, a server-reflexive candidate and no size limit."""
    (options,) = read_sdp(BROWSER_SDP, "ice-options")
    (setup,) = read_sdp(BROWSER_SDP, "setup")
    (candidate,) = read_sdp(BROWSER_SDP, "candidate")
    (size,) = read_sdp(BROWSER_SDP, "max-message-size")

    assert options.value == "trickle" and "one by one" in options.meaning
    assert "DTLS server" in setup.meaning
    assert candidate.get("type") == "srflx" and "STUN" in candidate.parts[6].meaning
    assert candidate.get("raddr") == "192.168.1.20"
    assert candidate.get("generation") == "0"
    assert candidate.masked == (
        "a=candidate:842163049 1 udp 1677729535 203.0.113.7 <port> typ srflx "
        "raddr 192.168.1.20 rport <rport> generation 0 network-cost 999"
    )
    assert "messages of any size" in size.meaning


def test_lines_that_do_not_read_are_kept_as_unknown() -> None:
    """A broken line, a bad candidate and a short origin are unknown rows, in place."""
    sdp = "v=0\nnot a line\n\no=- 1 2\na=candidate:1 1 udp\na=\na=setup:sideways\n"
    rows = read_sdp(sdp)

    assert [row.line for row in rows] == sdp.splitlines()
    assert [row.known for row in rows] == [
        True,
        False,
        False,
        False,
        False,
        False,
        True,
    ]
    assert [row.field for row in rows][:6] == [
        "version",
        "?",
        "?",
        "origin",
        "candidate",
        "?",
    ]
    assert "does not read as a candidate line" in rows[4].meaning
    assert rows[4].masked == rows[4].line
    assert "'sideways' is not a DTLS role" in rows[6].meaning


def test_fields_pick_lines() -> None:
    """Naming fields keeps only their lines, with their numbers in the whole."""
    rows = read_sdp(BROWSER_SDP, "mid", "sctp-port")
    assert [(row.number, row.field, row.value) for row in rows] == [
        (16, "mid", "0"),
        (17, "sctp-port", "5000"),
    ]


def test_a_line_reads_with_its_meaning_and_parts() -> None:
    """str() of a row gives the masked line, its meaning and each part's."""
    (row,) = read_sdp(BROWSER_SDP, "fingerprint")
    text = str(row)
    assert text.splitlines()[0] == "a=fingerprint:sha-256 <fingerprint>"
    assert "fingerprint: the sha-256 hash of this side's DTLS certificate" in text
    assert "· hash-function = sha-256: the hash used" in text
    assert "0F:3B" not in text


def test_the_table_shows_values_and_reads_the_same_every_run() -> None:
    """The table's HTML holds the real lines; its one-line text form only counts."""
    table = SdpTable(BROWSER_SDP, "Bob's answer", fields=["ice-pwd", "b", "setup"])

    assert "2Xv8kNYtiQuXWsKmlE7J9Wzb" in table.value
    assert "<i>unknown</i>" in table.value
    assert [row.number for row in table.rows] == [9, 12, 15]
    assert repr(table) == (
        "<Bob's answer: 3 lines, 1 with values new on every run, 1 unknown>"
    )
    assert repr(SdpTable("v=0\r\n", "One")) == (
        "<One: 1 line, 0 with values new on every run, 0 unknown>"
    )

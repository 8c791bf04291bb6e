"""Tests for p2plab.inspector: real peers on loopback, watched while they connect."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from p2plab import ChatClient, ConnectError, Identity, Peer
from p2plab.candidate import parse_candidate
from p2plab.errors import InternalsMoved
from p2plab.inspector import (
    CheckStep,
    Inspector,
    check_fingerprint,
    pair_table,
    tamper_fingerprint,
    timeline_table,
)
from p2plab.peer import internal, sdp_candidates

from .conftest import RunningServer, Until

# Every wait on the network is bounded, so a broken connection fails fast.
TIMEOUT = 10.0

#: A candidate for an address where nothing answers: port 9 ("discard").
SILENT = "candidate:silent 1 udp 2130706431 127.0.0.1 9 typ host"


@pytest.fixture
async def peers() -> AsyncIterator[tuple[Peer, Peer]]:
    """Alice and Bob, loopback peers with no ICE servers, closed at teardown."""
    alice = Peer(ice_servers=[], policy="loopback")
    bob = Peer(ice_servers=[], policy="loopback")
    yield alice, bob
    await alice.close()
    await bob.close()


async def offer_and_answer(alice: Peer, bob: Peer) -> tuple[str, str]:
    """Make Alice's offer and Bob's answer; Alice has not applied it yet."""
    offer = await alice.create_offer()
    answer = await bob.accept_offer(offer)
    return offer, answer


# Private attributes.


def test_internal_returns_the_attribute() -> None:
    """internal() returns the attribute when it is there."""

    class Holder:
        _secret = 42

    assert internal(Holder(), "_secret") == 42


def test_internal_names_what_moved() -> None:
    """A missing attribute raises InternalsMoved naming the class and attribute."""

    class Holder:
        pass

    with pytest.raises(InternalsMoved, match=r"Holder has no attribute '_gone'"):
        internal(Holder(), "_gone")


# Real peers.


async def test_the_inspector_shows_candidates_checks_and_the_selected_pair(
    peers: tuple[Peer, Peer],
) -> None:
    """Watching Alice connect: her candidates, Bob's, the check list and the pair."""
    alice, bob = peers
    offer, answer = await offer_and_answer(alice, bob)
    inspector = Inspector(alice, name="alice")
    await alice.accept_answer(answer)
    await alice.opened(TIMEOUT)
    snap = inspector.snapshot()

    assert snap.states["connection"] == "connected"
    assert snap.role == "controlling"
    assert snap.local == tuple(parse_candidate(c) for c in sdp_candidates(offer))
    assert snap.remote == tuple(parse_candidate(c) for c in sdp_candidates(answer))
    assert len(snap.pairs) == 1
    pair = snap.pairs[0]
    assert (pair.local, pair.remote) == (snap.local[0], snap.remote[0])
    assert (pair.state, pair.nominated, pair.selected) == ("succeeded", True, True)
    assert snap.selected == pair
    assert [(s.before, s.after) for s in snap.checks][-1] == (
        "in-progress",
        "succeeded",
    )
    assert all(s.pair == str(pair) for s in snap.checks)
    assert snap.timeline == tuple(alice.timeline)


async def test_a_silent_candidate_is_paired_but_never_answers(
    peers: tuple[Peer, Peer],
) -> None:
    """A remote candidate where nothing listens is paired; its check never succeeds."""
    alice, bob = peers
    _, answer = await offer_and_answer(alice, bob)
    inspector = Inspector(alice)
    await alice.accept_answer(
        answer.replace("a=candidate:", f"a={SILENT}\r\na=candidate:", 1)
    )
    await alice.opened(TIMEOUT)
    snap = inspector.snapshot()

    assert len(snap.remote) == 2
    silent = [p for p in snap.pairs if p.remote.port == 9]
    assert len(silent) == 1 and silent[0].state != "succeeded"
    assert not silent[0].selected
    assert snap.selected is not None and snap.selected.remote.port != 9
    assert "127.0.0.1:9" in pair_table(snap.pairs)


async def test_the_inspector_counts_traffic_and_says_so_in_its_repr(
    peers: tuple[Peer, Peer], until: Until
) -> None:
    """Messages and bytes sent and received appear in the snapshot and the repr."""
    alice, bob = peers
    _, answer = await offer_and_answer(alice, bob)
    await alice.accept_answer(answer)
    await alice.opened(TIMEOUT)
    await bob.opened(TIMEOUT)
    alice.send("hello")
    alice.send(b"\x00\x01")
    await until(lambda: bob.traffic.messages_received == 2, what="two messages")

    snap = Inspector(bob, name="bob").snapshot()
    assert (snap.traffic.messages_received, snap.traffic.bytes_received) == (2, 7)
    text = repr(Inspector(alice, name="alice"))
    assert text == (
        "<Inspector alice: connected, controlling, 1 pair, selected host→host; "
        "sent 2 (7 B), received 0 (0 B)>"
    )
    assert not re.search(r"\d ms\b|\d s\b", text)  # no times


async def test_the_view_is_html_with_every_section(peers: tuple[Peer, Peer]) -> None:
    """The widget's HTML holds the candidates, check list, timeline and traffic."""
    alice, bob = peers
    _, answer = await offer_and_answer(alice, bob)
    inspector = Inspector(alice, name="alice")
    await alice.accept_answer(answer)
    await alice.opened(TIMEOUT)
    inspector.refresh()

    for title in ("Local candidates", "Remote candidates", "Check list", "Timeline"):
        assert title in inspector.value
    assert "Data channel" in inspector.value and "succeeded" in inspector.value


async def test_timeline_table_lists_states_and_check_steps(
    peers: tuple[Peer, Peer],
) -> None:
    """timeline_table writes one line per change, the time last."""
    alice, bob = peers
    _, answer = await offer_and_answer(alice, bob)
    await alice.accept_answer(answer)
    await alice.opened(TIMEOUT)

    lines = timeline_table(alice.timeline).splitlines()
    assert lines[0].split()[:2] == ["signaling", "have-local-offer"]
    assert all(re.search(r"at \d+ ms$", line) for line in lines)
    step = CheckStep(0.012, "127.0.0.1:1 → 127.0.0.1:2", "waiting", "in-progress")
    assert timeline_table([step]).split() == [
        "waiting",
        "→",
        "in-progress",
        "127.0.0.1:1",
        "→",
        "127.0.0.1:2",
        "at",
        "12",
        "ms",
    ]


# Chat clients.


async def test_the_inspector_follows_a_chat_clients_peer(
    server: RunningServer, alice_id: Identity, bob_id: Identity
) -> None:
    """On a chat client, the inspector shows the peer of its current chat."""
    alice = ChatClient("alice", alice_id, server.url, partner="bob", backoff=None)
    bob = ChatClient("bob", bob_id, server.url, partner="alice", backoff=None)
    inspector = Inspector(alice)
    try:
        assert repr(inspector) == (
            "<Inspector alice: none, no role yet, 0 pairs, none selected; "
            "sent 0 (0 B), received 0 (0 B)>"
        )
        await alice.start()
        await bob.start()
        await alice.wait_ready(TIMEOUT)
        await bob.wait_ready(TIMEOUT)
        await bob.send("hi")
        snap = inspector.snapshot()
        text = repr(inspector)
    finally:
        await alice.close()
        await bob.close()

    assert snap.name == "alice"
    assert snap.selected is not None
    assert snap.role == "controlled"  # Bob arrived second, so Bob called
    assert snap.traffic.messages_received >= 1
    assert len(text) <= 110, "ipywidgets would cut the text form"


# The DTLS fingerprint.


async def test_the_fingerprint_in_the_sdp_is_the_presented_certificates(
    peers: tuple[Peer, Peer],
) -> None:
    """The SHA-256 fingerprint in Bob's answer is that of the certificate he shows."""
    alice, bob = peers
    _, answer = await offer_and_answer(alice, bob)
    await alice.accept_answer(answer)
    await alice.opened(TIMEOUT)

    check = check_fingerprint(alice)
    assert check.algorithm == "sha-256" and check.matches
    assert f"a=fingerprint:sha-256 {check.in_sdp}" in answer
    assert bob.pc.sctp is not None
    bobs = bob.pc.sctp.transport.getLocalParameters().fingerprints
    assert check.presented in [f.value for f in bobs if f.algorithm == "sha-256"]


async def test_a_tampered_fingerprint_fails_the_connection(
    peers: tuple[Peer, Peer],
) -> None:
    """With one digit of Bob's fingerprint changed, Alice's connection fails."""
    alice, bob = peers
    _, answer = await offer_and_answer(alice, bob)
    await alice.accept_answer(tamper_fingerprint(answer))

    with pytest.raises(ConnectError, match="failed"):
        await alice.opened(TIMEOUT)
    check = check_fingerprint(alice)
    assert not check.matches
    assert check.in_sdp[1:] == check.presented[1:]


def test_tamper_fingerprint_changes_exactly_one_digit() -> None:
    """tamper_fingerprint changes the first digit of the sha-256 value only."""
    sdp = "v=0\r\na=fingerprint:sha-256 0A:BC\r\na=fingerprint:sha-384 0A:BC\r\n"
    assert tamper_fingerprint(sdp) == sdp.replace("sha-256 0A", "sha-256 1A")
    assert tamper_fingerprint("a=fingerprint:sha-256 AB") == "a=fingerprint:sha-256 0B"
    with pytest.raises(ValueError, match="no sha-256 fingerprint"):
        tamper_fingerprint("v=0\r\n")


async def test_check_fingerprint_needs_a_handshake(peers: tuple[Peer, Peer]) -> None:
    """Before an answer or a DTLS handshake, the check says what is missing."""
    alice, bob = peers
    await alice.create_offer()
    with pytest.raises(ValueError, match="no remote SDP"):
        check_fingerprint(alice)
    offer = alice.pc.localDescription.sdp
    await bob.pc.setRemoteDescription(type(alice.pc.localDescription)(offer, "offer"))
    with pytest.raises(ValueError, match="no DTLS handshake yet"):
        check_fingerprint(bob)

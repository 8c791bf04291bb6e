"""Tests for p2plab.peer: two real aiortc peers in one event loop, on loopback."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from p2plab import ConnectError, PeerGone
from p2plab import peer as peer_module
from p2plab.peer import CHANNEL_LABEL, Peer, sdp_candidates

# Every wait on the network is bounded, so a broken connection fails fast.
TIMEOUT = 10.0


@dataclass
class Side:
    """One peer and everything it reported."""

    peer: Peer
    inbox: asyncio.Queue[str | bytes] = field(default_factory=asyncio.Queue)
    states: list[str] = field(default_factory=list)

    async def next_message(self) -> str | bytes:
        """Return the next message that arrived on the channel."""
        return await asyncio.wait_for(self.inbox.get(), TIMEOUT)


def make_side() -> Side:
    """Return a loopback peer with no ICE servers that records what it sees."""
    peer = Peer(ice_servers=[], policy="loopback")
    side = Side(peer)
    peer.on_message = side.inbox.put_nowait
    peer.on_state = side.states.append
    return side


def assert_loopback_host_only(sdp: str) -> None:
    """Check that every candidate in ``sdp`` is a host candidate on 127.0.0.1."""
    candidates = sdp_candidates(sdp)
    assert candidates
    for line in candidates:
        fields = line.split()
        assert fields[4] == "127.0.0.1", line
        assert fields[6:8] == ["typ", "host"], line
    assert "srflx" not in sdp
    assert "relay" not in sdp


@pytest.fixture
async def sides() -> AsyncIterator[tuple[Side, Side]]:
    """Alice (offerer) and Bob (answerer), closed at teardown."""
    alice, bob = make_side(), make_side()
    yield alice, bob
    await alice.peer.close()
    await bob.peer.close()


async def connect(alice: Side, bob: Side) -> tuple[str, str]:
    """Run offer and answer between the two sides; return both SDPs."""
    # Step 1: Alice offers. Step 2: Bob answers. Step 3: Alice applies it.
    offer = await alice.peer.create_offer()
    answer = await bob.peer.accept_offer(offer)
    await alice.peer.accept_answer(answer)
    await alice.peer.opened(TIMEOUT)
    await bob.peer.opened(TIMEOUT)
    return offer, answer


def test_sdp_candidates_returns_the_candidate_lines() -> None:
    """sdp_candidates keeps only a=candidate lines, without the a= prefix."""
    sdp = (
        "v=0\r\n"
        "a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n"
        "a=end-of-candidates\r\n"
        "a=candidate:2 1 udp 2130706431 127.0.0.1 5001 typ host\r\n"
    )
    assert sdp_candidates(sdp) == [
        "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host",
        "candidate:2 1 udp 2130706431 127.0.0.1 5001 typ host",
    ]


async def test_a_peer_passes_an_explicit_empty_server_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """By default a Peer gives aiortc iceServers=[], so no STUN server is asked."""
    seen: list[RTCConfiguration | None] = []

    class Recording(RTCPeerConnection):
        def __init__(self, configuration: RTCConfiguration | None = None) -> None:
            seen.append(configuration)
            super().__init__(configuration)

    monkeypatch.setattr(peer_module, "RTCPeerConnection", Recording)
    peer = Peer()
    await peer.close()
    assert peer.policy == "loopback"
    assert seen[0] is not None
    assert seen[0].iceServers == []


async def test_offer_and_answer_carry_only_loopback_host_candidates(
    sides: tuple[Side, Side],
) -> None:
    """With the loopback policy and no servers, both SDPs offer 127.0.0.1 only."""
    alice, bob = sides
    offer, answer = await connect(alice, bob)
    assert_loopback_host_only(offer)
    assert_loopback_host_only(answer)
    assert re.search(r"^a=sctp-port:", offer, re.MULTILINE)


async def test_the_channel_opens_and_carries_messages_both_ways(
    sides: tuple[Side, Side],
) -> None:
    """Once connected, text and bytes cross the data channel in both directions."""
    alice, bob = sides
    await connect(alice, bob)
    assert alice.peer.channel is not None and bob.peer.channel is not None
    assert bob.peer.channel.label == alice.peer.channel.label == CHANNEL_LABEL

    alice.peer.send("hello Bob")
    assert await bob.next_message() == "hello Bob"
    bob.peer.send(b"\x00binary\xff")
    assert await alice.next_message() == b"\x00binary\xff"


async def test_both_sides_report_connected(sides: tuple[Side, Side]) -> None:
    """on_state sees "connected" on both sides, and state says so too."""
    alice, bob = sides
    await connect(alice, bob)
    for side in (alice, bob):
        for _ in range(500):
            if "connected" in side.states:
                break
            await asyncio.sleep(0.01)
        assert "connected" in side.states
        assert side.peer.state == "connected"


async def test_opened_times_out_without_an_answer(sides: tuple[Side, Side]) -> None:
    """If no answer is ever applied, opened() raises ConnectError after the timeout."""
    alice, _ = sides
    await alice.peer.create_offer()
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(ConnectError, match="no peer-to-peer connection after 0.2 s"):
        await alice.peer.opened(timeout=0.2)
    assert loop.time() - start < 2


async def test_opened_fails_once_the_peer_is_closed(sides: tuple[Side, Side]) -> None:
    """Closing a peer that never connected makes opened() raise ConnectError."""
    alice, _ = sides
    await alice.peer.create_offer()
    await alice.peer.close()
    with pytest.raises(ConnectError, match="closed"):
        await alice.peer.opened(timeout=1)


async def test_send_before_a_channel_exists_raises_peer_gone(
    sides: tuple[Side, Side],
) -> None:
    """send() on a peer with no data channel yet raises PeerGone."""
    alice, _ = sides
    with pytest.raises(PeerGone, match="not open"):
        alice.peer.send("too early")


async def test_send_on_a_closed_channel_raises_peer_gone(
    sides: tuple[Side, Side],
) -> None:
    """After close(), send() raises PeerGone instead of an aiortc error."""
    alice, bob = sides
    await connect(alice, bob)
    await alice.peer.close()
    with pytest.raises(PeerGone):
        alice.peer.send("after close")


async def test_the_other_side_sees_the_close(sides: tuple[Side, Side]) -> None:
    """When one peer closes, the other's channel closes and send raises PeerGone."""
    alice, bob = sides
    await connect(alice, bob)
    await alice.peer.close()
    for _ in range(500):
        if bob.peer.channel is not None and bob.peer.channel.readyState == "closed":
            break
        await asyncio.sleep(0.01)
    with pytest.raises(PeerGone):
        bob.peer.send("anyone there?")


async def test_close_twice_is_safe(sides: tuple[Side, Side]) -> None:
    """Calling close() a second time does nothing and raises nothing."""
    alice, bob = sides
    await connect(alice, bob)
    await alice.peer.close()
    await alice.peer.close()
    assert alice.peer.state == "closed"


async def test_trickled_candidates_are_accepted(sides: tuple[Side, Side]) -> None:
    """Candidates removed from the answer and added with add_candidate still connect."""
    alice, bob = sides
    offer = await alice.peer.create_offer()
    answer = await bob.peer.accept_offer(offer)
    candidates = sdp_candidates(answer)
    bare = "".join(
        line + "\r\n"
        for line in answer.splitlines()
        if not line.startswith(("a=candidate:", "a=end-of-candidates"))
    )
    await alice.peer.accept_answer(bare)

    # Trickle them the way a browser does, then say there are no more.
    mid = re.search(r"^a=mid:(\S+)", answer, re.MULTILINE)
    assert mid is not None
    for line in candidates:
        await alice.peer.add_candidate(line, mid.group(1), 0)
    await alice.peer.add_candidate("", mid.group(1), 0)

    await alice.peer.opened(TIMEOUT)
    alice.peer.send("trickled")
    assert await bob.next_message() == "trickled"


def states_of(peer: Peer, kind: str) -> list[str]:
    """Return the states of one kind in a peer's timeline, in order."""
    return [change.state for change in peer.timeline if change.kind == kind]


async def test_the_timeline_records_every_state_change_in_order(
    sides: tuple[Side, Side],
) -> None:
    """Each side's timeline holds its signaling, gathering, ICE and peer states."""
    alice, bob = sides
    await connect(alice, bob)

    assert states_of(alice.peer, "signaling") == ["have-local-offer", "stable"]
    assert states_of(bob.peer, "signaling") == ["have-remote-offer", "stable"]
    for side in (alice, bob):
        assert states_of(side.peer, "gathering") == ["gathering", "complete"]
        assert states_of(side.peer, "ice")[:2] == ["checking", "completed"]
        assert states_of(side.peer, "connection")[:2] == ["connecting", "connected"]
        times = [change.at for change in side.peer.timeline]
        assert times == sorted(times) and times[0] >= 0


async def test_traffic_counts_messages_and_bytes_both_ways(
    sides: tuple[Side, Side],
) -> None:
    """Sent and received messages are counted, text by its UTF-8 size."""
    alice, bob = sides
    await connect(alice, bob)

    alice.peer.send("héllo")  # 6 bytes in UTF-8
    alice.peer.send(b"\x00\x01\x02")
    await bob.next_message()
    await bob.next_message()

    assert (alice.peer.traffic.messages_sent, alice.peer.traffic.bytes_sent) == (2, 9)
    assert (bob.peer.traffic.messages_received, bob.peer.traffic.bytes_received) == (
        2,
        9,
    )
    assert alice.peer.traffic.messages_received == bob.peer.traffic.messages_sent == 0


async def test_a_refused_send_is_not_counted(sides: tuple[Side, Side]) -> None:
    """A message too large for the channel raises and leaves the counts alone."""
    alice, bob = sides
    await connect(alice, bob)
    with pytest.raises(ValueError):
        alice.peer.send(b"x" * (1024 * 1024))
    assert alice.peer.traffic.messages_sent == alice.peer.traffic.bytes_sent == 0

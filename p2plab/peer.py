"""A WebRTC peer: one aiortc connection with one data channel.

:class:`Peer` hides the parts of aiortc a chat does not need (media, the
W3C event names) and keeps the parts a lesson wants to show: the SDP of the
offer and answer, the candidates, the connection state and the channel.
Each peer also writes down every state change, with its time, in
:attr:`Peer.timeline`, and counts what crossed the channel in
:attr:`Peer.traffic` (aiortc keeps no such count).

aiortc gathers all its candidates before it finishes
``setLocalDescription``, so every offer and answer it makes already holds its
``a=candidate`` lines: there is no trickle ICE from this side. Candidates
trickled by a browser peer are still accepted by :meth:`Peer.add_candidate`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from .errors import ConnectError, InternalsMoved, PeerGone
from .ice import HostPolicy, configuration, host_policy

__all__ = [
    "CHANNEL_LABEL",
    "Peer",
    "StateChange",
    "Traffic",
    "internal",
    "live_peers",
    "sdp_candidates",
]

logger = logging.getLogger(__name__)

#: Label of the chat data channel.
CHANNEL_LABEL = "chat"

# Every peer made in this process and not yet collected, for lesson.reset().
_live: weakref.WeakSet[Peer] = weakref.WeakSet()

# The states a peer writes in its timeline: our name for each, the aiortc
# event that announces a change, and the attribute that holds the state.
_STATES = {
    "signaling": ("signalingstatechange", "signalingState"),
    "gathering": ("icegatheringstatechange", "iceGatheringState"),
    "ice": ("iceconnectionstatechange", "iceConnectionState"),
    "connection": ("connectionstatechange", "connectionState"),
}


@dataclass(frozen=True)
class StateChange:
    """One state change of a peer.

    Attributes:
        at: Seconds since the peer was made.
        kind: ``"signaling"``, ``"gathering"`` (ICE candidate gathering),
            ``"ice"`` (the ICE connection) or ``"connection"`` (the whole
            peer connection).
        state: The new state, as aiortc names it.
    """

    at: float
    kind: str
    state: str


@dataclass
class Traffic:
    """Messages and bytes that crossed the data channel, counted by the peer.

    Bytes are those of the messages as given to or received from the
    channel (text counts as UTF-8), without SCTP, DTLS or UDP overhead.
    """

    messages_sent: int = 0
    bytes_sent: int = 0
    messages_received: int = 0
    bytes_received: int = 0

    def count(self, data: str | bytes, *, sent: bool) -> None:
        """Add one message of ``data`` to the sent or received counts."""
        size = len(data.encode()) if isinstance(data, str) else len(data)
        if sent:
            self.messages_sent += 1
            self.bytes_sent += size
        else:
            self.messages_received += 1
            self.bytes_received += size


def live_peers() -> list[Peer]:
    """Return the peers of this process that are not closed yet."""
    return [peer for peer in _live if peer.pc.connectionState != "closed"]


def sdp_candidates(sdp: str) -> list[str]:
    """Return the ``a=candidate`` lines of an SDP, without the ``a=`` prefix."""
    return [
        line[2:].strip() for line in sdp.splitlines() if line.startswith("a=candidate:")
    ]


class Peer:
    """One side of a peer-to-peer connection carrying one data channel.

    Args:
        ice_servers: STUN/TURN URLs. Empty by default: no server is contacted.
        policy: Which local addresses to offer, ``"loopback"`` or ``"all"``.
        on_message: Called with each message that arrives on the channel.
        on_state: Called with each new connection state (``"connecting"``,
            ``"connected"``, ``"failed"``, ``"closed"``).

    Attributes:
        created: When the peer was made, in :func:`time.monotonic` seconds.
        timeline: Every change of the signaling, gathering, ICE and
            connection states, in order, with its time.
        traffic: What crossed the data channel so far.
    """

    def __init__(
        self,
        *,
        ice_servers: Sequence[str] = (),
        policy: HostPolicy = "loopback",
        on_message: Callable[[str | bytes], None] | None = None,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self.policy = policy
        self.pc = RTCPeerConnection(configuration(ice_servers))
        self.channel: RTCDataChannel | None = None
        self.on_message = on_message
        self.on_state = on_state
        self._open: asyncio.Future[RTCDataChannel] = (
            asyncio.get_running_loop().create_future()
        )
        self.timeline: list[StateChange] = []
        self.traffic = Traffic()
        self.created = time.monotonic()
        for kind, (event, _) in _STATES.items():
            self.pc.on(event, functools.partial(self._record, kind))
        self.pc.on("connectionstatechange", self._state_changed)
        self.pc.on("datachannel", self._adopt)
        _live.add(self)

    @property
    def state(self) -> str:
        """The connection state, as aiortc reports it."""
        return str(self.pc.connectionState)

    async def create_offer(self) -> str:
        """Create the data channel and the offer; return the offer's SDP."""
        self._adopt(self.pc.createDataChannel(CHANNEL_LABEL))
        offer = await self.pc.createOffer()
        with host_policy(self.policy):
            await self.pc.setLocalDescription(offer)
        return str(self.pc.localDescription.sdp)

    async def accept_offer(self, sdp: str) -> str:
        """Apply the peer's offer; return our answer's SDP."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        answer = await self.pc.createAnswer()
        with host_policy(self.policy):
            await self.pc.setLocalDescription(answer)
        return str(self.pc.localDescription.sdp)

    async def accept_answer(self, sdp: str) -> None:
        """Apply the peer's answer; ICE checks and DTLS start now."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    async def add_candidate(
        self, candidate: str, sdp_mid: str | None, sdp_mline_index: int | None
    ) -> None:
        """Add one remote candidate trickled by the peer; an empty one ends them."""
        if not candidate:
            await self.pc.addIceCandidate(None)
            return
        parsed = candidate_from_sdp(candidate.removeprefix("candidate:"))
        parsed.sdpMid = sdp_mid
        parsed.sdpMLineIndex = sdp_mline_index
        await self.pc.addIceCandidate(parsed)

    async def opened(self, timeout: float = 15.0) -> RTCDataChannel:
        """Wait until the data channel is open and return it.

        Raises:
            ConnectError: If the connection fails or ``timeout`` passes.
            Cancelling the wait leaves the connection as it is.
        """
        try:
            return await asyncio.wait_for(asyncio.shield(self._open), timeout)
        except TimeoutError:
            raise ConnectError(
                f"no peer-to-peer connection after {timeout:g} s "
                f"(connection state {self.state!r})"
            ) from None

    def send(self, data: str | bytes) -> None:
        """Send one message on the data channel.

        Raises:
            PeerGone: If the channel is not open.
        """
        if self.channel is None or self.channel.readyState != "open":
            raise PeerGone("the data channel is not open")
        self.channel.send(data)
        self.traffic.count(data, sent=True)

    async def close(self) -> None:
        """Close the channel and the connection; safe to call twice."""
        if not self._open.done():
            self._open.set_exception(ConnectError("the connection was closed"))
            self._open.exception()  # the failure is expected; mark it seen
        await self.pc.close()

    def _adopt(self, channel: RTCDataChannel) -> None:
        self.channel = channel

        @channel.on("open")
        def _opened() -> None:
            if not self._open.done():
                self._open.set_result(channel)

        @channel.on("message")
        def _message(data: str | bytes) -> None:
            self.traffic.count(data, sent=False)
            if self.on_message is not None:
                self.on_message(data)

        # The answering side receives a channel that is already open.
        if channel.readyState == "open":
            _opened()

    def _record(self, kind: str) -> None:
        state = str(getattr(self.pc, _STATES[kind][1]))
        self.timeline.append(StateChange(time.monotonic() - self.created, kind, state))

    def _state_changed(self) -> None:
        state = self.state
        logger.debug("= connection state %s", state)
        if state in ("failed", "closed") and not self._open.done():
            self._open.set_exception(ConnectError(f"the connection {state}"))
            self._open.exception()
        if self.on_state is not None:
            self.on_state(state)


def internal(owner: object, name: str) -> Any:
    """Return the private attribute ``name`` of an aiortc or aioice object.

    Raises:
        InternalsMoved: If ``owner`` has no such attribute.
    """
    try:
        return getattr(owner, name)
    except AttributeError:
        kind = type(owner)
        raise InternalsMoved(
            f"{kind.__module__}.{kind.__qualname__} has no attribute {name!r}: "
            "this aiortc or aioice keeps it elsewhere; p2plab was written "
            "for aiortc 1.16 and aioice 0.13"
        ) from None

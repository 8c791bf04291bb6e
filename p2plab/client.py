"""The chat client: signaling, peer connection and chat session together.

:class:`ChatClient` is what the notebooks, the demo and the tests drive. It
joins the signaling server, calls a peer or answers a call, opens the data
channel, runs the key exchange and seals every message. Everything it does is
reported as an :class:`Event`, in order, to one callback: a chat pane shows
them, the demo prints them, a test collects them.

Who calls whom: when a ``partner`` is named, the one who arrives second
calls, because it is the one that finds the other already online. The first
one waits, and says so.

All methods run on one asyncio loop. In a notebook that loop lives in the
kernel's network thread (see :mod:`p2plab.network`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from p2plab_server.protocol import DEFAULT_ROOM

from .chat import ChatSession, Received, Sealed
from .errors import ChatError, ClosedByUser, ConnectError, PeerGone, SignalingError
from .ice import HostPolicy, policy_for_url
from .identity import Identity, load_public_key
from .peer import Peer, sdp_candidates
from .signaling import SignalingClient

__all__ = ["ChatClient", "Event"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Something that happened in a chat client.

    Attributes:
        kind: ``"state"`` (the connection state changed), ``"step"`` (a step
            of the protocol, for the demo and the lessons), ``"message"`` (a
            chat message sent or received), or ``"error"`` (something was
            refused; the chat goes on).
        text: A sentence for a person.
        data: Details: for a message ``sender``, ``text``, ``counter``,
            ``nonce`` and ``ciphertext``; for a state ``state``.
    """

    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)


class ChatClient:
    """One user of the lab: a name, a key pair and at most one chat at a time.

    Args:
        name: The name to join the server as.
        identity: Our RSA key pair.
        url: The signaling server.
        room: The room to join on the server; only users in the same room
            can see and call each other.
        partner: The peer to chat with. If they are online when we join we
            call them; otherwise we wait for their call.
        ice_servers: STUN/TURN URLs; empty by default.
        policy: The host-candidate policy; chosen from ``url`` when omitted.
        on_event: Called with every :class:`Event`, on the client's loop.
    """

    def __init__(
        self,
        name: str,
        identity: Identity,
        url: str,
        *,
        room: str = DEFAULT_ROOM,
        partner: str | None = None,
        ice_servers: Sequence[str] = (),
        policy: HostPolicy | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.name = name
        self.identity = identity
        self.url = url
        self.room = room
        self.partner = partner
        self.ice_servers = tuple(ice_servers)
        self.policy: HostPolicy = policy or policy_for_url(url)
        self.on_event = on_event
        self.events: list[Event] = []
        self.state = "offline"
        self.peer_name: str | None = None
        self.peer_fingerprint: str | None = None
        self.peer: Peer | None = None
        self.session: ChatSession | None = None
        self.signaling = SignalingClient(
            url,
            name,
            identity,
            room=room,
            on_message=self._on_signal,
            on_close=self._on_signaling_closed,
        )
        self._ready: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # Public API.

    async def start(self) -> None:
        """Join the server; call the partner if they are already there.

        Raises:
            SignalingError: If the server refuses the join.
            SignalingClosed: If the server cannot be reached.
        """
        self._set_state("joining", f"connecting to {self.url}")
        try:
            welcome = await self.signaling.connect()
        except Exception:
            self._set_state("offline", "could not join the signaling server")
            raise
        others = welcome.get("peers", [])
        self._step(
            f"joined room {self.room} as {self.name}, signing the server's "
            "challenge to prove we hold the private key; public key published "
            f"(fingerprint {self.identity.fingerprint[:19]}…); "
            f"{len(others)} other user(s) in the room"
        )
        if self.partner is None:
            self._set_state("online", "joined; no partner named")
        elif self.partner in others:
            self._spawn(self._call(self.partner))
        else:
            self._set_state("waiting", f"{self.partner} is not here yet; waiting")

    async def call(self, peer_name: str, timeout: float = 15.0) -> None:
        """Call ``peer_name`` and wait until the chat is ready.

        Raises:
            SignalingError: ``unknown-peer`` if they are not online.
            ConnectError: If no connection is made within ``timeout``.
        """
        await self._call(peer_name)
        await self.wait_ready(timeout)

    async def wait_ready(self, timeout: float = 15.0) -> None:
        """Wait until a chat is ready to send and receive.

        Raises:
            ConnectError: If it is not ready within ``timeout`` seconds.
            Cancelling the wait leaves the connection attempt running.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self._ready is not None:
                remaining = deadline - asyncio.get_running_loop().time()
                try:
                    await asyncio.wait_for(asyncio.shield(self._ready), remaining)
                    return
                except TimeoutError:
                    break
                except (ConnectError, PeerGone):
                    pass  # a failed attempt; another may start before the deadline
            if asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(0.05)
        raise ConnectError(
            f"the chat was not ready after {timeout:g} s (state: {self.state})"
        )

    async def send(self, text: str) -> Event:
        """Seal ``text`` and send it to the peer; return the message event.

        Raises:
            PeerGone: If there is no open chat.
            ChatError: If the session key is not there yet or the text is too long.
        """
        if self._closed:
            raise ClosedByUser("this chat client was closed")
        if self.peer is None or self.session is None or self.peer_name is None:
            raise PeerGone(f"no open chat ({self.state})")
        sealed = self.session.seal(text)
        self.peer.send(sealed.frame)
        return self._message(self.name, text, sealed, sent=True)

    async def hang_up(self) -> None:
        """End the current chat, tell the peer, and stay on the server."""
        await self._hang_up("waiting" if self.partner else "online")

    async def _hang_up(self, state: str | None) -> None:
        if self.peer_name is not None and self.signaling.connected:
            try:
                await self.signaling.relay("bye", self.peer_name)
            except Exception:
                logger.debug("= bye not sent; the server is gone")
        await self._drop_peer("you ended the chat with {peer}", state)

    async def close(self) -> None:
        """Hang up, leave the server and stop; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await self._hang_up(None)
        await self.signaling.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._set_state("closed", "closed by you")

    # Calling and answering.

    async def _call(self, peer_name: str) -> None:
        peer_key = await self._lookup(peer_name)
        await self._drop_peer("replaced by a new call", None)
        self._begin(peer_name, peer_key, initiator=True)
        assert self.peer is not None
        self._set_state("calling", f"calling {peer_name}")
        sdp = await self.peer.create_offer()
        self._step_sdp("offer", peer_name, sdp, sent=True)
        await self.signaling.relay("offer", peer_name, sdp=sdp)
        self._spawn(self._await_channel(self.peer))

    async def _answer(self, peer_name: str, sdp: str) -> None:
        self._step_sdp("offer", peer_name, sdp, sent=False)
        peer_key = await self._lookup(peer_name)
        await self._drop_peer("replaced by a new call", None)
        self._begin(peer_name, peer_key, initiator=False)
        assert self.peer is not None
        self._set_state("connecting", f"answering {peer_name}")
        answer = await self.peer.accept_offer(sdp)
        self._step_sdp("answer", peer_name, answer, sent=True)
        await self.signaling.relay("answer", peer_name, sdp=answer)
        self._spawn(self._await_channel(self.peer))

    async def _lookup(self, peer_name: str) -> Any:
        reply = await self.signaling.lookup(peer_name)
        key = load_public_key(reply["key"])
        short = reply["fingerprint"][:19]
        self._step(f"looked up {peer_name}'s public key: fingerprint {short}…")
        return key

    def _begin(self, peer_name: str, peer_key: Any, *, initiator: bool) -> None:
        self.peer_name = peer_name
        self.session = ChatSession(self.identity, peer_key, initiator=initiator)
        self.peer_fingerprint = self.session.peer_fingerprint
        self._ready = asyncio.get_running_loop().create_future()
        peer = Peer(ice_servers=self.ice_servers, policy=self.policy)
        peer.on_message = lambda data: self._on_data(peer, data)
        peer.on_state = lambda state: self._on_peer_state(peer, state)
        self.peer = peer

    async def _await_channel(self, peer: Peer) -> None:
        try:
            await peer.opened()
        except ConnectError as exc:
            if peer is self.peer:
                await self._drop_peer(f"{{peer}} could not be reached: {exc}", "failed")
            return
        if peer is not self.peer or self.session is None:
            return
        pair = _selected_pair(peer)
        self._step(f"data channel open, directly between the peers ({pair})")
        if self.session.initiator:
            frame = self.session.start()
            peer.send(frame)
            assert self.session.wrapped_key is not None
            size = len(self.session.wrapped_key)
            self._step(
                "made a fresh AES-256 session key, wrapped it with RSA-OAEP under "
                f"{self.peer_name}'s public key ({size} bytes) and sent it over "
                "the data channel"
            )
            self._chat_ready()

    def _chat_ready(self) -> None:
        self._set_state(
            "connected", f"chatting with {self.peer_name}, end-to-end encrypted"
        )
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)

    async def _drop_peer(self, why: str, state: str | None) -> None:
        peer = self._detach(why, state)
        if peer is not None:
            await peer.close()

    def _detach(self, why: str, state: str | None) -> Peer | None:
        """Forget the current chat at once; return its peer for closing.

        This is synchronous so that late events from the old connection find
        ``self.peer`` already cleared and are ignored.
        """
        peer, name = self.peer, self.peer_name
        self.peer = None
        self.session = None
        self.peer_name = None
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(PeerGone(why))
            self._ready.exception()
        if state is not None and name is not None:
            self._set_state(state, why.replace("{peer}", name))
        return peer

    # Incoming traffic.

    def _on_signal(self, msg: dict[str, Any]) -> None:
        kind, sender = msg["type"], msg.get("from")
        if kind == "joined":
            self._step(f"{msg.get('name')} joined the server")
        elif kind == "left":
            self._on_left(str(msg.get("name")))
        elif kind == "error":
            self._error(f"the server refused a {msg.get('ref')}: {msg.get('message')}")
        elif kind == "offer" and isinstance(sender, str):
            if self.partner is not None and sender != self.partner:
                self._error(f"ignored a call from {sender}; waiting for {self.partner}")
            else:
                self._spawn(self._answer(sender, str(msg.get("sdp", ""))))
        elif kind == "answer" and sender == self.peer_name and self.peer is not None:
            self._step_sdp("answer", str(sender), str(msg.get("sdp", "")), sent=False)
            self._spawn(self.peer.accept_answer(str(msg.get("sdp", ""))))
        elif kind == "candidate" and sender == self.peer_name and self.peer is not None:
            self._spawn(
                self.peer.add_candidate(
                    str(msg.get("candidate", "")),
                    msg.get("sdpMid"),
                    msg.get("sdpMLineIndex"),
                )
            )
        elif kind == "bye" and sender == self.peer_name:
            self._close_peer(self._detach("{peer} hung up", "waiting"))

    def _on_left(self, name: str) -> None:
        self._step(f"{name} left the server")
        if name == self.peer_name and self.state != "connected":
            self._close_peer(
                self._detach("{peer} left before the chat was ready", "waiting")
            )
        elif name == self.partner and self.peer_name is None:
            self._set_state("waiting", f"{name} left; waiting for them to come back")

    def _on_signaling_closed(self, reason: str) -> None:
        if self._closed:
            return
        detail = f"the signaling server connection {reason}"
        if self.state == "connected":
            self._error(f"{detail}; this chat goes on peer to peer, but no new calls")
        else:
            self._set_state("offline", detail)

    def _on_peer_state(self, peer: Peer, state: str) -> None:
        if peer is not self.peer:
            return
        self._step(f"peer connection {state}")
        if state in ("failed", "closed") and not self._closed:
            self._close_peer(
                self._detach("the connection to {peer} dropped", "disconnected")
            )

    def _on_data(self, peer: Peer, data: str | bytes) -> None:
        if peer is not self.peer or self.session is None:
            return
        was_ready = self.session.ready
        try:
            received = self.session.receive(data)
        except ChatError as exc:
            self._error(str(exc))
            return
        if received is None:
            if not was_ready:
                self._step("received the wrapped session key and unwrapped it")
                self._chat_ready()
            return
        self._message(str(self.peer_name), received.text, received)

    # Reporting.

    def _message(
        self, sender: str, text: str, record: Sealed | Received, sent: bool = False
    ) -> Event:
        verb = "sealed" if sent else "opened"
        event = Event(
            "message",
            f"{verb} message #{record.counter} "
            f"({len(record.ciphertext)} bytes of ciphertext)",
            {
                "sender": sender,
                "text": text,
                "counter": record.counter,
                "nonce": record.nonce,
                "ciphertext": record.ciphertext,
                "sent": sent,
            },
        )
        self._emit(event)
        return event

    def _step_sdp(self, kind: str, peer_name: str, sdp: str, *, sent: bool) -> None:
        way = f"sent to {peer_name}" if sent else f"received from {peer_name}"
        candidates = sdp_candidates(sdp)
        self._step(
            f"{kind} {way} through the server ({len(sdp)} bytes of SDP, "
            f"{len(candidates)} candidate(s))",
            sdp=sdp,
        )
        for line in candidates:
            self._step(f"  candidate {line}")

    def _set_state(self, state: str, detail: str) -> None:
        self.state = state
        self._emit(Event("state", detail, {"state": state}))

    def _step(self, text: str, **data: Any) -> None:
        self._emit(Event("step", text, data))

    def _error(self, text: str) -> None:
        self._emit(Event("error", text))

    def _emit(self, event: Event) -> None:
        self.events.append(event)
        logger.debug("= %s: %s", event.kind, event.text)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                logger.exception("an event handler failed")

    def _close_peer(self, peer: Peer | None) -> None:
        if peer is not None:
            self._spawn(peer.close())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, coro: Any) -> None:
        try:
            await coro
        except (SignalingError, ConnectError, PeerGone, ChatError) as exc:
            self._error(str(exc))
        except Exception as exc:
            logger.exception("unexpected failure")
            self._error(f"unexpected failure: {exc!r}")


def _selected_pair(peer: Peer) -> str:
    """Describe the candidate pair ICE selected, e.g. ``127.0.0.1:5000 <-> ...``."""
    try:
        sctp = peer.pc.sctp
        assert sctp is not None
        ice = sctp.transport.transport
        # aiortc has no public API for the selected pair; read aioice's.
        pair = ice._connection._nominated.get(1)
        assert pair is not None
        local, remote = pair.local_candidate, pair.remote_candidate
        return f"{local.host}:{local.port} <-> {remote.host}:{remote.port}"
    except Exception:
        return "pair unknown"

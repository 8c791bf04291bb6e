"""The chat client: signaling, peer connection and chat session together.

:class:`ChatClient` is what the notebooks, the demo and the tests drive. It
joins the signaling server, calls a peer or answers a call, opens the data
channel, runs the key exchange and seals every message. Everything it does is
reported as an :class:`Event`, in order, to one callback: a chat pane shows
them, the demo prints them, a test collects them.

Who calls whom: when a ``partner`` is named, the one who arrives second
calls, because it is the one that finds the other already online. The first
one waits, and says so. The one who waits drops a call of its own still in
progress when it sees the other join (the other will call), and the one who
calls ignores an offer from the other meanwhile (it was sent before the
other saw it join). If two calls cross all the same (both users called
explicitly at once), the call from the name that sorts first wins: that
side ignores the other's offer, and the other side drops its own call and
answers.

Losing the server: the signaling client reconnects and rejoins by itself
(see :mod:`p2plab.signaling`). An open chat needs no server and stays
``"connected"`` throughout; the client reports the server's state in
``"server"`` events. Without an open chat the state is ``"reconnecting"``
until the rejoin, and then the rule above applies again: the partner is
called if the ``welcome`` shows them online, else the client waits. A call
still being set up when the server went away is dropped, since its answer
can no longer arrive, and starts again after the rejoin.

All methods run on one asyncio loop. In a notebook that loop lives in the
kernel's network thread (see :mod:`p2plab.network`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from p2plab_server.protocol import DEFAULT_ROOM

from .chat import ChatSession, Control, Receipt, Received, Sealed
from .errors import (
    ChatError,
    ClosedByUser,
    ConnectError,
    PeerGone,
    SignalingClosed,
    SignalingError,
)
from .ice import HostPolicy, policy_for_url
from .identity import Identity, load_public_key
from .peer import Peer, internal, sdp_candidates
from .signaling import DEFAULT_BACKOFF, Backoff, Retry, SignalingClient

__all__ = ["ChatClient", "Event", "live_chats"]

logger = logging.getLogger(__name__)

#: Seconds to wait for the peer's receipt of a message before saying that it
#: may not have arrived.
CONFIRM_TIMEOUT = 5.0

# Every chat client made in this process and not yet collected, for
# lesson.reset().
_live: weakref.WeakSet[ChatClient] = weakref.WeakSet()

#: Seconds to wait for an answer to a liveness probe, sent when the peer
#: leaves the server while the chat is open.
PROBE_TIMEOUT = 3.0


def live_chats() -> list[ChatClient]:
    """Return the chat clients of this process that are not closed yet."""
    return [chat for chat in _live if not chat._closed]


@dataclass(frozen=True)
class Event:
    """Something that happened in a chat client.

    Attributes:
        kind: ``"state"`` (the connection state changed), ``"step"`` (a step
            of the protocol, for the demo and the lessons), ``"message"`` (a
            chat message sent or received), ``"delivered"`` (the peer
            confirmed one of our messages), ``"server"`` (news about the
            signaling server while a chat is open, or a notice from it), or
            ``"error"`` (something was refused; the chat goes on).
        text: A sentence for a person.
        data: Details: for a message ``sender``, ``text``, ``counter``,
            ``nonce`` and ``ciphertext``; for a state ``state`` (and, for
            ``"reconnecting"``, ``attempt``, ``delay`` and ``reason``); for
            server news ``server`` (``"reconnecting"``, ``"joined"``,
            ``"offline"`` or ``"shutdown"``), with the same details; for a
            delivery ``counter``.
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
        backoff: When to reconnect to the server after losing it; ``None``
            never reconnects.

    Attributes:
        state: ``"offline"``, ``"joining"``, ``"online"`` (no partner
            named), ``"waiting"``, ``"calling"``, ``"connecting"``,
            ``"connected"``, ``"reconnecting"``, ``"failed"``,
            ``"disconnected"`` or ``"closed"``.
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
        backoff: Backoff | None = DEFAULT_BACKOFF,
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
            on_reconnecting=self._on_reconnecting,
            on_rejoined=self._on_rejoined,
            backoff=backoff,
        )
        self._ready: asyncio.Future[None] | None = None
        # The name we are looking up to call, until the call has a peer.
        self._dialing: str | None = None
        # The name we call because our join found them online: the rule
        # makes us the caller, so their offers meanwhile are stale.
        self._designated: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._probes: dict[int, asyncio.Future[None]] = {}
        self._closed = False
        _live.add(self)

    # Public API.

    async def start(self) -> None:
        """Join the server; call the partner if they are already there.

        This first join is tried once. After it, a lost connection to the
        server is reconnected and rejoined by itself (see ``backoff``).

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
        self._settle(others, "joined")

    def _settle(self, others: list[str], how: str) -> None:
        """After a join: call the partner if the welcome lists them, else wait."""
        if self.partner is None:
            self._set_state("online", f"{how}; no partner named")
        elif self.partner in others:
            # Said before the task starts, so that an offer that is already
            # on its way (held for us while we were away) counts as crossed.
            self._dialing = self.partner
            self._spawn(self._call(self.partner, on_join=True))
        else:
            self._set_state("waiting", f"{how}; {self.partner} is not here yet")

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
        # A timer, not a task: a burst of messages costs one handle each.
        asyncio.get_running_loop().call_later(
            CONFIRM_TIMEOUT, self._check_receipt, self.session, sealed.counter
        )
        return self._message(self.name, text, sealed, sent=True)

    def _check_receipt(self, session: ChatSession, counter: int) -> None:
        if session is self.session and counter in session.unconfirmed:
            self._error(
                f"message #{counter} was not confirmed by {self.peer_name} within "
                f"{CONFIRM_TIMEOUT:g} s: it may not have arrived"
            )

    async def hang_up(self) -> None:
        """End the current chat, tell the peer, and stay on the server.

        Cancelling it may leave the peer connection closing in the background.
        """
        await self._hang_up(self._idle_state())

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

    async def _call(self, peer_name: str, *, on_join: bool = False) -> None:
        """Call ``peer_name``, the lookup first.

        ``on_join`` says that our join found them online, which makes us the
        caller; :meth:`_settle` has set ``_dialing`` already.
        """
        if on_join and self._dialing != peer_name:
            return  # they joined again in the meantime, and call us instead
        self._dialing = peer_name
        self._designated = peer_name if on_join else None
        try:
            peer_key = await self._lookup(peer_name)
        finally:
            dialing, self._dialing = self._dialing, None
        if dialing != peer_name:
            # Their offer crossed the lookup and won, or they joined again.
            self._step(f"our call to {peer_name} was given up before it started")
            return
        self._close_peer(self._detach("replaced by a new call", None))
        peer = self._begin(peer_name, peer_key, initiator=True)
        self._set_state("calling", f"calling {peer_name}")
        sdp = await peer.create_offer()
        if peer is not self.peer:
            return
        self._step_sdp("offer", peer_name, sdp, sent=True)
        await self.signaling.relay("offer", peer_name, sdp=sdp)
        self._spawn(self._await_channel(peer))

    async def _answer(self, peer_name: str, sdp: str) -> None:
        self._step_sdp("offer", peer_name, sdp, sent=False)
        peer_key = await self._lookup(peer_name)
        self._close_peer(self._detach("replaced by a new call", None))
        peer = self._begin(peer_name, peer_key, initiator=False)
        self._set_state("connecting", f"answering {peer_name}")
        answer = await peer.accept_offer(sdp)
        if peer is not self.peer:
            return
        self._step_sdp("answer", peer_name, answer, sent=True)
        await self.signaling.relay("answer", peer_name, sdp=answer)
        self._spawn(self._await_channel(peer))

    async def _lookup(self, peer_name: str) -> Any:
        reply = await self.signaling.lookup(peer_name)
        key = load_public_key(reply["key"])
        short = reply["fingerprint"][:19]
        self._step(f"looked up {peer_name}'s public key: fingerprint {short}…")
        return key

    def _begin(self, peer_name: str, peer_key: Any, *, initiator: bool) -> Peer:
        self.peer_name = peer_name
        self.session = ChatSession(self.identity, peer_key, initiator=initiator)
        self.peer_fingerprint = self.session.peer_fingerprint
        self._ready = asyncio.get_running_loop().create_future()
        peer = Peer(ice_servers=self.ice_servers, policy=self.policy)
        peer.on_message = lambda data: self._on_data(peer, data)
        peer.on_state = lambda state: self._on_peer_state(peer, state)
        self.peer = peer
        return peer

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
        peer, name, session = self.peer, self.peer_name, self.session
        self.peer = None
        self.session = None
        self.peer_name = None
        for probe in self._probes.values():
            probe.cancel()
        self._probes.clear()
        if session is not None and session.unconfirmed:
            lost = ", ".join(f"#{n} {t!r}" for n, t in session.unconfirmed.items())
            self._error(
                f"never confirmed by {name}, so they may not have arrived: {lost}"
            )
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(PeerGone(why))
            self._ready.exception()
        # A chat that was ready and ended must not make wait_ready return.
        self._ready = None
        if state is not None and name is not None:
            self._set_state(state, why.replace("{peer}", name))
        return peer

    # Incoming traffic.

    def _on_signal(self, msg: dict[str, Any]) -> None:
        kind, sender = msg["type"], msg.get("from")
        if kind == "joined":
            self._on_joined(str(msg.get("name")))
        elif kind == "left":
            self._on_left(str(msg.get("name")))
        elif kind == "error":
            self._error(f"the server refused a {msg.get('ref')}: {msg.get('message')}")
        elif kind == "expired":
            self._on_expired(msg)
        elif kind == "shutdown":
            self._on_shutdown(msg)
        elif kind == "offer" and isinstance(sender, str):
            self._on_offer(sender, str(msg.get("sdp", "")))
        elif kind == "answer" and sender == self.peer_name and self.peer is not None:
            if self.peer.pc.signalingState != "have-local-offer":
                # An answer to an offer this peer no longer waits on: a call
                # that crossed ours, or one made before a takeover.
                self._step(f"ignored a stale answer from {sender}")
                return
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
            self._close_peer(self._detach("{peer} hung up", self._idle_state()))

    def _on_joined(self, name: str) -> None:
        self._step(f"{name} joined the server")
        if name != self.partner or self.state == "connected":
            return
        # The partner joined again on a new connection, so whatever we sent
        # for a call in progress went to the old one. Their welcome lists
        # us, so they call: drop our attempt and wait for theirs.
        self._designated = None
        if self._dialing == name:
            self._dialing = None
        if self.peer_name == name:
            self._close_peer(
                self._detach("{peer} joined again; waiting for their call", "waiting")
            )

    def _on_left(self, name: str) -> None:
        self._step(f"{name} left the server")
        if name == self.peer_name and self.state == "connected" and self.peer:
            # Leaving the server need not end a peer-to-peer chat, but a dead
            # kernel leaves too, and ICE would take ~30 s to notice. Ask.
            self._spawn(self._probe(self.peer, name))
        if name == self.peer_name and self.state != "connected":
            self._close_peer(
                self._detach(
                    "{peer} left before the chat was ready", self._idle_state()
                )
            )
        elif name == self.partner and self.peer_name is None:
            self._set_state("waiting", f"{name} left; waiting for them to come back")

    async def _probe(self, peer: Peer, name: str) -> None:
        if self.session is None:
            return
        number, frame = self.session.ping()
        answer = asyncio.get_running_loop().create_future()
        self._probes[number] = answer
        peer.send(frame)
        try:
            await asyncio.wait_for(answer, PROBE_TIMEOUT)
            self._step(f"{name} left the server but still answers peer to peer")
        except TimeoutError:
            if peer is self.peer:
                self._close_peer(
                    self._detach(
                        "{peer} left the server and no longer answers: "
                        "the chat is over",
                        self._idle_state(),
                    )
                )
        except asyncio.CancelledError:
            pass
        finally:
            self._probes.pop(number, None)

    def _on_offer(self, sender: str, sdp: str) -> None:
        if self.partner is not None and sender != self.partner:
            self._error(f"ignored a call from {sender}; waiting for {self.partner}")
            return
        if self._calling(sender):
            if self._designated == sender:
                self._step(
                    f"ignored an offer from {sender}, sent before {sender} saw us "
                    f"join: we call, since we found {sender} online"
                )
                return
            # Both sides called at once. The same rule on both sides picks
            # one call: the one from the name that sorts first.
            if self.name < sender:
                self._step(
                    f"our call and {sender}'s crossed; the call from the name "
                    f"that sorts first ({self.name}) goes on, so {sender}'s offer "
                    "is ignored"
                )
                return
            self._step(
                f"our call and {sender}'s crossed; the call from the name that "
                f"sorts first ({sender}) goes on, so ours is dropped and theirs "
                "answered"
            )
            self._dialing = None
        self._spawn(self._answer(sender, sdp))

    def _calling(self, name: str) -> bool:
        """Return True while our own call to ``name`` is being set up."""
        if self._dialing == name:
            return True
        return (
            self.peer_name == name
            and self.session is not None
            and self.session.initiator
            and self.state != "connected"
        )

    def _on_expired(self, msg: dict[str, Any]) -> None:
        # Read leniently: a notice from an older or newer server may lack a field.
        to = msg.get("to") or "its recipient"
        what = msg.get("ref") or "message"
        text = f"our {what} to {to} expired on the server, undelivered"
        if msg.get("message"):
            text += f": {msg['message']}"
        if to == self.peer_name and self.peer is not None and self.state != "connected":
            self._error(f"{text}; waiting for {to} to come back and call")
            self._close_peer(
                self._detach("{peer} did not get our call in time", "waiting")
            )
        else:
            self._error(text)

    def _on_shutdown(self, msg: dict[str, Any]) -> None:
        text = "the signaling server is shutting down"
        if msg.get("message"):
            text = f"notice from the signaling server: {msg['message']}"
        text += ". This client reconnects and rejoins by itself when it is back"
        if self.state == "connected":
            text += "; this chat goes on peer to peer meanwhile"
        self._emit(Event("server", text, {"server": "shutdown"}))

    def _on_reconnecting(self, retry: Retry) -> None:
        if self._closed:
            return
        details = {
            "attempt": retry.attempt,
            "delay": retry.delay,
            "reason": retry.reason,
        }
        text = (
            f"the signaling server is unreachable ({retry.reason}); attempt "
            f"{retry.attempt} to reconnect in {retry.delay:.1f} s"
        )
        if self.state == "connected":
            self._emit(
                Event(
                    "server",
                    f"{text}; this chat goes on peer to peer",
                    {"server": "reconnecting", **details},
                )
            )
            return
        # A call still being set up needs the server for its answer: drop
        # it; the usual rule starts a new one after the rejoin.
        self._dialing = None
        self._close_peer(self._detach("the call with {peer} was cut off", None))
        self._set_state("reconnecting", text, **details)

    def _on_rejoined(self, welcome: dict[str, Any]) -> None:
        if self._closed:
            return
        others = welcome.get("peers", [])
        self._step(
            f"rejoined room {self.room} as {self.name}, signing the new "
            f"connection's challenge; {len(others)} other user(s) in the room"
        )
        if self.state == "connected":
            self._emit(
                Event(
                    "server",
                    f"back on the signaling server; the chat with {self.peer_name} "
                    "went on peer to peer",
                    {"server": "joined", "peers": list(others)},
                )
            )
        else:
            self._settle(others, "back on the server")

    def _on_signaling_closed(self, reason: str) -> None:
        if self._closed:
            return
        summary = {
            "replaced": "replaced by a newer connection under this name",
            "refused": "the server refused to let us join again",
            "gave-up": "gave up reconnecting to the signaling server",
        }.get(self.signaling.ended or "", "the signaling server closed the connection")
        if self.state == "connected":
            self._error(
                f"off the signaling server: {reason}; this chat goes on peer to "
                "peer, but no new call can start"
            )
            self._emit(Event("server", summary, {"server": "offline"}))
            return
        self._error(f"off the signaling server: {reason}")
        self._dialing = None
        self._close_peer(self._detach("the call with {peer} was cut off", None))
        self._set_state("offline", summary)

    def _on_peer_state(self, peer: Peer, state: str) -> None:
        if peer is not self.peer:
            return
        self._step(f"peer connection {state}")
        if state in ("failed", "closed") and not self._closed:
            self._close_peer(
                self._detach(
                    "the connection to {peer} dropped",
                    self._idle_state("disconnected"),
                )
            )

    def _idle_state(self, joined: str | None = None) -> str:
        """Return the state to show with no chat open.

        Args:
            joined: The state to use while on the server; by default
                ``"waiting"`` with a partner, else ``"online"``.
        """
        if self.signaling.state == "reconnecting":
            return "reconnecting"
        if self.signaling.state == "closed":
            return "offline"
        return joined or ("waiting" if self.partner else "online")

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
        elif isinstance(received, Received):
            if received.reply is not None:
                peer.send(received.reply)
            self._message(str(self.peer_name), received.text, received)
        elif isinstance(received, Receipt):
            self._emit(
                Event(
                    "delivered",
                    f"{self.peer_name} confirmed message #{received.counter}",
                    {"counter": received.counter},
                )
            )
        elif isinstance(received, Control):
            if received.reply is not None:
                peer.send(received.reply)
            probe = self._probes.get(received.pong or -1)
            if probe is not None and not probe.done():
                probe.set_result(None)

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

    def _set_state(self, state: str, detail: str, **data: Any) -> None:
        retry = self.signaling.retry
        if state == "reconnecting" and not data and retry is not None:
            data = {"attempt": retry.attempt, "delay": retry.delay}
        self.state = state
        self._emit(Event("state", detail, {"state": state, **data}))

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
        except SignalingClosed as exc:
            if self.signaling.state == "reconnecting":
                # Not a failure of its own: the rejoin starts over what matters.
                self._step(f"interrupted while the server is away: {exc}")
            else:
                self._error(str(exc))
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
        pair = internal(internal(ice, "_connection"), "_nominated").get(1)
        assert pair is not None
        local, remote = pair.local_candidate, pair.remote_candidate
        return f"{local.host}:{local.port} <-> {remote.host}:{remote.port}"
    except Exception:
        return "pair unknown"

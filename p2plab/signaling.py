"""An asyncio client for the signaling server.

:class:`SignalingClient` joins the server under a name, in a room, with a
public key, proving that it holds the private key: the server's ``hello``
carries a random challenge, and the ``join`` carries an RSA-PSS signature of
it (:func:`sign_join`). The client then looks keys up and sends the WebRTC
set-up messages. What the server sends on its own (``joined``, ``left``,
relayed offers and answers, errors for relays, notices) reaches the
``on_message`` callback. Every frame in and out is kept in
:attr:`SignalingClient.frames`, so a lesson can show exactly what the server
saw from this user.

Once joined, the client stays joined by itself. When the connection ends
without this client closing it (the server restarted or shut down, the
network dropped, a keepalive ping went unanswered), it waits a little, opens
a new connection, signs the new challenge and joins the same room under the
same name again; the waits follow a :class:`Backoff`. It does not reconnect
when:

- it was closed here (:meth:`SignalingClient.close`);
- a newer connection under the same name and key replaced it (close code
  4001): that is this user again, elsewhere, and two connections that keep
  taking the name from each other would help no one;
- the server refuses the new join for a reason a retry cannot fix, such as
  ``name-taken`` or ``bad-signature``: the refusal is kept in
  :attr:`SignalingClient.refusal`;
- the backoff runs out of attempts or of time.

Messages are not queued while the client reconnects: :meth:`~SignalingClient.send`
raises :class:`~p2plab.errors.SignalingClosed` at once, saying so. A WebRTC
offer or answer held back for seconds would reach a peer that has moved on;
the chat client starts its call again after the rejoin instead.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import random
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from p2plab_server.proof import CHALLENGE_SIZE, signed_message
from p2plab_server.protocol import (
    CLOSE_REPLACED,
    DEFAULT_ROOM,
    PROTOCOL_VERSION,
    ProtocolError,
    decode_base64,
    encode,
    parse_reply,
)
from p2plab_server.rsapss import SALT_LENGTH
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.frames import CloseCode

from .errors import SignalingClosed, SignalingError
from .identity import Identity

__all__ = [
    "DEFAULT_BACKOFF",
    "RETRYABLE_REFUSALS",
    "Backoff",
    "Frame",
    "Retry",
    "SignalingClient",
    "live_clients",
    "sign_join",
]

logger = logging.getLogger(__name__)

# websockets logs whole frames at DEBUG; held at INFO so no SDP reaches a log.
wire_logger = logging.getLogger(f"{__name__}.wire")
wire_logger.setLevel(logging.INFO)

#: Refusals of a join that may pass on a later attempt: the server is busy or
#: full for now. Any other refusal stops the reconnection.
RETRYABLE_REFUSALS = frozenset({"rate-limited", "room-full", "server-full"})

T = TypeVar("T")

# Every client made in this process and not yet collected, for lesson.reset().
_live: weakref.WeakSet[SignalingClient] = weakref.WeakSet()


def live_clients() -> list[SignalingClient]:
    """Return the signaling clients of this process that are not closed yet."""
    return [client for client in _live if client.state != "closed"]


def sign_join(identity: Identity, challenge: str, room: str, name: str) -> str:
    """Sign a join: RSA-PSS over the challenge, the room and the name.

    Args:
        identity: Our key pair; the private key signs.
        challenge: The challenge of the server's ``hello``, in base64.
        room: The room to join.
        name: The name to join as.

    Returns:
        The signature, in standard base64, for the ``join``'s ``signature``.

    Raises:
        ValueError: If the challenge is not 32 bytes in standard base64.
    """
    raw = decode_base64(challenge)
    if raw is None:
        raise ValueError("the server's challenge is not standard base64")
    signature = identity.private_key.sign(
        signed_message(raw, room, name),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=SALT_LENGTH),
        hashes.SHA256(),
    )
    return base64.b64encode(signature).decode("ascii")


@dataclass(frozen=True)
class Backoff:
    """When to try again after the connection to the server was lost.

    The wait before attempt ``n`` starts at ``first`` seconds and is
    multiplied by ``factor`` on each attempt, up to ``cap``. A random part
    of each wait, up to ``jitter`` of it, is taken off, so that a class
    whose server restarted does not come back all in the same instant.

    The client gives up after ``attempts`` attempts, or when the next
    attempt would start more than ``give_up_after`` seconds after the
    connection was lost. A connection that then stays up for ``cap``
    seconds starts the count afresh; one that drops sooner carries on with
    the same count, so a server that accepts joins and drops them at once
    is not hammered.

    Attributes:
        first: The wait before the first attempt, in seconds.
        factor: How much each wait grows over the previous one.
        cap: The longest wait, in seconds.
        jitter: The largest share of a wait taken off at random, 0 to 1.
        attempts: The most attempts after one loss.
        give_up_after: The most seconds spent reconnecting after one loss.
    """

    first: float = 0.2
    factor: float = 2.0
    cap: float = 5.0
    jitter: float = 0.5
    attempts: int = 500
    give_up_after: float = 900.0

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.cap:
            raise ValueError(
                f"the first wait ({self.first:g} s) must be positive and at most "
                f"the cap ({self.cap:g} s)"
            )
        if self.factor < 1:
            raise ValueError(f"the factor ({self.factor:g}) must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"the jitter ({self.jitter:g}) must be between 0 and 1")
        if self.attempts < 1 or self.give_up_after <= 0:
            raise ValueError(
                "attempts and give_up_after must be positive; to never reconnect, "
                "pass backoff=None instead"
            )

    def delay(self, attempt: int, draw: float = 0.0) -> float:
        """Return the wait before attempt number ``attempt``, in seconds.

        Args:
            attempt: 1 for the first attempt after the connection was lost.
            draw: A number from 0 to 1, normally ``random.random()``: 0
                keeps the whole wait, 1 takes off the most jitter allows.

        Returns:
            ``min(cap, first * factor ** (attempt - 1))``, less
            ``draw * jitter`` of it.

        Raises:
            ValueError: If ``attempt`` is less than 1.
        """
        if attempt < 1:
            raise ValueError(f"attempts count from 1, not {attempt}")
        try:
            base = min(self.cap, self.first * self.factor ** (attempt - 1))
        except OverflowError:
            base = self.cap
        return base * (1.0 - self.jitter * min(max(draw, 0.0), 1.0))


#: The backoff a client uses unless told: 0.2 s doubling up to 5 s, for at
#: most 15 minutes after a loss.
DEFAULT_BACKOFF = Backoff()


@dataclass(frozen=True)
class Retry:
    """One planned attempt to reconnect, as given to ``on_reconnecting``.

    Attributes:
        attempt: 1 for the first attempt after the connection was lost.
        delay: Seconds until the attempt starts.
        reason: Why the connection, or the previous attempt, failed.
    """

    attempt: int
    delay: float
    reason: str


@dataclass(frozen=True)
class Frame:
    """One frame on the signaling connection.

    Attributes:
        direction: ``">"`` sent to the server, ``"<"`` received from it.
        message: The frame, parsed.
        size: Its size in bytes on the wire.
    """

    direction: str
    message: dict[str, Any] = field(hash=False)
    size: int


class SignalingClient:
    """A connection to the signaling server under one name, in one room.

    Args:
        url: The server, e.g. ``"ws://127.0.0.1:8765"``.
        name: The name to join as.
        identity: Our key pair. The public key is published; the private key
            signs every join and never leaves this process.
        room: The room to join; names, presence and calls are per room.
        on_message: Called with every message the server sends that is not a
            reply to a request: ``joined``, ``left``, relayed messages,
            errors about relays, and notices such as ``shutdown``.
        on_close: Called once, after a successful :meth:`connect`, when the
            client stops for good, with the reason: closed here, replaced,
            refused on a rejoin, out of attempts, or (without a backoff)
            closed by the server.
        on_reconnecting: Called with a :class:`Retry` before each wait for
            an attempt to reconnect.
        on_rejoined: Called with the server's ``welcome`` each time a
            reconnection succeeds.
        backoff: When to reconnect; ``None`` never reconnects.

    Attributes:
        state: ``"new"``, ``"joining"``, ``"joined"``, ``"reconnecting"``
            or ``"closed"``.
        peers: The other users online in the room, as far as we know; empty
            while reconnecting, and set again from each ``welcome``.
        frames: Every frame sent and received, in order, across connections.
        retry: The attempt planned or running while reconnecting, else None.
        ended: Why the client stopped, once it has: ``"closed"`` (here),
            ``"replaced"``, ``"refused"``, ``"gave-up"`` or ``"lost"``
            (closed by the server, with no backoff).
        close_reason: The sentence given to ``on_close``.
        refusal: The server's refusal of a rejoin, if that is what stopped
            the client.
    """

    def __init__(
        self,
        url: str,
        name: str,
        identity: Identity,
        *,
        room: str = DEFAULT_ROOM,
        on_message: Callable[[dict[str, Any]], None] | None = None,
        on_close: Callable[[str], None] | None = None,
        on_reconnecting: Callable[[Retry], None] | None = None,
        on_rejoined: Callable[[dict[str, Any]], None] | None = None,
        backoff: Backoff | None = DEFAULT_BACKOFF,
    ) -> None:
        self.url = url
        self.name = name
        self.room = room
        self.identity = identity
        self.public_key = identity.public_b64
        self.on_message = on_message
        self.on_close = on_close
        self.on_reconnecting = on_reconnecting
        self.on_rejoined = on_rejoined
        self.backoff = backoff
        self.state = "new"
        self.peers: set[str] = set()
        self.frames: list[Frame] = []
        self.retry: Retry | None = None
        self.ended: str | None = None
        self.close_reason: str | None = None
        self.refusal: SignalingError | None = None
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._hello: asyncio.Future[dict[str, Any]] | None = None
        self._closing = False
        self._timeout = 10.0
        self._end = ("closed", "")
        self._joined_at = 0.0
        _live.add(self)

    @property
    def connected(self) -> bool:
        """True while joined on an open connection to the server."""
        return (
            self.state == "joined"
            and self._ws is not None
            and self._reader is not None
            and not self._reader.done()
        )

    async def connect(self, timeout: float = 10.0) -> dict[str, Any]:
        """Connect, wait for the challenge, sign it and join; return the welcome.

        This first join is tried once: a wrong address or a refused name
        fails here at once. After it, the client reconnects by itself
        whenever the connection is lost (see :class:`Backoff`), each attempt
        bounded by ``timeout`` too.

        Raises:
            SignalingError: If the server refuses the join (e.g. ``name-taken``).
            SignalingClosed: If the server cannot be reached, or sends no
                usable ``hello`` within ``timeout`` seconds.
            RuntimeError: If this client is already connected.
            Cancelling leaves the connection open; call :meth:`close`.
        """
        if self._supervisor is not None and not self._supervisor.done():
            raise RuntimeError(
                "this signaling client is already connected; close() it first"
            )
        self._closing = False
        self._timeout = timeout
        self.state = "joining"
        self.ended = self.close_reason = self.refusal = None
        try:
            welcome = await self._join(timeout)
        except (SignalingError, SignalingClosed):
            self.state = "closed"
            raise
        self._joined(welcome)
        self._supervisor = asyncio.create_task(self._supervise())
        return welcome

    async def lookup(self, name: str, timeout: float = 10.0) -> dict[str, Any]:
        """Return the server's ``key`` message for ``name``.

        Raises:
            SignalingError: ``unknown-peer`` if no such name published a key.
            SignalingClosed: If the client is not joined, or the connection
                is lost before the reply.
            Cancelling the wait forgets the request.
        """
        return await self.request({"type": "lookup", "name": name}, timeout)

    async def request(
        self, message: dict[str, Any], timeout: float = 10.0
    ) -> dict[str, Any]:
        """Send a request and wait for the reply that carries its ``id``.

        Raises:
            SignalingError: If the server answers with an error.
            SignalingClosed: If the client is not joined (for instance while
                it reconnects), or the connection ends before the reply.
            Cancelling the wait forgets the request; the server may still act on it.
        """
        self._check_joined()
        return await self._request(message, timeout)

    async def send(self, message: dict[str, Any]) -> None:
        """Send one message; errors come back later through ``on_message``.

        Raises:
            SignalingClosed: If the client is not joined: not connected yet,
                reconnecting (nothing is queued), or closed.
            Cancelling may leave the frame unsent.
        """
        self._check_joined()
        await self._send(message)

    async def relay(self, kind: str, to: str, **fields: Any) -> None:
        """Send an offer, answer, candidate or bye to the user ``to``.

        Raises:
            SignalingClosed: As :meth:`send`.
        """
        await self.send({"type": kind, "to": to, **fields})

    async def close(self) -> None:
        """Leave the server and stop reconnecting; safe to call twice.

        Cancelling it may leave the connection closing in the background.
        """
        self._closing = True
        supervisor = self._supervisor
        if supervisor is not None and supervisor is not asyncio.current_task():
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        await self._drop_connection()
        if supervisor is not None:
            self._finish("closed", "closed by this client")
        self.state = "closed"

    # One connection.

    async def _join(self, timeout: float) -> dict[str, Any]:
        """Open a connection, sign its challenge and join; return the welcome.

        On failure the new connection is closed again before this raises.
        """
        self._hello = asyncio.get_running_loop().create_future()
        try:
            # proxy=None: the lab server is local or on the classroom LAN,
            # never behind the proxy that the environment may name.
            ws = await asyncio.wait_for(
                connect(self.url, proxy=None, compression=None, logger=wire_logger),
                timeout,
            )
        except InvalidHandshake as exc:
            raise SignalingClosed(
                f"something answers at {self.url}, but it is not a p2plab "
                f"signaling server ({exc}): is another program using that port?"
            ) from None
        except (OSError, TimeoutError) as exc:
            detail = str(exc) or f"no answer within {timeout:g} s"
            raise SignalingClosed(
                f"cannot reach the signaling server at {self.url}: {detail}"
            ) from None
        self._ws = ws
        self._reader = asyncio.create_task(self._read(ws))
        try:
            challenge = await self._challenge(timeout)
            join = {
                "type": "join",
                "room": self.room,
                "name": self.name,
                "key": self.public_key,
                "challenge": challenge,
                "signature": sign_join(self.identity, challenge, self.room, self.name),
            }
            return await self._request(join, timeout)
        except (SignalingError, SignalingClosed):
            await self._drop_connection()
            raise

    def _joined(self, welcome: dict[str, Any]) -> None:
        self.state = "joined"
        self.retry = None
        self.peers = set(welcome.get("peers", []))
        self._joined_at = asyncio.get_running_loop().time()

    async def _challenge(self, timeout: float) -> str:
        """Wait for the server's ``hello``; return its challenge."""
        assert self._hello is not None
        try:
            hello = await asyncio.wait_for(asyncio.shield(self._hello), timeout)
        except TimeoutError:
            raise SignalingClosed(
                f"the server at {self.url} sent no hello within {timeout:g} s; "
                f"is it a p2plab signaling server of protocol {PROTOCOL_VERSION}?"
            ) from None
        challenge = hello.get("challenge")
        raw = decode_base64(challenge) if isinstance(challenge, str) else None
        if raw is None or len(raw) != CHALLENGE_SIZE:
            raise SignalingClosed(
                f"the server at {self.url} speaks signaling protocol "
                f"{hello.get('version')!r}, without a usable challenge; this client "
                f"speaks protocol {PROTOCOL_VERSION}"
            )
        assert isinstance(challenge, str)
        return challenge

    async def _request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        request_id = next(self._ids)
        reply = asyncio.get_running_loop().create_future()
        self._pending[request_id] = reply
        try:
            await self._send({**message, "id": request_id})
            return await asyncio.wait_for(reply, timeout)
        except TimeoutError:
            raise SignalingClosed(
                f"the signaling server did not answer the {message['type']} "
                f"within {timeout:g} s"
            ) from None
        finally:
            self._pending.pop(request_id, None)

    async def _send(self, message: dict[str, Any]) -> None:
        if self._ws is None:
            raise SignalingClosed("not connected to the signaling server")
        frame = encode(message)
        self.frames.append(Frame(">", message, len(frame.encode())))
        logger.debug("> %s %s", message.get("type"), message.get("to", ""))
        try:
            await self._ws.send(frame)
        except ConnectionClosed:
            raise SignalingClosed(
                "the connection to the signaling server is closed"
            ) from None

    def _check_joined(self) -> None:
        """Raise SignalingClosed, saying why, unless the client is joined."""
        if self.state == "joined":
            return
        if self.state == "reconnecting":
            attempt = f", attempt {self.retry.attempt}" if self.retry else ""
            raise SignalingClosed(
                f"the connection to the signaling server was lost ({self._end[1]}); "
                f"reconnecting{attempt}. Nothing was sent: try again once it is "
                "back. An open chat keeps working peer to peer."
            )
        if self.close_reason is not None:
            raise SignalingClosed(
                f"not connected to the signaling server: {self.close_reason}"
            )
        raise SignalingClosed("not connected to the signaling server; connect() first")

    async def _drop_connection(self) -> None:
        """Close the current connection, if any, and wait for its reader."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                self._dispatch(frame)
        except ConnectionClosed:
            pass
        finally:
            self._end = self._ending(ws)
            kind, reason = self._end
            retry = (
                kind == "lost" and self.backoff is not None and self.state == "joined"
            )
            if retry:
                # Said at once, so that whoever is woken by the failures
                # below already sees that the client is reconnecting.
                self.state = "reconnecting"
                self.peers = set()
            gone = f"the connection to the signaling server ended ({reason})"
            if retry:
                gone += "; the client reconnects by itself: try again once it is back"
            for pending in self._pending.values():
                if not pending.done():
                    pending.set_exception(SignalingClosed(f"{gone}; no reply came"))
            if self._hello is not None and not self._hello.done():
                self._hello.set_exception(SignalingClosed(f"{gone} before its hello"))
                self._hello.exception()  # connect() may no longer be waiting

    def _ending(self, ws: ClientConnection) -> tuple[str, str]:
        """Say how ``ws`` ended: ``"closed"``, ``"replaced"`` or ``"lost"``, and why."""
        if self._closing:
            return "closed", "closed by this client"
        code = ws.close_code
        if code == CLOSE_REPLACED:
            return "replaced", (
                f"replaced by a newer connection under the name {self.name!r} "
                f"(close code {CLOSE_REPLACED}): the same key joined again, from "
                "another notebook or a cell run again; not reconnecting, so that "
                "the two do not keep taking the name from each other"
            )
        if code == CloseCode.ABNORMAL_CLOSURE or code is None:
            return "lost", (
                "dropped without a closing handshake (1006): the server stopped "
                "or the network failed"
            )
        return "lost", f"closed by the server ({code} {ws.close_reason}".strip() + ")"

    def _dispatch(self, frame: str | bytes) -> None:
        size = len(frame.encode() if isinstance(frame, str) else frame)
        try:
            msg = parse_reply(frame)
        except ProtocolError as exc:
            logger.warning("ignored a frame from the server: %s", exc.message)
            return
        self.frames.append(Frame("<", msg, size))
        logger.debug("< %s %s", msg["type"], msg.get("from", ""))

        kind = msg["type"]
        if kind == "hello":
            if self._hello is not None and not self._hello.done():
                self._hello.set_result(msg)
            return
        if kind == "joined":
            self.peers.add(str(msg.get("name")))
        elif kind == "left":
            self.peers.discard(str(msg.get("name")))

        waiter = self._pending.get(msg.get("id"))  # type: ignore[arg-type]
        if waiter is not None and not waiter.done():
            if kind == "error":
                waiter.set_exception(
                    SignalingError(
                        msg.get("code", "?"), msg.get("message", ""), msg.get("ref")
                    )
                )
            else:
                waiter.set_result(msg)
        else:
            _notify(self.on_message, msg)

    # Staying joined.

    async def _supervise(self) -> None:
        """Watch each connection; when one is lost, reconnect and rejoin.

        It runs from the first successful join until the client stops. Each
        turn of its loop is one lost connection; the attempts after a loss
        are bounded by the backoff, and a connection that drops soon after
        a rejoin continues the same count (see :class:`Backoff`).
        """
        loop = asyncio.get_running_loop()
        attempt, since = 0, loop.time()
        while True:
            assert self._reader is not None
            await asyncio.wait({self._reader})
            kind, reason = self._end
            if kind != "lost" or self.backoff is None:
                self._finish(kind, reason)
                return
            self.state = "reconnecting"
            self.peers = set()
            logger.info("lost the signaling connection (%s); reconnecting", reason)
            if loop.time() - self._joined_at >= self.backoff.cap:
                attempt, since = 0, loop.time()
            welcome, attempt = await self._reconnect(self.backoff, attempt, since)
            if welcome is None or self._closing:
                return
            logger.info(
                "rejoined %s as %s after %d attempt(s)", self.room, self.name, attempt
            )
            self._joined(welcome)
            _notify(self.on_rejoined, welcome)

    async def _reconnect(
        self, backoff: Backoff, attempt: int, since: float
    ) -> tuple[dict[str, Any] | None, int]:
        """Try to join again until it works, is refused, or the backoff runs out.

        Returns:
            The welcome (None if the client stopped) and the attempts used.
        """
        loop = asyncio.get_running_loop()
        reason = self._end[1]
        # close() cancels this coroutine; the checks of _closing also stop it
        # when asyncio.wait_for swallowed that cancellation (Python 3.11).
        while attempt < backoff.attempts and not self._closing:
            attempt += 1
            delay = backoff.delay(attempt, random.random())
            if loop.time() + delay - since > backoff.give_up_after:
                attempt -= 1
                break
            self.retry = Retry(attempt, delay, reason)
            logger.debug("= reconnect attempt %d in %.2f s", attempt, delay)
            _notify(self.on_reconnecting, self.retry)
            await asyncio.sleep(delay)
            if self._closing:
                break
            try:
                return await self._join(self._timeout), attempt
            except SignalingClosed as exc:
                reason = str(exc)
            except SignalingError as exc:
                if exc.code not in RETRYABLE_REFUSALS:
                    self.refusal = exc
                    self._finish(
                        "refused",
                        f"the server refused to let {self.name!r} join room "
                        f"{self.room!r} again ({exc.code}): {exc.message}; "
                        "not reconnecting, as trying again cannot help",
                    )
                    return None, attempt
                reason = str(exc)
        if self._closing:
            return None, attempt
        elapsed = loop.time() - since
        self._finish(
            "gave-up",
            f"gave up reconnecting after {attempt} attempt(s) in {elapsed:.0f} s; "
            f"the last one failed: {reason}",
        )
        return None, attempt

    def _finish(self, ended: str, reason: str) -> None:
        """Stop for good: record why and call ``on_close`` once."""
        if self.ended is not None:
            return
        self.state = "closed"
        self.ended = ended
        self.close_reason = reason
        self.retry = None
        self.peers = set()
        if ended != "closed":
            logger.warning("left the signaling server for good: %s", reason)
        _notify(self.on_close, reason)


def _notify(callback: Callable[[T], None] | None, arg: T) -> None:
    """Call a user's callback; log what it raises instead of stopping the client."""
    if callback is None:
        return
    try:
        callback(arg)
    except Exception:
        logger.exception("a signaling callback failed")

"""The chat session: key exchange and sealed messages, with no I/O.

A :class:`ChatSession` turns chat text into data-channel frames and back. It
never touches a socket: the caller moves its frames over whatever carries
them (an aiortc data channel, a list in a lesson, a test).

The "seed" version of the protocol, the one the lessons start from:

1. The initiator makes a fresh AES-256 session key, wraps it with RSA-OAEP
   under the responder's public key and sends ``{"type": "key", ...}``.
2. The responder unwraps it. From then on both sides seal every message with
   AES-GCM under that key and send ``{"type": "msg", "nonce", "ct"}``.

Each side draws its nonces from its own :class:`~p2plab.sealing.NonceSequence`
(prefix 1 for the initiator, 2 for the responder), so no nonce ever repeats
under the shared key. The receiver reads the counter out of the nonce and
refuses one it has already seen, which stops a replayed message.

What "seed" does not do, and the later lessons add: the wrapped key is not
signed, so a server that swaps public keys can read everything.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from .errors import ChatError, ReplayError, UnwrapError
from .identity import Identity, fingerprint_of
from .sealing import NonceSequence, seal, unseal
from .wrapping import new_session_key, unwrap_key, wrap_key

__all__ = ["VERSION", "ChatSession", "Control", "Receipt", "Received", "Sealed"]

VERSION = "seed"

INITIATOR_PREFIX = (1).to_bytes(4, "big")
RESPONDER_PREFIX = (2).to_bytes(4, "big")

#: Longest chat message in UTF-8 bytes. A sealed message travels as base64 in
#: JSON, and aiortc refuses data-channel messages above 64 KiB from a peer
#: that announces no limit, so the text must stay well below that.
MAX_TEXT = 16 * 1024


@dataclass(frozen=True)
class Received:
    """A message that was opened and authenticated.

    Attributes:
        text: The plaintext.
        counter: Its position in the sender's sequence, from 0.
        nonce: The 12-byte nonce it was sealed with.
        ciphertext: Ciphertext and tag, as they travelled.
        reply: The receipt frame to send back, so the sender knows it arrived.
    """

    text: str
    counter: int
    nonce: bytes
    ciphertext: bytes
    reply: str | None = None


@dataclass(frozen=True)
class Receipt:
    """The peer confirmed that one of our messages arrived and opened.

    Attributes:
        counter: The confirmed message's position in our sequence.
    """

    counter: int


@dataclass(frozen=True)
class Control:
    """A liveness probe from the peer (``ping``) or its answer (``pong``).

    Attributes:
        reply: The frame to send back (the ``pong`` for a ``ping``), or None.
        pong: The number of the ``ping`` this answers, for a ``pong``.
    """

    reply: str | None = None
    pong: int | None = None


@dataclass(frozen=True)
class Sealed:
    """A message sealed for sending.

    Attributes:
        frame: The data-channel frame to send.
        counter: Its position in our sequence, from 0.
        nonce: The 12-byte nonce it was sealed with.
        ciphertext: Ciphertext and tag.
    """

    frame: str
    counter: int
    nonce: bytes
    ciphertext: bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(msg: dict[str, Any], field: str) -> bytes:
    value = msg.get(field)
    if not isinstance(value, str):
        raise ChatError(f"the peer sent a {msg.get('type')} without {field!r}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ChatError(f"the peer sent a {field!r} that is not base64") from None


class ChatSession:
    """One end of a chat between two identities.

    Args:
        me: Our identity; its private key unwraps the session key.
        peer_key: The peer's public key, as published in the directory.
        initiator: True on the side that makes and sends the session key.
    """

    def __init__(
        self, me: Identity, peer_key: rsa.RSAPublicKey, *, initiator: bool
    ) -> None:
        self.me = me
        self.peer_key = peer_key
        self.initiator = initiator
        self.version = VERSION
        self.session_key: bytes | None = None
        self.wrapped_key: bytes | None = None
        self._nonces = NonceSequence(
            INITIATOR_PREFIX if initiator else RESPONDER_PREFIX
        )
        self._peer_prefix = RESPONDER_PREFIX if initiator else INITIATOR_PREFIX
        self._last_counter = -1
        self._pings = 0
        #: Our messages the peer has not confirmed yet: counter -> text.
        self.unconfirmed: dict[int, str] = {}

    @property
    def ready(self) -> bool:
        """True once both sides hold the session key."""
        return self.session_key is not None

    @property
    def peer_fingerprint(self) -> str:
        """Fingerprint of the peer's public key, to compare out of band."""
        return fingerprint_of(self.peer_key)

    def start(self) -> str:
        """Make, wrap and return the key frame (initiator only).

        Returns:
            The frame to send to the peer first, before any message.
        """
        if not self.initiator:
            raise ChatError("only the initiator makes the session key")
        if self.session_key is not None:
            raise ChatError("the session key was already sent")
        self.session_key = new_session_key()
        self.wrapped_key = wrap_key(self.session_key, self.peer_key)
        return json.dumps(
            {"type": "key", "version": self.version, "wrapped": _b64(self.wrapped_key)}
        )

    def seal(self, text: str) -> Sealed:
        """Seal ``text``; the result's ``frame`` is what to send.

        Raises:
            ChatError: If the session key is not there yet, or the text is
                too long.
        """
        if self.session_key is None:
            raise ChatError("no session key yet: wait until the chat is ready")
        data = text.encode("utf-8")
        if len(data) > MAX_TEXT:
            raise ChatError(
                f"message of {len(data)} bytes; the limit is {MAX_TEXT} bytes"
            )
        counter = self._nonces.counter
        nonce = self._nonces.next()
        sealed = seal(self.session_key, nonce, data)
        frame = json.dumps({"type": "msg", "nonce": _b64(nonce), "ct": _b64(sealed)})
        self.unconfirmed[counter] = text
        return Sealed(frame, counter, nonce, sealed)

    def ping(self) -> tuple[int, str]:
        """Return a liveness probe ``(number, frame)``; the peer answers ``pong``."""
        self._pings += 1
        return self._pings, json.dumps({"type": "ping", "n": self._pings})

    def receive(self, frame: str | bytes) -> Received | Receipt | Control | None:
        """Process one frame from the peer.

        Returns:
            A :class:`Received` for a chat message (send its ``reply``, the
            receipt), a :class:`Receipt` when the peer confirms one of ours, a
            :class:`Control` for a liveness probe, None for the key frame.

        Raises:
            UnwrapError: If the session key cannot be unwrapped.
            DecryptionError: If a message fails authentication.
            ReplayError: If a message was already received.
            ChatError: If the frame is malformed or out of order.
            A refused frame changes nothing: the session goes on.
        """
        try:
            msg = json.loads(frame)
        except (ValueError, UnicodeDecodeError):
            raise ChatError("the peer sent a frame that is not JSON") from None
        if not isinstance(msg, dict):
            raise ChatError("the peer sent a frame that is not a JSON object")
        kind = msg.get("type")
        if kind == "key":
            self._receive_key(msg)
            return None
        if kind == "msg":
            return self._receive_message(msg)
        if kind == "ack":
            return self._receive_receipt(msg)
        if kind in ("ping", "pong"):
            number = msg.get("n")
            if not isinstance(number, int) or isinstance(number, bool):
                raise ChatError(f"the peer sent a {kind} without a number")
            if kind == "ping":
                return Control(reply=json.dumps({"type": "pong", "n": number}))
            return Control(pong=number)
        raise ChatError(f"the peer sent an unknown frame type {kind!r}")

    def _receive_key(self, msg: dict[str, Any]) -> None:
        if self.initiator:
            raise ChatError("the peer sent a session key, but we are the initiator")
        if self.session_key is not None:
            raise ChatError("the peer sent a second session key; it was ignored")
        if msg.get("version") != self.version:
            raise ChatError(
                f"the peer speaks chat version {msg.get('version')!r}; "
                f"we speak {self.version!r}"
            )
        wrapped = _unb64(msg, "wrapped")
        self.session_key = unwrap_key(wrapped, self.me.private_key)
        self.wrapped_key = wrapped

    def _receive_message(self, msg: dict[str, Any]) -> Received:
        if self.session_key is None:
            raise UnwrapError("a message arrived before the session key")
        nonce, sealed = _unb64(msg, "nonce"), _unb64(msg, "ct")
        prefix, counter = NonceSequence.split(nonce)
        if prefix != self._peer_prefix:
            raise ChatError("the message's nonce does not belong to the peer")

        # Authenticate first, then check for a replay: a forged counter must
        # not be able to move the replay window.
        plaintext = unseal(self.session_key, nonce, sealed)
        if counter <= self._last_counter:
            raise ReplayError(
                f"message {counter} was already received; the copy was dropped"
            )
        self._last_counter = counter
        try:
            text = plaintext.decode("utf-8")
        except UnicodeDecodeError:
            raise ChatError("the message is not UTF-8 text") from None
        receipt = json.dumps({"type": "ack", "counter": counter})
        return Received(text, counter, nonce, sealed, receipt)

    def _receive_receipt(self, msg: dict[str, Any]) -> Receipt:
        # Receipts travel unsealed: they only say "it arrived", and the data
        # channel itself is encrypted and authenticated by DTLS.
        counter = msg.get("counter")
        if not isinstance(counter, int) or counter not in self.unconfirmed:
            raise ChatError(
                f"the peer confirmed a message we did not send: {counter!r}"
            )
        del self.unconfirmed[counter]
        return Receipt(counter)

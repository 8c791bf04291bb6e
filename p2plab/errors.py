"""Exceptions raised by p2plab.

Every exception p2plab raises on purpose derives from :class:`P2PLabError`::

    P2PLabError
    ├── SignalingError            the signaling server refused a request
    │                             (attributes: code, message, ref)
    ├── SignalingClosed           the connection to the server is gone
    ├── ConnectError              no peer-to-peer connection could be made
    ├── ChatError                 the chat session broke its rules
    │   ├── DecryptionError       a message failed authentication: tampered,
    │   │                         corrupted, or sealed under another key
    │   ├── ReplayError           a message was delivered a second time
    │   └── UnwrapError           the wrapped session key could not be opened
    ├── PeerGone                  the peer hung up or the network dropped
    ├── ClosedByUser              you closed this chat yourself
    └── InternalsMoved            aiortc or aioice moved an attribute that
                                  p2plab reads (no public API has it)

:class:`PeerGone` and :class:`ClosedByUser` tell "the other side or the
network broke it" from "you closed it". :class:`DecryptionError` says nothing
about *why* authentication failed, on purpose: a detailed reason would help an
attacker who tampers with messages to learn from each refusal.
"""

from __future__ import annotations

__all__ = [
    "ChatError",
    "ClosedByUser",
    "ConnectError",
    "DecryptionError",
    "InternalsMoved",
    "P2PLabError",
    "PeerGone",
    "ReplayError",
    "SignalingClosed",
    "SignalingError",
    "UnwrapError",
]


class P2PLabError(Exception):
    """Base class of every error p2plab raises on purpose."""


class SignalingError(P2PLabError):
    """The signaling server answered a request with an error.

    Attributes:
        code: The server's stable error code, e.g. ``"name-taken"``.
        message: The server's explanation.
        ref: The type of the request that failed, if the server said.
    """

    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(
            f"the signaling server refused the request ({code}): {message}"
        )
        self.code = code
        self.message = message
        self.ref = ref


class SignalingClosed(P2PLabError):
    """The connection to the signaling server is closed.

    An open chat keeps working: its messages go peer to peer. Starting a new
    chat needs the server again.
    """


class ConnectError(P2PLabError):
    """No peer-to-peer connection could be established."""


class ChatError(P2PLabError):
    """The chat session received something that breaks its rules."""


class DecryptionError(ChatError):
    """A sealed message failed authentication and was dropped."""


class ReplayError(ChatError):
    """A message arrived that was already delivered, and was dropped."""


class UnwrapError(ChatError):
    """The wrapped session key could not be opened with our private key."""


class PeerGone(P2PLabError):
    """The peer left, or the network between us failed."""


class ClosedByUser(P2PLabError):
    """The chat was closed on this side."""


class InternalsMoved(P2PLabError):
    """aiortc or aioice no longer has an attribute p2plab reads.

    The selected candidate pair, the ICE check list and the DTLS certificate
    have no public API in aiortc, so :func:`p2plab.peer.internal` reads a few
    private attributes; a new version of either library may move them.
    Install the versions in ``pyproject.toml``.
    """

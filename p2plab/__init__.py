"""p2plab: peer-to-peer chat with end-to-end encryption, one step at a time.

The modules follow the steps of the lessons:

* :mod:`p2plab.protocol`: the signaling messages (shared with the server).
* :mod:`p2plab.signaling`: the client that talks to the signaling server.
* :mod:`p2plab.peer` and :mod:`p2plab.ice`: the WebRTC connection (aiortc).
* :mod:`p2plab.identity`: RSA key pairs, fingerprints and the key store.
* :mod:`p2plab.wrapping`: session keys, wrapped with RSA-OAEP.
* :mod:`p2plab.sealing`: messages sealed with AES-GCM.
* :mod:`p2plab.chat`: the chat session that ties the crypto together.
* :mod:`p2plab.client`: signaling, peer and session in one object.
* :mod:`p2plab.network`, :mod:`p2plab.pane`, :mod:`p2plab.lab`: the notebook side;
  :mod:`p2plab.bot` plays a missing partner.

The lessons in ``notebooks/`` lean on :mod:`p2plab.lesson` (a server in the
kernel that records what it saw, ``chat_pair``, ``reset``), on the views
:mod:`p2plab.serverview`, :mod:`p2plab.sequence`, :mod:`p2plab.sdp`,
:mod:`p2plab.candidate` and :mod:`p2plab.inspector`, on :mod:`p2plab.course`
and :mod:`p2plab.misuse`, and on one module of exercise checks per lesson in
:mod:`p2plab.exercises`.
"""

import logging

from .chat import ChatSession, Received, Sealed
from .client import ChatClient, Event
from .errors import (
    ChatError,
    ClosedByUser,
    ConnectError,
    DecryptionError,
    InternalsMoved,
    P2PLabError,
    PeerGone,
    ReplayError,
    SignalingClosed,
    SignalingError,
    UnwrapError,
)
from .identity import Identity, KeyStore, fingerprint_of, load_public_key
from .lab import ensure_server, open_chat
from .network import NetworkThread, get_network
from .pane import ChatPane
from .peer import Peer
from .sealing import NonceSequence, seal, unseal
from .signaling import SignalingClient
from .wrapping import new_session_key, unwrap_key, wrap_key

__all__ = [
    "ChatClient",
    "ChatError",
    "ChatPane",
    "ChatSession",
    "ClosedByUser",
    "ConnectError",
    "DecryptionError",
    "Event",
    "Identity",
    "InternalsMoved",
    "KeyStore",
    "NetworkThread",
    "NonceSequence",
    "P2PLabError",
    "Peer",
    "PeerGone",
    "Received",
    "ReplayError",
    "Sealed",
    "SignalingClient",
    "SignalingClosed",
    "SignalingError",
    "UnwrapError",
    "ensure_server",
    "fingerprint_of",
    "get_network",
    "load_public_key",
    "new_session_key",
    "open_chat",
    "seal",
    "unseal",
    "unwrap_key",
    "wrap_key",
]

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

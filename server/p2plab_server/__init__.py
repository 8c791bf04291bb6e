"""The p2plab signaling server.

It runs with the standard library and ``websockets`` only, so a teacher can
deploy it on a small machine without Jupyter or aiortc::

    p2plab-server --host 0.0.0.0 --port 8765
"""

from .directory import Directory
from .protocol import MAX_FRAME, PROTOCOL_VERSION, ProtocolError
from .relay import SignalingServer, run

__all__ = [
    "MAX_FRAME",
    "PROTOCOL_VERSION",
    "Directory",
    "ProtocolError",
    "SignalingServer",
    "run",
]

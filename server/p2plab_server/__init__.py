"""The p2plab signaling server.

It runs with the standard library and ``websockets`` only, so a teacher can
deploy it on a small machine without Jupyter or aiortc::

    p2plab-server --host 0.0.0.0 --port 8765

The protocol is written out in ``docs/protocol.md``: :mod:`.protocol` holds
its messages, :mod:`.proof` the signed join, :mod:`.rsapss` the RSA-PSS check,
:mod:`.directory` the SQLite directory and :mod:`.relay` the server's rooms,
joins and relays. :mod:`.listener` accepts connections and :mod:`.connection`
runs each one on websockets' Sans-I/O protocol, with no task per connection;
:mod:`.keepalive` schedules every connection's pings on one timer.
:mod:`.settings` gathers what a server may be told (keepalive, the offline
queue, limits); :mod:`.mailbox` holds messages for users who are briefly
offline, :mod:`.ratelimit` paces each connection, and :mod:`.health` answers
``GET /health``.
"""

from .directory import Directory
from .protocol import DEFAULT_ROOM, MAX_FRAME, PROTOCOL_VERSION, ProtocolError
from .relay import SignalingServer, run
from .settings import Settings

__all__ = [
    "DEFAULT_ROOM",
    "MAX_FRAME",
    "PROTOCOL_VERSION",
    "Directory",
    "ProtocolError",
    "Settings",
    "SignalingServer",
    "run",
]

"""The signaling protocol, shared with the server.

The messages are defined once, in :mod:`p2plab_server.protocol`, so that the
server can be installed on its own; this module re-exports them for the
lessons. See that module's docstring for the message table.
"""

from p2plab_server.protocol import (
    ERRORS,
    MAX_FRAME,
    PROTOCOL_VERSION,
    RELAYED,
    ProtocolError,
    encode,
    error,
    fingerprint,
    parse,
    parse_reply,
)

__all__ = [
    "ERRORS",
    "MAX_FRAME",
    "PROTOCOL_VERSION",
    "RELAYED",
    "ProtocolError",
    "encode",
    "error",
    "fingerprint",
    "parse",
    "parse_reply",
]

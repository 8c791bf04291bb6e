"""The signaling protocol, shared with the server.

The messages are defined once, in :mod:`p2plab_server.protocol`, so that the
server can be installed on its own; this module re-exports them for the
lessons. The protocol is written out in ``docs/protocol.md``.
"""

from p2plab_server.protocol import (
    CLOSE_CODES,
    CLOSE_REPLACED,
    DEFAULT_ROOM,
    ERRORS,
    MAX_FRAME,
    MESSAGES,
    NAME_PATTERN,
    OPTIONAL,
    PROTOCOL_VERSION,
    RELAYED,
    REQUESTS,
    ProtocolError,
    decode_base64,
    encode,
    error,
    fingerprint,
    parse,
    parse_reply,
)

__all__ = [
    "CLOSE_CODES",
    "CLOSE_REPLACED",
    "DEFAULT_ROOM",
    "ERRORS",
    "MAX_FRAME",
    "MESSAGES",
    "NAME_PATTERN",
    "OPTIONAL",
    "PROTOCOL_VERSION",
    "RELAYED",
    "REQUESTS",
    "ProtocolError",
    "decode_base64",
    "encode",
    "error",
    "fingerprint",
    "parse",
    "parse_reply",
]

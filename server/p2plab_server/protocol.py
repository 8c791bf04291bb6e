"""The signaling protocol, with no I/O.

Every signaling message is one JSON object in one WebSocket text frame, with
a ``type`` field. This module is the single definition of those messages: the
server and the client both parse and build frames with it, and neither opens
a socket here. A lesson can therefore call :func:`parse` on a frame it typed
by hand and see exactly what the server would answer.

The protocol is written out in ``docs/protocol.md``; a test reads that
document's tables and checks them against :data:`REQUESTS`, :data:`MESSAGES`,
:data:`ERRORS` and :data:`CLOSE_CODES`, both ways. The proof of identity on
join (the signed challenge) is in :mod:`p2plab_server.proof`.

Any request may carry an ``id`` (a string or an integer). The reply to it,
including an error reply, carries the same ``id``, so a client can match
answers to questions. The server sets ``from`` itself on every relayed
message; a ``from`` sent by a client is refused, so no one can speak in
another user's name.

The server also speaks unasked: ``joined`` and ``left`` for the room,
relayed messages, ``expired`` (with the ``id`` of a relayed request that was
held for an offline user and never delivered) and ``shutdown``. A client
ignores any type it does not know.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

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

#: Version of this protocol, sent in ``hello`` and ``welcome``. Version 2
#: added the signed join (``hello``, ``challenge``, ``signature``) and rooms.
PROTOCOL_VERSION = "2"

#: Largest frame the server reads by default, in bytes (``p2plab-server
#: --max-frame`` changes it). An SDP with a few dozen candidates is 2-4 KiB;
#: the limit leaves ample room and keeps a single client from making the
#: server buffer large messages.
MAX_FRAME = 64 * 1024

#: The room the lab joins when none is named.
DEFAULT_ROOM = "lab"

#: Names and rooms: 1-32 letters, digits, ``.``, ``_`` or ``-``, starting
#: with a letter or digit.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")

#: Request types the server forwards to another user without reading them.
RELAYED = frozenset({"offer", "answer", "candidate", "bye"})

_Types = type | tuple[type, ...]

_SDP_FIELDS: dict[str, _Types] = {"sdp": str}
_CANDIDATE_FIELDS: dict[str, _Types] = {
    "candidate": str,
    "sdpMid": (str, type(None)),
    "sdpMLineIndex": (int, type(None)),
}

#: Client to server: each request type with its required fields and the JSON
#: type each must have. Every request may also carry an ``id``.
REQUESTS: dict[str, dict[str, _Types]] = {
    "join": {
        "room": str,
        "name": str,
        "key": str,
        "challenge": str,
        "signature": str,
    },
    "lookup": {"name": str},
    "offer": {"to": str, **_SDP_FIELDS},
    "answer": {"to": str, **_SDP_FIELDS},
    "candidate": {"to": str, **_CANDIDATE_FIELDS},
    "bye": {"to": str},
    "health": {},
}

#: Server to client: each message type with the fields it always carries.
MESSAGES: dict[str, tuple[str, ...]] = {
    "hello": ("version", "challenge"),
    "welcome": ("room", "name", "peers", "version"),
    "key": ("name", "key", "fingerprint", "online"),
    "joined": ("name", "key", "fingerprint"),
    "left": ("name",),
    "offer": ("from", "sdp"),
    "answer": ("from", "sdp"),
    "candidate": ("from", *_CANDIDATE_FIELDS),
    "bye": ("from",),
    "error": ("code", "message"),
    "expired": ("to", "ref", "message"),
    "shutdown": ("message",),
    "health": ("version", "rooms", "users", "uptime"),
}

#: Server to client: the fields a message carries only sometimes. ``id``
#: answers a request's ``id``; ``ref`` names the type of the failed request.
OPTIONAL: dict[str, tuple[str, ...]] = {
    "welcome": ("id",),
    "key": ("id",),
    "error": ("ref", "id"),
    "expired": ("id",),
    "health": ("id",),
}

#: Every error code, with what it means. Codes are stable: clients and tests
#: match on them, never on the message text.
ERRORS: dict[str, str] = {
    "bad-json": "the frame is not a JSON object",
    "bad-type": "the type is missing or unknown",
    "missing-field": "a required field is missing",
    "bad-field": "a field has the wrong type or an invalid value",
    "too-large": "the frame is larger than the server accepts",
    "not-joined": "join before sending this",
    "already-joined": "this connection already has a name",
    "bad-key": "the key is not an RSA public key of 2048 to 4096 bits in SPKI DER",
    "replayed": "the join answers a challenge that was not sent on this connection",
    "bad-signature": "the signature does not verify with the key for this "
    "connection's challenge, room and name",
    "name-taken": "the name is bound to another public key in this room",
    "unknown-peer": "no user of that name is in this room",
    "self": "a message cannot be sent to yourself",
    "rate-limited": "this connection sends faster than the server's rate limit; "
    "the request was not processed",
    "room-full": "the room has as many users as the server allows in one room",
    "server-full": "the server has as many users as it allows",
    "queue-full": "the recipient is offline and already has as many messages "
    "waiting as the server holds",
}

#: WebSocket close codes the server uses, with what each means.
CLOSE_CODES: dict[int, str] = {
    1000: "normal closure: the client closed the connection",
    1001: "going away: the server is shutting down",
    1009: "message too big: a frame over the hard limit (16 x the frame limit)",
    1011: "server error; with the reason `keepalive ping timeout`: the connection "
    "did not answer the server's ping in time",
    4001: "replaced: the same name joined the room again on a newer connection",
}

#: Close code sent to a connection whose name was taken over by a newer
#: connection that proved it holds the same key.
CLOSE_REPLACED = 4001

# Fields the server may read in a request besides the required ones;
# anything else is refused so that a client cannot smuggle a forged ``from``
# or an unbounded blob past the server.
_ALLOWED_EXTRA = frozenset({"type", "id"})

# Marks a field missing from a request (None is a value some fields take).
_MISSING = object()

# Fields whose value is a name, and fields whose value is binary data in
# standard base64, in the order they are checked.
_NAME_FIELDS = ("room", "name", "to")
_BASE64_FIELDS = ("key", "challenge", "signature")


@dataclass(frozen=True, slots=True)
class _Shape:
    """What :func:`parse` checks in one type of request, worked out once."""

    fields: tuple[tuple[str, _Types], ...]
    allowed: frozenset[str]
    names: tuple[str, ...]
    base64: tuple[str, ...]


_SHAPES = {
    kind: _Shape(
        tuple(fields.items()),
        frozenset(fields) | _ALLOWED_EXTRA,
        tuple(f for f in _NAME_FIELDS if f in fields),
        tuple(f for f in _BASE64_FIELDS if f in fields),
    )
    for kind, fields in REQUESTS.items()
}

# The opening of a relayed request as encode() and the clients write it:
# compact JSON, the type first, then the recipient, then "," or "}". Group 1
# is the type, group 2 the recipient; names need no escaping in JSON.
_RELAY_OPENING = re.compile(
    rb'\{"type":"(offer|answer|candidate|bye)","to":"'
    rb'([A-Za-z0-9][A-Za-z0-9_.-]{0,31})"(?=[,}])'
)

# What may open a "to" or "type" key, however spelled: see _splice.
_KEY_OPENING = re.compile(rb'"[t\\]')


@dataclass
class ProtocolError(Exception):
    """A frame broke the protocol.

    Attributes:
        code: One of the keys of :data:`ERRORS`.
        message: A sentence that says what was wrong and what to do.
        ref: The type of the request, when it could be read.
        id: The request's ``id``, when it could be read.
    """

    code: str
    message: str
    ref: str | None = None
    id: str | int | None = None

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.message}")

    def reply(self) -> dict[str, Any]:
        """Return the ``error`` message the server sends for this error."""
        return error(self.code, self.message, ref=self.ref, id=self.id)


def error(
    code: str,
    message: str,
    *,
    ref: str | None = None,
    id: str | int | None = None,
) -> dict[str, Any]:
    """Build an ``error`` message.

    Args:
        code: One of the keys of :data:`ERRORS`.
        message: A readable explanation.
        ref: The type of the request that failed.
        id: The request's ``id``, echoed so the client can match it.

    Raises:
        ValueError: If ``code`` is not a known error code.
    """
    if code not in ERRORS:
        raise ValueError(f"unknown error code {code!r}; known: {sorted(ERRORS)}")
    msg: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if ref is not None:
        msg["ref"] = ref
    if id is not None:
        msg["id"] = id
    return msg


def encode(message: dict[str, Any]) -> str:
    """Serialize a message to the text of one WebSocket frame."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def relayed(frame: bytes, request: dict[str, Any], sender: str) -> bytes:
    """Return the UTF-8 frame that relays a valid request to its recipient.

    The recipient gets the request's fields with ``from`` set to ``sender``,
    and neither ``to`` nor ``id``. A frame that opens the way :func:`encode`
    writes a relayed request, ``{"type":"offer","to":"bob",...``, and has no
    ``id`` is passed on with only that opening rewritten, which spares
    encoding the message again; any other frame is re-encoded.

    Args:
        frame: The frame as received, in bytes.
        request: The same frame as :func:`parse` returned it: of a relayed
            type, with exactly its fields.
        sender: The sender's name, as the server knows it.

    Only the server relays, so this is not among the names that
    :mod:`p2plab.protocol` shares with the lessons.
    """
    if "id" not in request:
        spliced = _splice(frame, request, sender)
        if spliced is not None:
            return spliced
    message = {k: v for k, v in request.items() if k not in ("to", "id")}
    message["from"] = sender
    text = encode(message)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate, sent as an escape like "\ud800", has no UTF-8
        # form: it goes out escaped as it came.
        return json.dumps(message, separators=(",", ":")).encode("ascii")


def _splice(frame: bytes, request: dict[str, Any], sender: str) -> bytes | None:
    """Rewrite the opening of ``frame`` for the recipient; None if unsafe."""
    opening = _RELAY_OPENING.match(frame)
    if opening is None:
        return None
    kind, recipient = opening[1].decode("ascii"), opening[2].decode("ascii")
    if kind != request["type"] or recipient != request["to"]:
        return None  # a repeated key: the parsed request says otherwise
    end = opening.end()
    # The rest of the frame goes to the recipient as it is, so it may hold
    # no other "to" or "type" key. Such a key, however spelled, opens with
    # "t or with an escape, "\; a relayed request's strings rarely do, and
    # an SDP holds no quotes. json.loads lets encoded surrogates through,
    # which are not UTF-8, so bytes that may start one are checked strictly.
    if _KEY_OPENING.search(frame, end) is not None:
        return None
    if frame.find(b"\xed", end) != -1 and not _is_utf8(frame[end:]):
        return None
    head = b'{"type":"' + opening[1] + b'","from":"' + sender.encode() + b'"'
    return head + frame[end:]


def _is_utf8(data: bytes) -> bool:
    """Tell whether ``data`` is UTF-8 in the strict sense, without surrogates."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse(frame: str | bytes, max_frame: int = MAX_FRAME) -> dict[str, Any]:
    """Parse and validate one frame sent by a client.

    Args:
        frame: The frame as received: text, or bytes holding UTF-8 text.
        max_frame: The largest frame accepted, in bytes.

    Returns:
        The request as a dict. Its ``type`` is one of the request types and
        every required field is present with the right JSON type.

    Raises:
        ProtocolError: If the frame is too large, not a JSON object, of an
            unknown type, or has a missing, extra or badly typed field.
    """
    # The limit is in bytes, so text is measured as the UTF-8 it came in. A
    # character takes at most 4 bytes: a short text needs no encoding to be
    # known to fit, which spares the common case a copy of the frame.
    size = len(frame)
    if isinstance(frame, str) and 4 * size > max_frame:
        size = len(frame.encode("utf-8", "surrogatepass"))
    if size > max_frame:
        raise ProtocolError(
            "too-large",
            f"frame of {size} bytes; the limit is {max_frame} bytes: send less "
            "(an SDP is usually 2-4 KiB)",
        )
    try:
        if isinstance(frame, bytes) and frame.startswith(b'{"'):
            # What json.loads does with bytes that open so, without its
            # look for a byte order mark first.
            frame = frame.decode("utf-8", "surrogatepass")
        msg = json.loads(frame)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(
            "bad-json", f"the frame is not valid JSON ({exc})"
        ) from None
    except RecursionError:
        # A few kilobytes of "[[[[..." exhaust the parser's recursion limit.
        raise ProtocolError(
            "bad-json", "the frame nests JSON too deeply to be a protocol message"
        ) from None
    if not isinstance(msg, dict):
        raise ProtocolError("bad-json", "the frame must be a JSON object")

    msg_id = msg.get("id")
    if msg_id is not None and (
        isinstance(msg_id, bool) or not isinstance(msg_id, str | int)
    ):
        raise ProtocolError("bad-field", "'id' must be a string or an integer")
    kind = msg.get("type")
    shape = _SHAPES.get(kind) if isinstance(kind, str) else None
    if shape is None:
        raise ProtocolError(
            "bad-type",
            f"unknown type {kind!r}; expected one of {sorted(REQUESTS)}",
            id=msg_id,
        )
    assert isinstance(kind, str)
    _check_fields(kind, shape, msg)
    _check_values(kind, shape, msg)
    return msg


def _check_fields(kind: str, shape: _Shape, msg: dict[str, Any]) -> None:
    """Check that the request has exactly its fields, each of the right JSON type."""
    for name, expected in shape.fields:
        value = msg.get(name, _MISSING)
        if value is _MISSING:
            hint = ""
            if kind == "join":
                # The likeliest cause is a client written for protocol 1.
                hint = (
                    f" (protocol {PROTOCOL_VERSION}: sign the challenge from the "
                    "server's hello; see docs/protocol.md)"
                )
            raise ProtocolError(
                "missing-field",
                f"{kind} needs the field {name!r}{hint}",
                kind,
                msg.get("id"),
            )
        if isinstance(value, bool) or not isinstance(value, expected):
            raise ProtocolError(
                "bad-field",
                f"{kind}: {name!r} has the wrong type",
                kind,
                msg.get("id"),
            )
    if not msg.keys() <= shape.allowed:
        raise ProtocolError(
            "bad-field",
            f"{kind} does not take the field(s) {sorted(msg.keys() - shape.allowed)}",
            kind,
            msg.get("id"),
        )


def _check_values(kind: str, shape: _Shape, msg: dict[str, Any]) -> None:
    """Check the values that the JSON types alone do not constrain."""
    for field in shape.names:
        value = msg[field]
        if not NAME_PATTERN.fullmatch(value):
            raise ProtocolError(
                "bad-field",
                f"{field} {value!r} is not a valid name: use 1-32 letters, "
                "digits, '.', '_' or '-', starting with a letter or digit",
                kind,
                msg.get("id"),
            )
    for field in shape.base64:
        if decode_base64(msg[field]) is None:
            raise ProtocolError(
                "bad-field",
                f"{field} must be standard base64 (A-Z, a-z, 0-9, '+', '/', "
                "with '=' padding)",
                kind,
                msg.get("id"),
            )


def decode_base64(text: str) -> bytes | None:
    """Decode standard base64 in its one canonical form; None if it is not.

    The canonical form is the one :func:`base64.b64encode` writes. Refusing
    every other spelling keeps one key from being stored under two strings.
    """
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not data or base64.b64encode(data).decode("ascii") != text:
        return None
    return data


def fingerprint(key: str) -> str:
    """Return the SHA-256 fingerprint of a base64 SPKI public key.

    The fingerprint is the hexadecimal SHA-256 of the DER bytes, in groups of
    four, the form the chat panes show. The server includes it in ``key`` and
    ``joined`` messages for convenience; a careful client computes it itself.
    """
    digest = hashlib.sha256(base64.b64decode(key)).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def parse_reply(frame: str | bytes) -> dict[str, Any]:
    """Parse one frame sent by the server.

    The client is lenient on purpose: a newer server may add fields. It only
    insists on a JSON object with a string ``type``.

    Raises:
        ProtocolError: If the frame is not a JSON object with a ``type``.
    """
    try:
        msg = json.loads(frame)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ProtocolError(
            "bad-json", "the server sent a frame that is not JSON"
        ) from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("bad-type", "the server sent a frame without a type")
    return msg

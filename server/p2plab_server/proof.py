"""Proof of identity on join: a signed challenge, with no I/O.

When a client connects, the server sends ``hello`` with a fresh random
challenge for that connection alone. The client's ``join`` echoes the
challenge and signs, with RSA-PSS and the private key of the public key it
joins with, the bytes :func:`signed_message` builds from the challenge, the
room and the name. The server checks three things, in this order, each with
its own error code:

* ``replayed``: the echoed challenge is this connection's. A join copied from
  another connection answers that connection's challenge, so it is refused
  here without any arithmetic.
* ``bad-key``: the key is an RSA public key of 2048 to 4096 bits.
* ``bad-signature``: the signature verifies with that key. Anyone who signs
  with another private key (someone holding a copy of the public key only)
  fails here.

The server never learns the private key and keeps no challenge after the
connection ends. The client signs with ``cryptography``
(:func:`p2plab.signaling.sign_join`); the server checks with
:mod:`p2plab_server.rsapss`, which needs the standard library only.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

from .protocol import ProtocolError, decode_base64
from .rsapss import InvalidKey, load_spki, verify

__all__ = [
    "CHALLENGE_SIZE",
    "JOIN_CONTEXT",
    "check_join",
    "new_challenge",
    "signed_message",
]

#: Size of a challenge in bytes, before base64.
CHALLENGE_SIZE = 32

#: The first bytes of every signed join. They tie the signature to this use,
#: so that a signature made for anything else can never pass as a join.
JOIN_CONTEXT = b"p2plab-join-v2\x00"


def new_challenge() -> str:
    """Return a fresh random challenge in standard base64 (32 bytes, 44 chars)."""
    return base64.b64encode(secrets.token_bytes(CHALLENGE_SIZE)).decode("ascii")


def signed_message(challenge: bytes, room: str, name: str) -> bytes:
    """Return the bytes a join signs.

    ``JOIN_CONTEXT || challenge || room || 0x00 || name``, with the room and
    the name in ASCII. The challenge has a fixed size and neither the room nor
    the name can hold a zero byte, so no two joins share these bytes.

    Raises:
        ValueError: If the challenge is not 32 bytes.
    """
    if len(challenge) != CHALLENGE_SIZE:
        raise ValueError(f"a challenge is {CHALLENGE_SIZE} bytes, not {len(challenge)}")
    return JOIN_CONTEXT + challenge + room.encode() + b"\x00" + name.encode()


def check_join(join: dict[str, Any], challenge: str) -> None:
    """Check that a parsed ``join`` proves its key for this connection.

    Args:
        join: The request, as :func:`p2plab_server.protocol.parse` returned it.
        challenge: The challenge this connection's ``hello`` carried.

    Raises:
        ProtocolError: ``replayed``, ``bad-key`` or ``bad-signature``.
    """
    msg_id = join.get("id")
    if join["challenge"] != challenge:
        raise ProtocolError(
            "replayed",
            "this join answers another connection's challenge; sign the "
            "challenge from the hello of this connection",
            "join",
            msg_id,
        )
    try:
        key = load_spki(_decoded(join["key"]))
    except InvalidKey as exc:
        raise ProtocolError("bad-key", str(exc), "join", msg_id) from None
    message = signed_message(_decoded(challenge), join["room"], join["name"])
    if not verify(key, message, _decoded(join["signature"])):
        raise ProtocolError(
            "bad-signature",
            f"the signature does not verify with this key for room "
            f"{join['room']!r} and name {join['name']!r}: sign with the private "
            "key of the public key you join with (RSA-PSS, SHA-256, salt 32)",
            "join",
            msg_id,
        )


def _decoded(text: str) -> bytes:
    data = decode_base64(text)
    if data is None:
        raise ValueError("not canonical base64; parse() should have refused it")
    return data

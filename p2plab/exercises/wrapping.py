"""Checks for the exercises of the lesson on session-key wrapping (06-key-wrapping).

Each check takes the learner's answer and returns a
:class:`~p2plab.exercises.Verdict`: praise, or a hint aimed at the usual
mistake (bits taken for bytes, one hash length instead of two, a blob
left wrapped). :func:`wrapped_key_frame` makes the frame of the unwrapping
exercise: a session key wrapped for the learner's key pair by a session the
learner cannot see, so the only way to the key is to unwrap it.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ..chat import ChatSession
from ..errors import UnwrapError
from ..identity import Identity
from ..wrapping import unwrap_key
from . import Hint, Verdict, verdict

__all__ = ["oaep_capacity", "unwrapped", "wrapped_chars", "wrapped_key_frame"]


def oaep_capacity(answer: Any) -> Verdict:
    """Check the most bytes RSA-2048 OAEP with SHA-256 can wrap (190)."""
    return verdict(
        "OAEP capacity",
        answer,
        lambda a: a == 190,
        [
            Hint(
                lambda a: a == 192,
                "close: OAEP also spends two single bytes, a leading zero and "
                "the 0x01 that marks where the message starts",
            ),
            Hint(
                lambda a: a in (222, 224),
                "OAEP takes the hash length twice: once for its random bytes, "
                "once for the hash of the label",
            ),
            Hint(
                lambda a: a == 214,
                "that is OAEP with SHA-1 (20-byte hashes); here both hashes "
                "are SHA-256, 32 bytes each",
            ),
            Hint(
                lambda a: a == 245,
                "that is the old PKCS#1 v1.5 padding (k - 11); OAEP costs more",
            ),
            Hint(
                lambda a: a == 256,
                "that is the whole modulus; the padding takes its share of it",
            ),
            Hint(
                lambda a: a == 32,
                "32 bytes is the session key we wrap, not the most that fits",
            ),
            Hint(
                lambda a: a > 256,
                "bits mixed with bytes: the modulus is 2048 bits = 256 bytes, "
                "and a SHA-256 digest is 32 bytes",
            ),
        ],
        otherwise="k - 2·hLen - 2, with the modulus size k and the hash size "
        "hLen both in bytes",
    )


def wrapped_key_frame(peer: Identity) -> str:
    """Return a wrapped-key frame for ``peer``, as a caller's session sends it.

    The caller, its session and the session key inside are thrown away:
    only ``peer``'s private key can get the key back out of the frame.
    """
    caller = ChatSession(Identity.generate(2048), peer.public_key, initiator=True)
    return caller.start()


def unwrapped(answer: Any, frame: str, peer: Identity) -> Verdict:
    """Check the session key unwrapped by hand from ``frame`` with ``peer``'s key."""
    try:
        field = json.loads(frame)["wrapped"]
        blob = base64.b64decode(field, validate=True)
        expected = unwrap_key(blob, peer.private_key)
    except (ValueError, KeyError, TypeError, AttributeError, UnwrapError):
        # A check never raises: a frame or a key pair mixed up is a mistake.
        return Verdict(
            "unwrap by hand",
            False,
            "this frame was not made for this key pair: make it with "
            "check.wrapped_key_frame(bob) and unwrap it with the same bob",
        )
    return verdict(
        "unwrap by hand",
        answer,
        lambda a: isinstance(a, bytes) and a == expected,
        [
            Hint(
                lambda a: isinstance(a, dict),
                "that is the parsed frame; its 'wrapped' field holds the blob",
            ),
            Hint(
                lambda a: _decoded(a) == expected,
                "the right key, written as text (base64 or hex): give the 32 "
                "raw bytes themselves",
            ),
            Hint(
                lambda a: a == frame,
                "that is the whole frame, as text: json.loads it and take its "
                "'wrapped' field",
            ),
            Hint(
                lambda a: a == field,
                "that is the 'wrapped' field, still in base64: decode it to "
                "bytes (base64.b64decode), then unwrap those",
            ),
            Hint(
                lambda a: a == blob,
                "still wrapped: unwrap_key(blob, bob.private_key) opens it",
            ),
            Hint(
                lambda a: isinstance(a, bytes) and len(a) == len(expected),
                "a key of the right size, but not the one in this frame: unwrap "
                "the frame's blob with Bob's private key, rather than take a "
                "key from another session or make a new one",
            ),
        ],
        otherwise="json.loads the frame, base64-decode its 'wrapped' field, and "
        "unwrap that with Bob's private key",
    )


def _decoded(answer: Any) -> bytes | None:
    """Read bytes written as hex or base64, in a str or in bytes."""
    if isinstance(answer, bytes):
        answer = answer.decode("ascii", "replace")
    if not isinstance(answer, str):
        return None
    try:
        return bytes.fromhex(answer)
    except ValueError:
        pass
    try:
        return base64.b64decode(answer, validate=True)
    except (binascii.Error, ValueError):
        return None


def wrapped_chars(answer: Any) -> Verdict:
    """Check the length in base64 characters of an RSA-4096 wrapped key (684)."""
    return verdict(
        "wrapped key in base64",
        answer,
        lambda a: a == 684,
        [
            Hint(
                lambda a: a == 512,
                "that is the blob's size in bytes; base64 writes every 3 bytes "
                "as 4 characters",
            ),
            Hint(
                lambda a: a in (682, 683) or 682 < float(a) < 683,
                "base64 works in whole groups: the last, partial group of 3 "
                "bytes still takes 4 characters, padded with '='",
            ),
            Hint(
                lambda a: a == 4096,
                "4096 is the key size in bits; the blob is as long as the "
                "modulus, in bytes, and then written in base64",
            ),
            Hint(
                lambda a: a == 344,
                "344 characters is the field for an RSA-2048 key, as in the lesson",
            ),
        ],
        otherwise="the blob is as long as the modulus (in bytes); base64 turns "
        "each 3 bytes, rounded up, into 4 characters",
    )

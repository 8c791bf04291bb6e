"""Checks for the exercises of the lesson on session-key wrapping (06-key-wrapping).

Each check takes the learner's answer and returns a
:class:`~p2plab.exercises.Verdict`: praise, or a hint aimed at the usual
mistake (bits taken for bytes, one hash length instead of two, a blob
left wrapped).
"""

from __future__ import annotations

from typing import Any

from . import Hint, Verdict, verdict

__all__ = ["oaep_capacity", "unwrapped", "wrapped_chars"]


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
                "OAEP takes the hash length twice: once for the random seed, "
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


def unwrapped(answer: Any, expected: bytes) -> Verdict:
    """Check a session key unwrapped by hand from a key frame."""
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
                lambda a: isinstance(a, str),
                "that is text: the 'wrapped' field is base64; decode it to bytes "
                "and unwrap those",
            ),
            Hint(
                lambda a: isinstance(a, bytes) and len(a) > len(expected),
                "still wrapped: unwrap_key(blob, bob.private_key) opens it",
            ),
            Hint(
                lambda a: isinstance(a, bytes) and len(a) == len(expected),
                "a key of the right size, but not the one in the frame: unwrap "
                "the frame's blob with Bob's private key, don't make a new key",
            ),
        ],
        otherwise="json.loads the frame, base64-decode its 'wrapped' field, and "
        "unwrap that with Bob's private key",
    )


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

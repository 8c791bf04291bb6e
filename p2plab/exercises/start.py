"""Checks for the exercises of lesson 01, Start here.

Two of the checks read the lesson's own server record, so a right answer is
the one that matches what happened in this kernel. Message types are exact
text, as the server wrote them: one that differs only in case or spaces gets
a hint saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..sealing import NONCE_SIZE, TAG_SIZE
from . import Hint, Verdict, verdict

if TYPE_CHECKING:
    from ..lesson import LessonServer

__all__ = ["byte_count", "ciphertext_size", "written_to_bob"]

# The text Alice sends in the lesson, whose sealed size the lesson shows.
_FIRST_MESSAGE = "Meet me at the library at noon"


def byte_count(answer: Any, server: LessonServer) -> Verdict:
    """Check the number of bytes the server read from ``alice`` or wrote to her."""
    mine = server.saw("alice")
    total = sum(seen.size for seen in mine)
    read = sum(seen.size for seen in mine if seen.direction == "<")
    return verdict(
        "bytes for alice",
        answer,
        lambda a: a == total,
        [
            Hint(
                lambda a: a == len(mine),
                "that is the number of frames; add up their sizes (each item "
                "has a .size, in bytes)",
            ),
            Hint(
                lambda a: a == sum(seen.size for seen in server.saw()),
                "that counts every user's bytes; server.saw() takes a name",
            ),
            Hint(
                lambda a: a == read,
                "that counts what the server read from alice; add what it wrote to her",
            ),
            Hint(
                lambda a: a == total - read,
                "that counts what the server wrote to alice; add what it read from her",
            ),
            Hint(
                lambda a: a == sum(seen.size for seen in server.saw("bob")),
                "that is bob's total; the question is about alice",
            ),
        ],
        otherwise='add up the .size of every item of server.saw("alice"), '
        "e.g. with sum()",
        praise="right: every one of those bytes the server could read",
    )


def written_to_bob(answer: Any, server: LessonServer) -> Verdict:
    """Check the types of the frames the server wrote to ``bob``, in order."""

    def types(user: str, direction: str | None = None) -> list[str]:
        return [
            seen.type
            for seen in server.saw(user)
            if direction is None or seen.direction == direction
        ]

    right = types("bob", ">")
    return verdict(
        "written to bob",
        answer,
        lambda a: _types(a) == right,
        [
            Hint(
                lambda a: isinstance(a, str | set | frozenset | dict),
                'give a list of types, in order, like ["a", "b"]',
            ),
            Hint(
                lambda a: _types(a) == types("bob", "<"),
                'those are the frames the server read from bob (direction "<"); '
                'the question is about what it wrote to him (">")',
            ),
            Hint(
                lambda a: _types(a) == types("bob"),
                "that is every frame of bob's; keep those the server wrote to "
                'him, direction ">"',
            ),
            Hint(
                lambda a: _types(a) == types("alice", ">"),
                "that is what the server wrote to alice; server.saw() takes a name",
            ),
            Hint(
                lambda a: [_loose(t) for t in _types(a)] == right,
                "the right types, but types are exact: write them as the frames "
                "have them, in lower case and without spaces",
            ),
            Hint(
                lambda a: sorted(_types(a)) == sorted(right),
                "the right types in the wrong order: keep the order of "
                "server.saw(), which is the order of the wire",
            ),
            Hint(
                lambda a: set(_types(a)) < set(right),
                "some are missing: the server wrote to bob before he sent "
                "anything, and it answered each of his requests",
            ),
        ],
        otherwise='keep the items of server.saw("bob") whose direction is ">", '
        "and list their .type",
        praise="right: the server spoke first, answered bob's join and lookup, "
        "and passed alice's answer on",
    )


def ciphertext_size(answer: Any, text: str) -> Verdict:
    """Check the number of bytes that travel when ``text`` is sealed."""
    size = len(text.encode("utf-8"))
    return verdict(
        "sealed size",
        answer,
        lambda a: a == size + TAG_SIZE,
        [
            Hint(
                lambda a: a == len(text) + TAG_SIZE != size + TAG_SIZE,
                "count bytes, not characters: in UTF-8 a letter such as ü "
                "or ß takes two bytes",
            ),
            Hint(
                lambda a: a == len(text) != size,
                "that is the number of characters: count the bytes of the "
                "text in UTF-8, and add what sealing appends",
            ),
            Hint(
                lambda a: a == size,
                "the sealed message is longer than the text: AES-GCM appends "
                "something to it",
            ),
            Hint(
                lambda a: a in (size + NONCE_SIZE, size + TAG_SIZE + NONCE_SIZE),
                f"the nonce ({NONCE_SIZE} bytes) travels in a field of its own, "
                "beside the ciphertext; count only what sealing appends",
            ),
            Hint(
                lambda a: a == size + 8 * TAG_SIZE,
                "the tag is 128 bits long; how many bytes is that?",
            ),
            Hint(
                lambda a: a == len(_FIRST_MESSAGE.encode()) + TAG_SIZE,
                "that is the size of alice's message; predict it for this text",
            ),
        ],
        otherwise='compare len(text.encode()) with len(sent.data["ciphertext"])',
    )


def _types(answer: Any) -> list[str]:
    if not isinstance(answer, Sequence) or isinstance(answer, str):
        raise TypeError("not a list of types")
    return [str(kind) for kind in answer]


def _loose(text: str) -> str:
    return text.strip().lower()

"""Checks for the exercises of lesson 01, Start here.

Two of the checks read the lesson's own server record, so a right answer is
the one that matches what happened in this kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..sealing import NONCE_SIZE, TAG_SIZE
from . import Hint, Verdict, verdict

if TYPE_CHECKING:
    from ..lesson import LessonServer

__all__ = ["caller", "ciphertext_size", "frame_count"]


def frame_count(answer: Any, server: LessonServer) -> Verdict:
    """Check the number of frames the server handled for ``alice``."""
    mine = server.saw("alice")
    read = [seen for seen in mine if seen.direction == "<"]
    return verdict(
        "frames for alice",
        answer,
        lambda a: a == len(mine),
        [
            Hint(
                lambda a: a == len(server.saw()),
                "that counts every user's frames; server.saw() takes a name",
            ),
            Hint(
                lambda a: a == len(read),
                "that counts what the server read from alice; count what it "
                "wrote to her too",
            ),
            Hint(
                lambda a: a == len(mine) - len(read),
                "that counts what the server wrote to alice; count what it "
                "read from her too",
            ),
            Hint(
                lambda a: a == len(server.saw("bob")),
                "that is bob's count; the question is about alice",
            ),
        ],
        otherwise='count the items of server.saw("alice"), e.g. with len()',
    )


def caller(answer: Any, server: LessonServer) -> Verdict:
    """Check who sent the offer, that is who called, as the server saw it."""
    involved = {seen.user for seen in server.saw() if seen.type == "offer"}
    callers = {
        seen.user
        for seen in server.saw()
        if seen.type == "offer" and seen.direction == "<"
    }
    return verdict(
        "who called",
        answer,
        lambda a: {_name(a)} == callers,
        [
            Hint(
                lambda a: _name(a) in involved - callers,
                "the server wrote the offer to that user; who did it read the "
                'offer from? Look at the direction "<"',
            ),
            Hint(
                lambda a: not isinstance(a, str),
                "answer with a name, as a string",
            ),
        ],
        otherwise='look for the frame of type "offer" that the server read '
        '(direction "<"), and at its user',
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
                lambda a: a == size,
                "the sealed message is longer than the text: AES-GCM appends "
                "something to it",
            ),
            Hint(
                lambda a: a == size + TAG_SIZE + NONCE_SIZE,
                "the nonce travels in a field of its own, beside the ciphertext",
            ),
            Hint(
                lambda a: a == size + 8 * TAG_SIZE,
                "the tag is 128 bits long; how many bytes is that?",
            ),
        ],
        otherwise='compare len(text.encode()) with len(sent.data["ciphertext"])',
    )


def _name(answer: Any) -> str:
    if not isinstance(answer, str):
        raise TypeError("a name is a string")
    return answer.strip().lower()

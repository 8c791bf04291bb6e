"""Checks for the exercises of the lesson "Signaling" (02-signaling).

Each exercise has the learner do something with the lesson's own server:
relay a candidate, count frames, read a join, try another room. The checks
judge the answer and, for a wrong one, point at the usual mistake. Names and
error codes are exact text, as the server wrote them: one that differs only
in case, spaces or the kind of dash gets a hint saying so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..lesson import LessonServer
from ..signaling import SignalingClient
from . import Hint, Verdict, loose, verdict

__all__ = ["JOIN_FIELDS", "frames_read", "join_fields", "other_room", "sender"]

#: The fields of a join as the lesson's client sends it.
JOIN_FIELDS = frozenset({"type", "room", "name", "key", "challenge", "signature", "id"})

_SECRETS = ("private", "passphrase", "session", "secret", "pkcs8")


def sender(answer: Any, alice: SignalingClient) -> Verdict:
    """Check the ``from`` field of the candidate that bob relayed to alice.

    Args:
        answer: The learner's answer.
        alice: Alice's signaling client, whose received frames are read now:
            the answer is right only once a candidate has reached her.
    """
    senders = {
        frame.message.get("from")
        for frame in alice.frames
        if frame.direction == "<" and frame.message.get("type") == "candidate"
    }
    return verdict(
        "who sent it",
        answer,
        lambda a: a in senders,
        [
            Hint(
                lambda a: not senders,
                "no candidate has reached alice yet: make bob relay one first, "
                "then wait for it with lesson.arrived(alice, 'candidate')",
            ),
            Hint(
                lambda a: isinstance(a, dict),
                "that is the whole message: give only the value of its 'from' "
                "field, a string",
            ),
            Hint(
                lambda a: a == "alice",
                "alice is the recipient, named in the 'to' field bob sent; the "
                "server takes 'to' off and writes another name in 'from'",
            ),
            Hint(
                lambda a: a == "server",
                "the server writes the field, but the name it writes there is "
                "not its own",
            ),
            Hint(
                lambda a: loose(a, "-") in senders,
                "the right name, but names are exact: write it as the server "
                "wrote it, in the same case and without spaces",
            ),
        ],
        otherwise="read the 'from' field of the message "
        "lesson.arrived(alice, 'candidate') returns",
        praise="right: the server wrote bob's name, which bob could not forge",
    )


def frames_read(answer: Any, server: LessonServer) -> Verdict:
    """Check a count of the frames the server read from alice.

    Args:
        answer: The learner's count.
        server: The lesson's server, whose record is counted now.
    """
    mine = server.saw("alice")
    read = sum(s.direction == "<" for s in mine)
    written = len(mine) - read
    everyone = sum(s.direction == "<" for s in server.saw())

    def count(a: Any) -> bool:
        return isinstance(a, int) and not isinstance(a, bool)

    return verdict(
        "frames read for alice",
        answer,
        lambda a: count(a) and a == read,
        [
            Hint(
                lambda a: not count(a),
                "give a whole number, e.g. the len() of the frames you kept",
            ),
            Hint(
                lambda a: a == len(mine) and written > 0,
                "that counts the frames the server wrote to alice too: the "
                "direction '<' marks what it read",
            ),
            Hint(
                lambda a: a == written,
                "those are the frames the server wrote to alice; '<' marks what "
                "it read, '>' what it wrote",
            ),
            Hint(
                lambda a: a == everyone and everyone != read,
                "that counts every user's frames: server.saw('alice') keeps "
                "alice's only",
            ),
            Hint(
                lambda a: abs(a - read) <= 2,
                "close: count every frame alice sent, the join and the refused "
                "ones included, and count again if you ran more cells since",
            ),
        ],
        otherwise="server.saw('alice') lists alice's frames; each has a direction",
        praise="right: each of them the server read in full",
    )


def join_fields(answer: Any) -> Verdict:
    """Check the names of the fields of alice's join that the server can read."""

    def names(a: Any) -> set[str]:
        if isinstance(a, str) or not isinstance(a, Iterable):
            raise TypeError("not a collection of names")
        return {str(name) for name in a}

    def missing(a: Any) -> set[str]:
        return set(JOIN_FIELDS - names(a))

    return verdict(
        "fields of a join",
        answer,
        lambda a: names(a) == JOIN_FIELDS,
        [
            Hint(
                lambda a: isinstance(a, str) or not isinstance(a, Iterable),
                "give a set of field names, e.g. {'one', 'two'}",
            ),
            Hint(
                lambda a: any(s in n.lower() for n in names(a) for s in _SECRETS),
                "no secret is in a join: the private key only signs, on this "
                "machine, and what travels is the signature",
            ),
            Hint(
                lambda a: "from" in names(a),
                "'from' is written by the server on relayed messages; a join "
                "names its user another way",
            ),
            Hint(
                lambda a: bool(names(a) - JOIN_FIELDS),
                "some of those are not in the join: look at the keys of the "
                "join's message itself, not of the hello or the welcome",
            ),
            Hint(
                lambda a: bool(missing(a) & {"challenge", "signature"}),
                "the server has to read the proof to check it: both halves of it",
            ),
            Hint(
                lambda a: missing(a) == {"id"},
                "one more: the field that lets the client match the server's "
                "reply to its request",
            ),
            Hint(
                lambda a: "type" in missing(a),
                "'type' is a field too, and the first one the server reads",
            ),
        ],
        otherwise="every key of the join's message counts: find the join in "
        "server.saw('alice')",
        praise="right: the server reads all of it, and none of it is secret",
    )


def other_room(answer: Any) -> Verdict:
    """Check the error code carol gets when she looks bob up from another room."""
    return verdict(
        "a lookup across rooms",
        answer,
        lambda a: a == "unknown-peer",
        [
            Hint(
                lambda a: isinstance(a, BaseException),
                "that is the exception: give its code, a string (its .code)",
            ),
            Hint(
                lambda a: loose(a, "-") == "unknown-peer",
                "the right code, but codes are exact: write it as the server "
                "wrote it, in lower case, with hyphens and without spaces",
            ),
            Hint(
                lambda a: isinstance(a, str) and "unknown-peer" in loose(a, "-"),
                "give just the code, the short word in brackets",
            ),
            Hint(
                lambda a: a == "not-joined",
                "carol did join, in a room of her own; the server answers "
                "about the names in her room",
            ),
            Hint(
                lambda a: a == "name-taken",
                "that code refuses a join; carol's join went through, and "
                "then the lookup failed",
            ),
        ],
        otherwise="run carol's lookup of 'bob' inside lesson.shows_error() and "
        "read the code in brackets, or catch the SignalingError and read its .code",
        praise="right: a user in another room does not exist, as far as carol can tell",
    )

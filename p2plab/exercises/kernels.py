"""Checks for the exercises of lesson 08, two kernels.

Each check takes the learner's answer and returns a
:class:`~p2plab.exercises.Verdict`: praise, or a hint that points at the
part of the lesson to look at again.
"""

from __future__ import annotations

from typing import Any

from p2plab_server.protocol import CLOSE_REPLACED

from . import Hint, Verdict, loose, verdict

__all__ = [
    "SEEN_OPTIONS",
    "bot_on_class_server",
    "network_threads",
    "server_saw",
    "takeover_code",
]

#: What exercise 3 offers, by letter: which of these crossed the server?
SEEN_OPTIONS = {
    "a": "the names alice and bob",
    "b": "Alice's public key",
    "c": "the SDP of the offer and of the answer",
    "d": "the session key",
    "e": "the text of Alice's message",
    "f": "the nonce of Alice's message",
}
_SEEN = {"a", "b", "c"}


def network_threads(answer: Any) -> Verdict:
    """Check how many network threads run for a chat between two notebooks."""
    return verdict(
        "network threads for Alice and Bob",
        answer,
        lambda a: a == 2,
        [
            Hint(
                lambda a: a == 1,
                "that is one kernel's: count Alice's kernel and Bob's kernel",
            ),
            Hint(
                lambda a: a == 0,
                "each kernel starts a thread of its own for the network: see "
                "where lesson.run ran in the first section",
            ),
            Hint(
                lambda a: a == 3,
                "the signaling server is not a kernel: it runs in a process, "
                "or on a machine, of its own",
            ),
            Hint(
                lambda a: a == 4,
                "the bot is a process of its own, but Alice and Bob alone need "
                "only their two kernels",
            ),
        ],
        otherwise="one network thread per kernel; how many kernels chat?",
    )


def takeover_code(answer: Any) -> Verdict:
    """Check the close code of a connection that the same key replaced."""
    return verdict(
        "close code when the real Bob takes over",
        answer,
        lambda a: _code(a) == CLOSE_REPLACED,
        [
            Hint(
                lambda a: _code(a) == 1000,
                "1000 is an ordinary close; taking a name over has a code of "
                "the lab's own, in the 4000s",
            ),
            Hint(
                lambda a: _code(a) in (1001, 1006, 1011),
                "that one means a server or a network gone; here the server "
                "chose to close the bot, for a reason of the lab's own",
            ),
            Hint(
                lambda a: _code(a) in range(4000, 5000),
                "the right range; the bot's log and the partner's reason give "
                "the exact code",
            ),
        ],
        otherwise="look at partner.reason after Bob's notebook takes over, or at "
        "'Coming back' in docs/protocol.md",
    )


def server_saw(answer: Any) -> Verdict:
    """Check the set of letters of :data:`SEEN_OPTIONS` that crossed the server."""
    return verdict(
        "what crossed the server",
        answer,
        lambda a: _letters(a) == _SEEN,
        [
            Hint(
                lambda a: isinstance(a, str),
                'that is text: give a set of letters, e.g. {"a", "b"}, with '
                "each letter in quotes",
            ),
            Hint(
                lambda a: "d" in _letters(a),
                "the session key travels wrapped, on the data channel, never "
                "through the server",
            ),
            Hint(
                lambda a: "e" in _letters(a),
                "chat messages travel sealed on the data channel: the server "
                "never sees them, not even sealed",
            ),
            Hint(
                lambda a: "f" in _letters(a),
                "the nonce travels beside the ciphertext, on the data channel",
            ),
            Hint(
                lambda a: "c" not in _letters(a),
                "the server relays the offer and the answer: look for them in "
                "the table of what the server saw",
            ),
            Hint(
                lambda a: not {"a", "b"} <= _letters(a),
                "a join carries a name and a public key, and the server keeps "
                "both in its directory",
            ),
        ],
        otherwise='give a set of letters, e.g. {"a", "b"}',
    )


def bot_on_class_server(answer: Any) -> Verdict:
    """Check the status of a bot asked for on a server that is not this machine."""
    return verdict(
        "the partner bot on a class server",
        answer,
        lambda a: a == "not started",
        [
            Hint(
                lambda a: loose(a) == "not started",
                "the right status; write it as partner.status says it: two "
                "words in lower case, with a space",
            ),
            Hint(
                lambda a: loose(a) == "playing",
                "the teacher's server is not on Alice's laptop: read the rule "
                "about where the bot may join",
            ),
            Hint(
                lambda a: loose(a) in ("declined", "not needed"),
                "that status needs the bot, or the server, to look at the "
                "room; this one is decided before anything is sent",
            ),
        ],
        otherwise="one of the statuses listed in the section on how the bot "
        "steps aside (or in help(bot.PartnerBot))",
    )


def _letters(answer: Any) -> set[str]:
    """Return the letters in an answer given as a set, a list or a tuple."""
    if isinstance(answer, str):
        raise TypeError("a text is not a set of letters")
    return {str(item).strip().lower() for item in answer}


def _code(answer: Any) -> int | None:
    """Return a close code given as a number, else None."""
    if isinstance(answer, int) and not isinstance(answer, bool):
        return answer
    return None

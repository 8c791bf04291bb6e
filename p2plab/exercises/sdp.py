"""Checks for the exercises of the lesson "Offer and answer".

Each check takes the learner's answer and the description the exercise is
about, reads the right value from that description with
:func:`p2plab.sdp.read_sdp`, and compares. The descriptions are new on every
run, so the answers are too: a check never holds a value of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..sdp import read_sdp
from . import Hint, Verdict, verdict

__all__ = [
    "answer_setup",
    "candidate_count",
    "candidate_port",
    "dtls_client",
    "fingerprint_hashes",
    "ice_credentials",
    "sctp_port",
]

# A second description for ice_credentials, so that a function that returns
# the values of this run's offer, written into it by hand, is caught.
_OTHER_SDP = (
    "v=0\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "a=ice-pwd:k9V2mQ7rTz0pLw4sXy8uNc\r\n"
    "a=ice-ufrag:Ab3x\r\n"
)


def _value(sdp: str, field: str) -> str:
    rows = read_sdp(sdp, field)
    return rows[0].value if rows else ""


def _is_int(answer: Any) -> bool:
    return isinstance(answer, int) and not isinstance(answer, bool)


def sctp_port(answer: Any, sdp: str) -> Verdict:
    """Check the SCTP port that ``sdp`` names, as a number."""
    right = int(_value(sdp, "sctp-port"))
    (media,) = read_sdp(sdp, "media")
    udp = int(str(media.get("port")))
    size = _value(sdp, "max-message-size")
    return verdict(
        "the SCTP port",
        answer,
        lambda a: _is_int(a) and a == right,
        [
            Hint(
                lambda a: int(a) == udp,
                "that is the UDP port of the m= line and of the candidate, which "
                "ICE uses; the SCTP port lives inside DTLS, on a line of its own",
            ),
            Hint(
                lambda a: str(a) == size,
                "that is a size in bytes, the largest message, not a port",
            ),
        ],
        otherwise="look for the line that starts with a=sctp-port:",
    )


def candidate_port(answer: Any, offer_sdp: str) -> Verdict:
    """Check the UDP port of the offer's first candidate, as a number."""
    (candidate, *_) = read_sdp(offer_sdp, "candidate")
    right = int(str(candidate.get("port")))
    sctp = _value(offer_sdp, "sctp-port")
    return verdict(
        "the candidate's port",
        answer,
        lambda a: _is_int(a) and a == right,
        [
            Hint(
                lambda a: str(a) == sctp,
                "that is the SCTP port, which lives inside DTLS; the candidate's "
                "UDP port comes right after its address",
            ),
            Hint(
                lambda a: str(a) == candidate.get("priority"),
                "that is the candidate's priority; the port comes after the address",
            ),
            Hint(
                lambda a: str(a) == candidate.get("component"),
                "that is the component; count the fields of the candidate line "
                "again: foundation, component, transport, priority, address, port",
            ),
            Hint(
                lambda a: isinstance(a, str) and ":" in a,
                "give the port alone, as a number",
            ),
        ],
        otherwise=(
            "read the a=candidate line of offer_sdp: the port is the field after "
            "the address; it is new on every run, so read this run's"
        ),
    )


def answer_setup(answer: Any, answer_sdp: str) -> Verdict:
    """Check the value of ``a=setup`` in the answer."""
    right = _value(answer_sdp, "setup")
    return verdict(
        "the answer's setup",
        answer,
        lambda a: a == right,
        [
            Hint(
                lambda a: a.strip() == "actpass",
                "actpass is what an offer says, leaving the role open; an answer "
                "must pick one",
            ),
            Hint(
                lambda a: a.strip().startswith("a=setup:"),
                "give only the word after a=setup:",
            ),
            Hint(
                lambda a: a.strip().lower() == right,
                "write it exactly as the description does, in lower case",
            ),
        ],
        otherwise="read the a=setup line of answer_sdp, not of the offer",
    )


def dtls_client(answer: Any, answer_sdp: str) -> Verdict:
    """Check who opens the DTLS handshake: ``"alice"`` (offer) or ``"bob"`` (answer)."""
    setup = _value(answer_sdp, "setup")
    right = {"active": "bob", "passive": "alice"}.get(setup, "?")
    other = {"bob": "alice", "alice": "bob"}.get(right, "?")
    return verdict(
        "the DTLS client",
        answer,
        lambda a: a.strip().lower() == right,
        [
            Hint(
                lambda a: a.strip().lower() in ("client", "server"),
                "give a name: 'alice' (who made the offer) or 'bob' (who answered)",
            ),
            Hint(
                lambda a: a.strip().lower() == other,
                f"look at the answer's a=setup: {setup} says what the side that "
                "wrote it does. Who wrote the answer?",
            ),
        ],
        otherwise="answer 'alice' or 'bob', from the a=setup line of the answer",
    )


def candidate_count(answer: Any, offer_sdp: str) -> Verdict:
    """Check the number of candidates in the offer."""
    right = len(read_sdp(offer_sdp, "candidate"))
    return verdict(
        "candidates in the offer",
        answer,
        lambda a: _is_int(a) and a == right,
        [
            Hint(
                lambda a: a == right + 1,
                "a=end-of-candidates is not a candidate: it says that none follow",
            ),
            Hint(
                lambda a: a == 2 * right,
                "count the offer's candidates only, not the answer's too",
            ),
            Hint(lambda a: a == 0, "look for lines that start with a=candidate:"),
        ],
        otherwise="count the lines that start with a=candidate:",
    )


def fingerprint_hashes(answer: Any, offer_sdp: str) -> Verdict:
    """Check the names of the hash functions of the offer's fingerprints, in order."""
    right = [
        str(row.get("hash-function")) for row in read_sdp(offer_sdp, "fingerprint")
    ]
    return verdict(
        "the fingerprints' hash functions",
        answer,
        lambda a: not isinstance(a, str) and list(a) == right,
        [
            Hint(
                lambda a: isinstance(a, str) and a in right,
                "that is one of them; there is more than one a=fingerprint line: "
                "give a list of every name, in order",
            ),
            Hint(
                lambda a: any(":" in name for name in a),
                "only the hash function's name, the word before the hex bytes",
            ),
            Hint(
                lambda a: (
                    [n.lower().replace("-", "") for n in a]
                    == [n.replace("-", "") for n in right]
                ),
                "write the names as the description does, e.g. with the dash",
            ),
            Hint(
                lambda a: sorted(a) == sorted(right),
                "the right names; now in the order of the lines",
            ),
        ],
        otherwise="read each a=fingerprint line: the hash function's name comes first",
    )


def ice_credentials(function: Any, sdp: str) -> Verdict:
    """Check a function that returns ``(ufrag, pwd)`` read from an SDP."""
    exercise = "ICE credentials"
    if function is ...:
        return verdict(exercise, ..., bool, otherwise="")
    if callable(function) and _call(function, sdp) is ...:
        return verdict(exercise, ..., bool, otherwise="")
    wanted = {
        text: (_value(text, "ice-ufrag"), _value(text, "ice-pwd"))
        for text in (sdp, _OTHER_SDP)
    }

    def gives(f: Callable[[str], Any], text: str) -> bool:
        return tuple(f(text)) == wanted[text]

    def stripped(f: Callable[[str], Any]) -> tuple[str, ...]:
        return tuple(str(value).strip() for value in f(sdp))

    return verdict(
        exercise,
        function,
        lambda f: gives(f, sdp) and gives(f, _OTHER_SDP),
        [
            Hint(
                lambda f: not callable(f),
                "give the function itself, without calling it: ice_credentials, "
                "not ice_credentials(offer_sdp)",
            ),
            Hint(
                lambda f: _raises(f, sdp) or _raises(f, _OTHER_SDP),
                "your function raised an error: run it on offer_sdp to see which",
            ),
            Hint(
                lambda f: gives(f, sdp),
                "right for this offer, wrong for another one: read the values "
                "from the sdp argument, whatever their order in it",
            ),
            Hint(
                lambda f: str(f(sdp)[0]).startswith("a="),
                "drop the a=ice-ufrag: and a=ice-pwd: in front of the values",
            ),
            Hint(
                lambda f: tuple(f(sdp)) == wanted[sdp][::-1],
                "right values, wrong order: the ufrag first, then the password",
            ),
            Hint(
                lambda f: stripped(f) == wanted[sdp],
                "an SDP's lines end with \\r\\n: splitlines() or strip() the values",
            ),
        ],
        otherwise="return a pair: the values of a=ice-ufrag: and a=ice-pwd:",
    )


def _call(function: Callable[[str], Any], sdp: str) -> Any:
    try:
        return function(sdp)
    except Exception:
        return None


def _raises(function: Callable[[str], Any], sdp: str) -> bool:
    try:
        function(sdp)
    except Exception:
        return True
    return False

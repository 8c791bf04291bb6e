"""Checks for the exercises of the lesson "Offer and answer".

Each check takes the learner's answer and the description the exercise is
about, reads the right value from that description with
:func:`p2plab.sdp.read_sdp`, and compares. The lesson's descriptions are
new on every run, so the answers are too: a check never holds a value of its
own. One exercise reads a description that is the same every time,
:data:`LAPTOP_OFFER`, from a laptop with more interfaces than loopback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..sdp import read_sdp
from . import Hint, Verdict, verdict

__all__ = [
    "LAPTOP_OFFER",
    "answer_setup",
    "candidate_count",
    "candidate_port",
    "dtls_client",
    "fingerprint_hashes",
    "ice_credentials",
    "ports",
]

#: An offer as a laptop on a classroom network might write it: p2plab then
#: offers the address of every interface (Wi-Fi, Ethernet, a container
#: bridge), one candidate each. The addresses are private ones, the values
#: made up; exercise 5 counts its candidates.
LAPTOP_OFFER = (
    "v=0\r\n"
    "o=- 3894412106 3894412106 IN IP4 0.0.0.0\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0\r\n"
    "a=msid-semantic:WMS *\r\n"
    "m=application 50712 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 192.168.1.20\r\n"
    "a=mid:0\r\n"
    "a=sctp-port:5000\r\n"
    "a=max-message-size:262144\r\n"
    "a=candidate:763f66c381c5d500e8c5c873f8c690a9 1 udp 2130706431 "
    "192.168.1.20 50712 typ host\r\n"
    "a=candidate:6d57f083d26f3dff677e5c1e865b4669 1 udp 2130706431 "
    "10.0.0.15 43650 typ host\r\n"
    "a=candidate:76d4ffd04a03a61c8b91580497dd5626 1 udp 2130706431 "
    "172.17.0.1 38915 typ host\r\n"
    "a=end-of-candidates\r\n"
    "a=ice-ufrag:Qm7d\r\n"
    "a=ice-pwd:NxrIQkQ2UeVxWq0lTasfw7\r\n"
    "a=fingerprint:sha-256 63:36:F0:76:05:91:45:8E:30:0A:E7:8F:0E:A2:89:12:"
    "0F:3F:54:D3:B0:B6:0F:2B:8C:E9:77:44:F7:E6:90:AE\r\n"
    "a=setup:actpass\r\n"
)

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


def _whole(answer: Any) -> int | None:
    """The whole number ``answer`` stands for, as every check counts it."""
    if _is_int(answer):
        return int(answer)
    if isinstance(answer, float) and answer.is_integer():
        return int(answer)
    return None


def ports(answer: Any, sdp: str) -> Verdict:
    """Check the pair ``(udp, sctp)``: the port of the m= line and the SCTP port."""
    (media,) = read_sdp(sdp, "media")
    udp = int(str(media.get("port")))
    sctp = int(_value(sdp, "sctp-port"))
    size = int(_value(sdp, "max-message-size") or -1)

    def pair(a: Any) -> tuple[Any, Any]:
        first, second = a
        return first, second

    def numbers(a: Any) -> tuple[int | None, ...]:
        return tuple(_whole(x) for x in pair(a))

    return verdict(
        "the two ports",
        answer,
        lambda a: not isinstance(a, str) and numbers(a) == (udp, sctp),
        [
            Hint(
                lambda a: _is_int(a) and a in (udp, sctp),
                "that is one of the two; give both, as a pair: (udp, sctp)",
            ),
            Hint(
                lambda a: tuple(int(str(x).strip()) for x in pair(a)) == (udp, sctp),
                "both values are right, but text: give them as numbers, without quotes",
            ),
            Hint(
                lambda a: numbers(a) == (sctp, udp),
                "right ports, wrong order: the UDP port first, then the SCTP port",
            ),
            Hint(
                lambda a: size in pair(a),
                f"{size} is a size in bytes, the largest message, not a port",
            ),
            Hint(
                lambda a: numbers(a)[0] == udp,
                "the UDP port is right; the SCTP port has a line of its own",
            ),
            Hint(
                lambda a: numbers(a)[1] == sctp,
                "the SCTP port is right; the UDP port is the second field of the "
                "m= line (it is the candidate's port too), and new on every run",
            ),
        ],
        otherwise=(
            "give a pair of numbers: the port on the m= line of the answer, "
            "then the one on its a=sctp-port: line"
        ),
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
                lambda a: a.strip() == right,
                "strip the spaces: the word alone, with nothing around it",
            ),
            Hint(
                lambda a: a.strip().lower() == right,
                "write it exactly as the description does, in lower case",
            ),
        ],
        otherwise="read the a=setup line of answer_sdp, not of the offer",
        praise=(
            "right: aiortc always answers active, as browsers do"
            if right == "active"
            else "right"
        ),
    )


def dtls_client(answer: Any, answer_sdp: str) -> Verdict:
    """Check who opens the DTLS handshake: ``"alice"`` (offer) or ``"bob"`` (answer)."""
    right = {"active": "bob", "passive": "alice"}.get(_value(answer_sdp, "setup"), "?")
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
                "look at the answer's a=setup line: its word says what the side "
                "that wrote it does (active opens the handshake). Who wrote the "
                "answer?",
            ),
        ],
        otherwise="answer 'alice' or 'bob', from the a=setup line of the answer",
    )


def candidate_count(answer: Any, sdp: str) -> Verdict:
    """Check the number of candidates in ``sdp``, e.g. :data:`LAPTOP_OFFER`."""
    right = len(read_sdp(sdp, "candidate"))
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
                lambda a: a == 1 and right > 1,
                "one is what Alice's offer holds, with the loopback policy; "
                "this description has a candidate for each interface",
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

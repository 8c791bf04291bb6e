"""Worked answers to the exercises of notebooks/03-offer-answer.ipynb.

Each function takes the description its exercise is about and returns what
the exercise cell asks for, read with string methods only, the way the
lesson suggests. The last one is itself the answer: the exercise asks for a
function.
"""

from __future__ import annotations


def _values(sdp: str, prefix: str) -> list[str]:
    """Return what follows ``prefix`` on each line of ``sdp`` that starts with it."""
    return [
        line.removeprefix(prefix)
        for line in sdp.splitlines()
        if line.startswith(prefix)
    ]


def ports(answer_sdp: str) -> tuple[int, int]:
    """The answer's UDP port, second field of the m= line, and its SCTP port."""
    udp = int(_values(answer_sdp, "m=")[0].split()[1])
    sctp = int(_values(answer_sdp, "a=sctp-port:")[0])
    return udp, sctp


def candidate_port(offer_sdp: str) -> int:
    """The UDP port of the offer's candidate: the field after the address."""
    fields = _values(offer_sdp, "a=candidate:")[0].split()
    return int(fields[5])


def answer_setup(answer_sdp: str) -> str:
    """The answer's DTLS setup: aiortc, like browsers, answers ``active``."""
    return _values(answer_sdp, "a=setup:")[0]


def dtls_client(answer_sdp: str) -> str:
    """Who opens the DTLS handshake: the answerer if it said active."""
    return "bob" if answer_setup(answer_sdp) == "active" else "alice"


def candidate_count(sdp: str) -> int:
    """How many a=candidate lines ``sdp`` has; a=end-of-candidates is none.

    The exercise passes the laptop's offer, ``check.LAPTOP_OFFER``: three.
    """
    return len(_values(sdp, "a=candidate:"))


def fingerprint_hashes(offer_sdp: str) -> list[str]:
    """The hash function of each a=fingerprint line, in order."""
    return [value.split()[0] for value in _values(offer_sdp, "a=fingerprint:")]


def ice_credentials(sdp: str) -> tuple[str, str]:
    """Return the ICE username fragment and password of ``sdp``."""
    return _values(sdp, "a=ice-ufrag:")[0], _values(sdp, "a=ice-pwd:")[0]

"""Checks for the exercises of the ICE lesson (``notebooks/04-ice.ipynb``)."""

from __future__ import annotations

from typing import Any

from ..candidate import TYPE_PREFERENCES, join_priority
from ..inspector import Inspector
from . import Hint, Verdict, verdict

__all__ = [
    "MYSTERY_PRIORITY",
    "behind_nat",
    "candidate_type",
    "priority",
    "selected_port",
]

#: The priority exercise 1 gives: a peer-reflexive candidate's, with local
#: preference 65535 on component 1. No cell of the lesson prints it.
MYSTERY_PRIORITY = join_priority(TYPE_PREFERENCES["prflx"], 65535, 1)

# Exercise 2: a srflx candidate on a second interface, local preference
# 65534, so that the srflx line the lesson reads (65535) is not the answer.
_SECOND_SRFLX = join_priority(TYPE_PREFERENCES["srflx"], 65534, 1)

_TYPE_NAMES = {
    "host": "host",
    "prflx": "prflx",
    "peer-reflexive": "prflx",
    "peer reflexive": "prflx",
    "srflx": "srflx",
    "server-reflexive": "srflx",
    "server reflexive": "srflx",
    "relay": "relay",
}


def _type_name(answer: Any) -> str | None:
    return _TYPE_NAMES.get(answer.strip().lower()) if isinstance(answer, str) else None


def candidate_type(answer: Any) -> Verdict:
    """Check the type of a candidate whose priority is :data:`MYSTERY_PRIORITY`."""
    preference = MYSTERY_PRIORITY >> 24
    return verdict(
        "type of the candidate",
        answer,
        lambda a: _type_name(a) == "prflx",
        [
            Hint(
                lambda a: a == preference,
                f"{preference} is its type preference, right; now give the name "
                "of that type, from the table of type preferences",
            ),
            Hint(
                lambda a: isinstance(a, int),
                "give the type's name, such as 'host', not a number",
            ),
            Hint(
                lambda a: _type_name(a) is not None,
                "not that one: the type preference is the top 8 bits of the "
                "priority, priority >> 24; which type has it?",
            ),
        ],
        otherwise="name one of the four types: host, srflx, prflx or relay",
    )


def priority(answer: Any) -> Verdict:
    """Check the priority of a srflx candidate, local preference 65534, component 1."""
    return verdict(
        "priority from its parts",
        answer,
        lambda a: isinstance(a, int) and a == _SECOND_SRFLX,
        [
            Hint(
                lambda a: a == join_priority(100, 65535, 1),
                "that is the priority with local preference 65535, as in the "
                "srflx line of the lesson; this candidate has 65534",
            ),
            Hint(
                lambda a: a in (join_priority(126, 65534, 1), 2130706431),
                "that is the priority of a host candidate; use the type "
                "preference of srflx",
            ),
            Hint(
                lambda a: a == join_priority(110, 65534, 1),
                "110 is the type preference of prflx, not srflx",
            ),
            Hint(
                lambda a: a == (100 << 24) + (65534 << 8) + 1,
                "the last part is 256 minus the component, not the component",
            ),
            Hint(
                lambda a: a == 100 + 65534 + 255,
                "the parts are not simply added: the type preference is "
                "multiplied by 2**24 and the local preference by 2**8",
            ),
        ],
        otherwise="priority = 2**24 * type preference + 2**8 * local preference "
        "+ (256 - component)",
    )


def selected_port(answer: Any, inspector: Inspector) -> Verdict:
    """Check the port of Bob's side of the pair the lesson's connection selected.

    Args:
        answer: A port number, or ``"address:port"``.
        inspector: The lesson's inspector on Alice's connection.
    """
    snap = inspector.snapshot()
    chosen = snap.selected.remote.port if snap.selected else None
    unselected = {p.remote.port for p in snap.pairs if not p.selected}
    alices = {c.port for c in snap.local}
    return verdict(
        "port of the selected pair",
        answer,
        lambda a: chosen is not None and _port(a) == chosen,
        [
            Hint(
                lambda a: chosen is None,
                "no pair is selected yet: run the cells of the section on "
                "pairs and checks first",
            ),
            Hint(
                lambda a: _port(a) in unselected,
                "that pair was never selected: look at the selected column of "
                "the check list",
            ),
            Hint(
                lambda a: _port(a) in alices,
                "that is Alice's own port, the left side of the pair; the "
                "question asks for Bob's side",
            ),
            Hint(
                lambda a: _port(a) is None,
                "give the port as a number, or as address:port",
            ),
        ],
        otherwise="read the pair marked selected in the check list, and take "
        "the port on the right of the arrow",
    )


def behind_nat(answer: Any) -> Verdict:
    """Check the candidate type two laptops behind two home routers need."""
    names = {"srflx", "server-reflexive", "server reflexive"}
    return verdict(
        "candidates behind NAT",
        answer,
        lambda a: str(a).strip().lower() in names,
        [
            Hint(
                lambda a: str(a).strip().lower() == "host",
                "a host address behind a home router is private: the other "
                "laptop, behind its own router, cannot reach it",
            ),
            Hint(
                lambda a: str(a).strip().lower() == "relay",
                "a relay works too, but a TURN server then carries every "
                "packet; which type is enough when each router keeps one "
                "public mapping per socket?",
            ),
            Hint(
                lambda a: str(a).strip().lower() == "prflx",
                "peer-reflexive candidates are discovered during the checks, "
                "not gathered; which type does a STUN server give?",
            ),
        ],
        otherwise="name one of the four types: host, srflx, prflx or relay",
    )


def _port(answer: Any) -> int | None:
    """Return the port of an answer given as a number or as ``address:port``."""
    if isinstance(answer, int) and not isinstance(answer, bool):
        return answer
    text = str(answer).strip().rsplit(":", 1)[-1]
    return int(text) if text.isdigit() else None

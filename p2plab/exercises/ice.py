"""Checks for the exercises of the ICE lesson (``notebooks/04-ice.ipynb``)."""

from __future__ import annotations

from typing import Any

from ..candidate import TYPE_PREFERENCES, join_priority
from ..inspector import Inspector
from . import Hint, Verdict, verdict

__all__ = ["behind_nat", "priority", "selected_port", "type_preference"]

_SRFLX_PRIORITY = join_priority(TYPE_PREFERENCES["srflx"], 65535, 1)


def type_preference(answer: Any) -> Verdict:
    """Check the type preference of a server-reflexive (srflx) candidate."""
    return verdict(
        "type preference of srflx",
        answer,
        lambda a: a == 100,
        [
            Hint(lambda a: a == 126, "126 is the preference of a host candidate"),
            Hint(lambda a: a == 110, "110 is for peer-reflexive (prflx) candidates"),
            Hint(lambda a: a == 0, "0 is for relay candidates, the last resort"),
            Hint(
                lambda a: isinstance(a, int) and a > 255,
                "that looks like a whole priority; the type preference is only "
                "its top 8 bits",
            ),
        ],
        otherwise="look at the table of type preferences in the section on "
        "priorities, or at c.parts of a candidate",
    )


def priority(answer: Any) -> Verdict:
    """Check the priority of a srflx candidate, local preference 65535, component 1."""
    return verdict(
        "priority from its parts",
        answer,
        lambda a: isinstance(a, int) and a == _SRFLX_PRIORITY,
        [
            Hint(
                lambda a: a == join_priority(126, 65535, 1),
                "that is the priority of a host candidate; use the type "
                "preference of srflx",
            ),
            Hint(
                lambda a: a == join_priority(110, 65535, 1),
                "110 is the type preference of prflx, not srflx",
            ),
            Hint(
                lambda a: a == (100 << 24) + (65535 << 8) + 1,
                "the last part is 256 minus the component, not the component",
            ),
            Hint(
                lambda a: a == 100 + 65535 + 255,
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

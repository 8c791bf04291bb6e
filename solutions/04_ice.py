"""Worked answers to the exercises of the ICE lesson (04-ice.ipynb)."""

from __future__ import annotations

from p2plab.candidate import TYPE_PREFERENCES
from p2plab.inspector import Inspector


def candidate_type(priority: int) -> str:
    """The type whose preference is the top 8 bits of ``priority``.

    The exercise gives ``check.MYSTERY_PRIORITY``, 1862270975: 110, prflx.
    """
    preference = priority >> 24
    return next(name for name, p in TYPE_PREFERENCES.items() if p == preference)


def priority() -> int:
    """srflx (100), local preference 65534 (a second interface), component 1."""
    return 2**24 * 100 + 2**8 * 65534 + (256 - 1)


def selected_port(inspector: Inspector) -> int:
    """Bob's port in the pair ICE selected: the right side of the arrow."""
    selected = inspector.snapshot().selected
    assert selected is not None, "run the lesson's pairs section first"
    return selected.remote.port


def behind_nat() -> str:
    """Behind two home routers each side needs the public address its router gave."""
    return "srflx"

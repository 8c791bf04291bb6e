"""Worked answers to the exercises of the ICE lesson (04-ice.ipynb)."""

from __future__ import annotations

from p2plab.inspector import Inspector


def type_preference() -> int:
    """A server-reflexive candidate ranks below host and prflx, above relay."""
    return 100


def priority() -> int:
    """srflx (100), local preference 65535, component 1."""
    return 2**24 * 100 + 2**8 * 65535 + (256 - 1)


def selected_port(inspector: Inspector) -> int:
    """Bob's port in the pair ICE selected: the right side of the arrow."""
    selected = inspector.snapshot().selected
    assert selected is not None, "run the lesson's pairs section first"
    return selected.remote.port


def behind_nat() -> str:
    """Behind two home routers each side needs the public address its router gave."""
    return "srflx"

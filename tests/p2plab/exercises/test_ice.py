"""The ICE lesson's exercise checks: worked answers pass, typical mistakes get hints."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from p2plab import Peer
from p2plab.exercises import ice as check
from p2plab.inspector import Inspector

from .conftest import load_solutions

solutions = load_solutions("04_ice")

#: Where nothing listens: a pair with it is made, but never selected.
SILENT = "a=candidate:silent 1 udp 2130706431 127.0.0.1 9 typ host"


@pytest.fixture
async def watched() -> AsyncIterator[Inspector]:
    """An inspector on Alice, connected to Bob with one extra silent candidate."""
    alice = Peer(ice_servers=[], policy="loopback")
    bob = Peer(ice_servers=[], policy="loopback")
    answer = await bob.accept_offer(await alice.create_offer())
    inspector = Inspector(alice, name="alice")
    await alice.accept_answer(answer.replace("a=candidate:", SILENT + "\r\na=", 1))
    await alice.opened(10)
    yield inspector
    await alice.close()
    await bob.close()


def test_the_worked_answers_pass() -> None:
    """Each worked answer that needs no connection passes its check."""
    assert check.candidate_type(solutions.candidate_type(check.MYSTERY_PRIORITY))
    assert solutions.candidate_type(check.MYSTERY_PRIORITY) == "prflx"
    assert check.priority(solutions.priority())
    assert check.behind_nat(solutions.behind_nat())


async def test_the_selected_port_answer_passes(watched: Inspector) -> None:
    """The worked answer reads the selected pair, as a number or address:port."""
    port = solutions.selected_port(watched)
    assert check.selected_port(port, watched)
    assert check.selected_port(f"127.0.0.1:{port}", watched)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (110, "now give the name"),
        (1862270975, "not a number"),
        ("srflx", "priority >> 24"),
        ("host", "priority >> 24"),
        ("stun", "one of the four types"),
    ],
)
def test_candidate_type_hints(answer: object, hint: str) -> None:
    """The preference instead of the name, a number or another type get a hint."""
    result = check.candidate_type(answer)
    assert not result and hint in result.message


def test_candidate_type_takes_the_long_names() -> None:
    """The long name peer-reflexive, in any case, with spaces around, counts too."""
    assert check.candidate_type(" Peer-reflexive")
    assert check.candidate_type("PRFLX")


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (1694498815, "this candidate has 65534"),
        (2130706431, "host candidate"),
        (2130706175, "host candidate"),
        (1862270719, "prflx"),
        ((100 << 24) + (65534 << 8) + 1, "256 minus the component"),
        (100 + 65534 + 255, "multiplied by 2**24"),
        (12345, "priority = 2**24"),
    ],
)
def test_priority_hints(answer: object, hint: str) -> None:
    """Typical slips in the formula get the hint about that slip."""
    result = check.priority(answer)
    assert not result and hint in result.message


async def test_selected_port_hints(watched: Inspector) -> None:
    """The silent pair, Alice's own port and a non-number each get their hint."""
    alice_port = watched.snapshot().local[0].port
    assert "never selected" in check.selected_port(9, watched).message
    assert "Alice's own port" in check.selected_port(alice_port, watched).message
    assert "as a number" in check.selected_port("the good one", watched).message
    assert not check.selected_port(..., watched).tried


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ("host", "private"),
        ("relay", "TURN server"),
        ("prflx", "discovered during the checks"),
        ("stun", "one of the four types"),
    ],
)
def test_behind_nat_hints(answer: str, hint: str) -> None:
    """Each wrong type gets a hint about why it is not the one."""
    result = check.behind_nat(answer)
    assert not result and hint in result.message


def test_answers_left_as_placeholders_are_not_tried_yet() -> None:
    """With ... left in place, every check says "not tried yet"."""
    for result in (
        check.candidate_type(...),
        check.priority(...),
        check.behind_nat(...),
    ):
        assert not result.tried


def test_a_whole_float_priority_counts() -> None:
    """The right priority written as a float counts, as in every check."""
    assert check.priority(1694498559.0)

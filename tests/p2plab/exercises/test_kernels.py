"""Lesson 08's exercise checks: the worked solutions pass, wrong answers get hints."""

from __future__ import annotations

import pytest

from p2plab.exercises import AS_TEXT
from p2plab.exercises import kernels as check

from .conftest import load_solutions

solutions = load_solutions("08_two_kernels")


@pytest.mark.parametrize(
    "name",
    ["network_threads", "takeover_code", "server_saw", "bot_on_class_server"],
)
def test_each_solution_passes_its_check(name: str) -> None:
    """The worked answer to each exercise gets a tick."""
    result = getattr(check, name)(getattr(solutions, name)())
    assert result, str(result)
    assert str(result).startswith("✓ ")


@pytest.mark.parametrize(
    "name",
    ["network_threads", "takeover_code", "server_saw", "bot_on_class_server"],
)
def test_the_placeholder_is_not_tried_yet(name: str) -> None:
    """An answer left as ``...`` is neither right nor wrong."""
    result = getattr(check, name)(...)
    assert not result and not result.tried


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (1, "count Alice's kernel and Bob's kernel"),
        (0, "a thread of its own for the network"),
        (3, "the signaling server is not a kernel"),
        ("two", "one network thread per kernel"),
    ],
)
def test_network_threads_hints(answer: object, hint: str) -> None:
    """Counting one kernel, none, or the server too gets its own hint."""
    assert hint in check.network_threads(answer).message


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (1000, "an ordinary close"),
        (1006, "a server or a network gone"),
        (4000, "the right range"),
        (None, "docs/protocol.md"),
    ],
)
def test_takeover_code_hints(answer: object, hint: str) -> None:
    """Standard close codes, and near misses, get hints, not the code."""
    message = check.takeover_code(answer).message
    assert hint in message and "4001" not in message


def test_takeover_code_as_text_is_refused_kindly() -> None:
    """The code written as text gets the hint that it should be a number."""
    assert check.takeover_code("4001").message == AS_TEXT


def test_takeover_code_is_a_whole_number() -> None:
    """The code as a whole float counts; a fraction near it does not."""
    assert check.takeover_code(4001.0)
    assert not check.takeover_code(4001.5)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ({"a", "b", "c", "d"}, "the session key travels wrapped"),
        ({"a", "b", "c", "e"}, "chat messages travel sealed"),
        (["a", "b", "c", "f"], "the nonce travels beside the ciphertext"),
        ({"a", "b"}, "the server relays the offer and the answer"),
        ({"c"}, "a join carries a name and a public key"),
        (42, "give a set of letters"),
    ],
)
def test_server_saw_hints(answer: object, hint: str) -> None:
    """Each secret wrongly counted, and each public thing missed, has its hint."""
    assert hint in check.server_saw(answer).message


def test_server_saw_reads_letters_in_any_collection() -> None:
    """A set, a list or a tuple, in any case, are read alike."""
    for answer in ({"a", "b", "c"}, ["C", "b", "a"], ("a", "b", "c")):
        assert check.server_saw(answer)


@pytest.mark.parametrize("answer", ["abc", "a, b, c", "a b c e", "d"])
def test_server_saw_asks_for_a_set_when_given_text(answer: str) -> None:
    """Letters written as one text, right or wrong, get "give a set", not content."""
    result = check.server_saw(answer)
    assert not result
    assert result.message.startswith("that is text: give a set of letters")


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ("playing", "read the rule about where the bot may join"),
        ("declined", "decided before anything is sent"),
        ("not needed", "decided before anything is sent"),
        ("Not_Started", "write it as partner.status says it"),
        ("not-started", "write it as partner.status says it"),
        ("stopped", "how the bot steps aside"),
        (None, "how the bot steps aside"),
    ],
)
def test_bot_on_class_server_hints(answer: object, hint: str) -> None:
    """Other statuses get hints that say why not."""
    assert hint in check.bot_on_class_server(answer).message

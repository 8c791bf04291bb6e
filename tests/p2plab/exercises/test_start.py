"""The checks of lesson 01 (Start here): the solutions pass, mistakes get hints."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from p2plab import Event, lesson
from p2plab.exercises import NOT_TRIED
from p2plab.exercises import start as check
from p2plab.lesson import LessonServer

from .conftest import load_solutions

solutions = load_solutions("01_start_here")
TEXT = "Grüße zurück!"


@dataclass
class Run:
    """What the lesson's cells leave behind: the server, and Bob's message."""

    server: LessonServer
    sent: Event


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    """A lesson server that saw Alice and Bob connect, and Bob send one message."""
    lesson.reset()
    server = lesson.start_server()
    alice, bob = lesson.run(lesson.chat_pair(server))
    sent = lesson.run(bob.send(TEXT))
    lesson.run(lesson.received(alice))
    yield Run(server, sent)
    lesson.reset()


@pytest.fixture
def server(run: Run) -> LessonServer:
    """The server of that run."""
    return run.server


def test_solutions_pass_their_checks(server: LessonServer) -> None:
    """The worked answer to each exercise gets a passing verdict."""
    assert check.frame_count(solutions.frame_count(server), server)
    assert check.caller(solutions.caller(server), server)
    assert check.ciphertext_size(solutions.ciphertext_size(TEXT), TEXT)


def test_the_caller_is_the_one_who_arrived_second(server: LessonServer) -> None:
    """In chat_pair Bob arrives second and calls, so he is the caller."""
    assert solutions.caller(server) == "bob"


def test_the_placeholder_is_not_tried_yet(server: LessonServer) -> None:
    """Every check says "not tried yet" to the placeholder ``...``."""
    for result in (
        check.frame_count(..., server),
        check.caller(..., server),
        check.ciphertext_size(..., TEXT),
    ):
        assert not result and not result.tried and result.message == NOT_TRIED


def test_frame_count_hints(server: LessonServer) -> None:
    """Counting everyone, one direction only, or bob gets its own hint."""
    read = sum(1 for s in server.saw("alice") if s.direction == "<")
    attempts = {
        len(server.saw()): "every user's frames",
        read: "count what it wrote to her too",
        len(server.saw("alice")) - read: "count what it read from her too",
        "eight": "count the items",
    }
    for answer, hint in attempts.items():
        result = check.frame_count(answer, server)
        assert not result and hint in result.message, answer


def test_frame_count_hint_for_bob(server: LessonServer) -> None:
    """Bob's count (he never gets a "joined" frame) is named as Bob's."""
    result = check.frame_count(len(server.saw("bob")), server)
    assert not result and "bob's count" in result.message


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ("alice", "who did it read the offer from"),
        (1, "answer with a name"),
        ("eve", "look for the frame of type"),
    ],
)
def test_caller_hints(answer: Any, hint: str, server: LessonServer) -> None:
    """Naming the recipient of the offer, or no name at all, gets a hint."""
    result = check.caller(answer, server)
    assert not result and hint in result.message


def test_caller_ignores_case_and_spaces(server: LessonServer) -> None:
    """ " Bob " and "BOB" are the same name as "bob"."""
    assert check.caller(" Bob ", server) and check.caller("BOB", server)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (len(TEXT) + 16, "count bytes, not characters"),
        (len(TEXT.encode()), "appends something"),
        (len(TEXT.encode()) + 28, "the nonce travels in a field of its own"),
        (len(TEXT.encode()) + 128, "128 bits"),
        (3, "compare len(text.encode())"),
    ],
)
def test_ciphertext_size_hints(answer: int, hint: str) -> None:
    """Characters for bytes, a missing tag, the nonce counted in: each has a hint."""
    result = check.ciphertext_size(answer, TEXT)
    assert not result and hint in result.message


def test_ciphertext_size_matches_a_real_message(run: Run) -> None:
    """The size the check expects is the size of the ciphertext Bob really sent."""
    assert check.ciphertext_size(len(run.sent.data["ciphertext"]), TEXT)

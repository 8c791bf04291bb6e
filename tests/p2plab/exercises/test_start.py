"""The checks of lesson 01 (Start here): the solutions pass, mistakes get hints."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from p2plab import Event, lesson
from p2plab.exercises import AS_TEXT, NOT_TRIED
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
    assert check.byte_count(solutions.byte_count(server), server)
    assert check.written_to_bob(solutions.written_to_bob(server), server)
    assert check.ciphertext_size(solutions.ciphertext_size(TEXT), TEXT)


def test_the_server_wrote_four_frames_to_the_caller(server: LessonServer) -> None:
    """Bob, the caller, got the hello, the welcome, the key he asked for, the answer."""
    assert solutions.written_to_bob(server) == ["hello", "welcome", "key", "answer"]


def test_the_placeholder_is_not_tried_yet(server: LessonServer) -> None:
    """Every check says "not tried yet" to the placeholder ``...``."""
    for result in (
        check.byte_count(..., server),
        check.written_to_bob(..., server),
        check.ciphertext_size(..., TEXT),
    ):
        assert not result and not result.tried and result.message == NOT_TRIED


def test_byte_count_hints(server: LessonServer) -> None:
    """Counting frames, everyone, one direction only, or bob gets its own hint."""
    mine = server.saw("alice")
    read = sum(s.size for s in mine if s.direction == "<")
    total = sum(s.size for s in mine)
    attempts = {
        len(mine): "the number of frames",
        sum(s.size for s in server.saw()): "every user's bytes",
        read: "add what it wrote to her",
        total - read: "add what it read from her",
        sum(s.size for s in server.saw("bob")): "bob's total",
        "many": "add up the .size",
        str(total): AS_TEXT,
    }
    for answer, hint in attempts.items():
        result = check.byte_count(answer, server)
        assert not result and hint in result.message, answer


def test_byte_count_takes_a_whole_float(server: LessonServer) -> None:
    """The total written as a float counts, as every check counts numbers."""
    assert check.byte_count(float(solutions.byte_count(server)), server)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ("hello welcome key answer", "give a list"),
        ({"hello", "welcome", "key", "answer"}, "give a list"),
        (["join", "lookup", "offer"], "read from bob"),
        (["hello", "join", "welcome", "lookup", "key", "offer", "answer"], "every"),
        (["hello", "welcome", "joined", "offer", "key"], "wrote to alice"),
        (["Hello", "welcome", "Key ", "answer"], "types are exact"),
        (["hello", "welcome", "answer", "key"], "wrong order"),
        (["welcome", "key", "answer"], "some are missing"),
        (["offer"], 'direction is ">"'),
    ],
)
def test_written_to_bob_hints(answer: Any, hint: str, server: LessonServer) -> None:
    """The other direction or user, a set, a slip of case or order: a hint each."""
    result = check.written_to_bob(answer, server)
    assert not result and hint in result.message


def test_written_to_bob_takes_a_tuple(server: LessonServer) -> None:
    """Any sequence in the right order passes, a tuple as well as a list."""
    assert check.written_to_bob(("hello", "welcome", "key", "answer"), server)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (len(TEXT) + 16, "count bytes, not characters"),
        (len(TEXT), "the number of characters"),
        (len(TEXT.encode()), "appends something"),
        (len(TEXT.encode()) + 12, "the nonce (12 bytes) travels"),
        (len(TEXT.encode()) + 28, "the nonce (12 bytes) travels"),
        (len(TEXT.encode()) + 128, "128 bits"),
        (46, "alice's message"),
        (3, "compare len(text.encode())"),
        ("32", AS_TEXT),
    ],
)
def test_ciphertext_size_hints(answer: Any, hint: str) -> None:
    """Characters for bytes, a missing tag, the nonce counted in: each has a hint."""
    result = check.ciphertext_size(answer, TEXT)
    assert not result and hint in result.message


def test_ciphertext_size_matches_a_real_message(run: Run) -> None:
    """The size the check expects is the size of the ciphertext Bob really sent."""
    assert check.ciphertext_size(len(run.sent.data["ciphertext"]), TEXT)

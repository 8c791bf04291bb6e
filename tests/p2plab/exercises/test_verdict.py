"""The exercise checks' verdicts: praise, hints, and the untried placeholder."""

from __future__ import annotations

from p2plab.exercises import AS_TEXT, ITERATOR, NOT_TRIED, TOO_MANY, Hint, verdict


def check(answer: object) -> object:
    return verdict(
        "tag size",
        answer,
        lambda a: a == 16,
        [Hint(lambda a: a == 128, "that is in bits; the answer is in bytes")],
        otherwise="count the bytes that seal() adds to the plaintext",
    )


def test_right_answer_is_praised() -> None:
    """A right answer gives a passing verdict with a tick."""
    result = check(16)
    assert result and str(result) == "✓ tag size: right"


def test_wrong_answer_gets_the_fitting_hint() -> None:
    """A wrong answer that a hint fits gets that hint, not the answer."""
    result = check(128)
    assert not result
    assert str(result) == "✗ tag size: that is in bits; the answer is in bytes"


def test_other_wrong_answers_get_the_general_hint() -> None:
    """A wrong answer of any type, even one that breaks the test, gets the hint."""
    for answer in (12, "sixteen", None, object()):
        assert (
            check(answer).message == "count the bytes that seal() adds to the plaintext"
        )


def test_placeholder_is_not_tried_yet() -> None:
    """The placeholder ``...`` is neither right nor wrong: it is not tried yet."""
    result = check(...)
    assert not result and not result.tried
    assert result.message == NOT_TRIED
    assert str(result).startswith("· tag size: not tried yet")


def test_numbers_are_judged_the_same_in_every_check() -> None:
    """A whole float counts as its int; the right number as text gets one hint."""
    assert check(16.0)
    assert check(" 16 ").message == AS_TEXT
    assert check("16.0").message == AS_TEXT
    assert not check(16.5) and not check("nan") and not check("1e999")
    assert check("128").message == "count the bytes that seal() adds to the plaintext"


def test_endless_or_huge_answers_get_a_hint_at_once() -> None:
    """An iterator, or a collection too big for any exercise, is refused unread."""
    import itertools

    assert check(itertools.count()).message == ITERATOR
    assert check(x for x in [16]).message == ITERATOR
    assert check(range(10**12)).message.endswith(TOO_MANY)
    assert (
        check(range(3)).message == "count the bytes that seal() adds to the plaintext"
    )

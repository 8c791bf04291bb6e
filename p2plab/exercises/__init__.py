"""Exercise checks: a verdict with a hint, never the answer.

Each lesson's exercises have a module here, named after the lesson's
topic, with one check per exercise. A notebook imports the lesson's module
and passes the learner's answer to a check::

    from p2plab.exercises import sealing as check
    answer = ...  # your answer here
    check.tag_size(answer)

A check returns a :class:`Verdict`, shown as one line: ``✓`` with a word of
praise, or a hint about what to look at next. Every check treats numbers
the same way: a whole number written as a float (``512.0``) counts as that
number, and a number written as text (``"512"``) is refused, with a hint
saying that the value is right but should be a number. An answer left as ``...``
(the placeholder) is "not tried yet", so that Run All goes through a lesson
whose exercises are still open. A check never raises on a wrong answer,
whatever its type: a learner's mistake is not an error.

The worked answers live outside the lessons, in the repository's
``solutions/`` folder, one file per lesson.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence, Sized
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AS_TEXT",
    "ITERATOR",
    "MAX_ITEMS",
    "NOT_TRIED",
    "TOO_MANY",
    "Hint",
    "Verdict",
    "loose",
    "verdict",
]

#: What a check says of an answer still left as the placeholder ``...``.
NOT_TRIED = "not tried yet: replace the ... with your answer and run the cell again"

#: What a check says of an iterator or generator: it could run forever.
ITERATOR = "that is an iterator: give a list, a set or a value, e.g. list(...)"

#: The most items a check looks at in a collection, and what it says beyond.
MAX_ITEMS = 100_000
TOO_MANY = "no answer here needs that many; look again at what is asked"

#: What a check says of the right number given as text.
AS_TEXT = "the value is right, but it is text: give it as a number, without quotes"


@dataclass(frozen=True)
class Verdict:
    """What a check made of an answer.

    Attributes:
        exercise: The exercise, in a few words.
        passed: True if the answer is right.
        message: Praise, a hint, or :data:`NOT_TRIED`.
        tried: False while the answer is still the placeholder ``...``.
    """

    exercise: str
    passed: bool
    message: str
    tried: bool = True

    def __str__(self) -> str:
        mark = "✓" if self.passed else ("·" if not self.tried else "✗")
        return f"{mark} {self.exercise}: {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def __bool__(self) -> bool:
        return self.passed


@dataclass(frozen=True)
class Hint:
    """A hint, given when its test holds for a wrong answer.

    Attributes:
        applies: Called with the answer; True if this hint fits it. An
            exception raised here counts as False.
        text: The hint.
    """

    applies: Callable[[Any], bool]
    text: str


def verdict(
    exercise: str,
    answer: Any,
    right: Callable[[Any], bool],
    hints: Sequence[Hint] = (),
    *,
    otherwise: str,
    praise: str = "right",
) -> Verdict:
    """Judge ``answer`` and pick the first hint that fits a wrong one.

    Args:
        exercise: The exercise, in a few words, shown first.
        answer: What the learner gave; ``...`` when not tried yet.
        right: Called with the answer; True if it is right. An exception
            raised here (a wrong type, say) counts as a wrong answer.
        hints: Tried in order on a wrong answer; the first that applies is
            shown.
        otherwise: The hint for a wrong answer that no hint fits.
        praise: What a right answer hears.

    Returns:
        The verdict.
    """
    if answer is ...:
        return Verdict(exercise, False, NOT_TRIED, tried=False)
    if isinstance(answer, Iterator):
        return Verdict(exercise, False, ITERATOR)
    if (
        isinstance(answer, Sized)
        and not isinstance(answer, str | bytes)
        and len(answer) > MAX_ITEMS
    ):
        return Verdict(exercise, False, f"that holds {len(answer):,} items: {TOO_MANY}")
    number = _number(answer)
    if isinstance(answer, str) and number is not None and _holds(right, number):
        return Verdict(exercise, False, AS_TEXT)
    if _holds(right, answer) or (
        isinstance(answer, float) and number is not None and _holds(right, number)
    ):
        return Verdict(exercise, True, praise)
    for hint in hints:
        if _holds(hint.applies, answer):
            return Verdict(exercise, False, hint.text)
    return Verdict(exercise, False, otherwise)


def loose(answer: Any, sep: str = " ") -> str:
    """Return a text as a slip might write it, made comparable.

    Any case, spaces around, and ``_``, ``-`` or spaces between the words
    all give the same result: the words in lower case, joined by ``sep``.
    Anything but a text gives ``""``.
    """
    if not isinstance(answer, str):
        return ""
    words = answer.lower().replace("_", " ").replace("-", " ").split()
    return sep.join(words)


def _holds(test: Callable[[Any], bool], answer: Any) -> bool:
    try:
        return bool(test(answer))
    except Exception:
        return False


def _number(answer: Any) -> int | float | None:
    """The number a text or a float stands for, ints for whole numbers."""
    if isinstance(answer, str):
        try:
            value = float(answer.strip().replace("_", ""))
        except ValueError:
            return None
    elif isinstance(answer, float):
        value = answer
    else:
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return int(value) if value.is_integer() else value

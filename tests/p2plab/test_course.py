"""Tests for p2plab.course: the six steps and the map of their lessons."""

from __future__ import annotations

import re

import pytest

from p2plab.course import STEPS, TWO_KERNELS, CourseMap

LESSONS = [
    "02-signaling",
    "03-offer-answer",
    "04-ice",
    "05-rsa-identities",
    "06-key-wrapping",
    "07-aes-gcm",
]


def test_steps_are_numbered_in_lesson_order() -> None:
    """Steps 1 to 6 point at lessons 02 to 07, and lesson 08 comes after them."""
    assert [step.number for step in STEPS] == [1, 2, 3, 4, 5, 6]
    assert [step.lesson for step in STEPS] == LESSONS
    assert TWO_KERNELS == "08-two-kernels"


def test_text_form_has_a_line_per_step_and_is_stable() -> None:
    """The text form names every step, route and lesson, the same every time."""
    lines = repr(CourseMap()).splitlines()

    assert len(lines) == 1 + len(STEPS) + 1
    for line, step in zip(lines[1:], STEPS, strict=False):
        assert line.startswith(f"  {step.number}. {step.name}")
        assert step.route in line and line.endswith(step.lesson)
    assert lines[-1].endswith(TWO_KERNELS)
    assert len({line.rfind(" ") for line in lines[1:]}) == 1, "lessons line up"
    assert repr(CourseMap()) == repr(CourseMap())


def test_here_marks_one_step() -> None:
    """The current step is marked in the text and highlighted in the table."""
    course = CourseMap(here=6)

    marked = [line for line in repr(course).splitlines() if line.startswith("▶")]
    assert len(marked) == 1 and "AES-GCM chat" in marked[0]
    assert course._repr_html_().count("background") == 1
    assert "background" not in CourseMap()._repr_html_()


@pytest.mark.parametrize("here", [0, 7, 8])
def test_here_must_be_a_step(here: int) -> None:
    """A step number outside 1-6 is refused with the range."""
    with pytest.raises(ValueError, match="numbered 1 to 6"):
        CourseMap(here=here)


def test_table_links_every_lesson_in_order() -> None:
    """The HTML table links the lessons 02 to 08, relative to the notebooks folder."""
    links = re.findall(r"href='([^']+)'", CourseMap()._repr_html_())
    assert links == [f"{lesson}.ipynb" for lesson in [*LESSONS, TWO_KERNELS]]

"""The course at a glance: the six steps of a chat, and the lesson for each.

A chat in p2plab goes through six steps, from a server that introduces two
people to messages that only those two can read. Each step has a lesson of
its own (02 to 07), and lesson 08 runs them all between two kernels, the
way ``alice.ipynb`` and ``bob.ipynb`` do. The lessons take the RSA key pairs
fourth, though a chat uses them from the first step on: each user joins the
server with a public key. :class:`CourseMap` shows the steps
as a table, with the route each step's data takes (through the signaling
server, or directly between the peers) and a link to its lesson::

    from p2plab.course import CourseMap
    CourseMap(here=6)   # the map, with step 6 marked
"""

from __future__ import annotations

import html
from dataclasses import dataclass

__all__ = ["STEPS", "TWO_KERNELS", "CourseMap", "Step"]


@dataclass(frozen=True)
class Step:
    """One step of a chat's set-up, and the lesson that teaches it.

    Attributes:
        number: 1 to 6, in the order the lessons take them. A chat needs
            step 4 from the start: the join already carries the public key.
        name: A few words.
        lesson: The lesson notebook's name, without ``.ipynb``.
        route: Where the step's data goes.
        what: What happens, in a sentence.
    """

    number: int
    name: str
    lesson: str
    route: str
    what: str


STEPS: tuple[Step, ...] = (
    Step(
        1,
        "Signaling",
        "02-signaling",
        "through the server",
        "Alice and Bob join a WebSocket server, which introduces them and "
        "relays their set-up messages.",
    ),
    Step(
        2,
        "Offer and answer",
        "03-offer-answer",
        "through the server",
        "The caller describes the connection it proposes (an SDP offer); "
        "the other side answers.",
    ),
    Step(
        3,
        "ICE",
        "04-ice",
        "addresses through the server, then direct",
        "Both sides try pairs of their addresses until one works, and open "
        "a data channel straight between them.",
    ),
    Step(
        4,
        "RSA identities",
        "05-rsa-identities",
        "public key at the join; private key stays",
        "Each user has an RSA key pair from the start: the join (step 1) "
        "publishes the public half, which the server hands out; the private "
        "half never leaves its machine.",
    ),
    Step(
        5,
        "Session-key wrapping",
        "06-key-wrapping",
        "direct, on the data channel",
        "The caller makes a fresh AES-256 key and wraps it with RSA-OAEP "
        "under the other's public key.",
    ),
    Step(
        6,
        "AES-GCM chat",
        "07-aes-gcm",
        "direct, on the data channel",
        "Every message is sealed with AES-GCM under that key; the server "
        "never sees it.",
    ),
)

#: The lesson that runs all six steps between two kernels.
TWO_KERNELS = "08-two-kernels"


class CourseMap:
    """The six steps as a table, with a link to each lesson.

    In a notebook it shows as an HTML table; its text form, one line per
    step, is what a plain console (and nbval) sees.

    Args:
        here: The step to mark as the current one, if any.

    Raises:
        ValueError: If ``here`` is not a step's number.
    """

    def __init__(self, here: int | None = None) -> None:
        if here is not None and here not in {step.number for step in STEPS}:
            raise ValueError(f"the steps are numbered 1 to {len(STEPS)}, not {here}")
        self.here = here
        self.steps = STEPS

    def __repr__(self) -> str:
        lines = []
        for step in self.steps:
            mark = "▶" if step.number == self.here else " "
            lines.append(
                (f"{mark} {step.number}. {step.name:<22}{step.route:<46}", step.lesson)
            )
        lines.append(("  Then all six steps between two kernels:", TWO_KERNELS))
        width = max(len(left) for left, _ in lines)
        table = [f"{left:<{width}}{lesson}" for left, lesson in lines]
        return "\n".join(["The six steps of a chat, and their lessons:", *table])

    def _repr_html_(self) -> str:
        head = (
            "<tr><th>step</th><th>what happens</th><th>route</th><th>lesson</th></tr>"
        )
        rows = [self._row(step) for step in self.steps]
        rows.append(
            "<tr><td></td><td>All six steps between two kernels, as in "
            "<code>alice.ipynb</code> and <code>bob.ipynb</code>.</td>"
            f"<td></td><td>{_link(TWO_KERNELS)}</td></tr>"
        )
        return (
            "<table class='p2plab-course-map' style='border-collapse:collapse'>"
            f"{head}{''.join(rows)}</table>"
        )

    def _row(self, step: Step) -> str:
        here = step.number == self.here
        name = html.escape(f"{step.number}. {step.name}")
        style = " style='background:#fff3cd'" if here else ""
        return (
            f"<tr{style}><td><b>{'▶ ' if here else ''}{name}</b></td>"
            f"<td>{html.escape(step.what)}</td><td>{html.escape(step.route)}</td>"
            f"<td>{_link(step.lesson)}</td></tr>"
        )


def _link(lesson: str) -> str:
    name = html.escape(lesson)
    return f"<a href='{name}.ipynb'>{name}</a>"

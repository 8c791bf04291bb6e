"""Messages held for a user who is briefly offline, with no I/O.

A relay to a user whose name is bound in the room but who is not connected at
that moment (the connection dropped, a kernel is restarting, the user left a
second ago) is not refused at once: the server keeps the message, as the
recipient will get it, in that user's mailbox for a while. If the user joins
again in time, the welcome is followed by every held message, oldest first,
before anything newer. If not, each message expires at its deadline and its
sender is told (``expired``).

A :class:`Mailbox` keeps one user's letters in order; the :class:`Mailroom`
keeps every mailbox of the server and tells which letters are due. Neither
reads a clock: the server says what time it is, and sets one timer for the
mailroom's next deadline. Every letter waits the same time, so arrival order
is also deadline order: the letter at the head of a mailbox, or of the
mailroom, is always the next to expire.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["Address", "Letter", "Mailbox", "Mailroom"]

#: Whose mailbox: a room and a name in it.
Address = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Letter:
    """One held message.

    Attributes:
        sender: The name of the user who sent it.
        kind: The type of the request (``offer``, ``answer``, ...).
        id: The request's ``id``, if it had one; the ``expired`` notice
            carries it back.
        frame: The message as the recipient will get it, encoded.
        deadline: When it expires, on the server's clock.
    """

    sender: str
    kind: str
    id: str | int | None
    frame: str
    deadline: float


class Mailbox:
    """The letters held for one user, oldest first.

    Args:
        capacity: The most letters held at once.

    Attributes:
        capacity: As given.
        refused: Letters refused since the last one accepted; 1 marks the
            moment the mailbox became full, which the server logs.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.refused = 0
        self._letters: deque[Letter] = deque()

    def __len__(self) -> int:
        return len(self._letters)

    @property
    def deadline(self) -> float | None:
        """When the oldest letter expires; None when the mailbox is empty."""
        return self._letters[0].deadline if self._letters else None

    def put(self, letter: Letter) -> bool:
        """Hold ``letter`` after the others; False if the mailbox is full."""
        if len(self._letters) >= self.capacity:
            self.refused += 1
            return False
        self._letters.append(letter)
        self.refused = 0
        return True

    def expire(self, now: float) -> list[Letter]:
        """Remove and return the letters whose deadline is ``now`` or earlier."""
        due: list[Letter] = []
        while self._letters and self._letters[0].deadline <= now:
            due.append(self._letters.popleft())
        return due

    def take(self) -> list[Letter]:
        """Remove and return every letter, oldest first."""
        letters = list(self._letters)
        self._letters.clear()
        return letters


class Mailroom:
    """Every mailbox, by room and name; a mailbox exists while it holds letters.

    Args:
        capacity: The most letters held at once for one user.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._boxes: dict[Address, Mailbox] = {}
        # One entry per letter put, in deadline order. An entry may outlive
        # its letter (taken by a user who came back); it then only makes the
        # server wake up once for nothing.
        self._due: deque[tuple[float, Address]] = deque()

    def __len__(self) -> int:
        """Return the number of letters held, for every user together."""
        return sum(len(box) for box in self._boxes.values())

    def __contains__(self, address: object) -> bool:
        return address in self._boxes

    @property
    def deadline(self) -> float | None:
        """When to look again for letters due; None when nothing is held."""
        return self._due[0][0] if self._due else None

    def mailbox(self, address: Address) -> Mailbox | None:
        """Return the mailbox of ``address``, if it holds letters."""
        return self._boxes.get(address)

    def put(self, address: Address, letter: Letter) -> bool:
        """Hold ``letter`` for ``address``; False if that mailbox is full."""
        box = self._boxes.get(address)
        if box is None:
            box = self._boxes[address] = Mailbox(self.capacity)
        if not box.put(letter):
            return False
        self._due.append((letter.deadline, address))
        return True

    def take(self, address: Address) -> list[Letter]:
        """Remove and return every letter held for ``address``, oldest first."""
        box = self._boxes.pop(address, None)
        return [] if box is None else box.take()

    def expire(self, now: float) -> list[tuple[Address, list[Letter]]]:
        """Remove and return the letters due by ``now``, grouped by recipient."""
        due: dict[Address, list[Letter]] = {}
        while self._due and self._due[0][0] <= now:
            _deadline, address = self._due.popleft()
            box = self._boxes.get(address)
            if box is None:
                continue
            letters = box.expire(now)
            if letters:
                due.setdefault(address, []).extend(letters)
            if not len(box):
                del self._boxes[address]
        return list(due.items())

    def take_all(self) -> list[tuple[Address, list[Letter]]]:
        """Remove and return every letter held, grouped by recipient."""
        everything = [(address, box.take()) for address, box in self._boxes.items()]
        self._boxes.clear()
        self._due.clear()
        return everything

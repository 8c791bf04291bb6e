"""Keepalive pings for every connection on one wheel of time slots, with no I/O.

A connection that dies without a word (a laptop that sleeps, a cable pulled)
sends no close frame and no reset: only a ping that goes unanswered reveals
it. The server pings every connection every ``interval`` seconds and gives up
on one that has not answered ``timeout`` seconds after a ping.

One :class:`Keepalive` keeps the schedule of every connection, so that a
thousand idle connections cost one timer, not a thousand tasks. Time is cut
into slots of ``tick`` seconds; each connection waits in the slot of its next
deadline. The server asks :meth:`Keepalive.due` for what is due whenever the
earliest slot opens (:attr:`Keepalive.deadline`), pings what it is told to
ping and drops what it is told to drop.

Rounding to slots never makes a check early, and never makes a ping late: a
ping goes out up to one tick before its time, and a connection is given up on
up to one tick after its time. A silent drop is therefore noticed within
``interval + timeout + 2 * tick`` seconds. Nothing here reads a clock or
writes to a socket: the server says what time it is, so a test can step the
wheel through any sequence of instants.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["Keepalive"]

C = TypeVar("C", bound=Hashable)

# In slots: how early a slot may be taken as open.
_EPSILON = 1e-6


class Keepalive(Generic[C]):
    """The ping schedule of every connection of a server.

    Args:
        interval: Seconds between pings on each connection.
        timeout: Seconds a ping may go unanswered.
        tick: Width of a slot, in seconds: how far a deadline may be rounded.

    Raises:
        ValueError: If a duration is not positive.
    """

    def __init__(self, interval: float, timeout: float, tick: float) -> None:
        if min(interval, timeout, tick) <= 0:
            raise ValueError(
                f"keepalive durations must be positive, not interval={interval!r}, "
                f"timeout={timeout!r}, tick={tick!r}"
            )
        self.interval = interval
        self.timeout = timeout
        self.tick = tick
        # Each slot holds its connections, each with None when a ping is due
        # then, or, when an answer is due by then, the time it was asked for.
        self._slots: dict[int, dict[C, float | None]] = {}
        self._where: dict[C, int] = {}
        # The last slot processed: nothing may be put back into the past.
        self._done = -1

    def __len__(self) -> int:
        """Return the number of connections watched."""
        return len(self._where)

    @property
    def deadline(self) -> float | None:
        """When the earliest slot with something in it opens; None if none has."""
        if not self._slots:
            return None
        return min(self._slots) * self.tick

    def expect(self, connection: C, now: float, within: float) -> None:
        """Give up on ``connection`` unless :meth:`watch` is called within ``within`` s.

        A connection is expected to finish its opening handshake in time,
        as it is expected to answer a ping.
        """
        self._move(connection, self._later(now + within), now)

    def watch(self, connection: C, now: float) -> None:
        """Start pinging ``connection``, the first time ``interval`` s from ``now``."""
        self._move(connection, self._sooner(now + self.interval), None)

    def answered(self, connection: C) -> None:
        """Note that ``connection`` answered a ping; the next one is then scheduled.

        An answer that no ping asked for changes nothing.
        """
        slot = self._where.get(connection)
        if slot is None:
            return
        asked = self._slots[slot][connection]
        if asked is not None:
            self._move(connection, self._sooner(asked + self.interval), None)

    def forget(self, connection: C) -> None:
        """Stop watching ``connection``."""
        slot = self._where.pop(connection, None)
        if slot is not None:
            self._take(slot, connection)

    def due(self, now: float) -> tuple[list[C], list[C]]:
        """Return what is due by ``now``: connections to ping, and ones to drop.

        A connection to ping is then awaited for ``timeout`` seconds; a
        connection to drop (no answer in time) is forgotten.
        """
        pings: list[C] = []
        drops: list[C] = []
        # A timer may fire a hair before its time: the slot opening then counts.
        current = math.floor(now / self.tick + _EPSILON)
        answer_by = self._later(now + self.timeout)
        for slot in sorted(s for s in self._slots if s <= current):
            for connection, asked in self._slots.pop(slot).items():
                del self._where[connection]
                if asked is None:
                    pings.append(connection)
                    self._move(connection, answer_by, now)
                else:
                    drops.append(connection)
        self._done = max(self._done, current)
        return pings, drops

    def _move(self, connection: C, slot: int, asked: float | None) -> None:
        """Put ``connection`` in ``slot``, and nowhere else."""
        old = self._where.get(connection)
        if old is not None:
            self._take(old, connection)
        self._where[connection] = slot
        self._slots.setdefault(slot, {})[connection] = asked

    def _take(self, slot: int, connection: C) -> None:
        """Remove ``connection`` from ``slot``, and the slot once empty."""
        entries = self._slots[slot]
        del entries[connection]
        if not entries:
            del self._slots[slot]

    def _sooner(self, when: float) -> int:
        """The slot that opens at or before ``when``, yet not in the past."""
        return max(math.floor(when / self.tick), self._done + 1)

    def _later(self, when: float) -> int:
        """The slot that opens at or after ``when``, yet not in the past."""
        return max(math.ceil(when / self.tick), self._done + 1)

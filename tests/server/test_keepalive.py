"""Tests for the keepalive wheel, stepped through time by hand: no sockets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from p2plab_server.keepalive import Keepalive

# Interval, timeout and slot width used below, in seconds.
INTERVAL, TIMEOUT, TICK = 15.0, 10.0, 1.25


def wheel() -> Keepalive[str]:
    """A wheel with the server's default interval and timeout."""
    return Keepalive(INTERVAL, TIMEOUT, TICK)


def test_a_watched_connection_is_pinged_once_an_interval_has_passed() -> None:
    """The first ping comes an interval after watch, at most one tick early."""
    keepalive = wheel()
    keepalive.watch("alice", 100.0)
    assert keepalive.due(100.0 + INTERVAL - TICK - 0.01) == ([], [])
    assert keepalive.due(100.0 + INTERVAL) == (["alice"], [])
    assert keepalive.due(100.0 + INTERVAL) == ([], [])


def test_an_answered_ping_schedules_the_next_one() -> None:
    """After an answer, the next ping is an interval after the last one."""
    keepalive = wheel()
    keepalive.watch("alice", 0.0)
    assert keepalive.due(15.0) == (["alice"], [])
    keepalive.answered("alice")
    assert keepalive.due(15.0 + TIMEOUT + TICK) == ([], [])
    assert keepalive.due(30.0) == (["alice"], [])


def test_an_unanswered_ping_drops_the_connection_after_the_timeout() -> None:
    """No answer: dropped once the timeout has passed, never before, then forgotten."""
    keepalive = wheel()
    keepalive.watch("alice", 0.0)
    assert keepalive.due(15.0) == (["alice"], [])
    assert keepalive.due(15.0 + TIMEOUT - 0.01) == ([], [])
    assert keepalive.due(15.0 + TIMEOUT + TICK) == ([], ["alice"])
    assert len(keepalive) == 0 and keepalive.deadline is None


def test_an_answer_nobody_asked_for_changes_nothing() -> None:
    """A pong before any ping neither drops nor delays the connection."""
    keepalive = wheel()
    keepalive.watch("alice", 0.0)
    keepalive.answered("alice")
    keepalive.answered("nobody")
    assert keepalive.due(15.0) == (["alice"], [])


def test_a_connection_that_never_opens_is_dropped() -> None:
    """expect() drops a connection not watched in time; watch() replaces it."""
    keepalive = wheel()
    keepalive.expect("slow", 0.0, 10.0)
    keepalive.expect("quick", 0.0, 10.0)
    keepalive.watch("quick", 1.0)
    assert keepalive.due(9.9) == ([], [])
    assert keepalive.due(10.0 + TICK) == ([], ["slow"])
    assert keepalive.due(16.0) == (["quick"], [])


def test_a_forgotten_connection_is_neither_pinged_nor_dropped() -> None:
    """forget() removes the connection from the wheel at once."""
    keepalive = wheel()
    keepalive.watch("alice", 0.0)
    keepalive.forget("alice")
    keepalive.forget("alice")
    assert keepalive.deadline is None
    assert keepalive.due(100.0) == ([], [])


def test_a_thousand_connections_share_a_few_slots() -> None:
    """Connections opened over a second wait in at most two slots: one timer each."""
    keepalive = wheel()
    for n in range(1000):
        keepalive.watch(f"c{n}", n / 1000)
    deadline = keepalive.deadline
    assert deadline is not None and deadline <= INTERVAL
    pings, _ = keepalive.due(INTERVAL)
    assert len(pings) >= 500
    pings_later, _ = keepalive.due(INTERVAL + TICK)
    assert sorted(pings + pings_later) == sorted(f"c{n}" for n in range(1000))


def test_durations_must_be_positive() -> None:
    """A zero interval, timeout or tick is refused with a message."""
    with pytest.raises(ValueError, match="must be positive"):
        Keepalive(0.0, TIMEOUT, TICK)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    answers=st.lists(st.floats(0.0, 0.99), min_size=1, max_size=8),
    dies_after=st.integers(0, 8),
    step=st.floats(0.05, 0.5),
)
def test_a_silent_drop_is_found_within_the_bound(
    answers: list[float], dies_after: int, step: float
) -> None:
    """Answering in time keeps a connection; silence drops it within the bound.

    The connection answers each ping after a fraction of the timeout, until
    it dies; the wheel is stepped forward ``step`` seconds at a time, as a
    timer would, however late. The drop comes after the connection's last
    answer and within interval + timeout + two ticks, plus one step.
    """
    keepalive = wheel()
    keepalive.watch("alice", 0.0)
    now, pinged, last_alive = 0.0, 0, 0.0
    while now < 1000.0:
        now += step
        pings, drops = keepalive.due(now)
        if drops:
            assert drops == ["alice"] and pinged > dies_after
            assert now - last_alive <= INTERVAL + TIMEOUT + 2 * TICK + step
            return
        if pings:
            pinged += 1
            if pinged <= dies_after:
                # The answer comes this long after the ping.
                delay = answers[pinged % len(answers)] * TIMEOUT
                last_alive = now + delay
                next_now = now + delay
                while now + step < next_now:
                    now += step
                    assert keepalive.due(now) == ([], [])
                keepalive.answered("alice")
    raise AssertionError("the connection was never dropped")

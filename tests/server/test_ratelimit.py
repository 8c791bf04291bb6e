"""Tests for the token bucket that paces each connection, with no I/O."""

from __future__ import annotations

import pytest
from p2plab_server.ratelimit import TokenBucket


def test_a_full_bucket_allows_a_burst_then_refuses() -> None:
    """At one instant a fresh bucket allows exactly ``burst`` frames."""
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]


def test_tokens_come_back_at_the_rate() -> None:
    """An empty bucket allows one frame per 1/rate seconds, and no sooner."""
    bucket = TokenBucket(rate=10, burst=1, now=0.0)
    assert bucket.take(0.0)
    assert not bucket.take(0.05)
    assert bucket.take(0.1)
    assert not bucket.take(0.1)


def test_a_long_pause_refills_no_more_than_the_burst() -> None:
    """After an hour of silence the bucket holds ``burst`` tokens, not more."""
    bucket = TokenBucket(rate=50, burst=3, now=0.0)
    assert [bucket.take(3600.0) for _ in range(4)] == [True, True, True, False]


def test_a_steady_sender_at_the_rate_is_never_refused() -> None:
    """A thousand frames spaced exactly 1/rate apart all pass, even with no burst."""
    bucket = TokenBucket(rate=50, burst=1, now=0.0)
    assert all(bucket.take(i / 50) for i in range(1000))


def test_refused_counts_a_flood_and_resets_when_a_frame_passes() -> None:
    """``refused`` is 1 on the first refusal, counts on, and is 0 after a pass."""
    bucket = TokenBucket(rate=1, burst=1, now=0.0)
    bucket.take(0.0)
    counts = []
    for _ in range(3):
        bucket.take(0.0)
        counts.append(bucket.refused)
    assert counts == [1, 2, 3]
    assert bucket.take(1.0)
    assert bucket.refused == 0


def test_a_clock_that_steps_back_adds_nothing() -> None:
    """Time going backwards neither refills nor breaks the bucket."""
    bucket = TokenBucket(rate=10, burst=1, now=5.0)
    assert bucket.take(5.0)
    assert not bucket.take(1.0)
    assert bucket.take(5.1)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_a_bucket_needs_a_positive_rate_and_burst(rate: float, burst: int) -> None:
    """A rate of 0 or less, or a burst under 1, is refused with the values named."""
    with pytest.raises(ValueError, match="positive rate"):
        TokenBucket(rate, burst, now=0.0)

"""A per-connection rate limit: a token bucket, with no I/O.

Each connection has a bucket that holds up to ``burst`` tokens and fills at
``rate`` tokens a second. Every frame the connection sends takes one token; a
frame that finds the bucket empty is refused (``rate-limited``) and the
connection goes on. A client that sends a handful of messages now and then,
as the lab does, never notices the limit; a loop that floods the server is
slowed to ``rate`` frames a second, and no other user pays for it.

The bucket is told the time rather than reading a clock, so a lesson or a test
can step it through any sequence of instants. A check is a few arithmetic
operations, the same whatever the history, so it costs the relay almost
nothing.
"""

from __future__ import annotations

__all__ = ["TokenBucket"]

# Tokens are fractions added up in floating point: a sender spaced exactly
# 1/rate apart may find 0.9999999999 tokens where arithmetic says 1.
_EPSILON = 1e-9


class TokenBucket:
    """Tokens that refill at a steady rate, up to a ceiling.

    Args:
        rate: Tokens added per second; the sustained number of frames allowed.
        burst: The most tokens the bucket holds, and so the most frames allowed
            in a quick burst. The bucket starts full.
        now: The current time, in seconds, on any clock that never goes back.

    Attributes:
        rate: As given.
        burst: As given.
        refused: How many frames were refused since the last one allowed; 1
            marks the first refusal of a flood, which the server logs.

    Raises:
        ValueError: If ``rate`` is not positive or ``burst`` is below 1.
    """

    __slots__ = ("_stamp", "_tokens", "burst", "rate", "refused")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(
                f"a token bucket needs a positive rate and a burst of at least 1, "
                f"not rate={rate!r} and burst={burst!r}"
            )
        self.rate = rate
        self.burst = burst
        self.refused = 0
        self._tokens = float(burst)
        self._stamp = now

    def take(self, now: float) -> bool:
        """Take one token at time ``now``; tell whether there was one.

        A clock that steps back is treated as standing still.
        """
        # Written out rather than with min(): this runs for every frame.
        tokens = self._tokens
        elapsed = now - self._stamp
        if elapsed > 0:
            tokens += elapsed * self.rate
            if tokens > self.burst:
                tokens = self.burst
            self._stamp = now
        if tokens >= 1 - _EPSILON:
            self._tokens = tokens - 1
            self.refused = 0
            return True
        self._tokens = tokens
        self.refused += 1
        return False

    @property
    def tokens(self) -> float:
        """The tokens left at the last call, as a fraction of a frame or more."""
        return self._tokens

"""What a signaling server may be told: keepalive, the offline queue, limits.

The defaults suit a classroom; ``p2plab-server --help`` lists the flags and
environment variables that change them, and ``docs/protocol.md`` explains
what each one does to the protocol.

Two bounds follow from these values:

* A connection that dies without a word (a laptop that sleeps, a cable pulled)
  is announced as ``left`` within :attr:`Settings.drop_bound` seconds: the
  server pings every ``ping_interval`` seconds, gives up ``ping_timeout``
  seconds after a ping that gets no answer, then waits ``close_timeout``
  seconds more for the closing handshake that a dead peer never completes.
  With the defaults: 15 + 10 + 5 = 30 s.
* A graceful shutdown ends within ``close_timeout`` seconds, and a little
  scheduling time, however many clients fail to answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from .protocol import MAX_FRAME

__all__ = ["Settings"]

# websockets refuses outright any frame this many times the frame limit;
# smaller frames over the limit are read and answered with ``too-large``.
_HARD_LIMIT_FACTOR = 16


@dataclass(frozen=True)
class Settings:
    """How a signaling server behaves.

    Attributes:
        ping_interval: Seconds between keepalive pings on each connection.
        ping_timeout: Seconds a ping may go unanswered before the connection
            is dropped.
        close_timeout: Seconds the server waits for a closing handshake before
            it cuts the connection; also the bound on a graceful shutdown.
        hold: Seconds a message waits for a recipient who is briefly offline;
            0 refuses such messages at once (``unknown-peer``).
        queue: The most messages held for one offline recipient.
        max_frame: The largest frame read, in bytes. Frames up to 16 times
            larger are answered with ``too-large``; anything larger closes
            the connection (1009).
        rate: Frames a connection may send per second, sustained; 0 for no
            limit.
        burst: Frames a connection may send at once before ``rate`` applies.
        room_users: The most users in one room.
        server_users: The most users on the server, all rooms together.
        origins: Web page origins (``https://host:port``) allowed to connect;
            empty allows every origin. A client that sends no ``Origin``
            header (any program but a browser) is always allowed.

    Raises:
        ValueError: If a value is out of range, with the reason.
    """

    ping_interval: float = 15.0
    ping_timeout: float = 10.0
    close_timeout: float = 5.0
    hold: float = 10.0
    queue: int = 32
    max_frame: int = MAX_FRAME
    rate: float = 50.0
    burst: int = 100
    room_users: int = 1000
    server_users: int = 5000
    origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("ping_interval", "ping_timeout", "close_timeout"):
            _check(name, getattr(self, name), above=0.0)
        _check("hold", self.hold, above=None)
        _check("rate", self.rate, above=None)
        for name in ("queue", "burst", "room_users", "server_users"):
            _check_count(name, getattr(self, name), least=1)
        _check_count("max_frame", self.max_frame, least=1024)
        for origin in self.origins:
            _check_origin(origin)

    @property
    def drop_bound(self) -> float:
        """Seconds within which a silently dropped connection is announced."""
        return self.ping_interval + self.ping_timeout + self.close_timeout

    @property
    def hard_frame_limit(self) -> int:
        """The frame size, in bytes, above which a connection is closed (1009)."""
        return _HARD_LIMIT_FACTOR * self.max_frame


def _check(name: str, value: float, above: float | None) -> None:
    """Check a number of seconds or a rate: finite, and positive or at least 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    if above is not None and value <= above:
        raise ValueError(f"{name} must be more than {above:g}, not {value!r}")
    if above is None and value < 0:
        raise ValueError(f"{name} must be 0 (off) or more, not {value!r}")


def _check_count(name: str, value: int, least: int) -> None:
    """Check a count: an integer of at least ``least``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(
            f"{name} must be a whole number of at least {least}, not {value!r}"
        )


def _check_origin(origin: str) -> None:
    """Check an origin as browsers send it: ``scheme://host[:port]``, or ``null``."""
    if origin == "null":
        return
    parts = urlsplit(origin)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.path
        or parts.query
        or parts.fragment
        or origin.endswith("/")
    ):
        raise ValueError(
            f"the origin {origin!r} is not how a browser writes one: use "
            "scheme://host or scheme://host:port, e.g. https://lab.example.org "
            "or http://127.0.0.1:8000, without a path or a final '/'"
        )

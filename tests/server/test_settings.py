"""Tests for the server's settings: defaults, derived bounds and validation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from p2plab_server import MAX_FRAME, Settings


def test_the_defaults_announce_a_silent_drop_within_30_seconds() -> None:
    """Ping interval 15 s, timeout 10 s, close timeout 5 s: a 30 s bound."""
    settings = Settings()
    assert (settings.ping_interval, settings.ping_timeout) == (15.0, 10.0)
    assert settings.close_timeout == 5.0
    assert settings.drop_bound == 30.0


def test_the_hard_frame_limit_is_16_times_the_frame_limit() -> None:
    """Frames past 16 times the limit close the connection; the default is 1 MiB."""
    assert Settings().max_frame == MAX_FRAME == 65536
    assert Settings().hard_frame_limit == 16 * MAX_FRAME
    assert Settings(max_frame=2048).hard_frame_limit == 32768


def test_short_pings_give_a_bound_of_about_a_second() -> None:
    """A test's settings can bring the drop bound down to a fraction of a second."""
    settings = Settings(ping_interval=0.2, ping_timeout=0.2, close_timeout=0.2)
    assert settings.drop_bound == pytest.approx(0.6)


def test_zero_turns_the_rate_limit_and_the_offline_queue_off() -> None:
    """A rate of 0 and a hold of 0 are accepted: they mean off."""
    settings = Settings(rate=0, hold=0)
    assert (settings.rate, settings.hold) == (0, 0)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("ping_interval", 0, "more than 0"),
        ("ping_timeout", -1.0, "more than 0"),
        ("close_timeout", float("inf"), "finite"),
        ("hold", -0.5, "0 (off) or more"),
        ("rate", "fast", "number of seconds"),
        ("queue", 0, "at least 1"),
        ("burst", 1.5, "whole number"),
        ("room_users", True, "whole number"),
        ("server_users", 0, "at least 1"),
        ("max_frame", 100, "at least 1024"),
    ],
)
def test_out_of_range_values_are_refused_with_their_name(
    field: str, value: Any, says: str
) -> None:
    """Each setting refuses a bad value, naming itself and what it needs."""
    with pytest.raises(ValueError, match=f"^{field} .*{re.escape(says)}"):
        Settings(**{field: value})


@pytest.mark.parametrize(
    "origin", ["https://lab.example.org", "http://127.0.0.1:8000", "null"]
)
def test_origins_as_browsers_write_them_are_accepted(origin: str) -> None:
    """scheme://host, scheme://host:port and null are origins."""
    assert Settings(origins=(origin,)).origins == (origin,)


@pytest.mark.parametrize(
    "origin",
    ["lab.example.org", "https://lab.example.org/", "ftp://x", "https://x/chat"],
)
def test_things_that_are_not_origins_are_refused(origin: str) -> None:
    """A bare host, a path, a final slash or another scheme is refused with help."""
    with pytest.raises(ValueError, match="how a browser writes one"):
        Settings(origins=(origin,))

"""Tests for p2plab.ice: ICE server lists and the host-candidate policy."""

from __future__ import annotations

import asyncio

import aioice.ice
import pytest
from aiortc import RTCIceServer

from p2plab import ice


def host_addresses() -> list[str]:
    """Return the host addresses aioice would offer right now, IPv4 and IPv6."""
    return list(aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True))


@pytest.mark.parametrize(
    ("url", "policy"),
    [
        ("ws://127.0.0.1:8765", "loopback"),
        ("ws://127.0.0.2:8765", "loopback"),
        ("ws://localhost:8765", "loopback"),
        ("ws://[::1]:8765", "loopback"),
        ("wss://192.168.1.20:8765", "all"),
        ("ws://10.0.0.5", "all"),
        ("ws://[fe80::1]:8765", "all"),
        ("wss://lab.example.org/signal", "all"),
        ("not a url", "all"),
    ],
)
def test_policy_for_url(url: str, policy: str) -> None:
    """A loopback server means the loopback policy; any other host means all."""
    assert ice.policy_for_url(url) == policy


def test_loopback_policy_offers_only_127_0_0_1_inside_the_context() -> None:
    """Under host_policy("loopback") aioice sees 127.0.0.1 only, and not after."""
    with ice.host_policy("loopback"):
        assert host_addresses() == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(use_ipv4=False, use_ipv6=True) == []
    after = host_addresses()
    assert "127.0.0.1" not in after
    assert after == list(ice._original_get_host_addresses(True, True))


def test_all_policy_offers_what_aioice_would() -> None:
    """Under host_policy("all") aioice gathers its usual, non-loopback addresses."""
    with ice.host_policy("all"):
        inside = host_addresses()
    assert inside == list(ice._original_get_host_addresses(True, True))
    assert "127.0.0.1" not in inside


def test_the_policy_is_reset_after_an_error() -> None:
    """An exception inside the context still restores the previous policy."""
    with pytest.raises(RuntimeError), ice.host_policy("loopback"):
        raise RuntimeError("boom")
    assert "127.0.0.1" not in host_addresses()


def test_nested_policies_restore_the_outer_one() -> None:
    """Leaving an inner "all" context brings back the outer "loopback" policy."""
    with ice.host_policy("loopback"):
        with ice.host_policy("all"):
            assert "127.0.0.1" not in host_addresses()
        assert host_addresses() == ["127.0.0.1"]


async def test_the_policy_does_not_leak_into_other_tasks() -> None:
    """A task started outside the context keeps aioice's own behaviour."""
    started = asyncio.Event()
    release = asyncio.Event()
    seen: list[list[str]] = []

    async def other() -> None:
        started.set()
        await release.wait()
        seen.append(host_addresses())

    task = asyncio.create_task(other())
    await started.wait()
    with ice.host_policy("loopback"):
        release.set()
        await asyncio.wait_for(task, 5)
    assert "127.0.0.1" not in seen[0]


@pytest.mark.parametrize("policy", ["LOOPBACK", "none", "", "127.0.0.1"])
def test_bad_policy_raises_value_error(policy: str) -> None:
    """A policy other than "loopback" or "all" raises ValueError on entry."""
    with pytest.raises(ValueError, match="'loopback' or 'all'"):
        with ice.host_policy(policy):  # type: ignore[arg-type]
            pass


def test_configuration_without_servers_is_an_explicit_empty_list() -> None:
    """No ICE servers gives iceServers == [], never None (which means public STUN)."""
    for config in (ice.configuration([]), ice.configuration()):
        assert config.iceServers is not None
        assert config.iceServers == []


def test_configuration_keeps_the_given_servers() -> None:
    """Each configured URL becomes one RTCIceServer, in order."""
    urls = ["stun:127.0.0.1:3478", "turn:127.0.0.1:3478"]
    config = ice.configuration(urls)
    assert config.iceServers is not None
    assert all(isinstance(s, RTCIceServer) for s in config.iceServers)
    assert [s.urls for s in config.iceServers] == urls

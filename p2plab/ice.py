"""ICE configuration: which servers to ask and which local addresses to offer.

Two choices decide what a peer tells the other side about where it can be
reached, and both are explicit in p2plab:

* **ICE servers.** aiortc falls back to a public STUN server when it is given
  none. p2plab always passes an explicit list, empty by default, so nothing
  leaves the machine unless the user configures a server.
* **Host-candidate policy.** The ICE library behind aiortc (aioice) never
  offers 127.0.0.1 as a host candidate, so two peers on a machine with only
  loopback (a laptop with no network, a test sandbox) could never connect.
  The ``"loopback"`` policy offers 127.0.0.1 and nothing else; ``"all"``
  offers every other interface address, for a classroom LAN.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
from collections.abc import Iterator, Sequence
from typing import Literal
from urllib.parse import urlsplit

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

__all__ = ["HostPolicy", "configuration", "host_policy", "policy_for_url"]

HostPolicy = Literal["loopback", "all"]

_policy: contextvars.ContextVar[HostPolicy | None] = contextvars.ContextVar(
    "p2plab_host_policy", default=None
)
_original_get_host_addresses = aioice.ice.get_host_addresses


def _get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    # Gathering runs inside the task that called setLocalDescription, so the
    # policy set around that call is visible here; any other aioice user in
    # the process gets the library's own behaviour.
    if _policy.get() == "loopback":
        return ["127.0.0.1"] if use_ipv4 else []
    return _original_get_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6)


aioice.ice.get_host_addresses = _get_host_addresses


@contextlib.contextmanager
def host_policy(policy: HostPolicy) -> Iterator[None]:
    """Apply a host-candidate policy to candidate gathering in this context."""
    if policy not in ("loopback", "all"):
        raise ValueError(f"host policy must be 'loopback' or 'all', not {policy!r}")
    token = _policy.set(policy)
    try:
        yield
    finally:
        _policy.reset(token)


def policy_for_url(url: str) -> HostPolicy:
    """Pick the host policy that fits a signaling server URL.

    A server on loopback means both peers are on this machine: offer
    127.0.0.1. Any other server means peers on other machines: offer the
    real interface addresses.
    """
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return "loopback"
    try:
        return "loopback" if ipaddress.ip_address(host).is_loopback else "all"
    except ValueError:
        return "all"


def configuration(ice_servers: Sequence[str] = ()) -> RTCConfiguration:
    """Return an aiortc configuration with exactly these ICE server URLs.

    Args:
        ice_servers: URLs such as ``"stun:your-stun-server:3478"``. Empty by
            default: no STUN or TURN server is contacted.
    """
    servers = [RTCIceServer(urls=url) for url in ice_servers]
    return RTCConfiguration(iceServers=servers)

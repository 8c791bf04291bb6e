"""Tests for p2plab.protocol: the signaling protocol, re-exported from the server."""

from __future__ import annotations

import p2plab_server.protocol as server_protocol
import pytest

import p2plab.protocol as protocol


def test_the_same_names_are_exported() -> None:
    """p2plab.protocol exports exactly the names the server's protocol exports."""
    assert sorted(protocol.__all__) == sorted(server_protocol.__all__)


@pytest.mark.parametrize("name", server_protocol.__all__)
def test_each_name_is_the_same_object(name: str) -> None:
    """Every re-exported name is the server's own object, not a copy."""
    assert getattr(protocol, name) is getattr(server_protocol, name)


def test_a_frame_parsed_here_is_parsed_as_the_server_does() -> None:
    """parse() through the re-export refuses a forged from with the server's code."""
    frame = '{"type": "bye", "to": "bob", "from": "alice"}'
    with pytest.raises(protocol.ProtocolError) as info:
        protocol.parse(frame)
    assert info.value.code == "bad-field"

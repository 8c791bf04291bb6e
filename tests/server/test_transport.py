"""Tests for the transport: TLS (wss://) and the Origin check, on loopback."""

from __future__ import annotations

import json
import logging
import ssl
from pathlib import Path

import pytest
from p2plab_server import Settings, SignalingServer
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from .clients import (
    TIMEOUT,
    Key,
    Lab,
    http_get,
    join_request,
    receive,
    self_signed,
    send,
    trusting,
)
from .conftest import MakeLab


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    """Return a server TLS context for a certificate and its key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_with_a_certificate_the_server_speaks_wss(
    tmp_path: Path, keys: tuple[Key, Key]
) -> None:
    """Over wss://, a client trusting the certificate joins and relays."""
    cert, key = self_signed(tmp_path)
    relay = SignalingServer()
    async with relay.serve("127.0.0.1", 0, ssl=server_tls(cert, key)) as server:
        port = server.sockets[0].getsockname()[1]
        uri = f"wss://127.0.0.1:{port}"
        client = trusting(cert)
        async with (
            connect(uri, ssl=client, proxy=None, open_timeout=TIMEOUT) as alice,
            connect(uri, ssl=client, proxy=None, open_timeout=TIMEOUT) as bob,
        ):
            for ws, name, pair in ((alice, "alice", keys[0]), (bob, "bob", keys[1])):
                challenge = (await receive(ws))["challenge"]
                await send(ws, join_request(pair, challenge, name))
                assert (await receive(ws))["type"] == "welcome"
            await send(bob, {"type": "offer", "to": "alice", "sdp": "v=0 over tls"})
            assert (await receive(alice))["type"] == "joined"
            assert (await receive(alice))["sdp"] == "v=0 over tls"

        status, _, body = await http_get(port, "/health", client)
        assert (status, json.loads(body)["type"]) == (200, "health")


async def test_a_client_that_does_not_trust_the_certificate_is_stopped(
    tmp_path: Path,
) -> None:
    """A client with only the system's CAs refuses the self-signed certificate."""
    cert, key = self_signed(tmp_path)
    relay = SignalingServer()
    async with relay.serve("127.0.0.1", 0, ssl=server_tls(cert, key)) as server:
        uri = f"wss://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        with pytest.raises(ssl.SSLCertVerificationError):
            async with connect(uri, proxy=None, open_timeout=TIMEOUT):
                pass


async def test_an_allowed_origin_connects(make_lab: MakeLab) -> None:
    """A page from a listed origin gets its hello."""
    lab = await make_lab(Settings(origins=("https://lab.example.org",)))
    origin = "https://lab.example.org"
    async with connect(lab.uri, origin=origin, proxy=None, open_timeout=TIMEOUT) as ws:
        assert (await receive(ws))["type"] == "hello"


async def test_a_client_without_an_origin_always_connects(make_lab: MakeLab) -> None:
    """A program that sends no Origin header, like a notebook, is accepted."""
    lab = await make_lab(Settings(origins=("https://lab.example.org",)))
    await lab.join("alice")


async def test_another_origin_is_refused_with_403_and_logged(
    make_lab: MakeLab, caplog: pytest.LogCaptureFixture
) -> None:
    """A page from an unlisted origin is refused in the handshake; one INFO line."""
    caplog.set_level(logging.INFO, logger="p2plab_server")
    lab = await make_lab(Settings(origins=("https://lab.example.org",)))
    with pytest.raises(InvalidStatus) as info:
        async with connect(
            lab.uri, origin="https://evil.example", proxy=None, open_timeout=TIMEOUT
        ):
            pass
    assert info.value.response.status_code == 403
    lines = [r.getMessage() for r in caplog.records if r.name == "p2plab_server.relay"]
    assert lines == [
        "refused a connection from 127.0.0.1: origin 'https://evil.example' is "
        "not allowed"
    ]


async def test_without_origins_every_origin_connects(lab: Lab) -> None:
    """With no --origin, a page from anywhere may connect (the default)."""
    async with connect(
        lab.uri, origin="https://anywhere.example", proxy=None, open_timeout=TIMEOUT
    ) as ws:
        assert (await receive(ws))["type"] == "hello"

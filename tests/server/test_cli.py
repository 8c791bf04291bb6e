"""Tests for ``p2plab-server``, run as a real process on loopback."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator

import pytest
from p2plab_server.cli import main
from websockets.asyncio.client import connect

from .clients import TIMEOUT, receive, send

LISTENING = re.compile(r"listening on (ws://127\.0\.0\.1:\d+)$")


async def start(*args: str) -> asyncio.subprocess.Process:
    """Start ``python -m p2plab_server`` on loopback with ``args``."""
    # The environment must not choose the address or the level for us.
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PLAB_")}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "p2plab_server",
        "--host",
        "127.0.0.1",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


@pytest.fixture
async def process() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Hold the processes a test starts; any still running at the end is killed."""
    started: list[asyncio.subprocess.Process] = []
    yield started
    for proc in started:
        if proc.returncode is None:
            proc.kill()
        await asyncio.wait_for(proc.communicate(), TIMEOUT)


def test_help_names_the_host_and_port_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--help`` exits 0 and documents ``--host`` and ``--port``."""
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "--host" in text
    assert "--port" in text


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
async def test_the_server_relays_and_exits_cleanly_on_a_signal(
    process: list[asyncio.subprocess.Process], stop: signal.Signals
) -> None:
    """The server prints its address, relays, logs no payload, and exits 0."""
    proc = await start("--port", "0", "--log-level", "DEBUG")
    process.append(proc)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
    match = LISTENING.search(line.decode().strip())
    assert match, line

    async with (
        connect(match[1], proxy=None, open_timeout=TIMEOUT) as alice,
        connect(match[1], proxy=None, open_timeout=TIMEOUT) as bob,
    ):
        await send(alice, {"type": "join", "name": "alice", "key": "MAA="})
        assert (await receive(alice))["type"] == "welcome"
        await send(bob, {"type": "join", "name": "bob", "key": "MAA="})
        assert (await receive(bob))["peers"] == ["alice"]
        assert (await receive(alice))["type"] == "joined"
        await send(bob, {"type": "offer", "to": "alice", "sdp": "v=0 from-bob"})
        assert (await receive(alice))["from"] == "bob"

    proc.send_signal(stop)
    _, stderr = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 0
    log = stderr.decode()
    assert "alice joined" in log
    assert "bob left" in log
    assert "from-bob" not in log


async def test_a_port_in_use_exits_1_with_a_message(
    process: list[asyncio.subprocess.Process],
) -> None:
    """When the port is taken the server says so on stderr and exits 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = await start("--port", str(port))
        process.append(proc)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 1
    assert stdout == b""
    assert f"cannot listen on 127.0.0.1:{port}" in stderr.decode()

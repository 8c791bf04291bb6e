"""Tests for ``p2plab-server``, run as a real process on loopback."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from p2plab_server.cli import build_parser, main
from websockets.asyncio.client import connect

from .clients import TIMEOUT, Key, join_request, receive, send

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


async def listening(proc: asyncio.subprocess.Process) -> str:
    """Return the URL a started server prints once it listens."""
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
    match = LISTENING.search(line.decode().strip())
    assert match, line
    return match[1]


async def join(url: str, key: Key, name: str) -> dict[str, Any]:
    """Join ``url`` as ``name`` with ``key``; return the reply; disconnect."""
    async with connect(url, proxy=None, open_timeout=TIMEOUT) as ws:
        hello = await receive(ws)
        await send(ws, join_request(key, hello["challenge"], name))
        return await receive(ws)


def test_help_names_the_host_port_and_db_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--help`` exits 0 and documents ``--host``, ``--port`` and ``--db``."""
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--host", "--port", "--db", "P2PLAB_DB", ":memory:"):
        assert option in text


def test_the_db_defaults_to_p2plab_home_and_follows_p2plab_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--db defaults to $P2PLAB_HOME/server.sqlite3; P2PLAB_DB overrides it."""
    monkeypatch.delenv("P2PLAB_DB", raising=False)
    monkeypatch.setenv("P2PLAB_HOME", str(tmp_path))
    assert build_parser().parse_args([]).db == str(tmp_path / "server.sqlite3")
    monkeypatch.setenv("P2PLAB_DB", ":memory:")
    assert build_parser().parse_args([]).db == ":memory:"
    assert build_parser().parse_args(["--db", "x.db"]).db == "x.db"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
async def test_the_server_relays_and_exits_cleanly_on_a_signal(
    process: list[asyncio.subprocess.Process],
    stop: signal.Signals,
    keys: tuple[Key, Key],
) -> None:
    """The server prints its address, relays, logs no payload, and exits 0."""
    proc = await start("--port", "0", "--log-level", "DEBUG", "--db", ":memory:")
    process.append(proc)
    url = await listening(proc)

    async with (
        connect(url, proxy=None, open_timeout=TIMEOUT) as alice,
        connect(url, proxy=None, open_timeout=TIMEOUT) as bob,
    ):
        challenges = {ws: (await receive(ws))["challenge"] for ws in (alice, bob)}
        await send(alice, join_request(keys[0], challenges[alice], "alice"))
        assert (await receive(alice))["type"] == "welcome"
        await send(bob, join_request(keys[1], challenges[bob], "bob"))
        assert (await receive(bob))["peers"] == ["alice"]
        assert (await receive(alice))["type"] == "joined"
        await send(bob, {"type": "offer", "to": "alice", "sdp": "v=0 from-bob"})
        assert (await receive(alice))["from"] == "bob"

    proc.send_signal(stop)
    _, stderr = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 0
    log = stderr.decode()
    assert "alice joined lab" in log
    assert "bob left lab" in log
    assert "directory :memory:" in log
    assert "from-bob" not in log
    assert keys[0].public not in log


async def test_a_restart_on_the_same_db_file_forgets_nothing(
    process: list[asyncio.subprocess.Process],
    tmp_path: Path,
    keys: tuple[Key, Key],
) -> None:
    """A name bound before a restart refuses another key after it, and takes its own."""
    db = tmp_path / "classroom" / "server.sqlite3"
    first = await start("--port", "0", "--db", str(db))
    process.append(first)
    assert (await join(await listening(first), keys[0], "alice"))["type"] == "welcome"
    first.send_signal(signal.SIGTERM)
    await asyncio.wait_for(first.communicate(), TIMEOUT)
    assert first.returncode == 0
    assert db.is_file()

    second = await start("--port", "0", "--db", str(db))
    process.append(second)
    url = await listening(second)
    refused = await join(url, keys[1], "alice")
    assert (refused["type"], refused["code"]) == ("error", "name-taken")
    assert (await join(url, keys[0], "alice"))["type"] == "welcome"


async def test_a_db_that_cannot_be_opened_exits_1_with_a_message(
    process: list[asyncio.subprocess.Process], tmp_path: Path
) -> None:
    """When the directory file cannot be opened the server says so and exits 1."""
    db = tmp_path / "not-a-db.sqlite3"
    db.write_bytes(b"plain text, not SQLite " * 100)
    proc = await start("--port", "0", "--db", str(db))
    process.append(proc)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 1
    assert stdout == b""
    assert f"cannot open the directory {db}" in stderr.decode()
    assert "--db" in stderr.decode()


async def test_a_port_in_use_exits_1_with_a_message(
    process: list[asyncio.subprocess.Process],
) -> None:
    """When the port is taken the server says so on stderr and exits 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = await start("--port", str(port), "--db", ":memory:")
        process.append(proc)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 1
    assert stdout == b""
    assert f"cannot listen on 127.0.0.1:{port}" in stderr.decode()

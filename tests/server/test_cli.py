"""Tests for ``p2plab-server``, run as a real process on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from p2plab_server.cli import build_parser, main
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from .clients import (
    TIMEOUT,
    Key,
    http_get,
    join_request,
    receive,
    self_signed,
    send,
    trusting,
)

LISTENING = re.compile(r"listening on (wss?://127\.0\.0\.1:\d+)$")


async def start(*args: str, **variables: str) -> asyncio.subprocess.Process:
    """Start ``python -m p2plab_server`` on loopback with ``args`` and ``variables``."""
    # The environment must not choose the address or the level for us.
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PLAB_")}
    env.update(variables)
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


async def join(
    url: str, key: Key, name: str, context: ssl.SSLContext | None = None
) -> dict[str, Any]:
    """Join ``url`` as ``name`` with ``key``; return the reply; disconnect."""
    async with connect(url, proxy=None, open_timeout=TIMEOUT, ssl=context) as ws:
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


async def test_with_cert_and_key_the_server_speaks_wss(
    process: list[asyncio.subprocess.Process],
    tmp_path: Path,
    keys: tuple[Key, Key],
) -> None:
    """--cert and --key: it listens on wss://, a trusting client joins, /health too."""
    cert, key = self_signed(tmp_path)
    proc = await start("--port", "0", "--db", ":memory:", "--cert", str(cert),
                       "--key", str(key))  # fmt: skip
    process.append(proc)
    url = await listening(proc)
    assert url.startswith("wss://")
    context = trusting(cert)
    assert (await join(url, keys[0], "alice", context))["type"] == "welcome"
    status, _, body = await http_get(int(url.rsplit(":", 1)[1]), "/health", context)
    assert status == 200 and b'"health"' in body


async def test_origins_from_the_environment_are_enforced(
    process: list[asyncio.subprocess.Process], keys: tuple[Key, Key]
) -> None:
    """P2PLAB_ORIGINS lets its pages in, refuses others, and never a notebook."""
    proc = await start(
        "--port",
        "0",
        "--db",
        ":memory:",
        P2PLAB_ORIGINS="https://lab.example.org http://127.0.0.1:8000",
    )
    process.append(proc)
    url = await listening(proc)
    for origin in ("https://lab.example.org", "http://127.0.0.1:8000"):
        async with connect(url, origin=origin, proxy=None, open_timeout=TIMEOUT) as ws:
            assert (await receive(ws))["type"] == "hello"
    with pytest.raises(InvalidStatus):
        async with connect(
            url, origin="https://elsewhere.example", proxy=None, open_timeout=TIMEOUT
        ):
            pass
    assert (await join(url, keys[0], "alice"))["type"] == "welcome"


async def test_sigterm_tells_connected_clients_and_exits_within_the_bound(
    process: list[asyncio.subprocess.Process], keys: tuple[Key, Key]
) -> None:
    """On SIGTERM a connected client gets shutdown and 1001; the process exits 0."""
    proc = await start("--port", "0", "--db", ":memory:", "--close-timeout", "1")
    process.append(proc)
    url = await listening(proc)
    async with connect(url, proxy=None, open_timeout=TIMEOUT) as alice:
        challenge = (await receive(alice))["challenge"]
        await send(alice, join_request(keys[0], challenge, "alice"))
        assert (await receive(alice))["type"] == "welcome"

        loop = asyncio.get_running_loop()
        started = loop.time()
        proc.send_signal(signal.SIGTERM)
        assert (await receive(alice))["type"] == "shutdown"
        await asyncio.wait_for(alice.wait_closed(), TIMEOUT)
        assert (alice.close_code, alice.close_reason) == (
            1001,
            "the server is shutting down",
        )
    _, stderr = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert loop.time() - started < 1 + 2.0
    assert proc.returncode == 0
    assert "shutting down: closing 1 connection(s)" in stderr.decode()


async def test_held_messages_expire_at_shutdown_and_bindings_survive_it(
    process: list[asyncio.subprocess.Process],
    tmp_path: Path,
    keys: tuple[Key, Key],
) -> None:
    """A held offer expires at SIGTERM; after a restart bob's name is his, unheld."""
    db = tmp_path / "server.sqlite3"
    first = await start("--port", "0", "--db", str(db), "--hold", "60")
    process.append(first)
    url = await listening(first)
    assert (await join(url, keys[1], "bob"))["type"] == "welcome"
    async with connect(url, proxy=None, open_timeout=TIMEOUT) as alice:
        challenge = (await receive(alice))["challenge"]
        await send(alice, join_request(keys[0], challenge, "alice"))
        assert (await receive(alice))["type"] == "welcome"
        await send(alice, {"type": "offer", "to": "bob", "sdp": "v=0", "id": 5})
        await send(alice, {"type": "health", "id": "after"})
        assert (await receive(alice))["id"] == "after"  # the offer is held

        first.send_signal(signal.SIGTERM)
        expired = await receive(alice)
        assert (expired["type"], expired["to"], expired["id"]) == ("expired", "bob", 5)
        assert (await receive(alice))["type"] == "shutdown"
    await asyncio.wait_for(first.communicate(), TIMEOUT)
    assert first.returncode == 0

    second = await start("--port", "0", "--db", str(db), "--hold", "60")
    process.append(second)
    url = await listening(second)
    refused = await join(url, keys[0], "bob")
    assert (refused["type"], refused["code"]) == ("error", "name-taken")
    async with connect(url, proxy=None, open_timeout=TIMEOUT) as bob:
        challenge = (await receive(bob))["challenge"]
        await send(bob, join_request(keys[1], challenge, "bob"))
        assert (await receive(bob))["type"] == "welcome"
        with contextlib.suppress(TimeoutError):
            frame = await asyncio.wait_for(bob.recv(), 0.3)
            pytest.fail(f"a message survived the restart: {frame!r}")


def test_listening_everywhere_names_the_address_to_give_students() -> None:
    """Listening on 0.0.0.0 or :: comes with the address students should use."""
    from p2plab_server.cli import address_hint

    hint = address_hint("ws", "0.0.0.0", 8765)
    assert hint is not None and "ws://THIS-MACHINE:8765" in hint
    assert "not to ::" in (address_hint("wss", "::", 443) or "")
    assert address_hint("ws", "127.0.0.1", 8765) is None

"""The notebook entry points: finding or starting a server, opening a chat."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import p2plab.lab
from p2plab import SignalingClosed, ensure_server, get_network, open_chat
from p2plab.lab import pid_file, server_url

if TYPE_CHECKING:
    from conftest import RunningServer

STOP_GRACE = 5.0


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private P2PLAB_HOME, and no P2PLAB_SERVER from the outer environment."""
    monkeypatch.setenv("P2PLAB_HOME", str(tmp_path))
    monkeypatch.delenv("P2PLAB_SERVER", raising=False)
    return tmp_path


def free_url() -> str:
    """Return a URL on 127.0.0.1 whose port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"ws://127.0.0.1:{sock.getsockname()[1]}"


def stop_by_pid(pid: int) -> None:
    """Terminate the server with this process id and wait until it is gone."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while True:
        try:
            # The server is this process's child: reap it, or it stays a zombie.
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            return
        assert time.monotonic() < deadline, f"server {pid} ignored SIGTERM"
        time.sleep(0.05)


def read_pid(url: str) -> int:
    """Return the process id that ensure_server wrote for the server it started."""
    return int(pid_file(int(url.rsplit(":", 1)[1])).read_text())


async def test_ensure_server_finds_a_running_server(
    server: RunningServer, home: Path
) -> None:
    """A server that already answers is used as it is, and nothing is started."""
    assert await asyncio.to_thread(ensure_server, server.url) == "running"
    assert list(home.glob("server-*.pid")) == []


def test_ensure_server_starts_a_detached_server(home: Path) -> None:
    """With no server on a local URL, one is started in its own session."""
    url = free_url()
    assert ensure_server(url) == "started"
    pid = read_pid(url)
    try:
        assert os.getsid(pid) == pid, "the server should have a session of its own"
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists():
            assert b"p2plab_server" in cmdline.read_bytes()
        assert ensure_server(url) == "running"
    finally:
        stop_by_pid(pid)
    assert not p2plab.lab._reachable("127.0.0.1", int(url.rsplit(":", 1)[1]))


def test_ensure_server_twice_at_once_starts_one(home: Path) -> None:
    """Two notebooks asking at the same moment share a single new server."""
    url = free_url()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(ensure_server, [url, url]))
    pid = read_pid(url)
    stop_by_pid(pid)

    assert sorted(results) == ["running", "started"]
    assert "cannot listen" not in (home / "server.log").read_text()


def test_unreachable_remote_server_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    """A remote URL nobody answers raises SignalingClosed naming the URL."""
    # The address is never contacted: the probe is replaced.
    probed: list[tuple[str, int]] = []
    monkeypatch.setattr(
        p2plab.lab, "_reachable", lambda host, port: probed.append((host, port))
    )
    url = "ws://192.0.2.10:8765"  # TEST-NET-1, reserved for documentation

    with pytest.raises(SignalingClosed) as caught:
        ensure_server(url)

    assert probed == [("192.0.2.10", 8765)]
    assert url in str(caught.value)
    assert "teacher" in str(caught.value)
    assert list(home.glob("server-*.pid")) == []


def test_chatting_with_yourself_is_refused(home: Path) -> None:
    """A partner with our own name is refused before anything starts."""
    with pytest.raises(ValueError, match="cannot chat with itself"):
        open_chat("dana", partner="dana", passphrase="pw", url=free_url())
    assert list(home.glob("server-*.pid")) == []


async def test_open_chat_twice_closes_the_first(server: RunningServer) -> None:
    """Opening the same name again closes the first client and keeps the second."""
    first = await asyncio.to_thread(open_chat, "carol", passphrase="pw", url=server.url)
    second = await asyncio.to_thread(
        open_chat, "carol", passphrase="pw", url=server.url
    )
    try:
        assert first.client is not None and second.client is not None
        assert first.client.state == "closed"
        assert first.connection_state == "closed"
        assert second.connection_state == "online"
        assert second.client.signaling.connected
        assert list(server.relay.online) == ["carol"]
    finally:
        assert second.client is not None
        await asyncio.wrap_future(get_network().submit(second.client.close()))


async def test_wrong_passphrase_keeps_the_open_chat(server: RunningServer) -> None:
    """A wrong passphrase is refused before the open chat is touched."""
    pane = await asyncio.to_thread(
        open_chat, "dave", partner="erin", passphrase="right", url=server.url
    )
    try:
        with pytest.raises(ValueError, match="wrong passphrase"):
            await asyncio.to_thread(
                open_chat, "dave", partner="erin", passphrase="wrong", url=server.url
            )
        assert pane.connection_state == "waiting"
        assert "erin is not here yet" in pane.hint.value
    finally:
        assert pane.client is not None
        await asyncio.wrap_future(get_network().submit(pane.client.close()))


async def test_open_chat_joins_the_room_it_is_given(server: RunningServer) -> None:
    """open_chat(room=...) joins that room, where only its own users are seen."""
    pane = await asyncio.to_thread(
        open_chat, "frank", partner="grace", passphrase="pw", url=server.url, room="p7"
    )
    try:
        assert pane.client is not None
        assert pane.client.room == pane.client.signaling.room == "p7"
        assert list(server.relay.rooms) == ["p7"]
        assert "frank" not in server.relay.online
        assert pane.connection_state == "waiting"
    finally:
        assert pane.client is not None
        await asyncio.wrap_future(get_network().submit(pane.client.close()))


def test_a_badly_written_partner_name_is_refused(home: Path) -> None:
    """A partner name the server would refuse is refused at once, saying why."""
    with pytest.raises(ValueError, match="not a valid name"):
        open_chat("dana", partner=" erin", passphrase="pw", url=free_url())


async def test_a_script_that_ends_with_chats_open_exits_cleanly(
    server: RunningServer, tmp_path: Path
) -> None:
    """Chats still open when a script ends are closed at exit, without errors."""
    script = (
        "import time, p2plab\n"
        f"url = {server.url!r}\n"
        "a = p2plab.open_chat('alice', partner='bob', passphrase='a', url=url)\n"
        "b = p2plab.open_chat('bob', partner='alice', passphrase='b', url=url)\n"
        "for _ in range(100):\n"
        "    if a.connection_state == b.connection_state == 'connected':\n"
        "        break\n"
        "    time.sleep(0.05)\n"
        "print(a.connection_state, b.connection_state)\n"
    )
    env = {**os.environ, "P2PLAB_HOME": str(tmp_path)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert out.decode().strip() == "connected connected"
    assert b"Task was destroyed" not in err
    assert b"Traceback" not in err


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8765", "ws://127.0.0.1:99999", "notaurl", "ws://:8765"],
)
def test_a_url_that_is_not_a_server_address_is_refused(url: str) -> None:
    """A URL that is not ws(s)://HOST:PORT is refused with how to write it."""
    with pytest.raises(ValueError, match="ws://HOST:PORT"):
        server_url(url)


@pytest.mark.parametrize("room", ["a/b", "x" * 300, "", "../up"])
def test_a_badly_written_room_is_refused_before_anything_else(
    home: Path, room: str
) -> None:
    """A room the server would refuse is refused at once, naming the rule."""
    with pytest.raises(ValueError, match="not a valid room"):
        open_chat("alice", partner="bob", passphrase="pw", room=room)
    assert not (home / "claims").exists() or not any((home / "claims").iterdir())

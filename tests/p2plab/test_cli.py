"""The ``p2plab`` command: help, the demo dispatch, and ``p2plab lab``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from p2plab.cli import main


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _gone(pid: int) -> bool:
    """Wait up to 5 s for a process to be gone (or a zombie nobody reaped yet)."""
    for _ in range(50):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ")[1].startswith("Z"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """``p2plab --help`` names demo, lab and server and exits 0."""
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "demo" in out and "lab" in out and "server" in out


def test_unknown_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command exits 2 with the usage line on stderr."""
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_lab_starts_server_and_jupyterlab_then_stops_both(tmp_path: Path) -> None:
    """``p2plab lab`` starts a server and JupyterLab, never asking about news, and
    SIGTERM stops them both."""
    server_port, lab_port = _free_port(), _free_port()
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "P2PLAB_HOME": str(tmp_path / "p2plab"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    command = [
        sys.executable, "-m", "p2plab.cli", "lab",
        "--server", f"ws://127.0.0.1:{server_port}",
        "--no-browser", f"--port={lab_port}", "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0", "--IdentityProvider.token=test-token",
    ]  # fmt: skip
    log = (tmp_path / "lab.log").open("wb")
    # A session of its own: if the test fails, its whole group is ended, so
    # no server or JupyterLab outlives it.
    lab = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                url = f"http://127.0.0.1:{lab_port}/api/status?token=test-token"
                with urllib.request.urlopen(url, timeout=1) as reply:
                    status = json.load(reply)
            except OSError:
                assert lab.poll() is None, (tmp_path / "lab.log").read_text()
                time.sleep(0.2)
        assert status is not None, "JupyterLab did not answer within 60 s"
        assert _answers(server_port)
        plugin = "@jupyterlab/apputils-extension:notification"
        url = f"http://127.0.0.1:{lab_port}/lab/api/settings/{plugin}?token=test-token"
        with urllib.request.urlopen(url, timeout=5) as reply:
            defaults = json.load(reply)["schema"]["properties"]
        assert defaults["fetchNews"]["default"] == "false"
        assert defaults["checkForUpdates"]["default"] is False
        pid_path = tmp_path / "p2plab" / f"server-{server_port}.pid"
        pid = int(pid_path.read_text())

        lab.send_signal(signal.SIGTERM)
        assert lab.wait(timeout=30) == 0 or lab.returncode == -signal.SIGTERM
        for _ in range(100):
            if not _answers(server_port) and not _answers(lab_port):
                break
            time.sleep(0.1)
        assert not _answers(server_port), "the signaling server was left running"
        assert not _answers(lab_port), "JupyterLab was left running"
        assert not pid_path.exists()
        assert _gone(pid), f"the server process {pid} is still alive"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(lab.pid, signal.SIGKILL)
        lab.wait()
        # The server runs detached, in a session of its own: end it by its id.
        server_pid = tmp_path / "p2plab" / f"server-{server_port}.pid"
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(server_pid.read_text()), signal.SIGTERM)
        log.close()


@pytest.mark.parametrize(
    "argv",
    [
        ["lab", "--server", "http://127.0.0.1:8766"],
        ["bot", "--url", "ws://127.0.0.1:99999"],
        ["bot", "--room", "a/b"],
    ],
)
def test_a_bad_address_or_room_is_one_line_and_status_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong server address or room ends the command with one clear line."""
    with pytest.raises(SystemExit) as ended:
        main(argv)
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "ws://HOST:PORT" in err or "not a valid room" in err


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_demo_timeout_must_be_a_positive_number(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``p2plab demo --timeout`` refuses zero, negative and non-numbers in one line."""
    with pytest.raises(SystemExit) as ended:
        main(["demo", "--timeout", value])
    assert ended.value.code == 2
    assert "is not a positive number of seconds" in capsys.readouterr().err


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    """``p2plab --version`` prints the package's version and exits 0."""
    from p2plab import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"p2plab {__version__}"

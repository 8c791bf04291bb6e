"""Fixtures for the browser tests: a signaling server, JupyterLab and Chromium.

Everything runs on 127.0.0.1 with every directory JupyterLab, IPython and
p2plab write to moved into a temporary folder, so a run never touches the
user's own settings, keys or kernels. Every wait is bounded, and every
process started here is stopped by its own handle when the test ends.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
CHROMIUM = Path("/usr/bin/chromium")

# Seconds each kind of start-up may take before the test gives up.
SERVER_START = 10.0
JUPYTER_START = 20.0
STOP_GRACE = 5.0

# Chromium must reach nothing but the lab on 127.0.0.1: no background
# services, no proxy, and no host name but 127.0.0.1 resolves.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def _free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    """Return the last ``lines`` lines of a log file, for failure messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _stop(proc: subprocess.Popen[Any]) -> None:
    """Terminate one process we started, then kill it if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_GRACE)


@dataclass
class LabDirs:
    """The temporary folders and environment of one lab run."""

    root: Path
    notebooks: Path
    env: dict[str, str]
    logs: Path


@pytest.fixture
def lab_dirs(tmp_path: Path) -> Iterator[LabDirs]:
    """An isolated environment: HOME, P2PLAB_HOME, Jupyter and IPython dirs.

    The bulky folders live in a temporary directory removed at the end;
    logs stay in ``tmp_path`` so that a failure can be read afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="p2plab-browser-") as scratch:
        root = Path(scratch)
        env = {
            key: value
            for key, value in os.environ.items()
            # Outer Jupyter search paths would leak the user's settings in.
            if key not in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "PYTHONSTARTUP")
        }
        for name in (
            "HOME",
            "P2PLAB_HOME",
            "JUPYTER_CONFIG_DIR",
            "JUPYTER_DATA_DIR",
            "JUPYTER_RUNTIME_DIR",
            "IPYTHONDIR",
        ):
            path = root / name.lower()
            path.mkdir()
            env[name] = str(path)
        # The kernels import p2plab from this checkout, whatever is installed.
        paths = [str(REPO), str(REPO / "server"), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
        env["PYTHONUNBUFFERED"] = "1"
        # No toast asking about news, and no update check, in the browser.
        settings = Path(env["JUPYTER_CONFIG_DIR"], "lab", "user-settings")
        notification = settings / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True)
        (notification / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        notebooks = root / "notebooks"
        notebooks.mkdir()
        logs = tmp_path / "logs"
        logs.mkdir()
        yield LabDirs(root, notebooks, env, logs)


def _read_lines(stream: IO[str], lines: queue.Queue[str]) -> None:
    """Copy a process's output lines into a queue until it closes."""
    for line in stream:
        lines.put(line)


@pytest.fixture
def signaling_url(lab_dirs: LabDirs) -> Iterator[str]:
    """A ``python -m p2plab_server`` on a free loopback port; yields its URL."""
    log = lab_dirs.logs / "server.log"
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "p2plab_server", "--host", "127.0.0.1"]
            + ["--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=lab_dirs.env,
        )
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines))
    reader.daemon = True
    reader.start()
    try:
        url = None
        deadline = time.monotonic() + SERVER_START
        while url is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                if proc.poll() is not None:
                    break
                continue
            if "listening on ws://" in line:
                url = line.split("listening on ", 1)[1].strip()
        if url is None:
            pytest.fail(
                f"the signaling server did not start in {SERVER_START:g} s\n"
                + _tail(log)
            )
        lab_dirs.env["P2PLAB_SERVER"] = url
        yield url
    finally:
        _stop(proc)
        reader.join(timeout=STOP_GRACE)
        proc.stdout.close()


@dataclass
class JupyterLab:
    """A running JupyterLab: where it listens and how to log in."""

    url: str
    token: str
    root: Path
    log: Path

    def api(self, path: str) -> Any:
        """GET ``path`` from the server's REST API and decode the JSON."""
        request = urllib.request.Request(
            f"{self.url}{path}", headers={"Authorization": f"token {self.token}"}
        )
        # An empty ProxyHandler: loopback never goes through a proxy.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=2) as response:
            return json.load(response)


@pytest.fixture
def jupyter_lab(lab_dirs: LabDirs, signaling_url: str) -> Iterator[JupyterLab]:
    """JupyterLab on a free loopback port, serving ``lab_dirs.notebooks``.

    The test fills that folder before opening notebooks; JupyterLab lists
    files when asked, so it may start while the folder is still empty.
    """
    port = _free_port()
    token = secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.root_dir={lab_dirs.notebooks}",
        f"--IdentityProvider.token={token}",
        "--expose-app-in-browser",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = lab_dirs.logs / "jupyterlab.log"
    with open(log, "wb") as output:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=lab_dirs.env,
            cwd=lab_dirs.notebooks,
        )
    lab = JupyterLab(f"http://127.0.0.1:{port}", token, lab_dirs.notebooks, log)
    try:
        deadline = time.monotonic() + JUPYTER_START
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}\n{_tail(log)}")
            try:
                lab.api("/api/status")
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"JupyterLab did not answer in {JUPYTER_START:g} s\n"
                        + _tail(log)
                    )
                time.sleep(0.1)
        # The isolated JUPYTER_DATA_DIR must not hide the venv's kernel.
        specs = lab.api("/api/kernelspecs")["kernelspecs"]
        assert "python3" in specs, f"no python3 kernel spec, only {sorted(specs)}"
        yield lab
    finally:
        _stop(proc)


@pytest.fixture
def chromium_page(lab_dirs: LabDirs) -> Iterator[Any]:
    """A Playwright page in Debian's Chromium, headless, with a fresh profile."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (install it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    profile = lab_dirs.root / "chromium-profile"
    profile.mkdir()
    with sync_playwright() as playwright:
        # Playwright refuses --user-data-dir in args: a profile folder means
        # a persistent context, which is also the browser's only context.
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            env=lab_dirs.env,
            viewport={"width": 1600, "height": 1000},
            timeout=30_000,
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            context.close()

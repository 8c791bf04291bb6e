"""Start the servers under test as child processes and read their costs.

Each server runs as its own process, started here, so that its CPU time and
resident memory can be read from ``/proc/<pid>``. Only processes started by
this module are ever signalled, and only by their PID.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PEER_VERSION",
    "ServerProcess",
    "Usage",
    "describe_server",
    "ensure_peer",
    "export_server",
    "machine_busy_s",
    "own_cpu_s",
    "free_port",
    "start",
]

#: The peerjs-server release compared against.
PEER_VERSION = "1.0.2"

BENCH_DIR = Path(__file__).resolve().parent.parent
PEER_DIR = BENCH_DIR / "node_modules" / "peer"
PEER_CLI = PEER_DIR / "dist" / "bin" / "peerjs.js"

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# The relay-path experiment; --path picks how it relays.
_PROTOTYPE = [
    sys.executable,
    "-m",
    "relaybench.fast_relay",
    "--port",
    "{port}",
    "--path",
]

# How each server under test is started; {port} is filled in.
COMMANDS: dict[str, list[str]] = {
    "peerjs": ["node", str(PEER_CLI), "--host", "127.0.0.1", "--port", "{port}"],
    "p2plab": [
        sys.executable,
        "-m",
        "p2plab_server",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "WARNING",
        # Settings for a load test: no rate limit (the saturation phase sends
        # as fast as it can by design), and caps on users well above the
        # clients of any run. Nobody goes offline, so --hold keeps its default.
        "--rate",
        "0",
        "--room-users",
        "10000",
        "--server-users",
        "10000",
    ],
    "prototype": [*_PROTOTYPE, "forward"],
    "prototype-splice": [*_PROTOTYPE, "splice"],
    "prototype-parse": [*_PROTOTYPE, "parse"],
    "prototype-lean": [*_PROTOTYPE, "forward", "--lean"],
}


@dataclass(frozen=True)
class Usage:
    """CPU time and resident memory of a process at one instant."""

    cpu_s: float
    rss_kib: int
    at: float


def machine_busy_s() -> float:
    """Return the CPU time all processes of the machine have used, in seconds."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(field) for field in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...: all but idle and iowait.
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / _CLOCK_TICKS


def own_cpu_s() -> float:
    """Return the CPU time this process (the load generator) has used."""
    times = os.times()
    return times.user + times.system


def ensure_peer() -> None:
    """Install ``peer`` into ``bench/node_modules`` unless it is already there.

    Raises:
        RuntimeError: If npm fails; its output is in the message.
    """
    manifest = PEER_DIR / "package.json"
    if manifest.exists() and f'"version": "{PEER_VERSION}"' in manifest.read_text():
        return
    # --no-save and --no-package-lock keep npm from writing package.json or a
    # lock file into bench/; everything it installs stays in node_modules.
    command = [
        "npm",
        "install",
        "--prefix",
        str(BENCH_DIR),
        "--no-save",
        "--no-package-lock",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        f"peer@{PEER_VERSION}",
    ]
    print("installing peer", PEER_VERSION, "with npm ...", flush=True)
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not PEER_CLI.exists():
        raise RuntimeError(
            f"npm install of peer@{PEER_VERSION} failed "
            f"(exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
        )


def export_server(ref: str) -> tuple[Path, str]:
    """Check out ``server/p2plab_server`` at git ``ref`` into bench/.cache.

    Returns:
        The directory to put first on PYTHONPATH, and the commit's hash.

    Raises:
        RuntimeError: If git cannot resolve or archive ``ref``.
    """
    repo = BENCH_DIR.parent
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git cannot resolve {ref!r}: {done.stderr.strip()}")
    commit = done.stdout.strip()
    cache = BENCH_DIR / ".cache"
    dest = cache / f"p2plab-server-{commit[:12]}"
    if not (dest / "server" / "p2plab_server" / "__init__.py").exists():
        dest.mkdir(parents=True, exist_ok=True)
        # Like pytest's cache: the directory ignores itself, so that git and
        # the linters leave the copies alone.
        (cache / ".gitignore").write_text("*\n")
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", commit, "server/p2plab_server"],
            capture_output=True,
        )
        if archive.returncode != 0:
            raise RuntimeError(f"git archive failed: {archive.stderr.decode()}")
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(dest, filter="data")
    return dest / "server", commit


def describe_server(ref: str | None) -> str:
    """Say which p2plab server source a run measures."""
    repo = str(BENCH_DIR.parent)
    head = subprocess.run(
        ["git", "-C", repo, "rev-parse", "--short=12", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if ref is not None:
        return f"p2plab server at {ref} ({export_server(ref)[1][:12]})"
    dirty = subprocess.run(
        ["git", "-C", repo, "status", "--porcelain", "--", "server"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    changes = ", with uncommitted changes in server/" if dirty else ""
    return f"p2plab server from the work tree at {head}{changes}"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """One server under test, running as a child process."""

    def __init__(
        self,
        kind: str,
        port: int,
        log_path: Path,
        path: Path | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        self.kind = kind
        self.port = port
        self.log_path = log_path
        command = [part.format(port=port) for part in COMMANDS[kind]] + list(extra)
        env = dict(os.environ)
        # The prototype is imported from bench/; the p2plab server is the one
        # installed in this environment unless ``path`` or an inherited
        # PYTHONPATH (a second work tree, say) holds another.
        entries = [str(BENCH_DIR)] if path is None else [str(path), str(BENCH_DIR)]
        inherited = os.environ.get("PYTHONPATH")
        if path is None and inherited:
            entries.insert(0, inherited)
        env["PYTHONPATH"] = os.pathsep.join(entries)
        # The p2plab server keeps its directory of names in a SQLite file under
        # P2PLAB_HOME since protocol 2: give each run a fresh, private one, so
        # that no run sees another's names and no user's directory is touched.
        self.home = Path(tempfile.mkdtemp(prefix="p2plab-bench-"))
        env["P2PLAB_HOME"] = str(self.home)
        for name in ("P2PLAB_DB", "P2PLAB_HOST", "P2PLAB_PORT", "P2PLAB_LOG_LEVEL"):
            env.pop(name, None)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.pid = self.process.pid

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Wait until the server accepts TCP connections on its port.

        Raises:
            RuntimeError: If it exits or does not listen within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} exited with {self.process.returncode}; "
                    f"see {self.log_path}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.kind} did not listen within {timeout} s")

    def usage(self) -> Usage:
        """Read the process's CPU time (user + system) and resident memory."""
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
            # The command name may hold spaces; the fields after it do not.
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        rss = 0
        with open(f"/proc/{self.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        return Usage(ticks / _CLOCK_TICKS, rss, time.monotonic())

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM) without waiting for it."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)

    def stop(self) -> int:
        """Stop the process (SIGTERM, then SIGKILL after 5 s); return its code."""
        if self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log.close()
        shutil.rmtree(self.home, ignore_errors=True)
        return self.process.returncode


def start(
    kind: str,
    log_dir: Path,
    tag: str,
    path: Path | None = None,
    extra: Sequence[str] = (),
) -> ServerProcess:
    """Start one server of ``kind`` on a free loopback port and wait for it.

    ``path``, if given, goes first on the server's PYTHONPATH; ``extra`` is
    added to its command line.
    """
    log = log_dir / f"{kind}-{tag}.log"
    server = ServerProcess(kind, free_port(), log, path, extra)
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server

"""Sample a Python server under test with py-spy and summarize where it spends.

py-spy is optional: ``pip install py-spy``. It samples the server process
from outside, without pausing it (``--nonblocking``), and leaves idle samples
out, so the shares below are shares of the server's busy time.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

__all__ = ["Sampler", "summarize"]


class Sampler:
    """A py-spy process recording one PID into a collapsed-stack file."""

    def __init__(self, pid: int, out: Path, rate: int = 250) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(exe).exists():
            raise RuntimeError("py-spy is not installed: pip install py-spy")
        self.out = out
        self.process = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate),
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        """Stop sampling; py-spy writes its file on SIGINT."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


# Where a sample goes: the first category whose pattern its stack matches.
# The p2plab server handles every frame inside the event loop's read
# callback, so the callback itself only counts when it is the leaf: the
# recv system call. The prototypes run websockets' asyncio connections,
# whose send and recv keep their own categories.
CATEGORIES: list[tuple[str, re.Pattern[str]]] = [
    ("JSON decode and encode", re.compile(r"\(json/")),
    (
        "request validation (protocol.parse)",
        re.compile(r";(parse|_check_\w+) \([^)]*p2plab_server/protocol\.py"),
    ),
    (
        "relayed frame (protocol.relayed, the splice)",
        re.compile(r";(relayed|_splice) \([^)]*p2plab_server/protocol\.py"),
    ),
    ("socket write (send syscall)", re.compile(r"_SelectorSocketTransport\.write ")),
    (
        "websockets send (framing, locks)",
        re.compile(r"Connection\.send \([^)]*websockets/asyncio/"),
    ),
    (
        "websockets receive (reassembly)",
        re.compile(r"Connection\.recv \([^)]*websockets/asyncio/"),
    ),
    (
        "websockets frames (parse and serialize)",
        re.compile(r"\([^)]*websockets/(frames|streams|protocol|server)\.py"),
    ),
    ("socket read (recv syscall)", re.compile(r"\._read_ready__data_received [^;]*$")),
    ("event loop", re.compile(r";[^;]*[(/](selectors|base_events|events)\.py:\d+\)$")),
]


def _category(stack: str) -> str:
    for label, pattern in CATEGORIES:
        if pattern.search(stack):
            return label
    leaf = stack.rsplit(";", 1)[-1]
    return "relay code and the rest: " + _function(leaf).split(":")[-1]


def _function(frame: str) -> str:
    """Turn ``name (path/to/file.py:12)`` into ``file.py:name``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = path.split("/")
    short = "/".join(parts[-2:]) if "site-packages" in path else parts[-1]
    return f"{short}:{name}"


def summarize(path: Path, top: int = 10) -> str:
    """Return where the busy samples went, by category and by function."""
    categories: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        categories[_category(stack)] += count
        own[_function(stack.rsplit(";", 1)[-1])] += count
    if not total:
        return f"{path}: no samples"
    lines = [f"{path.name}: {total} busy samples", "by category:"]
    lines += [f"  {n / total:6.1%}  {c}" for c, n in categories.most_common(top)]
    lines.append("by function (self time):")
    lines += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)

"""What ``pytest --nbval notebooks/...`` needs: a private server and home.

When the notebooks run under nbval (``--nbval`` or ``--nbval-lax``), this
starts a signaling server inside the pytest process on a free port of
127.0.0.1 and points the kernels at it with ``P2PLAB_SERVER``, so that
``open_chat`` never starts a detached server that would outlive the run.
Outputs are compared after ``tests/notebooks/sanitize.cfg`` has masked what
is random (ports, keys, fingerprints, timings).
HOME, P2PLAB_HOME and IPYTHONDIR move to a temporary folder, so the user's
own keys and history are never touched. Everything is undone when pytest
ends. Command::

    .venv/bin/pytest --nbval notebooks/

It lives here rather than in ``notebooks/`` so that learners browsing the
lessons in JupyterLab never see it. Without nbval it does nothing, and it
imports p2plab only when needed: the server's tests run without aiortc.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent
SANDBOX_DIRS = ("HOME", "P2PLAB_HOME", "IPYTHONDIR")
# What differs from run to run in the lessons' outputs (used unless the
# command line names another file with --nbval-sanitize-with).
SANITIZE = REPO / "tests" / "notebooks" / "sanitize.cfg"


class Sandbox:
    """A signaling server on a thread of its own, and a temporary home."""

    def __init__(self) -> None:
        from p2plab.network import NetworkThread

        self.saved = dict(os.environ)
        self.scratch = tempfile.TemporaryDirectory(prefix="p2plab-nbval-")
        self.network = NetworkThread("nbval-signaling-server")
        self.server = self.network.call(_listen())
        port = self.server.sockets[0].getsockname()[1]

        for name in SANDBOX_DIRS:
            folder = Path(self.scratch.name, name.lower())
            folder.mkdir()
            os.environ[name] = str(folder)
        os.environ["P2PLAB_SERVER"] = f"ws://127.0.0.1:{port}"
        # The kernels import p2plab from this checkout, whatever is installed.
        paths = (str(REPO), str(REPO / "server"), os.environ.get("PYTHONPATH", ""))
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)

    def close(self) -> None:
        """Stop the server and the thread, and put the environment back."""
        self.network.call(_close(self.server))
        self.network.stop()
        self.network.loop.close()
        os.environ.clear()
        os.environ.update(self.saved)
        self.scratch.cleanup()


async def _listen() -> Any:
    from p2plab_server import SignalingServer

    return await SignalingServer().serve("127.0.0.1", 0)


async def _close(server: Any) -> None:
    server.close()
    await server.wait_closed()


_KEY = pytest.StashKey[Sandbox]()


def pytest_configure(config: pytest.Config) -> None:
    """Set up the sandbox, and the sanitize file, before nbval starts a kernel."""
    if config.getoption("nbval", False) or config.getoption("nbval_lax", False):
        if not config.getoption("nbval_sanitize_with", None):
            config.option.nbval_sanitize_with = str(SANITIZE)
        config.stash[_KEY] = Sandbox()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Tear the sandbox down once every kernel is gone."""
    sandbox = config.stash.get(_KEY, None)
    if sandbox is not None:
        sandbox.close()

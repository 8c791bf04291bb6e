"""``p2plab``: the lab's command line.

``p2plab demo`` runs Alice and Bob in a terminal; ``p2plab lab`` starts the
signaling server and JupyterLab on the lessons; ``p2plab server`` runs the
signaling server alone (the same as ``p2plab-server``); ``p2plab bot`` plays
a partner who is not there (see :mod:`p2plab.bot`).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from .errors import P2PLabError
from .lab import DEFAULT_URL, ensure_server, pid_file, server_url

__all__ = ["main"]

HELP = """\
p2plab: peer-to-peer chat with end-to-end encryption, one step at a time.

  p2plab lab      start the signaling server (if none runs) and JupyterLab
                  on the lessons; Ctrl-C twice stops both
  p2plab demo     Alice and Bob chat in two processes, narrated step by step
  p2plab server   the signaling server alone (the same as p2plab-server)
  p2plab bot      play a missing partner (bob by default), with their own
                  key from this machine's key store, until they come"""


def _notebooks() -> Path:
    """Return the lessons folder: ./notebooks, else the one beside the package."""
    here = Path.cwd() / "notebooks"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "notebooks"


def lab(argv: list[str]) -> int:
    """Start the signaling server (if none runs) and JupyterLab on the lessons."""
    parser = argparse.ArgumentParser(
        prog="p2plab lab",
        description=lab.__doc__,
        epilog="Any other option goes to JupyterLab, e.g. --port 8890.",
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("P2PLAB_SERVER", DEFAULT_URL),
        help=f"signaling server URL (default {DEFAULT_URL})",
    )
    args, jupyter_args = parser.parse_known_args(argv)
    try:
        status = ensure_server(server_url(args.server))
    except (ValueError, P2PLabError) as exc:
        parser.error(str(exc))
    print(f"signaling server at {args.server}: {status}", flush=True)
    # JupyterLab's defaults for the lab: never ask about news or updates
    # (the prompt covers the notebook, and both would ask the internet).
    config = str(Path(__file__).resolve().parent / "jupyter")
    extra = os.environ.get("JUPYTER_CONFIG_PATH")
    env = {
        **os.environ,
        "P2PLAB_SERVER": args.server,
        "JUPYTER_CONFIG_PATH": os.pathsep.join([config, *([extra] if extra else [])]),
    }
    command = [sys.executable, "-m", "jupyter", "lab", str(_notebooks()), *jupyter_args]
    # A lab needs no news feed and no update check: both would ask the
    # internet, and the news prompt covers part of the notebook.
    for option in (
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ):
        if option.split("=")[0] not in " ".join(jupyter_args):
            command.append(option)
    if os.name == "posix" and os.geteuid() == 0 and "--allow-root" not in command:
        # JupyterLab refuses to run as root unless told; lab machines and
        # containers often are root.
        command.append("--allow-root")
    jupyter = subprocess.Popen(command, env=env)

    # SIGTERM to this command stops JupyterLab cleanly, then the server.
    signal.signal(signal.SIGTERM, lambda *_: jupyter.terminate())
    try:
        while True:
            try:
                return jupyter.wait()
            except KeyboardInterrupt:
                # Ctrl-C reaches JupyterLab too: it asks for confirmation, and
                # a second Ctrl-C stops it. Keep waiting for it to finish.
                continue
    finally:
        if status == "started":
            _stop_started_server(args.server)


def _stop_started_server(url: str) -> None:
    """Stop the server this command started, by the id ensure_server wrote."""
    path = pid_file(urlsplit(url).port or 8765)
    try:
        pid = int(path.read_text())
        os.kill(pid, signal.SIGTERM)
        path.unlink()
        print(f"stopped the signaling server (process {pid})", flush=True)
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``p2plab COMMAND``."""
    argv = sys.argv[1:] if argv is None else argv
    usage = (
        "usage: p2plab {demo,lab,server,bot} [options]   (p2plab COMMAND --help)"
        "\n       p2plab --version"
    )
    if not argv or argv[0] in ("-h", "--help"):
        print(HELP + "\n\n" + usage)
        return 0
    if argv[0] == "--version":
        from . import __version__

        print(f"p2plab {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command == "demo":
        from .demo import main as demo_main

        return demo_main(rest)
    if command == "lab":
        return lab(rest)
    if command == "bot":
        from .bot import main as bot_main

        return bot_main(rest)
    if command == "server":
        from p2plab_server.cli import main as server_main

        return server_main(rest)
    print(f"p2plab: unknown command {command!r}\n{usage}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

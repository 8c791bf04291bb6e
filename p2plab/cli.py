"""``p2plab``: the lab's command line.

``p2plab demo`` runs Alice and Bob in a terminal; ``p2plab lab`` starts the
signaling server and JupyterLab on the lessons; ``p2plab server`` runs the
signaling server alone (the same as ``p2plab-server``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .lab import DEFAULT_URL, ensure_server

__all__ = ["main"]


def _notebooks() -> Path:
    """Return the lessons folder: ./notebooks, else the one beside the package."""
    here = Path.cwd() / "notebooks"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "notebooks"


def lab(argv: list[str]) -> int:
    """Start the signaling server (if none runs) and JupyterLab on the lessons."""
    parser = argparse.ArgumentParser(prog="p2plab lab", description=lab.__doc__)
    parser.add_argument(
        "--server",
        default=os.environ.get("P2PLAB_SERVER", DEFAULT_URL),
        help=f"signaling server URL (default {DEFAULT_URL})",
    )
    args, jupyter_args = parser.parse_known_args(argv)
    print(
        f"signaling server at {args.server}: {ensure_server(args.server)}", flush=True
    )
    env = {**os.environ, "P2PLAB_SERVER": args.server}
    command = [sys.executable, "-m", "jupyter", "lab", str(_notebooks()), *jupyter_args]
    if os.name == "posix" and os.geteuid() == 0 and "--allow-root" not in command:
        # JupyterLab refuses to run as root unless told; lab machines and
        # containers often are root.
        command.append("--allow-root")
    return subprocess.call(command, env=env)


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``p2plab COMMAND``."""
    argv = sys.argv[1:] if argv is None else argv
    usage = "usage: p2plab {demo,lab,server} [options]   (p2plab COMMAND --help)"
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip() + "\n\n" + usage)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "demo":
        from .demo import main as demo_main

        return demo_main(rest)
    if command == "lab":
        return lab(rest)
    if command == "server":
        from p2plab_server.cli import main as server_main

        return server_main(rest)
    print(f"p2plab: unknown command {command!r}\n{usage}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

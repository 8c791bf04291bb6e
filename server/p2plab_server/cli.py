"""``p2plab-server``: run the signaling server from a shell."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sqlite3
import sys

from .directory import default_path
from .protocol import MAX_FRAME, PROTOCOL_VERSION
from .relay import run

__all__ = ["main"]

DESCRIPTION = """\
Run the p2plab signaling server. It relays WebRTC set-up messages (offers,
answers, ICE candidates) between named users and keeps a directory of their
public keys, room by room. It never sees chat messages or session keys.

Every join is proven: the client signs the server's challenge with the private
key of the public key it publishes. A name is bound to its key on first use,
and the bindings are kept in a SQLite file, so a restart forgets nothing.

For one laptop, the defaults are right: it listens on 127.0.0.1:8765.
For a classroom, listen on all interfaces and give students this machine's
address:  p2plab-server --host 0.0.0.0
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser, with defaults from the environment."""
    parser = argparse.ArgumentParser(
        prog="p2plab-server",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("P2PLAB_HOST", "127.0.0.1"),
        help="address to listen on (env P2PLAB_HOST; default 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("P2PLAB_PORT", "8765")),
        help="TCP port, 0 for any free port (env P2PLAB_PORT; default 8765)",
    )
    parser.add_argument(
        "--db",
        default=os.environ.get("P2PLAB_DB") or str(default_path()),
        help="the directory of names and keys: a SQLite file, created if "
        "missing, or :memory: to forget everything at exit (env P2PLAB_DB; "
        "default $P2PLAB_HOME/server.sqlite3, else ~/.p2plab/server.sqlite3)",
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("P2PLAB_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="INFO logs joins and leaves; DEBUG adds one line per frame, "
        "never its payload (env P2PLAB_LOG_LEVEL; default INFO)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the server until interrupted; return the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    # The websockets library logs every handshake at INFO; joins and leaves
    # are what a teacher wants to see.
    logging.getLogger("websockets").setLevel(logging.WARNING)

    def ready(server: object) -> None:
        for sock in getattr(server, "sockets", []):
            host, port = sock.getsockname()[:2]
            # This line is read by the scripts that start the server.
            print(f"p2plab-server listening on ws://{host}:{port}", flush=True)
        logging.info(
            "protocol %s; directory %s; frame limit %d bytes",
            PROTOCOL_VERSION,
            args.db,
            MAX_FRAME,
        )

    async def serve() -> None:
        stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def request_stop() -> None:
            if not stop.done():
                stop.set_result(None)

        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, request_stop)
        await run(args.host, args.port, db=args.db, ready=ready, stop=stop)

    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(serve())
        except sqlite3.Error as exc:
            print(
                f"p2plab-server: cannot open the directory {args.db}: {exc}; "
                "choose another file with --db",
                file=sys.stderr,
            )
            return 1
        except OSError as exc:
            print(
                f"p2plab-server: cannot listen on {args.host}:{args.port}: {exc}",
                file=sys.stderr,
            )
            return 1
    return 0

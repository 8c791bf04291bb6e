"""``p2plab-server``: run the signaling server from a shell.

Every option can also be set by an environment variable (``P2PLAB_...``), for
a service manager or a container; a flag on the command line wins.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sqlite3
import ssl
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from .directory import default_path
from .protocol import PROTOCOL_VERSION
from .relay import run
from .settings import Settings

__all__ = ["address_hint", "build_parser", "main", "tls_context"]

N = TypeVar("N", int, float)

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

EPILOG = """\
examples:
  p2plab-server
      one laptop: listen on 127.0.0.1:8765
  p2plab-server --host 0.0.0.0
      a classroom: students use ws://THIS-MACHINE:8765
  p2plab-server --host 0.0.0.0 --cert lab.pem --key lab.key
      the same over TLS: students use wss://THIS-MACHINE:8765
  p2plab-server --host 0.0.0.0 --origin https://lab.example.org
      web pages may connect from that origin only (notebooks always may)
  p2plab-server --ping-interval 5 --ping-timeout 5 --close-timeout 2
      notice a laptop that went to sleep within 12 s instead of 30 s
  P2PLAB_PORT=9000 P2PLAB_DB=/srv/p2plab/server.sqlite3 p2plab-server
      any option from the environment, e.g. in a systemd unit
  curl http://127.0.0.1:8765/health
      is it up? protocol version, rooms, users online and uptime, as JSON

Stop it with Ctrl-C or SIGTERM: every client is told, and it exits within
--close-timeout seconds. The protocol, the limits and every error code are
described in docs/protocol.md.
"""

_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]

# An option: flag, environment variable, parser, default, metavar, help.
_Spec = tuple[str, str, Callable[[str], Any], Any, str, str]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser, with defaults from the environment."""
    parser = argparse.ArgumentParser(
        prog="p2plab-server",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    default = Settings()
    where = parser.add_argument_group("where it listens")
    network: list[_Spec] = [
        ("--host", "P2PLAB_HOST", str, "127.0.0.1", "ADDRESS",
         "address to listen on; 0.0.0.0 listens on every interface"),
        ("--port", "P2PLAB_PORT", _port, 8765, "PORT",
         "TCP port; 0 picks a free one"),
        ("--cert", "P2PLAB_TLS_CERT", str, None, "FILE",
         "serve wss:// with this TLS certificate chain (PEM), not ws://"),
        ("--key", "P2PLAB_TLS_KEY", str, None, "FILE",
         "the certificate's private key (PEM, not encrypted), unless it is in "
         "the --cert file"),
    ]  # fmt: skip
    for spec in network:
        _option(where, *spec)
    where.add_argument(
        "--origin",
        action="append",
        metavar="URL",
        help="let web pages from this origin connect, e.g. "
        "https://lab.example.org; repeat for several. Pages from other origins "
        "are refused; programs that send no Origin (notebooks) are always "
        "accepted (env P2PLAB_ORIGINS, separated by spaces; default: any origin)",
    )

    directory = parser.add_argument_group("directory of names and keys")
    _option(
        directory, "--db", "P2PLAB_DB", str, str(default_path()), "PATH",
        "a SQLite file, created if missing, or :memory: to forget everything at "
        "exit; default $P2PLAB_HOME/server.sqlite3, else ~/.p2plab/server.sqlite3",
        show_default=False,
    )  # fmt: skip

    alive = parser.add_argument_group(
        "liveness and offline users",
        "A user whose connection dies without a word is announced as left within\n"
        "ping interval + ping timeout + close timeout seconds (30 by default).",
    )
    liveness: list[_Spec] = [
        ("--ping-interval", "P2PLAB_PING_INTERVAL", _seconds,
         default.ping_interval, "SECONDS", "seconds between keepalive pings"),
        ("--ping-timeout", "P2PLAB_PING_TIMEOUT", _seconds, default.ping_timeout,
         "SECONDS", "seconds a ping may go unanswered before the user is dropped"),
        ("--close-timeout", "P2PLAB_CLOSE_TIMEOUT", _seconds, default.close_timeout,
         "SECONDS", "seconds to wait for a closing handshake; also the longest a "
         "shutdown takes"),
        ("--hold", "P2PLAB_HOLD", _seconds, default.hold, "SECONDS",
         "seconds a message waits for a user who is briefly offline; 0 refuses "
         "it at once"),
        ("--queue", "P2PLAB_QUEUE", _count, default.queue, "N",
         "messages held at most for one offline user"),
    ]  # fmt: skip
    for spec in liveness:
        _option(alive, *spec)

    limits = parser.add_argument_group("limits")
    caps: list[_Spec] = [
        ("--max-frame", "P2PLAB_MAX_FRAME", _count, default.max_frame, "BYTES",
         "largest message read; up to 16 times more is refused with an error, "
         "anything larger closes the connection"),
        ("--rate", "P2PLAB_RATE", _seconds, default.rate, "PER_SECOND",
         "messages a connection may send per second; 0 for no limit"),
        ("--burst", "P2PLAB_BURST", _count, default.burst, "N",
         "messages a connection may send at once before --rate applies"),
        ("--room-users", "P2PLAB_ROOM_USERS", _count, default.room_users, "N",
         "users at most in one room"),
        ("--server-users", "P2PLAB_SERVER_USERS", _count, default.server_users,
         "N", "users at most on the server, all rooms together"),
    ]  # fmt: skip
    for spec in caps:
        _option(limits, *spec)

    log = parser.add_argument_group("logging")
    log.add_argument(
        "--log-level",
        default=os.environ.get("P2PLAB_LOG_LEVEL", "INFO"),
        choices=_LEVELS,
        help="INFO logs joins, leaves and refusals; DEBUG adds one line per "
        "frame, never its payload (env P2PLAB_LOG_LEVEL; default INFO)",
    )
    return parser


def _option(
    group: argparse._ArgumentGroup,
    flag: str,
    env: str,
    convert: Callable[[str], Any],
    fallback: Any,
    metavar: str,
    text: str,
    show_default: bool = True,
) -> None:
    """Add ``flag``, read from ``env`` when the command line does not give it."""
    raw = os.environ.get(env)

    def typed(value: str) -> Any:
        try:
            return convert(value)
        except ValueError as exc:
            source = f" (from the environment variable {env})" if value == raw else ""
            raise argparse.ArgumentTypeError(f"{exc}{source}") from None

    where = f"env {env}"
    if show_default and fallback is not None:
        shown = f"{fallback:g}" if isinstance(fallback, float) else str(fallback)
        where += f"; default {shown}"
    group.add_argument(
        flag,
        type=typed,
        default=raw if raw is not None else fallback,
        metavar=metavar,
        help=f"{text} ({where})",
    )


def _port(text: str) -> int:
    port = _count(text)
    if port > 65535:
        raise ValueError(f"{text!r} is not a TCP port (0 to 65535)")
    return port


def _count(text: str) -> int:
    return _non_negative(text, int, "a whole number")


def _seconds(text: str) -> float:
    return _non_negative(text, float, "a number")


def _non_negative(text: str, kind: Callable[[str], N], what: str) -> N:
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{text!r} is not {what}") from None
    if value < 0:
        raise ValueError(f"{text!r} is negative")
    return value


def _settings(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Settings:
    """Build the server's settings from the parsed options, or exit with why."""
    origins = args.origin
    if origins is None:
        origins = os.environ.get("P2PLAB_ORIGINS", "").split()
    try:
        return Settings(
            ping_interval=args.ping_interval,
            ping_timeout=args.ping_timeout,
            close_timeout=args.close_timeout,
            hold=args.hold,
            queue=args.queue,
            max_frame=args.max_frame,
            rate=args.rate,
            burst=args.burst,
            room_users=args.room_users,
            server_users=args.server_users,
            origins=tuple(origins),
        )
    except ValueError as exc:
        # Settings names its fields; the teacher typed flags.
        text = str(exc)
        field = text.split(" ", 1)[0]
        if field in {f.name for f in dataclasses.fields(Settings)}:
            text = "--" + field.replace("_", "-") + text[len(field) :]
        parser.error(text)


def tls_context(cert: str, key: str | None) -> ssl.SSLContext:
    """Return a server TLS context for a PEM certificate chain and its key.

    Raises:
        OSError: If a file cannot be read.
        ssl.SSLError: If the files are not a certificate and its key.
        ValueError: If the key is encrypted.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)

    def no_passphrase() -> str:
        # Without this, OpenSSL would ask for a passphrase on the terminal
        # and a server started by a service manager would hang.
        raise ValueError("the private key is encrypted; give a key without one")

    context.load_cert_chain(cert, key, password=no_passphrase)
    return context


def main(argv: list[str] | None = None) -> int:
    """Run the server until interrupted; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = _settings(args, parser)
    if args.key is not None and args.cert is None:
        parser.error("--key needs --cert: the certificate that goes with the key")
    context = None
    if args.cert is not None:
        try:
            context = tls_context(args.cert, args.key)
        except (OSError, ssl.SSLError, ValueError) as exc:
            print(
                f"p2plab-server: cannot use the TLS certificate {args.cert} and "
                f"key {args.key or args.cert}: {exc}",
                file=sys.stderr,
            )
            return 1

    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    # The websockets library logs every handshake at INFO; joins and leaves
    # are what a teacher wants to see.
    logging.getLogger("websockets").setLevel(logging.WARNING)
    scheme = "ws" if context is None else "wss"

    def ready(server: object) -> None:
        for sock in getattr(server, "sockets", []):
            host, port = sock.getsockname()[:2]
            # This line is read by the scripts that start the server.
            print(f"p2plab-server listening on {scheme}://{host}:{port}", flush=True)
            hint = address_hint(scheme, host, port)
            if hint:
                print(hint, flush=True)
        _log_settings(args.db, settings)

    async def serve() -> None:
        stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def request_stop() -> None:
            if not stop.done():
                stop.set_result(None)

        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, request_stop)
        await run(
            args.host,
            args.port,
            db=args.db,
            ready=ready,
            stop=stop,
            settings=settings,
            ssl=context,
        )

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


def _log_settings(db: str, settings: Settings) -> None:
    """Log, once at start, what the server was told."""
    logging.info(
        "protocol %s; directory %s; frame limit %d bytes",
        PROTOCOL_VERSION,
        db,
        settings.max_frame,
    )
    logging.info(
        "keepalive ping every %g s: a silent drop is announced within %g s; "
        "messages for offline users wait %g s (at most %d each)",
        settings.ping_interval,
        settings.drop_bound,
        settings.hold,
        settings.queue,
    )
    rate = f"{settings.rate:g} messages a second per connection, bursts of "
    rate += str(settings.burst)
    logging.info(
        "limits: %s; %d users a room, %d in all; origins: %s",
        rate if settings.rate else "no rate limit",
        settings.room_users,
        settings.server_users,
        " ".join(settings.origins) or "any",
    )


def address_hint(scheme: str, host: str, port: int) -> str | None:
    """Say which address students use when the server listens on every interface.

    ``0.0.0.0`` and ``::`` are where the server listens, not an address a
    client can connect to.
    """
    if host not in ("0.0.0.0", "::"):
        return None
    return (
        f"students connect to {scheme}://THIS-MACHINE:{port}, with this "
        "machine's address on the class network (hostname -I on Linux), "
        f"not to {host}"
    )

"""The partner bot: a stand-in for your partner, in a process of its own.

Open ``alice.ipynb`` alone and nobody answers: Bob is not there. The partner
bot plays Bob until the real Bob comes. It is a small program,
``python -m p2plab.bot`` (also ``p2plab bot``), that joins the same server and
room under the partner's name, answers Alice's call (or calls her), and
replies to every message with what it received and why it could read it::

    from p2plab import bot
    partner = bot.start_partner(pane, passphrase="bob's lab passphrase")
    print(partner.ask("Hi Bob, can you read this?"))

**It plays Bob with Bob's own key.** A name is bound, in its room, to the
first key that joins with it, and the server keeps that binding for good. A
bot with a key of its own would take the name from the real Bob, whose join
would then be refused (``name-taken``). So the bot loads Bob's key from this
machine's key store, with Bob's passphrase, and makes it there if it is not
there yet, exactly as ``bob.ipynb`` would. When the real Bob opens his
notebook, his join carries the same key: the server hands him the name and
closes the bot's connection with code 4001, the bot ends, and Alice's pane
answers the real Bob's call. Where Bob's key lives on another machine (a
class), the bot must not run at all, hence the next rule.

**It runs against a server on this machine only**, unless asked with
``allow_remote=True`` (``--allow-remote``): on a class server, the partner
is a classmate.

**It never pushes a real Bob off.** It is not started when the pane sees Bob
online; and it joins only while it holds an exclusive claim on the name
(:func:`p2plab.lab.claim_name`), which it cannot get while a notebook of this
machine has Bob's chat open. It never reconnects: a bot that lost the server
ends.

**It dies with the kernel that started it.** It reads its standard input, a
pipe from the kernel, and stops when that ends, which happens when the
kernel exits, however it exits; it also watches its parent's process id.
:meth:`PartnerBot.stop`, :func:`p2plab.lesson.reset`, running the cell
again, and running again the cell that opened the pane stop it too. Its log
is ``$P2PLAB_HOME/bot-NAME.log``.

A lesson that must leave the lab's key store alone passes a key store of its
own (``keystore=lesson.key_store()``), the one its pane was opened with.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import p2plab_server
from p2plab_server.directory import lab_home
from p2plab_server.protocol import DEFAULT_ROOM

from .client import ChatClient, Event
from .errors import P2PLabError
from .ice import policy_for_url
from .identity import KeyStore
from .lab import DEFAULT_URL, check_name, claim_name, server_url
from .network import get_network
from .pane import ChatPane

__all__ = [
    "PartnerBot",
    "main",
    "reply_to",
    "start_partner",
    "stop_all",
    "stop_partners_of",
]

logger = logging.getLogger(__name__)

#: Seconds :func:`start_partner` waits for the bot to join, or to say why not.
START_TIMEOUT = 20.0
#: Seconds :meth:`PartnerBot.stop` waits for the bot to leave before ending it.
STOP_TIMEOUT = 5.0
# How often the bot looks at its parent and at its connection, in seconds.
_TICK = 0.2
# The longest quote of a received message in a reply, in characters.
_QUOTE = 200

# The bots this process started and has not stopped.
_bots: list[PartnerBot] = []


def reply_to(text: str, nonce: bytes, ciphertext: bytes) -> str:
    """Return the bot's reply to a message it received and opened.

    Args:
        text: The message, opened.
        nonce: The nonce it came with.
        ciphertext: Its ciphertext and tag, as they travelled.
    """
    quoted = text if len(text) <= _QUOTE else text[: _QUOTE - 1] + "…"
    return (
        f"(partner bot) I got {len(ciphertext)} bytes of ciphertext with nonce "
        f"{nonce.hex()}, and I could open them because I hold the session key "
        f"we share. You wrote: {quoted!r}"
    )


class PartnerBot:
    """A partner bot started from this kernel, as this kernel sees it.

    Made by :func:`start_partner`; a status says what became of it.

    Attributes:
        name: The name the bot plays, e.g. ``"bob"``.
        partner: The name it answers, e.g. ``"alice"``.
        url: The signaling server.
        room: The room.
        status: ``"starting"``, ``"playing"``, ``"not started"`` (the
            server is not on this machine), ``"not needed"`` (the partner is
            online), ``"declined"`` (a notebook here has the name open),
            ``"refused"`` (wrong passphrase, or the server refused the join),
            ``"ended"`` (handed over to the real partner, or the server went
            away) or ``"stopped"``.
        reason: Why, in one sentence.
        process: The bot's process, if one was started.
        log: The file its process logs to.
    """

    def __init__(
        self, pane: ChatPane, name: str, partner: str, url: str, room: str
    ) -> None:
        self.pane = pane
        self.name = name
        self.partner = partner
        self.url = url
        self.room = room
        self.status = "starting"
        self.reason = "starting"
        self.process: subprocess.Popen[str] | None = None
        self.log = lab_home() / f"bot-{name}.log"
        self._lock = threading.Lock()
        self._decided = threading.Event()
        self._stopping = False
        self._reader: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<PartnerBot {self.name}: {self.status}: {self.reason}>"

    @property
    def running(self) -> bool:
        """True while the bot's process runs."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask the bot to leave and wait for its process to end; safe to call twice.

        A bot that does not leave within ``timeout`` seconds is terminated.
        """
        process = self.process
        if process is None:
            return
        self._stopping = True
        stdin = process.stdin
        if stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                stdin.write("stop\n")
                stdin.flush()
            with contextlib.suppress(OSError, ValueError):
                stdin.close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(2.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(timeout)
        with self._lock:
            if self.status in ("starting", "playing"):
                self.status, self.reason = "stopped", "stopped by this kernel"
        with contextlib.suppress(ValueError):
            _bots.remove(self)

    def ask(self, text: str, timeout: float = 10.0) -> str:
        """Send ``text`` from the pane's chat and return the bot's reply.

        If the bot is not playing, or the real partner takes over before the
        bot replies, no reply comes: this returns a sentence that says why.

        Raises:
            TimeoutError: If the bot does not reply within ``timeout`` seconds.
        """
        if self.status != "playing":
            return f"(no reply: the bot is {self.status}: {self.reason})"
        client = self.pane.client
        if client is None:
            return "(no reply: this pane has no chat)"
        return get_network().call(self._ask(client, text, timeout), timeout + 5.0)

    async def _ask(self, client: ChatClient, text: str, timeout: float) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await client.wait_ready(timeout)
        session = client.session
        start = len(client.events)
        await client.send(text)
        while loop.time() < deadline:
            for event in client.events[start:]:
                data = event.data
                if event.kind == "message" and not data["sent"]:
                    if data["sender"] == self.name:
                        return str(data["text"])
            if not self.running or client.session is not session:
                return (
                    f"(no reply from the bot: {self.name} arrived in person and "
                    "took over the chat; say hello in the pane)"
                )
            await asyncio.sleep(0.02)
        raise TimeoutError(
            f"the bot playing {self.name} did not reply in {timeout:g} s"
        )

    # Internals.

    def _settle(self, status: str, reason: str) -> None:
        with self._lock:
            if self._stopping and status == "ended":
                status = "stopped"
            self.status, self.reason = status, reason
        self._decided.set()

    def _spawn(
        self, passphrase: str, allow_remote: bool, keystore: KeyStore | None
    ) -> None:
        """Start the bot's process and hand it the passphrase on its stdin."""
        env = dict(os.environ)
        # The bot imports the very p2plab this kernel runs.
        here = [
            str(Path(__file__).resolve().parents[1]),
            str(Path(p2plab_server.__file__).resolve().parents[1]),
        ]
        paths = [*here, *env.get("PYTHONPATH", "").split(os.pathsep)]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
        command = [sys.executable, "-m", "p2plab.bot", "--json"]
        command += ["--url", self.url, "--room", self.room]
        command += ["--name", self.name, "--partner", self.partner]
        command += ["--parent", str(os.getpid())]
        if keystore is not None:
            command += ["--keys", str(keystore.root)]
        if allow_remote:
            command.append("--allow-remote")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            # A session of its own: interrupting the kernel (SIGINT to its
            # process group) must not stop the bot; the pipe's end does.
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                text=True,
                encoding="utf-8",
                start_new_session=True,
            )
        assert self.process.stdin is not None
        # JSON, so that a passphrase may hold any character, a newline too.
        self.process.stdin.write(json.dumps({"passphrase": passphrase}) + "\n")
        self.process.stdin.flush()
        self._reader = threading.Thread(
            target=self._read, name=f"p2plab-bot-{self.name}", daemon=True
        )
        self._reader.start()

    def _read(self) -> None:
        """Follow the bot's reports until its process ends."""
        process = self.process
        assert process is not None and process.stdout is not None
        with process.stdout:
            for raw in process.stdout:
                try:
                    report = json.loads(raw)
                    event, text = str(report["event"]), str(report["text"])
                except (ValueError, KeyError, TypeError):
                    continue
                status = _STATUS.get(event)
                if status is not None:
                    self._settle(status, text)
        code = process.wait()
        if process.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                process.stdin.close()
        if self.status in ("starting", "playing"):
            self._settle("ended", f"the bot's process ended (exit code {code})")
        self._decided.set()


# What each of the bot's reports makes of its status.
_STATUS = {
    "joined": "playing",
    "declined": "declined",
    "refused": "refused",
    "ended": "ended",
}


def start_partner(
    pane: ChatPane,
    *,
    passphrase: str,
    name: str | None = None,
    allow_remote: bool = False,
    keystore: KeyStore | None = None,
    timeout: float = START_TIMEOUT,
) -> PartnerBot:
    """Start a partner bot for the chat in ``pane``, unless it is not needed.

    The bot plays the pane's partner (``name``), in the same room on the
    same server, with the partner's key from this machine's key store. A
    bot this kernel started earlier for that name is stopped first, so
    running the cell again is safe. Returns once the bot has joined, or has
    said why it did not.

    Args:
        pane: A pane from :func:`p2plab.open_chat`.
        passphrase: The partner's passphrase, the one in the partner's
            notebook: it opens (or protects) the partner's key.
        name: The name to play; the pane's partner by default.
        allow_remote: Start it even if the server is not on this machine.
        keystore: Where the partner's key is, or is made; this machine's
            key store (``$P2PLAB_HOME/keys``) by default. Pass the one the
            pane was opened with, if it was given one.
        timeout: Seconds to wait for the bot to join.

    Returns:
        The bot; its :attr:`~PartnerBot.status` says what became of it.

    Raises:
        ValueError: If the pane has no chat, or no partner to play.
    """
    client = pane.client
    if client is None:
        raise ValueError("this pane has no chat: open one with open_chat(...) first")
    name = name or client.partner
    if name is None:
        raise ValueError("the pane names no partner: say which name the bot plays")
    earlier = [
        b for b in _bots if (b.url, b.room, b.name) == (client.url, client.room, name)
    ]
    for old in earlier:
        old.stop()
    if earlier:
        # The server tells the room that the old bot left a moment after its
        # process ends; until then the pane would still see the name online.
        _wait_until_gone(client, name, STOP_TIMEOUT)

    bot = PartnerBot(pane, name, client.name, client.url, client.room)
    if policy_for_url(client.url) != "loopback" and not allow_remote:
        bot._settle(
            "not started",
            f"the server {client.url} is not on this machine: in a class, your "
            f"partner plays {name} (allow_remote=True starts the bot anyway)",
        )
        return bot
    if name in client.signaling.peers:
        bot._settle("not needed", f"{name} is online already")
        return bot
    bot._spawn(passphrase, allow_remote, keystore)
    _bots.append(bot)
    if not bot._decided.wait(timeout):
        bot.stop()
        bot._settle("ended", f"it did not join within {timeout:g} s; see {bot.log}")
    return bot


def _wait_until_gone(client: ChatClient, name: str, timeout: float) -> None:
    """Wait until ``client`` no longer sees ``name`` online, or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while name in client.signaling.peers and time.monotonic() < deadline:
        time.sleep(0.02)


def stop_all() -> None:
    """Stop every partner bot this process started."""
    for bot in list(_bots):
        bot.stop()


def stop_partners_of(client: ChatClient) -> None:
    """Stop the bots started for the chat of ``client``, and wait until they left.

    :func:`p2plab.open_chat` calls this before it closes a chat it replaces:
    the new pane then joins a room where the old bot is gone, as on the
    first run, and the bot cell starts a new one.
    """
    for bot in [b for b in _bots if b.pane.client is client]:
        bot.stop()
        _wait_until_gone(client, bot.name, STOP_TIMEOUT)


# The bot's own process.


@dataclass(frozen=True)
class _Options:
    url: str
    room: str
    name: str
    partner: str
    parent: int | None
    keys: str | None = None


class _Reporter:
    """Report to whoever started the bot: JSON lines, or lines for a person."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def __call__(self, event: str, text: str) -> None:
        line = json.dumps({"event": event, "text": text}) if self.as_json else text
        # The reader may be gone (a kernel that died): nothing left to tell.
        with contextlib.suppress(OSError, ValueError):
            print(line, flush=True)


async def _play(options: _Options, passphrase: str, report: _Reporter) -> int:
    """Join as ``options.name``, answer every message, and leave when told."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    why: list[str] = []

    def request_stop(reason: str) -> None:
        if not stop.is_set():
            why.append(reason)
            stop.set()

    _watch_stdin(loop, request_stop)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop, f"stopped by {signum.name}")

    # Joined only under the claim: no notebook here may have the name open.
    name, room = options.name, options.room
    claim = claim_name(options.url, room, name, exclusive=True)
    if claim is None:
        report(
            "declined",
            f"{name} is open in a notebook on this machine (room {room}): the "
            "bot is not needed, and stays away so as not to push them off",
        )
        return 0
    try:
        try:
            identity = KeyStore(options.keys).load_or_create(name, passphrase)
        except ValueError as exc:
            report(
                "refused", f"{exc}: the bot needs the passphrase of {name}'s notebook"
            )
            return 1
        client = ChatClient(
            name,
            identity,
            options.url,
            room=room,
            partner=options.partner,
            backoff=None,
        )
        tasks: set[asyncio.Task[None]] = set()
        client.on_event = lambda event: _answer(client, event, tasks, report)
        try:
            await client.start()
        except P2PLabError as exc:
            await client.close()
            report("refused", f"could not join as {name}: {exc}")
            return 1
    finally:
        claim.release()

    store = "this machine's key store"
    if options.keys is not None:
        store = "the key store it was given"
    report(
        "joined",
        f"in room {room}, with {name}'s own key from {store}, "
        f"until the real {name} comes",
    )
    try:
        while not stop.is_set() and client.signaling.ended is None:
            if options.parent is not None and os.getppid() != options.parent:
                request_stop("the kernel that started it is gone")
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _TICK)
    finally:
        ending = _ending(client, why)
        await client.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        report("ended", ending)
    return 0


def _ending(client: ChatClient, why: list[str]) -> str:
    """Say why the bot ends."""
    ended = client.signaling.ended
    if ended == "replaced":
        return (
            f"handed over: {client.name} joined from a notebook with the same "
            "key, and the server closed the bot's connection (code 4001)"
        )
    if ended is not None:
        return "the signaling server went away; the bot does not reconnect"
    return why[0] if why else "stopped"


def _answer(
    client: ChatClient,
    event: Event,
    tasks: set[asyncio.Task[None]],
    report: _Reporter,
) -> None:
    """Reply to a message received from the partner."""
    data = event.data
    if event.kind != "message" or data.get("sent"):
        return

    async def send() -> None:
        try:
            await client.send(reply_to(data["text"], data["nonce"], data["ciphertext"]))
        except P2PLabError as exc:
            logger.info("= could not reply to message #%s: %s", data["counter"], exc)
            return
        # No plaintext here: this line may end up in a log.
        report("answered", f"answered message #{data['counter']} from {data['sender']}")

    task = asyncio.ensure_future(send())
    tasks.add(task)
    task.add_done_callback(tasks.discard)


def _watch_stdin(
    loop: asyncio.AbstractEventLoop, request_stop: Callable[[str], None]
) -> None:
    """Stop the bot at the end of its standard input, or on a ``stop`` line."""

    def watch() -> None:
        reason = "its standard input ended: the kernel that started it is gone"
        with contextlib.suppress(OSError, ValueError):
            for line in sys.stdin:
                if line.strip() == "stop":
                    reason = "stopped by the kernel that started it"
                    break
        with contextlib.suppress(RuntimeError):  # the loop has closed already
            loop.call_soon_threadsafe(request_stop, reason)

    threading.Thread(target=watch, name="p2plab-bot-stdin", daemon=True).start()


def _read_passphrase(as_json: bool, name: str) -> str:
    """Read the passphrase: a JSON first line, a prompt, or a plain first line."""
    if as_json:
        first: Any = json.loads(sys.stdin.readline() or "{}")
        return str(first.get("passphrase", "")) if isinstance(first, dict) else ""
    if sys.stdin.isatty():
        return getpass.getpass(f"passphrase of {name}'s key: ")
    return sys.stdin.readline().rstrip("\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m p2plab.bot`` and ``p2plab bot``."""
    parser = argparse.ArgumentParser(
        prog="p2plab bot",
        description="Play a partner who is not there: join as NAME with NAME's key "
        "from this machine's key store, chat with PARTNER, and reply to every "
        "message. Stops at the end of standard input (Ctrl-D), on a line 'stop', "
        "on Ctrl-C, or when the real NAME joins with the same key.",
    )
    parser.add_argument(
        "--url", help=f"signaling server (default: $P2PLAB_SERVER, else {DEFAULT_URL})"
    )
    parser.add_argument(
        "--room", default=DEFAULT_ROOM, help="room (default: %(default)s)"
    )
    parser.add_argument(
        "--name", default="bob", help="name to play (default: %(default)s)"
    )
    parser.add_argument(
        "--partner", default="alice", help="who to chat with (default: %(default)s)"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="join a server that is not on this machine (by default, refused)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='report as JSON lines; the first line of stdin is {"passphrase": ...}',
    )
    parser.add_argument(
        "--keys",
        metavar="FOLDER",
        help="the key store to load NAME's key from, or make it in "
        "(default: $P2PLAB_HOME/keys)",
    )
    parser.add_argument("--parent", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    try:
        url = server_url(args.url)
        check_name(args.room, "room")
        for who in (args.name, args.partner):
            check_name(who)
    except ValueError as exc:
        parser.error(str(exc))
    if args.name == args.partner:
        parser.error("the bot cannot chat with itself: --name and --partner differ")
    if policy_for_url(url) != "loopback" and not args.allow_remote:
        parser.error(
            f"{url} is not on this machine: on a shared server the partner is a "
            "person; pass --allow-remote to start the bot anyway"
        )
    passphrase = _read_passphrase(args.json, args.name)
    if not passphrase:
        parser.error(f"no passphrase given for {args.name}'s key")

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    options = _Options(url, args.room, args.name, args.partner, args.parent, args.keys)
    return asyncio.run(_play(options, passphrase, _Reporter(args.json)))


if __name__ == "__main__":
    sys.exit(main())

"""The lab in a notebook: one call opens a chat pane.

:func:`open_chat` does everything a chat notebook needs: it makes sure a
signaling server is running (starting a local one when the URL is on this
machine and nobody answers), loads or makes the user's key pair, starts the
kernel's network thread, joins the server and returns the chat pane::

    from p2plab import open_chat
    open_chat("alice", partner="bob", passphrase="alice's lab passphrase")

The server URL comes from the ``url`` argument, else the ``P2PLAB_SERVER``
environment variable, else ``ws://127.0.0.1:8765``.

While a chat is open, this process holds a shared lock on a small file in
the lab's folder, one per server port, room and name (:func:`claim_name`).
It tells the partner bot (:mod:`p2plab.bot`) that a notebook on this machine
uses that name, so that the bot never joins under it and pushes the real
user off the server.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from p2plab_server.directory import lab_home
from p2plab_server.protocol import DEFAULT_ROOM, NAME_PATTERN

from .client import ChatClient
from .errors import P2PLabError, SignalingClosed
from .ice import policy_for_url
from .identity import KeyStore
from .network import get_network
from .pane import ChatPane

__all__ = [
    "DEFAULT_URL",
    "check_name",
    "NameClaim",
    "claim_name",
    "close_all",
    "ensure_server",
    "open_chat",
    "pid_file",
    "server_url",
]

DEFAULT_URL = "ws://127.0.0.1:8765"

#: Seconds :func:`open_chat` waits for a partner bot that is joining under
#: the same name to finish, before it joins (and takes the name over).
CLAIM_WAIT = 15.0

# Chats opened in this kernel, by name: opening the same name again closes
# the previous one first, so re-running a cell is always safe. Each holds
# its claim on the name (see claim_name) until it is closed.
_open: dict[str, ChatClient] = {}
_claims: dict[str, NameClaim | None] = {}
_closing_registered = False


def close_all() -> None:
    """Close the chats opened with :func:`open_chat` in this process, then its bots.

    Registered at exit, after the network thread's own stop, so that it runs
    first: a script that ends with chats open then leaves the server and its
    peers cleanly instead of abandoning their tasks mid-flight. The chats
    close first, so that their ``bye`` reaches a partner bot that is still
    there; then every partner bot this process started is stopped.
    """
    from .bot import stop_all

    network = get_network()
    for name, client in list(_open.items()):
        with contextlib.suppress(Exception):
            network.call(client.close(), timeout=5)
        _release(name)
    _open.clear()
    stop_all()


class NameClaim:
    """A lock on a file that says a process on this machine uses a name.

    One file per server port, room and name, in ``$P2PLAB_HOME/claims``.
    A chat opened with :func:`open_chat` holds a shared lock on it for as
    long as it is open; the partner bot takes an exclusive lock, without
    waiting, only while it loads the key and joins. So the bot cannot join
    under a name that a notebook here holds, and a notebook that opens
    while the bot is joining waits for it and then takes the name over
    (the server closes the bot's connection with code 4001). The operating
    system drops the lock when the process ends, however it ends.

    Args:
        path: The lock file.
        handle: The open file that holds the lock.
    """

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path = path
        self._handle: IO[bytes] | None = handle

    @property
    def held(self) -> bool:
        """True until :meth:`release` is called."""
        return self._handle is not None

    def release(self) -> None:
        """Let go of the lock; safe to call twice."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def claim_name(
    url: str,
    room: str,
    name: str,
    *,
    exclusive: bool = False,
    timeout: float = CLAIM_WAIT,
) -> NameClaim | None:
    """Claim ``name`` in ``room`` on the server at ``url``, for this machine.

    Args:
        url: The signaling server; its port tells servers apart.
        room: The room.
        name: The name.
        exclusive: Take the lock for this process alone, without waiting
            (the partner bot); by default, share it with other chats of the
            same name and wait at most ``timeout`` seconds for an exclusive
            holder to let go.
        timeout: For a shared claim, how long to wait.

    Returns:
        The claim, or None if the lock could not be taken: for an exclusive
        claim, someone here uses the name; for a shared one, the wait timed
        out. Where the operating system has no ``flock`` (Windows), a claim
        that holds no lock.
    """
    folder = lab_home() / "claims"
    folder.mkdir(parents=True, exist_ok=True)
    port = urlsplit(url).port or 8765
    path = folder / f"{port}.{check_name(room, 'room')}.{check_name(name)}.lock"
    # The open file is the lock: it stays open as long as the claim holds.
    handle = open(path, "ab")
    try:
        import fcntl
    except ImportError:
        return NameClaim(path, handle)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline = time.monotonic() + (0.0 if exclusive else timeout)
    while True:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
            return NameClaim(path, handle)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                return None
            time.sleep(0.05)


def _release(name: str) -> None:
    claim = _claims.pop(name, None)
    if claim is not None:
        claim.release()


# Servers this process started.
_started: list[subprocess.Popen[bytes]] = []


def server_url(url: str | None = None) -> str:
    """Return the signaling server URL to use: argument, environment, default.

    Raises:
        ValueError: If the URL is not ``ws://`` or ``wss://`` with a host and
            a valid port, saying what to write instead.
    """
    url = url or os.environ.get("P2PLAB_SERVER") or DEFAULT_URL
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("ws", "wss") or not parts.hostname or port == -1:
        raise ValueError(
            f"{url!r} is not a signaling server address: write "
            "ws://HOST:PORT, e.g. ws://127.0.0.1:8765 (wss:// with TLS); "
            "http:// is for the /health page only"
        )
    return url


def check_name(value: str, what: str = "name") -> str:
    """Return ``value`` if the server accepts it as a name or a room.

    Raises:
        ValueError: If it is not 1-32 letters, digits, '.', '_' or '-',
            starting with a letter or digit.
    """
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid {what}: use 1-32 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
    return value


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _exclusive(path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive lock on ``path``, waiting at most ``timeout`` seconds.

    Two notebooks opened at once would otherwise both start a server; with
    the lock, the second one waits and then finds the first one's server.
    Where the OS has no ``flock`` (Windows) there is no lock, and the second
    server simply fails to bind the port.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SignalingClosed(
                        f"another process is starting the signaling server and "
                        f"still holds {path} after {timeout:g} s"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_server(url: str | None = None, timeout: float = 10.0) -> str:
    """Make sure a signaling server answers at ``url``; start one if needed.

    A server is started only when the URL points at this machine. It runs as
    its own process, detached from the kernel, so it outlives a kernel
    restart and serves both notebooks. Its log is ``$P2PLAB_HOME/server.log``
    and its process id is written to ``$P2PLAB_HOME/server-PORT.pid`` (see
    :func:`pid_file`), so that it can be stopped by that id
    (``kill $(cat ~/.p2plab/server-8765.pid)``).

    Returns:
        ``"running"`` if a server was already there, else ``"started"``.

    Raises:
        SignalingClosed: If the server is remote and unreachable, or a local
            one stopped at once or did not start within ``timeout`` seconds.
    """
    url = server_url(url)
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 8765
    if _reachable(host, port):
        return "running"
    if policy_for_url(url) != "loopback":
        raise SignalingClosed(
            f"no signaling server answers at {url}; ask your teacher whether it "
            "is running, and check the address"
        )

    home = lab_home()
    home.mkdir(parents=True, exist_ok=True)
    with _exclusive(home / "server.lock", timeout):
        if _reachable(host, port):
            return "running"
        process = _spawn(host, port, home / "server.log")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _reachable(host, port):
                pid_file(port).write_text(f"{process.pid}\n")
                return "started"
            if process.poll() is not None:
                raise SignalingClosed(
                    f"the local signaling server stopped at once (exit code "
                    f"{process.returncode}); see {home / 'server.log'}"
                )
            time.sleep(0.05)
    raise SignalingClosed(
        f"the local signaling server did not start within {timeout:g} s; "
        f"see {home / 'server.log'}"
    )


def pid_file(port: int) -> Path:
    """Return the file that holds the id of the local server started on ``port``."""
    return lab_home() / f"server-{port}.pid"


def _spawn(host: str, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m p2plab_server`` in its own session, logging to a file."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "p2plab_server", "--host", host]
            + ["--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    # Keeping the handle lets this process reap the server if it ends first.
    _started.append(process)
    return process


def open_chat(
    name: str,
    partner: str | None = None,
    *,
    passphrase: str,
    url: str | None = None,
    room: str = DEFAULT_ROOM,
    keystore: KeyStore | None = None,
    ice_servers: tuple[str, ...] = (),
) -> ChatPane:
    """Open a chat pane for ``name``, talking to ``partner``.

    Opening ``name`` again in this process closes its previous chat, after
    stopping the partner bots (:mod:`p2plab.bot`) started for that chat.

    Args:
        name: Our name on the server.
        partner: Who to chat with. If they are online we call them; if not,
            the pane says so and connects when they arrive. If the server
            restarts, the pane reconnects, rejoins and does this again.
        passphrase: Protects the private key in the key store.
        url: The signaling server; see :func:`server_url`.
        room: The room on the server; only users in the same room see and
            call each other (a class can give each pair a room of its own).
        keystore: Where keys live; ``$P2PLAB_HOME/keys`` by default.
        ice_servers: STUN/TURN URLs; none by default.

    Returns:
        The pane; display it (it is the cell's value).

    Raises:
        SignalingError: If the server refuses the join (``name-taken``).
        SignalingClosed: If no server can be reached or started.
    """
    for who in (name, partner):
        if who is not None:
            check_name(who)
    check_name(room, "room")
    if partner == name:
        raise ValueError(
            f"{name!r} cannot chat with itself: name your partner, e.g. "
            f"open_chat({name!r}, partner='bob', ...)"
        )
    url = server_url(url)
    if ensure_server(url) == "started":
        # Said in the cell, while it runs: a mistyped address would otherwise
        # leave a learner waiting on an empty server of their own.
        print(f"No server answered at {url}, so one was started on this machine.")
    # Claimed before the key is read: a partner bot that plays this name
    # from this key store (p2plab.bot) may be making the key right now.
    claim = claim_name(url, room, name)
    try:
        identity = (keystore or KeyStore()).load_or_create(name, passphrase)
    except BaseException:
        if claim is not None:
            claim.release()
        raise
    network = get_network()
    global _closing_registered
    if not _closing_registered:
        atexit.register(close_all)
        _closing_registered = True

    previous = _open.pop(name, None)
    if previous is not None:
        from .bot import stop_partners_of

        # A partner bot started for the old chat goes first, so that the new
        # pane finds the room as the first run did, and its cell starts anew.
        stop_partners_of(previous)
        network.call(previous.close())
    _release(name)

    pane = ChatPane(name, partner)
    client = ChatClient(
        name, identity, url, room=room, partner=partner, ice_servers=ice_servers
    )
    pane.attach(client, network.submit)
    try:
        network.call(client.start())
    except P2PLabError:
        network.call(client.close())
        if claim is not None:
            claim.release()
        raise
    _open[name] = client
    _claims[name] = claim
    return pane

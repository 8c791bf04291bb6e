"""What every lesson notebook leans on: a server of its own, a reset, and safe failures.

A lesson runs everything inside its kernel. :func:`start_server` starts a
signaling server on the kernel's network thread, on a free port of
127.0.0.1, that writes down every frame it reads or writes, by user: the
"what the server saw" section at the end of each lesson reads from it.
:func:`run` runs a coroutine on that same thread and returns its result,
so a cell needs no ``await``::

    from p2plab import lesson
    server = lesson.start_server()
    alice = lesson.run(lesson.joined("alice", server))

:func:`chat_pair` goes further: two chat clients, Alice and Bob, connected
peer to peer with a session key in place.

:func:`reset` closes every server, peer connection, signaling client and
chat this kernel opened, so re-running a lesson, or running another one in
the same kernel, starts clean. Every lesson calls it in its first cell.

:func:`key_store` gives a key store in a temporary folder, so that the keys
a lesson saves never land in the learner's own ``~/.p2plab/keys``; reset
deletes it.

:func:`shows_error` lets a cell break something on purpose: the error is
printed as one line and Run All goes on.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from p2plab_server import SignalingServer
from p2plab_server.protocol import DEFAULT_ROOM

from .client import ChatClient
from .identity import Identity, KeyStore
from .network import get_network
from .signaling import SignalingClient

__all__ = [
    "LessonServer",
    "Seen",
    "arrived",
    "chat_pair",
    "joined",
    "key_store",
    "received",
    "reset",
    "run",
    "shows_error",
    "start_server",
]

T = TypeVar("T")

logger = logging.getLogger(__name__)

# What reset() closes: the servers started here. Peers, signaling clients
# and chats keep registries of their own (see _close_live).
_servers: list[LessonServer] = []
# And what it deletes: the key stores' temporary folders.
_folders: list[Path] = []


def run(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run ``coro`` on the kernel's network thread and return its result.

    Args:
        coro: What to run; everything network-related in p2plab runs on
            that thread, so objects made there are used there.
        timeout: Seconds to wait before giving up with :class:`TimeoutError`.
    """
    return get_network().call(coro, timeout)


@dataclass(frozen=True)
class Seen:
    """One frame, as the server had it.

    Attributes:
        user: The name the connection joined under (``"?"`` if it never
            joined); frames before the join, such as ``hello``, count too.
        conn: Which connection, as the server numbered it.
        direction: ``"<"`` read by the server, ``">"`` written by it.
        type: The message's ``type``.
        size: Its size in bytes on the wire.
        message: The frame, parsed.
        raw: The frame's bytes, exactly as they crossed the socket.
    """

    user: str
    conn: int
    direction: str
    type: str
    size: int
    message: dict[str, Any] = field(hash=False, repr=False)
    raw: bytes = field(repr=False)


@dataclass
class LessonServer:
    """A signaling server inside this kernel that writes down what it saw.

    Attributes:
        relay: The :class:`~p2plab_server.SignalingServer`.
        url: Where clients connect, e.g. ``"ws://127.0.0.1:40123"``.
        seen: Every frame the server read or wrote, in order.
        listeners: Called with each new :class:`Seen`, on the network
            thread, right after it is written down; a widget that shows the
            frames live is one (see :mod:`p2plab.sequence`).
    """

    relay: SignalingServer
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    listeners: list[Callable[[Seen], None]] = field(default_factory=list)
    _ws_server: Any = None
    _names: dict[int, str] = field(default_factory=dict)

    def saw(self, user: str | None = None) -> list[Seen]:
        """Return the frames the server handled for ``user``, or for everyone."""
        return [s for s in self.seen if user is None or s.user == user]

    def observe(self, conn: int, direction: str, frame: str | bytes) -> None:
        """Write one frame down; the relay calls this for every frame."""
        raw = frame.encode() if isinstance(frame, str) else frame
        try:
            message = json.loads(raw)
        except ValueError:
            message = {}
        if not isinstance(message, dict):
            message = {}
        kind = str(message.get("type", "?"))
        name = message.get("name")
        # A connection has a name once the server welcomes it: a join that
        # is refused (a name taken by another key, say) leaves it unnamed.
        if direction == ">" and kind == "welcome" and isinstance(name, str):
            if conn not in self._names:
                # The frames before the welcome were this user's too.
                self.seen[:] = [
                    dataclasses.replace(s, user=name) if s.conn == conn else s
                    for s in self.seen
                ]
            self._names[conn] = name
        user = self._names.get(conn, "?")
        seen = Seen(user, conn, direction, kind, len(raw), message, raw)
        self.seen.append(seen)
        for listener in list(self.listeners):
            try:
                listener(seen)
            except Exception:
                # A broken display must not break the server it watches.
                logger.exception("a listener of the lesson server failed")

    async def close(self) -> None:
        """Stop listening and close every connection; safe to call twice."""
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
            self._ws_server = None


def start_server() -> LessonServer:
    """Start a signaling server on the network thread, on a free loopback port.

    Its directory is in memory, so each lesson starts with no names bound.
    :func:`reset` stops it.
    """
    lesson_server = LessonServer(SignalingServer())
    lesson_server.relay.observer = lesson_server.observe

    async def listen() -> None:
        ws_server = await lesson_server.relay.serve("127.0.0.1", 0)
        port = ws_server.sockets[0].getsockname()[1]
        lesson_server._ws_server = ws_server
        lesson_server.url = f"ws://127.0.0.1:{port}"

    run(listen())
    _servers.append(lesson_server)
    return lesson_server


async def joined(
    name: str,
    server: LessonServer | str,
    identity: Identity | None = None,
    *,
    room: str = DEFAULT_ROOM,
) -> SignalingClient:
    """Return a signaling client for ``name``, joined to ``server``.

    Args:
        name: The name to join as.
        server: A :class:`LessonServer`, or a server's URL.
        identity: The key pair to publish; a fresh RSA-2048 one if omitted
            (quicker to make than the lab's 3072 bits, and as good for a
            lesson).
        room: The room to join.
    """
    url = server.url if isinstance(server, LessonServer) else server
    if identity is None:
        identity = Identity.generate(2048)
    client = SignalingClient(url, name, identity, room=room, backoff=None)
    await client.connect()
    return client


async def chat_pair(
    server: LessonServer | str,
    names: tuple[str, str] = ("alice", "bob"),
    *,
    room: str = DEFAULT_ROOM,
    timeout: float = 15.0,
) -> tuple[ChatClient, ChatClient]:
    """Return two chat clients in this kernel, connected to each other.

    Both join ``server``, the second calls the first, and once this returns
    the data channel is open and the session key has been wrapped, sent and
    unwrapped: ``await first.send("hi")`` works. Each has a fresh RSA-2048
    key pair. Their :attr:`~p2plab.client.ChatClient.events` record every
    step, message and receipt.

    Raises:
        ConnectError: If the chat is not ready within ``timeout`` seconds.
    """
    url = server.url if isinstance(server, LessonServer) else server
    first, second = (
        ChatClient(
            name,
            Identity.generate(2048),
            url,
            room=room,
            partner=other,
            backoff=None,
        )
        for name, other in (names, names[::-1])
    )
    await first.start()
    await second.start()
    await first.wait_ready(timeout)
    await second.wait_ready(timeout)
    return first, second


async def received(
    client: ChatClient, count: int = 1, timeout: float = 5.0
) -> list[str]:
    """Wait until ``client`` has received ``count`` messages; return their texts.

    Raises:
        TimeoutError: If fewer arrived within ``timeout`` seconds.
    """

    def texts() -> list[str]:
        return [
            e.data["text"]
            for e in client.events
            if e.kind == "message" and not e.data["sent"]
        ]

    async with asyncio.timeout(timeout):
        while len(texts()) < count:
            await asyncio.sleep(0.01)
    return texts()


def key_store() -> KeyStore:
    """Return an empty key store in a new temporary folder.

    A lesson saves its keys here rather than in the lab's own key store
    (``$P2PLAB_HOME/keys``), which keeps the keys you chat with. :func:`reset`
    deletes the folder and every key in it.
    """
    folder = Path(tempfile.mkdtemp(prefix="p2plab-lesson-"))
    _folders.append(folder)
    return KeyStore(folder / "keys")


def _remove_folders() -> None:
    while _folders:
        shutil.rmtree(_folders.pop(), ignore_errors=True)


# A kernel that ends without a reset leaves no lesson keys behind either.
atexit.register(_remove_folders)


async def arrived(
    client: SignalingClient, kind: str, count: int = 1, timeout: float = 5.0
) -> dict[str, Any]:
    """Wait until ``client`` has received ``count`` messages of type ``kind``.

    Args:
        client: A signaling client, e.g. from :func:`joined`.
        kind: The message type, e.g. ``"offer"`` or ``"error"``.
        count: How many of them to wait for.
        timeout: Seconds to wait.

    Returns:
        The ``count``-th such message the server sent to ``client`` (the
        first one by default), as the client received it.

    Raises:
        TimeoutError: If fewer arrived within ``timeout`` seconds.
    """

    def messages() -> list[dict[str, Any]]:
        return [
            f.message
            for f in client.frames
            if f.direction == "<" and f.message.get("type") == kind
        ]

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(messages()) < count:
        if loop.time() >= deadline:
            raise TimeoutError(
                f"{client.name} received {len(messages())} {kind!r} message(s) "
                f"within {timeout:g} s, not {count}: was it sent to "
                f"{client.name!r}, in room {client.room!r}?"
            )
        await asyncio.sleep(0.01)
    return messages()[count - 1]


def reset() -> None:
    """Close every chat, peer, signaling client and server this kernel opened.

    Every :func:`key_store` is deleted too, with the keys saved in it.

    Safe to call at any time, any number of times; each lesson calls it in
    its first cell, so that running it again starts from nothing.
    """
    from . import client as client_module
    from . import lab, peer, signaling

    network = get_network()
    lab.close_all()
    for item in list(peer.live_peers()):
        with contextlib.suppress(Exception):
            network.call(item.close(), timeout=5)
    for chat in list(client_module.live_chats()):
        with contextlib.suppress(Exception):
            network.call(chat.close(), timeout=5)
    for client in list(signaling.live_clients()):
        with contextlib.suppress(Exception):
            network.call(client.close(), timeout=5)
    while _servers:
        server = _servers.pop()
        with contextlib.suppress(Exception):
            network.call(server.close(), timeout=5)
    _remove_folders()


@contextlib.contextmanager
def shows_error() -> Iterator[None]:
    """Show an error raised in the block as one line, and carry on.

    For cells that break something on purpose::

        with shows_error():
            unseal(key, tampered)

    prints ``InvalidTag raised: ...`` instead of stopping Run All. If the
    block raises nothing, that is printed too, since the lesson expected it
    to fail.
    """
    try:
        yield
    except Exception as exc:
        text = str(exc) or "(no message)"
        print(f"{type(exc).__name__} raised: {text}")
    else:
        print("no error was raised")

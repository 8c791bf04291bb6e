"""Fuzz tests: malformed, truncated, oversized and wrong-typed frames.

Hypothesis builds the frames. The first test runs 12,000 of them through the
sans-I/O :func:`~p2plab_server.protocol.parse`; the second sends 10,200 over
real WebSocket connections to a live server, checks each reply against what
``parse`` predicts, and has two other users relay to each other between the
fuzzed frames all along. Both are derandomized and keep no example database,
so every run sends the same frames.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from p2plab_server import Settings, SignalingServer
from p2plab_server.protocol import (
    ERRORS,
    REQUESTS,
    ProtocolError,
    error,
    parse,
)
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from .clients import TIMEOUT, Key, join_request
from .conftest import assert_conforms

# A small frame limit keeps oversized frames cheap to build and to send.
FUZZ_SETTINGS = Settings(max_frame=2048, rate=0, hold=0)
MAX_FRAME = FUZZ_SETTINGS.max_frame
HARD_LIMIT = FUZZ_SETTINGS.hard_frame_limit

# Refusals that no fuzzed frame can provoke: they need a valid join, with a
# real key and signature, or a limit that the fuzzing server does not set.
OUT_OF_REACH = {
    "bad-key",
    "bad-signature",
    "name-taken",
    "rate-limited",
    "room-full",
    "server-full",
    "queue-full",
}


def join_request_shape() -> dict[str, Any]:
    """A well-formed join whose challenge and signature are not this connection's."""
    blob = base64.b64encode(b"x" * 32).decode("ascii")
    return {
        "type": "join",
        "room": "fuzz",
        "name": "eve",
        "key": blob,
        "challenge": blob,
        "signature": blob,
    }


# Examples, and draws per example; each draw makes three frames.
PARSE_EXAMPLES, PARSE_DRAWS = 120, 34
WIRE_EXAMPLES, WIRE_DRAWS = 200, 17


def _three(frame: str) -> list[str | bytes]:
    """A frame as text, as bytes, and cut short, as frames() makes them."""
    return [frame, frame.encode(), frame[: len(frame) // 2]]


# One explicit example, tried before the fuzzed ones, with a frame for every
# reply a fuzzer can provoke. Hypothesis mixes constants from the project's
# own modules into what it draws, so a change anywhere in the server changes
# the fuzzed frames; this example keeps the coverage check below from
# depending on that. As (joined, frames) pairs, like the fuzzed draws.
ANCHORS: list[tuple[bool, list[str | bytes]]] = [
    (joined, _three(json.dumps(message)))
    for joined, message in [
        (True, {"type": "lookup", "name": "mallory", "id": 1}),
        (True, {"type": "lookup", "name": "zoe"}),
        (True, {"type": "health", "id": "h"}),
        (False, {"type": "health"}),
        (True, {"type": "bye", "to": "mallory"}),
        (False, {"type": "bye", "to": "bob"}),
        (True, {"type": "offer", "to": "bob"}),
        (True, {"type": "offer", "to": "bob", "sdp": 5}),
        (True, {"type": "ping"}),
        (True, {"type": "offer", "to": "bob", "sdp": "x" * (MAX_FRAME + 1)}),
        (True, {**join_request_shape(), "name": "mallory"}),
        (False, join_request_shape()),
    ]
]


def fuzzing(examples: int) -> settings:
    """Hypothesis settings for ``examples`` examples, the same ones every run."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# Strategies. A frame starts as a request, often a valid one, and is then
# broken in one of several ways; some frames are no request at all.

good_names = st.sampled_from(["mallory", "alice", "bob", "zoe", "lab"])
names = (
    good_names
    | st.sampled_from(["", "x" * 33, "two words", "-dash", "é"])
    | st.text(alphabet="az09._-", max_size=34)
)
text = st.sampled_from(
    ["v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n", "candidate:1 1 udp 9 127.0.0.1 9 typ host"]
) | st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | text
json_values = (
    scalars
    | st.lists(scalars, max_size=3)
    | st.dictionaries(st.sampled_from(["type", "id", "to", "a"]), scalars, max_size=2)
)
base64_text = st.binary(min_size=1, max_size=24).map(
    lambda raw: base64.b64encode(raw).decode("ascii")
)

# Values each field may take in a well-formed request, and in any request.
GOOD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "room": good_names,
    "name": good_names,
    "to": good_names,
    "key": base64_text,
    "challenge": base64_text,
    "signature": base64_text,
    "sdp": text,
    "candidate": text,
    "sdpMid": st.none() | text,
    "sdpMLineIndex": st.none() | st.integers(-5, 5),
}
ANY_VALUES: dict[str, st.SearchStrategy[Any]] = {
    **GOOD_VALUES,
    "room": names,
    "name": names,
    "to": names,
    "key": base64_text | text,
    "challenge": base64_text | text,
    "signature": base64_text | text,
}


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """A request of a known type: well formed, or with a broken field or type."""
    kind = draw(st.sampled_from(sorted(REQUESTS)))
    mutation = draw(
        st.sampled_from(["none", "none", "values", "drop", "extra", "retype", "kind"])
    )
    values, ids = GOOD_VALUES, st.integers() | text
    if mutation == "values":
        values, ids = ANY_VALUES, json_values
    message: dict[str, Any] = {"type": kind}
    for field in REQUESTS[kind]:
        message[field] = draw(values[field])
    if draw(st.booleans()):
        message["id"] = draw(ids)
    if mutation == "drop" and len(message) > 1:
        del message[draw(st.sampled_from(sorted(message)))]
    elif mutation == "extra":
        message[draw(st.sampled_from(["from", "x", "ref"]) | text)] = draw(json_values)
    elif mutation == "retype":
        message[draw(st.sampled_from(sorted(message)))] = draw(json_values)
    elif mutation == "kind":
        message["type"] = draw(json_values)
    return message


@st.composite
def frames(draw: st.DrawFn) -> list[str | bytes]:
    """Three frames from one draw: a frame as text, as bytes, and cut short.

    The frame is a (broken) request, one padded past the frame limit, or junk.
    Deriving three frames from each draw triples the frames for the time
    Hypothesis takes to draw them.
    """
    shape = draw(st.sampled_from(["request", "request", "oversized", "junk"]))
    if shape == "junk":
        frame: str | bytes = draw(
            text | st.binary(max_size=64) | json_values.map(json.dumps)
        )
    else:
        message = draw(requests())
        if shape == "oversized":
            message["sdp"] = "x" * draw(st.integers(MAX_FRAME + 1, HARD_LIMIT // 2))
        frame = json.dumps(message, ensure_ascii=draw(st.booleans()))
    raw = frame.encode() if isinstance(frame, str) else frame
    cut = draw(st.integers(0, max(0, len(frame) - 1)))
    return [frame, raw, frame[:cut]]


def outcome(frame: str | bytes, joined: bool) -> tuple[str, str | None, Any]:
    """Predict the server's reply to ``frame``: its type, error code, and id.

    The fuzzing users are ``mallory``, joined alone in room ``fuzz``, and a
    connection that never joined.
    """
    try:
        message = parse(frame, MAX_FRAME)
    except ProtocolError as exc:
        return "error", exc.code, exc.id
    kind, msg_id = message["type"], message.get("id")
    if kind == "health":
        return "health", None, msg_id
    if kind == "join":
        return "error", "already-joined" if joined else "replayed", msg_id
    if not joined:
        return "error", "not-joined", msg_id
    if kind == "lookup":
        if message["name"] == "mallory":
            return "key", None, msg_id
        return "error", "unknown-peer", msg_id
    return "error", "self" if message["to"] == "mallory" else "unknown-peer", msg_id


# Parsing alone.


# Hypothesis warns when it cannot show a drawn batch briefly; the batches hold
# oversized frames on purpose, and a failure shows the one frame that failed.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_parse_survives_twelve_thousand_fuzzed_frames() -> None:
    """parse returns a request or raises a documented error for every frame."""
    parsed = 0

    @fuzzing(PARSE_EXAMPLES)
    @given(st.lists(frames(), min_size=PARSE_DRAWS, max_size=PARSE_DRAWS))
    def batch(draws: list[list[str | bytes]]) -> None:
        nonlocal parsed
        for frame in (frame for three in draws for frame in three):
            try:
                message = parse(frame, MAX_FRAME)
            except ProtocolError as exc:
                assert exc.code in ERRORS and exc.message
                assert_conforms(json.dumps(error(exc.code, exc.message, ref=exc.ref)))
            else:
                assert message["type"] in REQUESTS
            parsed += 1

    batch()
    assert parsed >= 12_000


# Over the wire, to a live server running on its own loop in a thread.


class ThreadedServer:
    """A signaling server on its own event loop, in a thread, on loopback."""

    def __init__(self, settings: Settings) -> None:
        self.relay = SignalingServer(settings=settings)
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),))

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self.relay.serve("127.0.0.1", 0) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        assert self._ready.wait(TIMEOUT), "the server thread did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(TIMEOUT)
        assert not self._thread.is_alive(), "the server thread did not stop"


def open_client(stack: ExitStack, port: int) -> tuple[ClientConnection, str]:
    """Open a connection, closed with ``stack``; return it and its challenge."""
    client = connect(
        f"ws://127.0.0.1:{port}", proxy=None, open_timeout=TIMEOUT, ping_interval=None
    )
    ws = stack.enter_context(client)
    hello = json.loads(ws.recv(TIMEOUT))
    return ws, hello["challenge"]


def join(
    stack: ExitStack, port: int, key: Key, name: str, room: str
) -> ClientConnection:
    """Open a connection, closed with ``stack``, and join as ``name`` in ``room``."""
    ws, challenge = open_client(stack, port)
    ws.send(json.dumps(join_request(key, challenge, name, room)))
    assert json.loads(ws.recv(TIMEOUT))["type"] == "welcome"
    return ws


@pytest.fixture
def live() -> Iterator[ThreadedServer]:
    """A live server for the wire fuzz tests."""
    with ThreadedServer(FUZZ_SETTINGS) as server:
        yield server


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    """Closes the connections a test opens, before its server stops."""
    with ExitStack() as connections:
        yield connections


def relay_round(
    alice: ClientConnection, bob: ClientConnection, seq: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send alice's offer ``seq`` to bob and his answer back; return both as read."""
    bob_got = json.loads(bob.recv(TIMEOUT))
    bob.send(json.dumps({"type": "answer", "to": "alice", "sdp": f"a{seq}"}))
    alice_got = json.loads(alice.recv(TIMEOUT))
    return bob_got, alice_got


def test_the_server_answers_ten_thousand_fuzzed_frames_and_keeps_relaying(
    live: ThreadedServer,
    stack: ExitStack,
    keys: tuple[Key, Key],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every fuzzed frame gets the reply parse predicts; alice and bob relay on."""
    alice = join(stack, live.port, keys[0], "alice", "lab")
    bob = join(stack, live.port, keys[1], "bob", "lab")
    assert json.loads(alice.recv(TIMEOUT))["type"] == "joined"
    mallory = join(stack, live.port, keys[0], "mallory", "fuzz")
    stranger, _ = open_client(stack, live.port)
    clients = {True: mallory, False: stranger}
    sent, rounds = 0, 0
    seen: set[str] = set()

    @fuzzing(WIRE_EXAMPLES)
    @example(ANCHORS)
    @given(
        st.lists(
            st.tuples(st.booleans(), frames()), min_size=WIRE_DRAWS, max_size=WIRE_DRAWS
        )
    )
    def batch(draws: list[tuple[bool, list[str | bytes]]]) -> None:
        nonlocal sent, rounds
        items = [(joined, frame) for joined, three in draws for frame in three]
        # Half the fuzz, then alice's offer, then the other half: the server
        # has both kinds of traffic in hand at once.
        half = len(items) // 2
        for joined, frame in items[:half]:
            clients[joined].send(frame)
        alice.send(json.dumps({"type": "offer", "to": "bob", "sdp": f"o{rounds}"}))
        for joined, frame in items[half:]:
            clients[joined].send(frame)
        bob_got, alice_got = relay_round(alice, bob, rounds)
        assert bob_got == {"type": "offer", "sdp": f"o{rounds}", "from": "alice"}
        assert alice_got == {"type": "answer", "sdp": f"a{rounds}", "from": "bob"}
        rounds += 1

        for joined, frame in items:
            reply_frame = clients[joined].recv(TIMEOUT)
            assert_conforms(reply_frame)
            reply = json.loads(reply_frame)
            kind, code, msg_id = outcome(frame, joined)
            assert (reply["type"], reply.get("code"), reply.get("id")) == (
                kind,
                code,
                msg_id,
            ), frame
            seen.add(code or kind)
            sent += 1

    batch()
    assert sent >= 10_000 and rounds == WIRE_EXAMPLES + 1
    # The frames reached every refusal and every reply a fuzzer can provoke.
    assert seen >= set(ERRORS) - OUT_OF_REACH | {"health", "key"}
    # Nothing is left unread: every frame got exactly one reply.
    for ws in (alice, bob, mallory, stranger):
        with pytest.raises(TimeoutError):
            ws.recv(0.05)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert live.relay.users == 3


def test_frames_over_the_hard_limit_close_with_a_reason(
    live: ThreadedServer, stack: ExitStack, keys: tuple[Key, Key]
) -> None:
    """Each frame past 16 times the limit closes its connection with 1009, no other."""
    alice = join(stack, live.port, keys[0], "alice", "lab")
    bob = join(stack, live.port, keys[1], "bob", "lab")
    assert json.loads(alice.recv(TIMEOUT))["type"] == "joined"
    closed = 0

    @fuzzing(10)
    @given(st.integers(HARD_LIMIT + 1, 2 * HARD_LIMIT), st.booleans())
    def oversized(size: int, binary: bool) -> None:
        nonlocal closed
        with ExitStack() as own:
            ws, _ = open_client(own, live.port)
            frame = b"x" * size if binary else "x" * size
            with pytest.raises(ConnectionClosed):
                ws.send(frame)
                ws.recv(TIMEOUT)
        assert ws.protocol.close_rcvd is not None
        assert ws.protocol.close_rcvd.code == 1009
        assert ws.protocol.close_rcvd.reason
        alice.send(json.dumps({"type": "offer", "to": "bob", "sdp": f"o{closed}"}))
        bob_got, alice_got = relay_round(alice, bob, closed)
        assert (bob_got["sdp"], alice_got["sdp"]) == (f"o{closed}", f"a{closed}")
        closed += 1

    oversized()
    assert closed == 10

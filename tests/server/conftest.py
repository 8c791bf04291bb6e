"""Fixtures for the signaling server tests: real keys and a real server."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from p2plab_server import Directory, Settings
from p2plab_server.protocol import MESSAGES, OPTIONAL

from .clients import Key, Lab, make_key


@pytest.fixture(scope="session")
def keys() -> tuple[Key, Key]:
    """Two distinct key pairs, made once per run because RSA keygen is slow."""
    return make_key(), make_key()


@pytest.fixture(scope="session")
def key_pool() -> list[Key]:
    """Eight more distinct key pairs, for races between many users."""
    return [make_key() for _ in range(8)]


def assert_conforms(frame: str | bytes) -> None:
    """Check that a frame the server wrote is a message of the protocol."""
    message = json.loads(frame)
    kind = message["type"]
    assert kind in MESSAGES, f"the server sent an undocumented type: {frame!r}"
    required = set(MESSAGES[kind])
    allowed = {"type", *required, *OPTIONAL.get(kind, ())}
    assert required <= set(message) <= allowed, f"fields of {frame!r}"


#: Start a signaling server with the given settings; return its lab.
MakeLab = Callable[..., Awaitable[Lab]]


@pytest.fixture
async def make_lab(
    keys: tuple[Key, Key], caplog: pytest.LogCaptureFixture
) -> AsyncIterator[MakeLab]:
    """Start signaling servers on free loopback ports, with chosen settings.

    ``await make_lab(settings)`` returns a :class:`Lab`; every server and
    client is closed at teardown. A failure on a message is only logged (the
    connection is closed with 1011), so the fixture fails any test whose
    server logged an error. It also checks that every frame each server wrote
    is a message of the protocol, with exactly the fields the protocol gives
    it.
    """
    labs: list[Lab] = []
    async with contextlib.AsyncExitStack() as stack:

        async def start(
            settings: Settings | None = None, directory: Directory | None = None
        ) -> Lab:
            lab = Lab(keys, stack, directory, settings)
            listener = await stack.enter_async_context(lab.server.serve("127.0.0.1", 0))
            lab.listener = listener
            host, port = listener.sockets[0].getsockname()[:2]
            lab.uri = f"ws://{host}:{port}"
            labs.append(lab)
            return lab

        yield start
    # At teardown caplog.records holds only this phase; the test ran before.
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    records += caplog.records
    assert [r.getMessage() for r in records if r.levelno >= logging.ERROR] == []
    for lab in labs:
        for _connection, direction, frame in lab.frames:
            if direction == ">":
                assert_conforms(frame)


@pytest.fixture
async def lab(make_lab: MakeLab) -> Lab:
    """A signaling server with the default settings, checked as make_lab checks."""
    return await make_lab()

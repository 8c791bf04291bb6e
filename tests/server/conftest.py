"""Fixtures for the signaling server tests: real keys and a real server."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from .clients import Lab, make_public_key


@pytest.fixture(scope="session")
def keys() -> tuple[str, str]:
    """Two distinct public keys, made once per run because RSA keygen is slow."""
    return make_public_key(), make_public_key()


@pytest.fixture
async def lab(
    keys: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Lab]:
    """A signaling server on a free loopback port, with a helper for clients.

    A connection handler that crashes is only logged by websockets, so the
    fixture fails any test whose server logged an error.
    """
    async with contextlib.AsyncExitStack() as stack:
        lab = Lab(keys, stack)
        ws_server = await stack.enter_async_context(lab.server.serve("127.0.0.1", 0))
        host, port = ws_server.sockets[0].getsockname()[:2]
        lab.uri = f"ws://{host}:{port}"
        yield lab
    # At teardown caplog.records holds only this phase; the test ran before.
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    records += caplog.records
    assert [r.getMessage() for r in records if r.levelno >= logging.ERROR] == []

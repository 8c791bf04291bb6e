"""Tests for p2plab.network: the background thread that owns the network loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from p2plab import network
from p2plab.network import NetworkThread, get_network

TIMEOUT = 5.0


@pytest.fixture
def net() -> Iterator[NetworkThread]:
    """A network thread of its own, stopped and its loop closed at teardown."""
    thread = NetworkThread(name="p2plab-test-network")
    yield thread
    thread.stop()
    thread.loop.close()


async def where() -> str:
    """Return the name of the thread this coroutine runs on."""
    await asyncio.sleep(0)
    return threading.current_thread().name


def test_submit_runs_the_coroutine_on_the_network_thread(net: NetworkThread) -> None:
    """submit() returns a thread-safe future whose result comes from the thread."""
    future = net.submit(where())
    assert future.result(TIMEOUT) == "p2plab-test-network"


def test_call_blocks_and_returns_the_result(net: NetworkThread) -> None:
    """call() runs the coroutine on the network thread and returns its value."""
    assert net.call(where(), timeout=TIMEOUT) == "p2plab-test-network"


def test_call_raises_what_the_coroutine_raised(net: NetworkThread) -> None:
    """An exception raised on the network thread comes out of call()."""

    async def fail() -> None:
        raise ValueError("from the network thread")

    with pytest.raises(ValueError, match="from the network thread"):
        net.call(fail(), timeout=TIMEOUT)


def test_call_times_out(net: NetworkThread) -> None:
    """call() raises TimeoutError when the coroutine outlasts the timeout."""
    release, done = threading.Event(), threading.Event()

    async def slow() -> None:
        try:
            for _ in range(500):
                if release.is_set():
                    return
                await asyncio.sleep(0.01)
        finally:
            done.set()

    with pytest.raises(TimeoutError):
        net.call(slow(), timeout=0.05)

    # The coroutine goes on after the timeout; let it end before teardown.
    release.set()
    assert done.wait(TIMEOUT)


def test_call_from_the_network_thread_raises_runtime_error(
    net: NetworkThread,
) -> None:
    """call() from the network thread itself refuses instead of deadlocking."""
    inner = asyncio.sleep(0)

    async def call_self() -> None:
        net.call(inner)

    try:
        with pytest.raises(RuntimeError, match="deadlock"):
            net.call(call_self(), timeout=TIMEOUT)
    finally:
        inner.close()


async def test_run_awaits_the_coroutine_from_another_loop(net: NetworkThread) -> None:
    """run() lets a coroutine on this loop await work done on the network loop."""
    assert await net.run(where()) == "p2plab-test-network"
    assert threading.current_thread().name != "p2plab-test-network"


async def test_cancelling_run_cancels_the_coroutine_on_the_network_loop(
    net: NetworkThread,
) -> None:
    """Cancelling the awaiting task cancels the coroutine on the network thread."""
    started, cancelled = threading.Event(), threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = asyncio.create_task(net.run(forever()))
    assert await asyncio.to_thread(started.wait, TIMEOUT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(cancelled.wait, TIMEOUT)


def test_stop_ends_the_thread(net: NetworkThread) -> None:
    """After stop() the loop no longer runs and the thread is not alive."""
    assert net.alive
    net.stop()
    assert not net.alive
    assert not net.loop.is_running()


def test_get_network_returns_the_same_live_instance() -> None:
    """Two calls to get_network() return one running network thread."""
    first = get_network()
    second = get_network()
    assert first is second
    assert first.alive
    assert first.call(where(), timeout=TIMEOUT) == "p2plab-network"


def test_get_network_replaces_a_stopped_instance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If the network thread died, get_network() starts a new one."""
    dead = NetworkThread(name="p2plab-dead")
    dead.stop()
    dead.loop.close()
    monkeypatch.setattr(network, "_network", dead)

    fresh = get_network()
    try:
        assert fresh is not dead
        assert fresh.alive
    finally:
        fresh.stop()
        fresh.loop.close()

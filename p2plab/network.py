"""The network thread: one asyncio loop per kernel that never stalls.

A notebook kernel runs its own asyncio loop, but tasks on it stall while any
cell runs; a cell that runs for half a minute makes the peer drop the
connection. So all networking of a kernel (signaling client, peer connection,
data channel) lives on a second loop in a background thread, started once.

Code on the main thread hands work over with :meth:`NetworkThread.submit`
(returns a :class:`concurrent.futures.Future`) or, inside a cell,
``await network.run(coro)``.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["NetworkThread", "get_network"]

T = TypeVar("T")

_lock = threading.Lock()
_network: NetworkThread | None = None


class NetworkThread:
    """A daemon thread running an asyncio event loop forever."""

    def __init__(self, name: str = "p2plab-network") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def alive(self) -> bool:
        """True while the loop is running."""
        return self._thread.is_alive() and not self.loop.is_closed()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the network loop; return a thread-safe future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run ``coro`` on the network loop and block until it returns.

        Do not call this from the network thread itself: it would wait for
        itself forever. Raises :class:`TimeoutError` after ``timeout`` seconds.
        """
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("NetworkThread.call() would deadlock on its own thread")
        return self.submit(coro).result(timeout)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` from another loop (a cell's) while it runs here.

        Cancelling the await cancels ``coro`` on the network loop too.
        """
        return await asyncio.wrap_future(self.submit(coro))

    def stop(self) -> None:
        """Stop the loop and wait for the thread (at most two seconds)."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=2)


def get_network() -> NetworkThread:
    """Return this process's network thread, starting it on first use."""
    global _network
    with _lock:
        if _network is None or not _network.alive:
            _network = NetworkThread()
            atexit.register(_network.stop)
        return _network

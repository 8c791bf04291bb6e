"""One measurement: the servers under test side by side, one client count.

Every server gets a fresh process and its own clients. Phases, in order:

1. warm-up, each server in turn: a few pairs connect, relay, and leave, so
   that lazy start-up costs (imports, JIT) fall outside the measurements;
2. idle, each server in turn: all its clients connect and stay idle; the
   growth of the server's resident memory, divided by the number of clients,
   is the memory per idle client;
3. fixed rate, all servers at once: each gets the same aggregate rate for a
   few seconds, from pacers that take turns on one event loop; the latency
   from send to receipt of every message gives the median and p99, taken
   per second of sending and then their median over the seconds. Running
   the servers together means that a stall of the machine (other work on its
   two cores) hits every server alike instead of whichever ran at the time,
   and the median over seconds keeps one stall from deciding the p99;
4. saturation, each server in turn: a fixed number of messages, each sender
   keeping a small window in flight; the server's CPU time over the phase
   divided by the messages delivered is the CPU time per relayed message.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .load import Clients
from .profile import Sampler, summarize
from .servers import ServerProcess, machine_busy_s, own_cpu_s, start
from .wire import DIALECTS, Dialect

__all__ = ["Result", "Settings", "measure"]


@dataclass(frozen=True)
class Settings:
    """Workload of one measurement."""

    saturation_messages: int = 40_000
    window: int = 8
    rate: float = 2_000.0
    rate_seconds: float = 5.0
    warmup_pairs: int = 5
    warmup_messages: int = 200
    log_dir: Path = Path("bench/results")
    profile: bool = False
    p2plab_path: Path | None = None
    p2plab_args: tuple[str, ...] = ()


@dataclass
class Result:
    """Everything measured for one server and one number of clients."""

    server: str
    clients: int
    frame_bytes: int = 0
    connect_s: float = 0.0
    connect_cpu_s: float = 0.0
    rss_base_kib: int = 0
    rss_idle_kib: int = 0
    saturation_sent: int = 0
    saturation_delivered: int = 0
    saturation_s: float = 0.0
    saturation_cpu_s: float = 0.0
    generator_cpu_s: float = 0.0
    rate_sent: int = 0
    rate_delivered: int = 0
    rate_s: float = 0.0
    rate_cpu_s: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    foreign_cores: float = 0.0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    misrouted: int = 0
    other_frames: dict[str, int] = field(default_factory=dict)

    @property
    def kib_per_client(self) -> float:
        """Growth of resident memory per idle connected client, in KiB."""
        return (self.rss_idle_kib - self.rss_base_kib) / self.clients

    @property
    def cpu_us_per_message(self) -> float:
        """Server CPU time per relayed message at saturation, in µs."""
        return 1e6 * self.saturation_cpu_s / max(1, self.saturation_delivered)

    @property
    def rate_cpu_us_per_message(self) -> float:
        """Server CPU time per relayed message at the fixed rate, in µs."""
        return 1e6 * self.rate_cpu_s / max(1, self.rate_delivered)

    @property
    def throughput(self) -> float:
        """Messages delivered per second at saturation (bounded by the client)."""
        return self.saturation_delivered / max(1e-9, self.saturation_s)

    def as_dict(self) -> dict[str, Any]:
        """Return the raw numbers and the derived ones, for JSON."""
        derived = {
            "kib_per_client": self.kib_per_client,
            "cpu_us_per_message": self.cpu_us_per_message,
            "rate_cpu_us_per_message": self.rate_cpu_us_per_message,
            "throughput": self.throughput,
        }
        return asdict(self) | derived


def _quantiles(samples_ms: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return cuts[49], cuts[98]


def _percentiles(
    samples_ns: list[tuple[int, int]], window_s: float
) -> dict[str, float]:
    """Return latency percentiles in ms, per window of send time and overall.

    ``p50`` and ``p99`` are the medians, over windows of ``window_s`` seconds,
    of each window's median and 99th percentile. The machine is shared: a
    stall of a few hundred milliseconds from other work would otherwise
    decide the p99 of a whole phase by itself. ``p99_all`` is the plain
    99th percentile of the phase, stalls included.
    """
    if len(samples_ns) < 100:
        return {}
    start = min(sent for sent, _ in samples_ns)
    windows: dict[int, list[float]] = {}
    for sent, latency in samples_ns:
        windows.setdefault(int((sent - start) / 1e9 / window_s), []).append(
            latency / 1e6
        )
    cuts = [_quantiles(ms) for ms in windows.values() if len(ms) >= 100]
    every = [latency / 1e6 for _, latency in samples_ns]
    return {
        "p50": statistics.median(p50 for p50, _ in cuts),
        "p99": statistics.median(p99 for _, p99 in cuts),
        "p99_all": _quantiles(every)[1],
        "max": max(every),
        "windows": len(cuts),
    }


async def _warm_up(server: ServerProcess, dialect: Dialect, settings: Settings) -> None:
    clients = Clients(dialect, server.port, 2 * settings.warmup_pairs, "w")
    try:
        await clients.connect(timeout=30)
        await clients.settle(timeout=10)
        per_stream = settings.warmup_messages // settings.warmup_pairs
        await clients.saturate(per_stream, settings.window, timeout=30)
    finally:
        await clients.close()
    await asyncio.sleep(0.5)


@dataclass
class _Subject:
    """One server under test, with its clients and its result."""

    server: ServerProcess
    dialect: Dialect
    clients: Clients
    result: Result


async def measure(kinds: list[str], count: int, settings: Settings) -> list[Result]:
    """Run every phase against fresh servers of ``kinds``, ``count`` clients each."""
    subjects: list[_Subject] = []
    try:
        for kind in kinds:
            is_p2plab = kind == "p2plab"
            path = settings.p2plab_path if is_p2plab else None
            extra = settings.p2plab_args if is_p2plab else ()
            server = start(kind, settings.log_dir, str(count), path, extra)
            dialect = DIALECTS[kind]()
            clients = Clients(dialect, server.port, count, "c")
            subjects.append(_Subject(server, dialect, clients, Result(kind, count)))
        for subject in subjects:
            await _warm_up(subject.server, subject.dialect, settings)
        for subject in subjects:
            await _idle(subject.server, subject.clients, subject.result)

        # The generator's own garbage collector would pause every client at
        # once and show up as relay latency; its garbage is acyclic anyway.
        gc.collect()
        gc.disable()
        # What the rest of the machine did meanwhile says how far to trust
        # the latencies: other work on the two cores delays every message.
        ours = [s.server for s in subjects]
        before = _foreign_cpu_s(ours)
        began = time.monotonic()
        await asyncio.gather(
            *(_fixed_rate(s.server, s.clients, s.result, settings) for s in subjects)
        )
        foreign = (_foreign_cpu_s(ours) - before) / (time.monotonic() - began)
        for subject in subjects:
            subject.result.foreign_cores = foreign
        for subject in subjects:
            await asyncio.sleep(0.5)
            await _saturation(subject.server, subject.clients, subject.result, settings)
            _tally(subject.clients, subject.result)
    finally:
        gc.enable()
        # Signal the servers before the clients go: a thousand departures one
        # by one would make ours announce each to everyone still connected.
        # peerjs-server, for its part, only exits once its clients are gone.
        for subject in subjects:
            subject.server.terminate()
        for subject in subjects:
            await subject.clients.close()
            await asyncio.to_thread(subject.server.stop)
    return [subject.result for subject in subjects]


def _foreign_cpu_s(servers: list[ServerProcess]) -> float:
    """CPU time used on the machine by processes other than ours, so far."""
    ours = own_cpu_s() + sum(server.usage().cpu_s for server in servers)
    return machine_busy_s() - ours


def _tally(clients: Clients, result: Result) -> None:
    """Count the messages lost, doubled, reordered or misdelivered."""
    result.frame_bytes = clients.frame_size
    streams = clients.outbound.values()
    result.lost = sum(s.lost for s in streams)
    result.duplicated = sum(s.duplicated for s in streams)
    result.reordered = sum(s.reordered for s in streams)
    result.misrouted = clients.tally.misrouted
    result.other_frames = dict(clients.tally.other)


async def _idle(server: ServerProcess, clients: Clients, result: Result) -> None:
    """Connect everyone, let presence frames drain, then read the memory."""
    base = server.usage()
    result.rss_base_kib = base.rss_kib
    began = time.monotonic()
    await clients.connect(timeout=120)
    await clients.settle(timeout=120)
    result.connect_s = time.monotonic() - began
    await asyncio.sleep(1.0)
    idle = server.usage()
    result.rss_idle_kib = idle.rss_kib
    result.connect_cpu_s = idle.cpu_s - base.cpu_s


async def _saturation(
    server: ServerProcess, clients: Clients, result: Result, settings: Settings
) -> None:
    """Relay a fixed number of messages as fast as they go; read server CPU."""
    sampler = None
    if settings.profile and server.kind != "peerjs":
        out = settings.log_dir / f"profile-{server.kind}-{result.clients}.txt"
        sampler = Sampler(server.pid, out)
        await asyncio.sleep(0.5)  # py-spy attaches

    per_stream = max(1, settings.saturation_messages // result.clients)
    sent, delivered = clients.sent(), clients.delivered()
    before, generator = server.usage(), time.process_time()
    await clients.saturate(per_stream, settings.window, timeout=90)
    after = server.usage()
    result.generator_cpu_s = time.process_time() - generator
    result.saturation_sent = clients.sent() - sent
    result.saturation_delivered = clients.delivered() - delivered
    result.saturation_s = after.at - before.at
    result.saturation_cpu_s = after.cpu_s - before.cpu_s

    if sampler is not None:
        await asyncio.to_thread(sampler.stop)
        print(summarize(sampler.out), flush=True)


async def _fixed_rate(
    server: ServerProcess, clients: Clients, result: Result, settings: Settings
) -> None:
    """Relay at a fixed aggregate rate; read latencies and server CPU."""
    sent, delivered = clients.sent(), clients.delivered()
    before = server.usage()
    await clients.paced(
        settings.rate, settings.rate_seconds, timeout=settings.rate_seconds + 10
    )
    after = server.usage()
    result.rate_sent = clients.sent() - sent
    result.rate_delivered = clients.delivered() - delivered
    result.rate_s = after.at - before.at
    result.rate_cpu_s = after.cpu_s - before.cpu_s
    result.latency_ms = _percentiles(clients.latencies_ns, window_s=1.0)

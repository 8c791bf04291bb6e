"""The benchmark's table (markdown) and plot (PNG)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from .run import Result

__all__ = ["TARGETS", "plot", "table", "verdicts"]

BASELINE = "peerjs"

# Above this much CPU used by other processes (in cores) during the fixed-rate
# phase, latency comparisons are marked as inconclusive.
BUSY_CORES = 0.25

# When the baseline's memory readings of one run differ by more than this
# factor, or one is not above zero, the memory comparison is marked as
# inconclusive: V8 collects garbage (the warm-up's, the handshakes') at
# moments of its own choosing, and a collection during the idle phase takes
# resident memory down while clients connect.
MEMORY_SPREAD = 2.0

# (label, how to read it from one result, format); counts of broken
# messages are added up over repeats, every other number is their median.
Metric = tuple[str, Callable[[Result], float], str]

METRICS: list[Metric] = [
    ("**server CPU per relayed message, µs**", lambda r: r.cpu_us_per_message, ".1f"),
    (
        "server CPU per message at the fixed rate, µs",
        lambda r: r.rate_cpu_us_per_message,
        ".1f",
    ),
    (
        "median latency at the fixed rate, ms (median of 1-s windows)",
        lambda r: r.latency_ms.get("p50", 0.0),
        ".2f",
    ),
    (
        "p99 latency at the fixed rate, ms (median of 1-s windows)",
        lambda r: r.latency_ms.get("p99", 0.0),
        ".2f",
    ),
    (
        "p99 latency at the fixed rate, ms (whole phase, stalls included)",
        lambda r: r.latency_ms.get("p99_all", 0.0),
        ".2f",
    ),
    (
        "other processes' CPU during the fixed rate, cores (of 2)",
        lambda r: r.foreign_cores,
        ".2f",
    ),
    ("memory per idle client, KiB", lambda r: r.kib_per_client, ".1f"),
    ("messages lost", lambda r: r.lost, "sum"),
    ("messages reordered", lambda r: r.reordered, "sum"),
    ("messages duplicated", lambda r: r.duplicated, "sum"),
    ("messages to the wrong client", lambda r: r.misrouted, "sum"),
    (
        "throughput at saturation, msg/s (bound by the client)",
        lambda r: r.throughput,
        ",.0f",
    ),
    ("server CPU to connect all clients, s", lambda r: r.connect_cpu_s, ".2f"),
    ("time to connect all clients, s", lambda r: r.connect_s, ".1f"),
    ("frame size sent, bytes", lambda r: r.frame_bytes, ".0f"),
]

#: Ratio targets at the largest client count: (metric label, highest ratio).
TARGETS: list[tuple[str, Callable[[Result], float], float]] = [
    ("CPU per message", lambda r: r.cpu_us_per_message, 1.0),
    ("p99 latency", lambda r: r.latency_ms.get("p99", 0.0), 1.0),
    ("memory per idle client", lambda r: r.kib_per_client, 1.0),
]


def _groups(results: Sequence[Result]) -> dict[tuple[str, int], list[Result]]:
    groups: dict[tuple[str, int], list[Result]] = {}
    for result in results:
        groups.setdefault((result.server, result.clients), []).append(result)
    return groups


def _value(group: list[Result], read: Callable[[Result], float], fmt: str) -> float:
    values = [float(read(result)) for result in group]
    return sum(values) if fmt == "sum" else statistics.median(values)


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "-"


def _servers(results: Sequence[Result]) -> list[str]:
    return [BASELINE] + sorted({r.server for r in results} - {BASELINE})


def table(results: Sequence[Result]) -> str:
    """Return a markdown table: every server, every count, ratios to PeerJS."""
    counts = sorted({r.clients for r in results})
    servers = _servers(results)
    groups = _groups(results)
    header = ["metric"]
    for count in counts:
        header += [f"{server} ({count:,})" for server in servers]
        header += [f"{server}/{BASELINE} ({count:,})" for server in servers[1:]]
    lines = [
        "| " + " | ".join(header) + " |",
        "|---" + "|---:" * (len(header) - 1) + "|",
    ]
    for label, read, fmt in METRICS:
        row = [label]
        for count in counts:
            values = {
                s: _value(groups[s, count], read, fmt)
                for s in servers
                if (s, count) in groups
            }
            shown = ".0f" if fmt == "sum" else fmt
            row += [format(values[s], shown) if s in values else "-" for s in servers]
            base = values.get(BASELINE, 0.0)
            compare = fmt != "sum" and not label.startswith("other processes")
            row += [
                _ratio(values[s], base) if s in values and compare else "-"
                for s in servers[1:]
            ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def verdicts(results: Sequence[Result]) -> list[str]:
    """Say, for the largest count, whether each server meets each target."""
    count = max(r.clients for r in results)
    groups = _groups(results)
    if (BASELINE, count) not in groups:
        return []
    lines = []
    for server in _servers(results)[1:]:
        if (server, count) not in groups:
            continue
        for label, read, limit in TARGETS:
            ours = _value(groups[server, count], read, "median")
            theirs = _value(groups[BASELINE, count], read, "median")
            ratio = ours / theirs if theirs else float("inf")
            # Each repeat measured the servers side by side: pair them. A
            # reading of zero or less has no ratio.
            pairs = zip(groups[server, count], groups[BASELINE, count], strict=False)
            spread = [read(a) / read(b) for a, b in pairs if read(b) > 0] or [ratio]
            status = "met" if ratio <= limit else "NOT met"
            busy = _value(groups[server, count], lambda r: r.foreign_cores, "median")
            if "latency" in label and busy > BUSY_CORES:
                status += (
                    f", but inconclusive: other processes used {busy:.2f} cores "
                    "of 2 while latencies were measured"
                )
            base = [read(r) for r in groups[BASELINE, count]]
            if "memory" in label and (
                min(base) <= 0 or max(base) > MEMORY_SPREAD * min(base)
            ):
                status += (
                    f", but inconclusive: {BASELINE}'s readings went from "
                    f"{min(base):.1f} to {max(base):.1f} KiB between repeats"
                )
            lines.append(
                f"{server}/{BASELINE} at {count:,} clients, {label}: {ratio:.2f}x "
                f"(repeat by repeat {min(spread):.2f}-{max(spread):.2f}x; target <= "
                f"{limit:.1f}x): {status}"
            )
    return lines


def plot(results: Sequence[Result], path: Path, caption: str) -> None:
    """Draw CPU per message, latency and memory per client as grouped bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = sorted({r.clients for r in results})
    servers = _servers(results)
    groups = _groups(results)
    panels: list[tuple[str, Callable[[Result], float]]] = [
        ("server CPU per relayed message (µs)", lambda r: r.cpu_us_per_message),
        (
            "median latency, fixed rate (ms, 1-s windows)",
            lambda r: r.latency_ms.get("p50", 0),
        ),
        (
            "p99 latency, fixed rate (ms, 1-s windows)",
            lambda r: r.latency_ms.get("p99", 0),
        ),
        ("memory per idle client (KiB)", lambda r: r.kib_per_client),
    ]
    fig, grid = plt.subplots(2, 2, figsize=(9.5, 7.0))
    axes = list(grid.flat)
    width = 0.8 / len(servers)
    for ax, (title, read) in zip(axes, panels, strict=True):
        for i, server in enumerate(servers):
            offset = (i - (len(servers) - 1) / 2) * width
            xs = [j + offset for j in range(len(counts))]
            ys = [
                _value(groups[server, c], read, "median")
                if (server, c) in groups
                else 0.0
                for c in counts
            ]
            bars = ax.bar(xs, ys, width, label=server)
            ax.bar_label(bars, fmt="%.3g", fontsize=7)
        ax.set_xticks(range(len(counts)), [f"{c:,} clients" for c in counts])
        ax.set_title(title, fontsize=10)
        ax.margins(y=0.15)
    axes[0].legend(fontsize=8)
    fig.suptitle(caption, fontsize=8, wrap=True)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)

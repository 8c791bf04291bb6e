"""Compare the p2plab signaling server with peerjs-server on loopback.

Both servers run in the same run, as child processes on 127.0.0.1, under the
same workload: clients in pairs relaying SDP offers and answers of about
2 KB. The headline is the server's CPU time per relayed message; see
docs/benchmarks.md for what each number means.

    .venv/bin/python bench/relay_vs_peerjs.py

It installs ``peer`` (peerjs-server) with npm into bench/node_modules the
first time, and writes bench/results/latest.md, bench/results/latest.json,
one log per server, and the plot docs/benchmarks.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shlex
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from relaybench import report  # noqa: E402
from relaybench.run import Result, Settings, measure  # noqa: E402
from relaybench.servers import (  # noqa: E402
    PEER_VERSION,
    describe_server,
    ensure_peer,
    export_server,
)
from relaybench.wire import DIALECTS  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients",
        type=int,
        nargs="+",
        default=[100, 1000],
        help="numbers of clients to measure (even; default 100 1000)",
    )
    parser.add_argument(
        "--servers",
        nargs="+",
        default=["peerjs", "p2plab"],
        choices=sorted(DIALECTS),
        help="servers to measure; the 'prototype' ones are the relay-path "
        "experiment in bench/relaybench/fast_relay.py: forward without "
        "parsing, splice after parsing, parse and re-encode, or forward with "
        "less memory per connection (default: peerjs p2plab)",
    )
    parser.add_argument(
        "--messages",
        type=int,
        default=40_000,
        help="messages relayed in the saturation phase (default 40000)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=2_000.0,
        help="aggregate messages per second in the fixed-rate phase",
    )
    parser.add_argument(
        "--rate-seconds",
        type=float,
        default=5.0,
        help="length of the fixed-rate phase (default 5)",
    )
    parser.add_argument(
        "--p2plab-ref",
        metavar="REF",
        help="measure the p2plab server as committed at this git ref (checked "
        "out into bench/.cache) instead of the one installed from the work tree",
    )
    parser.add_argument(
        "--p2plab-args",
        metavar="ARGS",
        default="",
        help="more options for the p2plab server, as one string (for example "
        "to lift a rate limit that a saturation run would hit)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="measurements of each server at each count; the table shows "
        "medians (default 3)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the Python servers with py-spy during saturation and print "
        "where they spend their time (the sampler costs CPU: numbers from a "
        "profiled run are not comparable)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=BENCH_DIR / "results",
        help="directory for latest.md, latest.json and server logs",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=BENCH_DIR.parent / "docs" / "benchmarks.png",
        help="where to save the plot; 'none' for no plot",
    )
    return parser


def raise_file_limit(clients: int) -> None:
    """Allow enough open files for every client socket, and the servers'."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * clients + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def describe_machine() -> str:
    """Return one line about where the numbers come from."""
    load = os.getloadavg()
    return (
        f"{platform.node()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, node {_node_version()}, "
        f"peer {PEER_VERSION}, load average {load[0]:.2f} at the start"
    )


def _node_version() -> str:
    import subprocess

    done = subprocess.run(["node", "--version"], capture_output=True, text=True)
    return done.stdout.strip()


async def run_all(args: argparse.Namespace) -> list[Result]:
    """Measure every server at every client count, ``--repeat`` times."""
    settings = Settings(
        saturation_messages=args.messages,
        rate=args.rate,
        rate_seconds=args.rate_seconds,
        log_dir=args.results,
        profile=args.profile,
        p2plab_path=export_server(args.p2plab_ref)[0] if args.p2plab_ref else None,
        p2plab_args=tuple(shlex.split(args.p2plab_args)),
    )
    results = []
    for repeat in range(args.repeat):
        # Alternate the order, so that a drift in the machine's load does not
        # always fall on the same server.
        order = args.servers if repeat % 2 == 0 else args.servers[::-1]
        for count in args.clients:
            began = time.monotonic()
            batch = await measure(order, count, settings)
            seconds = time.monotonic() - began
            for result in batch:
                print(
                    f"#{repeat + 1} {_one_line(result)} ({seconds:.0f} s)", flush=True
                )
            results += batch
    return results


def _one_line(result: Result) -> str:
    return (
        f"{result.server:>9} {result.clients:>5} clients: "
        f"{result.cpu_us_per_message:5.1f} µs CPU/msg, p50/p99 "
        f"{result.latency_ms.get('p50', 0):.2f}/{result.latency_ms.get('p99', 0):.2f}"
        f" ms, {result.kib_per_client:4.1f} KiB/client, lost {result.lost} "
        f"reordered {result.reordered} dup {result.duplicated}"
    )


def summary(
    args: argparse.Namespace, results: list[Result], notes: dict[str, str]
) -> str:
    """Return the table, the verdicts and what was run where, as markdown."""
    odd = [
        f"{r.server} at {r.clients} clients received {r.other_frames}"
        for r in results
        if r.other_frames
    ]
    return "\n\n".join(
        [
            report.table(results),
            "\n".join(report.verdicts(results) + odd),
            f"Workload: {notes['workload']}. Server: {notes['server'] or '-'}. "
            f"Machine: {notes['machine']}. Run time {notes['seconds']} s.",
        ]
    )


def main() -> int:
    """Run the benchmark; return 1 if any message was lost, reordered or doubled."""
    args = build_parser().parse_args()
    if any(count % 2 or count < 2 for count in args.clients):
        print("--clients: each count must be even and at least 2", file=sys.stderr)
        return 2
    raise_file_limit(max(args.clients))
    if "peerjs" in args.servers:
        ensure_peer()

    notes = {
        "machine": describe_machine(),
        "server": describe_server(args.p2plab_ref) if "p2plab" in args.servers else "",
        "workload": (
            f"{args.messages:,} messages at saturation, {args.rate:,.0f} msg/s for "
            f"{args.rate_seconds:g} s at the fixed rate, median of {args.repeat}"
        ),
    }
    began = time.monotonic()
    results = asyncio.run(run_all(args))
    notes["seconds"] = f"{time.monotonic() - began:.0f}"
    notes["machine"] += f", {os.getloadavg()[0]:.2f} at the end"

    text = summary(args, results, notes)
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "latest.md").write_text(text + "\n")
    raw = {**notes, "results": [r.as_dict() for r in results]}
    (args.results / "latest.json").write_text(json.dumps(raw, indent=1) + "\n")
    if str(args.plot) != "none":
        caption = "; ".join(
            text
            for text in (notes["workload"], notes["server"], notes["machine"])
            if text
        )
        report.plot(results, args.plot, caption)
        print(f"plot saved to {args.plot}")

    broken = [
        r
        for r in results
        if r.lost or r.reordered or r.duplicated or r.misrouted or r.other_frames
    ]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())

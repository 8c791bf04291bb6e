"""How long each lesson takes to Run All, against an empty notebook's.

Every notebook in notebooks/ is run in a fresh kernel with nbclient, in the
sandbox that nbval uses (a signaling server on a free port of 127.0.0.1 and a
temporary HOME; see the repository's ``conftest.py``), ``--repeat`` times. The
baseline, measured in the same run and in the same way, is a notebook with one
cell, ``import p2plab``: what any notebook costs before its first lesson
cell: the import that every lesson's first cell pays. The report gives, for
each notebook, the median seconds of Run All in an open kernel (first cell
to last reply), its ratio to the baseline's, and the median seconds of the
whole run with the kernel start. Then it times one whole ``pytest --nbval
notebooks/`` run, the command the maintainers rely on.

    .venv/bin/python bench/lessons.py [--repeat 3] [--no-nbval]

The saved notebooks are never written: the runs work on copies in memory.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "notebooks"))

from execute import CELL_TIMEOUT, load_sandbox  # noqa: E402

BASELINE = "(baseline: import p2plab)"


def run_once(nb: nbformat.NotebookNode, folder: Path) -> tuple[float, float]:
    """Run ``nb`` in a fresh kernel; return the seconds with and without the start.

    The first number is the wall time of the whole run, kernel start
    included; the second runs from the first cell's start to the last cell's
    reply, as a learner who presses Run All in an open notebook waits.
    """
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        store_widget_state=False,
        resources={"metadata": {"path": str(folder)}},
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    for cell in code:
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                raise SystemExit(f"a cell failed: {output.ename}: {output.evalue}")
    first = code[0].metadata.execution["iopub.execute_input"]
    last = code[-1].metadata.execution["shell.execute_reply"]
    return elapsed, _seconds(last) - _seconds(first)


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def notebooks() -> dict[str, nbformat.NotebookNode]:
    """The baseline notebook, then every notebook of notebooks/, by name."""
    baseline = nbformat.v4.new_notebook()
    baseline.cells.append(nbformat.v4.new_code_cell("import p2plab"))
    found = {BASELINE: baseline}
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        found[path.name] = nbformat.read(path, as_version=4)
    return found


def time_nbval() -> float:
    """Return the wall seconds of one ``pytest --nbval notebooks/`` run."""
    command = [sys.executable, "-m", "pytest", "--nbval", "-q", "notebooks/"]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"nbval failed:\n{result.stdout[-3000:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-nbval", action="store_true")
    args = parser.parse_args(argv)

    times: dict[str, list[float]] = {}
    cells: dict[str, list[float]] = {}
    sandbox = load_sandbox()()
    try:
        for _ in range(args.repeat):
            for name, nb in notebooks().items():
                whole, run_all = run_once(nb, REPO / "notebooks")
                times.setdefault(name, []).append(whole)
                cells.setdefault(name, []).append(run_all)
    finally:
        sandbox.close()

    base = statistics.median(cells[BASELINE])
    print(f"Run All, median of {args.repeat} runs in fresh kernels\n")
    print(
        "| notebook | Run All in an open kernel | ratio to the baseline "
        "| with the kernel start |"
    )
    print("|---|---|---|---|")
    for name, runs in cells.items():
        median = statistics.median(runs)
        print(
            f"| {name} | {median:.2f} s | {median / base:.1f}x "
            f"| {statistics.median(times[name]):.2f} s |"
        )
    if not args.no_nbval:
        print(f"\npytest --nbval notebooks/: {time_nbval():.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

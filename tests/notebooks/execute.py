"""Run the chat notebooks in a sandbox and save them with their outputs.

Usage, from the top of the repository::

    .venv/bin/python tests/notebooks/execute.py notebooks/{alice,bob}.ipynb

Each notebook runs alone, in a fresh kernel, one after the other, the way
``pytest --nbval`` runs them: Alice finds nobody and waits, and Bob, started
after Alice's kernel is gone, waits too. The sandbox is the one nbval uses
(the repository's ``conftest.py``): a signaling server in this process on a free
port of 127.0.0.1, and a temporary HOME and P2PLAB_HOME, so the user's own
keys and settings are never touched.

The saved notebooks keep only what is the same on every run: editor and timing
metadata, widget state and widget model ids (random) are removed, so running
this again leaves the files as they were.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
EDITOR_KEYS = ("collapsed", "scrolled", "jupyter", "execution")
CELL_TIMEOUT = 60


def load_sandbox() -> type:
    """Return the ``Sandbox`` class of the repository's ``conftest.py``."""
    spec = importlib.util.spec_from_file_location(
        "p2plab_root_conftest", REPO / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sandbox: type = module.Sandbox
    return sandbox


def clean(nb: nbformat.NotebookNode) -> None:
    """Remove what differs from run to run, and check that nothing failed.

    Raises:
        SystemExit: If a code cell was not run or shows an error.
    """
    nb.metadata.pop("widgets", None)
    nb.metadata.get("language_info", {}).pop("version", None)
    for cell in nb.cells:
        for key in EDITOR_KEYS:
            cell.metadata.pop(key, None)
        if cell.cell_type != "code":
            continue
        if cell.execution_count is None:
            raise SystemExit(f"cell {cell.id} was not run")
        for output in cell.outputs:
            if output.output_type == "error":
                raise SystemExit(f"cell {cell.id} failed: {output.ename}")
            output.get("data", {}).pop(WIDGET_VIEW, None)


def execute(path: Path) -> None:
    """Run the notebook at ``path`` in a fresh kernel and save it in place."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    clean(nb)
    nbformat.validate(nb)
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    """Run each notebook named on the command line; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    sandbox = load_sandbox()()
    try:
        for path in args.notebooks:
            print(f"running {path}", flush=True)
            execute(path.resolve())
    finally:
        sandbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

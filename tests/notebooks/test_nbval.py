"""The chat notebooks as committed: clean files whose outputs nbval reproduces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
EDITOR_KEYS = {"collapsed", "scrolled", "jupyter", "execution"}
NBVAL_RUN = 120.0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_saved_clean(path: Path) -> None:
    """Every code cell ran in order, without errors, editor metadata or widget ids."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]

    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert "widgets" not in nb.metadata
    for cell in nb.cells:
        assert not EDITOR_KEYS & set(cell.metadata), cell.id
    for cell in code:
        for output in cell.outputs:
            assert output.output_type != "error", cell.id
            assert "application/vnd.jupyter.widget-view+json" not in output.get(
                "data", {}
            ), cell.id


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_reads_as_a_lesson(path: Path) -> None:
    """One title, a few sections, short code cells, and prose between them."""
    nb = nbformat.read(path, as_version=4)
    headings = [
        line
        for cell in nb.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("#")
    ]
    kinds = [cell.cell_type for cell in nb.cells]

    assert [h for h in headings if h.startswith("# ")] == headings[:1]
    assert 3 <= len(headings) - 1 <= 10
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert len(cell.source.splitlines()) <= 5, cell.id
    assert kinds.count("markdown") >= kinds.count("code")


def test_notebooks_pass_nbval() -> None:
    """``pytest --nbval notebooks/`` reproduces the saved outputs of every notebook."""
    command = [sys.executable, "-m", "pytest", "--nbval", "-q", "notebooks/"]
    result = subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=NBVAL_RUN,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


LESSONS = [path for path in NOTEBOOKS if path.name[:2].isdigit()]
CLOSING = ["## Recap", "## What the server saw", "## Exercises"]


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.stem)
def test_lesson_ends_the_same_way(path: Path) -> None:
    """Every numbered lesson ends with a recap, what the server saw, and exercises."""
    nb = nbformat.read(path, as_version=4)
    sections = [
        line.strip()
        for cell in nb.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]
    assert sections[-3:] == CLOSING, sections
    first = next(cell for cell in nb.cells if cell.cell_type == "code")
    assert "reset()" in first.source, "the first code cell starts from a clean kernel"

"""Fixtures for the exercise checks: the worked solutions in ``solutions/``."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[3]


def load_solutions(stem: str) -> ModuleType:
    """Return ``solutions/<stem>.py`` as a module, e.g. ``"07_aes_gcm"``."""
    path = REPO / "solutions" / f"{stem}.py"
    spec = importlib.util.spec_from_file_location(f"solutions_{stem}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

"""Tests for the public API: p2plab.__all__ and the modules it gathers."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from types import ModuleType

import pytest

import p2plab

MODULES = sorted(
    info.name for info in pkgutil.iter_modules(p2plab.__path__) if not info.ispkg
)


def submodule(name: str) -> ModuleType:
    """Import and return ``p2plab.<name>``."""
    return importlib.import_module(f"p2plab.{name}")


def exported_by_modules() -> dict[str, object]:
    """Return every name in a submodule's __all__ with the object it names."""
    names: dict[str, object] = {}
    for name in MODULES:
        module = submodule(name)
        for exported in getattr(module, "__all__", []):
            names.setdefault(exported, getattr(module, exported))
    return names


def test_all_matches_the_public_names_of_the_package() -> None:
    """__all__ lists exactly the public names the package binds, modules aside."""
    public = {
        name
        for name, value in vars(p2plab).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert set(p2plab.__all__) == public


def test_all_has_no_duplicates_and_is_sorted() -> None:
    """__all__ names each export once, in sorted order."""
    assert len(set(p2plab.__all__)) == len(p2plab.__all__)
    assert p2plab.__all__ == sorted(p2plab.__all__)


@pytest.mark.parametrize("name", p2plab.__all__)
def test_every_name_in_all_imports(name: str) -> None:
    """Each name in __all__ can be imported from p2plab."""
    namespace: dict[str, object] = {}
    exec(f"from p2plab import {name}", namespace)
    assert namespace[name] is getattr(p2plab, name)


@pytest.mark.parametrize("name", p2plab.__all__)
def test_every_name_comes_from_a_module_that_exports_it(name: str) -> None:
    """Each package name is the very object a submodule lists in its __all__."""
    exported = exported_by_modules()
    assert name in exported
    assert getattr(p2plab, name) is exported[name]


@pytest.mark.parametrize("name", MODULES)
def test_every_module_declares_what_it_exports(name: str) -> None:
    """Each submodule has an __all__, and every name in it exists."""
    module = submodule(name)
    assert isinstance(module.__all__, list)
    for exported in module.__all__:
        assert hasattr(module, exported), f"p2plab.{name} lacks {exported}"


def test_star_import_gives_exactly_all() -> None:
    """``from p2plab import *`` binds exactly the names in __all__."""
    namespace: dict[str, object] = {}
    exec("from p2plab import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(p2plab.__all__)


def test_the_package_logger_has_a_null_handler() -> None:
    """Importing p2plab adds a NullHandler, so the library prints no log by default."""
    handlers = logging.getLogger("p2plab").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)

"""The conda environment and the pip metadata describe the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT = re.compile(r"^([A-Za-z0-9_.-]+)\s*(.*)$")


def _requirements(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        match = REQUIREMENT.match(line.strip())
        assert match, f"cannot read the requirement {line!r}"
        found[match.group(1).lower().replace("_", "-")] = match.group(2).replace(
            " ", ""
        )
    return found


def _pyproject() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return _requirements(meta["project"]["dependencies"])


def _conda() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    plain = [d for d in env["dependencies"] if isinstance(d, str)]
    deps = _requirements(plain)
    deps.pop("pip")
    deps.pop("python")
    return deps


def test_conda_lists_exactly_the_pip_dependencies() -> None:
    """Every runtime dependency appears in both files with the same lower bound."""
    assert _conda() == _pyproject()


def test_conda_installs_the_project_itself() -> None:
    """The conda environment installs p2plab from the checkout with pip."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert pip_sections == [["-e ."]]


def test_python_version_agrees() -> None:
    """Both files ask for the same minimum Python."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_python = next(
        d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")
    )
    assert conda_python.removeprefix("python") == meta["project"]["requires-python"]


def test_standalone_server_needs_only_websockets() -> None:
    """The server's own package metadata depends on websockets and nothing else."""
    meta = tomllib.loads((ROOT / "server" / "pyproject.toml").read_text())
    assert list(_requirements(meta["project"]["dependencies"])) == ["websockets"]
    main = _pyproject()
    server = _requirements(meta["project"]["dependencies"])
    assert server["websockets"] == main["websockets"]


def test_every_package_folder_is_installed() -> None:
    """Each folder of p2plab with an ``__init__.py`` is listed for the wheel."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(meta["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "p2plab").rglob("__init__.py")
    }
    assert found <= listed

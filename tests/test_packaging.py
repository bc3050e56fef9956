"""The installed distribution ``failover`` carries the three typed import packages.

Checked through ``importlib.metadata`` rather than by building a wheel, to stay fast. Works for a
regular install (the packages' files are in the distribution's RECORD) and for an editable one
(``pip install -e``, as ``make`` does: the packages resolve inside the project directory).
"""

from __future__ import annotations

import importlib.util
import json
import re
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

DISTRIBUTION = "failover"
PACKAGES = ("statemachines", "failover", "providers")
# httpx: the providers package (the I/O adapters) is part of every install
CORE_DEPENDENCIES = {"attrs", "cattrs", "httpx", "transitions"}


@pytest.fixture(scope="module")
def dist() -> metadata.Distribution:
    try:
        return metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # pragma: no cover - a setup error, not a test result
        pytest.fail(f"distribution {DISTRIBUTION!r} is not installed; run `make .venv/.installed`")


def _editable_root(dist: metadata.Distribution) -> Path | None:
    """The project directory of an editable install (PEP 610 direct_url.json), else None."""
    raw = dist.read_text("direct_url.json")
    if raw is None:
        return None
    direct_url = json.loads(raw)
    if not direct_url.get("dir_info", {}).get("editable", False):
        return None
    return Path(unquote(urlparse(direct_url["url"]).path)).resolve()


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None, f"package {package!r} cannot be imported"
    origin = spec.origin or ""
    assert origin.endswith("__init__.py"), (
        f"{package!r} is not a regular package (no __init__.py); found {spec!r}"
    )
    return Path(origin).resolve().parent


def test_metadata_names_the_distribution_and_python(dist: metadata.Distribution) -> None:
    assert dist.metadata["Name"] == DISTRIBUTION
    assert dist.metadata["Requires-Python"] == ">=3.11"


def test_core_dependencies_are_only_attrs_cattrs_httpx_transitions(
    dist: metadata.Distribution,
) -> None:
    core = {
        re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()
        for requirement in dist.requires or []
        if "extra ==" not in requirement
    }
    assert core == CORE_DEPENDENCIES, f"core dependencies are {sorted(core)}"


@pytest.mark.parametrize("package", PACKAGES)
def test_distribution_installs_package(dist: metadata.Distribution, package: str) -> None:
    root = _editable_root(dist)
    if root is None:
        files = {path.as_posix() for path in dist.files or []}
        assert {f"{package}/__init__.py", f"{package}/py.typed"} <= files, (
            f"the {DISTRIBUTION} distribution does not install {package}/ with its py.typed"
        )
    else:
        assert _package_dir(package) == root / package, (
            f"{package} resolves to {_package_dir(package)}, not to the editable project {root}"
        )


@pytest.mark.parametrize("package", PACKAGES)
def test_package_is_typed(package: str) -> None:
    marker = _package_dir(package) / "py.typed"
    assert marker.is_file(), f"{marker} is missing: type checkers would ignore {package}'s hints"

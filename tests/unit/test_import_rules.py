"""architecture.md's dependency rule, checked on the source: domain/ and ports/ import only the
standard library and attrs, the model imports no port, and the domain reads no clock, no
environment and no random source."""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_THIRD_PARTY = {"attrs", "__future__"}
# Written with word boundaries so `random_token` or `self._clock.now()` do not count.
FORBIDDEN_CALLS = {
    "datetime.now": re.compile(r"\bdatetime\s*\.\s*now\b"),
    "utcnow": re.compile(r"\butcnow\b"),
    "date.today": re.compile(r"\bdate\s*\.\s*today\b"),
    "time.time": re.compile(r"\btime\s*\.\s*(time|time_ns|monotonic)\b"),
    "uuid": re.compile(r"\buuid\d?\b"),
    "random": re.compile(r"\brandom\b"),
    "secrets.token": re.compile(r"\bsecrets\s*\.\s*(token_\w+|choice|randbits)\b"),
    "os.environ": re.compile(r"\bos\s*\.\s*(environ|getenv)\b|\bgetenv\b|\benviron\b"),
}


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def imports(path: Path, root: Path = ROOT) -> list[tuple[str, int]]:
    """(module, line) for every import in the file, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = path.relative_to(root).with_suffix("").parts[:-1]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((module, node.lineno))
    return found


def code_without_comments_or_strings(path: Path) -> list[tuple[int, str]]:
    """Each line's code tokens, comments and string literals (docstrings too) left out."""
    lines: dict[int, list[str]] = {}
    with io.StringIO(path.read_text(encoding="utf-8")) as text:
        for token in tokenize.generate_tokens(text.readline):
            if token.type in (tokenize.NAME, tokenize.OP, tokenize.NUMBER):
                lines.setdefault(token.start[0], []).append(token.string)
    return [(n, " ".join(parts)) for n, parts in sorted(lines.items())]


DOMAIN = sources("domain")
PORTS = sources("ports")


def test_there_is_source_to_check() -> None:
    assert len(DOMAIN) >= 10
    assert len(PORTS) >= 5
    assert ROOT / "domain" / "usecases" / "intake.py" in DOMAIN


@pytest.mark.parametrize("path", DOMAIN + PORTS, ids=relative)
def test_only_the_standard_library_attrs_and_inner_layers_are_imported(path: Path) -> None:
    layer = relative(path).split("/")[0]
    own = {"domain"} | ({"ports"} if layer == "ports" else set())
    in_usecases = relative(path).startswith("domain/usecases/")
    bad = []
    for module, line in imports(path):
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY or top in own:
            continue
        if in_usecases and top == "ports":
            continue  # use cases drive the ports (architecture.md)
        bad.append(f"{relative(path)}:{line} imports {module}")
    assert not bad, "outside the dependency rule:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "path", [p for p in DOMAIN if not relative(p).startswith("domain/usecases/")], ids=relative
)
def test_the_domain_model_imports_no_port(path: Path) -> None:
    bad = [
        f"{relative(path)}:{line} imports {module}"
        for module, line in imports(path)
        if module.split(".")[0] in ("ports", "adapters", "entrypoints")
        or module.startswith("domain.usecases")
    ]
    assert not bad, "the model must not depend on ports or use cases:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", PORTS, ids=relative)
def test_ports_do_not_import_use_cases(path: Path) -> None:
    bad = [
        f"{relative(path)}:{line} imports {module}"
        for module, line in imports(path)
        if module.startswith("domain.usecases")
    ]
    assert not bad, "ports see the model, not the use cases:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", DOMAIN, ids=relative)
def test_the_domain_reads_no_clock_environment_or_random_source(path: Path) -> None:
    bad = [
        f"{relative(path)}:{line} uses {name}: {code}"
        for line, code in code_without_comments_or_strings(path)
        for name, pattern in FORBIDDEN_CALLS.items()
        if pattern.search(code)
    ]
    assert not bad, "time, ids and configuration come in through ports:\n" + "\n".join(bad)


def test_the_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    """The scanners above, on a file that breaks every rule: if they found nothing here they
    would pass on anything."""
    (tmp_path / "domain" / "usecases").mkdir(parents=True)
    sample = tmp_path / "domain" / "usecases" / "sample.py"
    source = (
        "import os  # os is stdlib\n"
        "import aiohttp\n"
        "from ..call import Call\n"
        "from ports.queue import JobQueue\n"
        "from datetime import datetime\n"
        "x = datetime.now()  # a clock read\n"
        "y = os.environ['X']\n"
        "import random\n"
        "'''datetime.now() in a docstring is fine'''\n"
        "# uuid in a comment is fine\n"
    )
    sample.write_text(source, encoding="utf-8")
    found = [module for module, _ in imports(sample, root=tmp_path)]
    code = dict(code_without_comments_or_strings(sample))
    assert found == ["os", "aiohttp", "domain.call", "ports.queue", "datetime", "random"]
    assert FORBIDDEN_CALLS["datetime.now"].search(code[6])
    assert FORBIDDEN_CALLS["os.environ"].search(code[7])
    assert FORBIDDEN_CALLS["random"].search(code[8])
    assert 9 not in code
    assert 10 not in code
    assert not any(
        p.search("key = new_api_key(t, random_token, self._clock.now())")
        for p in FORBIDDEN_CALLS.values()
    )


OTEL = sources("adapters/otel")
# The OpenTelemetry adapters: the SDK and its exporters (Prometheus's client for /v1/metrics).
OTEL_THIRD_PARTY = {"opentelemetry", "prometheus_client", "__future__"}


def test_the_opentelemetry_adapters_are_checked() -> None:
    assert ROOT / "adapters" / "otel" / "tracing.py" in OTEL


@pytest.mark.parametrize("path", OTEL, ids=relative)
def test_the_opentelemetry_adapters_import_only_opentelemetry_and_inner_layers(
    path: Path,
) -> None:
    allowed = OTEL_THIRD_PARTY | {"domain", "ports", "adapters"}
    bad = [
        f"{relative(path)}:{line} imports {module}"
        for module, line in imports(path)
        if module.split(".")[0] not in sys.stdlib_module_names | allowed
        or (module.startswith("adapters.") and not module.startswith("adapters.otel"))
    ]
    assert not bad, "adapters/otel is OpenTelemetry over the ports, nothing else:\n" + "\n".join(
        bad
    )

"""The README's configuration table names every PIPELINE_* setting the code reads, so an
operator never has to read the source to find one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
_NAME = re.compile(r"\"(PIPELINE_[A-Z0-9_]*[A-Z0-9])\"")


def settings_read() -> set[str]:
    return {
        name
        for package in ("domain", "ports", "adapters", "entrypoints")
        for path in (ROOT / package).rglob("*.py")
        for name in _NAME.findall(path.read_text(encoding="utf-8"))
    }


def test_every_setting_the_code_reads_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = settings_read()
    assert "PIPELINE_DATABASE_URL" in names  # the search finds them
    assert sorted(n for n in names if f"`{n}`" not in readme) == []

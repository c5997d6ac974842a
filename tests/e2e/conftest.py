"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.process import run_demo


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One demo run read by every test of its outcome; a test that changes what the demo
    left (its database, its files) overrides this with a run of its own."""
    return run_demo(tmp_path_factory.mktemp("demo"))

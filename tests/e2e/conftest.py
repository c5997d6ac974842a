"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.process import BIN


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One `ingestion-pipeline demo --keep` run (about ten seconds) and its stdout, read by
    every test of the demo's outcome; nothing may write into its directory."""
    workdir = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [str(BIN / "ingestion-pipeline"), "demo", "--keep", str(workdir)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir, result.stdout

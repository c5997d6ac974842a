"""Private local files for work on a recording that needs one on disk (audio redaction)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol

from domain.results import StoredRecording


class Scratch(Protocol):
    def copy_of(self, recording: StoredRecording) -> AbstractAsyncContextManager[Path]:
        """A private file (0600) holding the stored recording's bytes, removed on leaving,
        whatever happened. FileNotFoundError if the recording is gone."""
        ...

    def new_file(self) -> AbstractAsyncContextManager[Path]:
        """A private path no file is at yet, removed on leaving if one was written there."""
        ...

    def chunks(self, path: Path) -> AsyncIterator[bytes]:
        """The file's bytes, read off the event loop."""
        ...

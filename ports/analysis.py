from __future__ import annotations

from typing import Protocol

from domain.call import CallMetadata
from domain.results import CallAnalysis, Transcript
from domain.tenant import AiConfig


class CallAnalyzer(Protocol):
    async def analyze(
        self, transcript: Transcript | None, metadata: CallMetadata, ai: AiConfig
    ) -> CallAnalysis:
        """A structured analysis of an already-redacted transcript."""
        ...

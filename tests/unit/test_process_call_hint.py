"""The transcribe stage tells the transcriber whose calls it hears: the tenant's hint."""

from __future__ import annotations

from adapters.memory.fakes import FixedClock, ScriptedTranscriber
from domain.results import Segment, Transcript
from domain.transcription_hint import TranscriptionHint
from domain.usecases.processing import Outcome
from tests.unit.test_process_call import Harness


async def test_the_tenants_name_and_trade_words_reach_the_transcriber(clock: FixedClock) -> None:
    text = "Acme Heating & Air, my furnace is out"
    transcriber = ScriptedTranscriber(
        [Transcript("scripted", "en-US", text, (Segment("caller", 0, 5, text),))]
    )
    h = Harness(clock, transcriber=transcriber)
    await h.setup()  # "Acme Heating & Air", context "HVAC repair in Denver"

    result = await h.run()

    assert result.outcome == Outcome.DONE
    assert transcriber.hints == [
        TranscriptionHint("Acme Heating & Air", ("HVAC", "repair", "Denver"))
    ]

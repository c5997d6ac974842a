"""Speech-to-Text's dynamic batching through GoogleSpeechTranscriber, against the stand-in on
127.0.0.1: the request asks for DYNAMIC_BATCHING and nothing waits for it; the operation's name
comes back as a ticket; an attempt holding the ticket asks once and collects the transcript,
never paying for a second recognition; the service's errors at each step."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from google.auth.credentials import AnonymousCredentials

from adapters.googlespeech.transcriber import GoogleSpeechTranscriber
from domain.errors import PermanentFailure, TranscriptionPending, TransientFailure, UnreadableAudio
from domain.results import StoredRecording
from entrypoints.standins import serve
from entrypoints.standins.speech import FakeSpeech, Turn

URI = "gs://acme-audio/acme/calls/CAL9/recording.mp3"
RECORDING = StoredRecording(URI, 1234, "0" * 64)
TURNS = [
    Turn("1", 0.4, 2.4, "Comfort Heating, how can I help?"),
    Turn("2", 2.8, 6.8, "My furnace stopped working, can you come today?"),
]
DYNAMIC_BATCHING = 1  # BatchRecognizeRequest.ProcessingStrategy, as the REST transport writes it


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeSpeech, str]]:
    speech = FakeSpeech(polls_before_done=2)
    speech.script(URI, TURNS)
    async with serve(speech.app()) as url:
        yield speech, url


def transcriber_for(url: str, dynamic_batch: bool = True) -> GoogleSpeechTranscriber:
    return GoogleSpeechTranscriber(
        "acme-project",
        api_endpoint=url,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        request_timeout_s=5.0,
        poll_initial_s=0.05,
        dynamic_batch=dynamic_batch,
        check_every_s=300.0,
    )


async def started(transcriber: GoogleSpeechTranscriber) -> str:
    """The ticket of a recognition started now."""
    with pytest.raises(TranscriptionPending) as pending:
        await transcriber.transcribe(RECORDING)
    return pending.value.ticket


@pytest.fixture
def transcriber(fake: tuple[FakeSpeech, str]) -> Iterator[GoogleSpeechTranscriber]:
    subject = transcriber_for(fake[1])
    yield subject
    subject.close()


async def test_the_request_asks_for_dynamic_batching_and_nothing_waits_for_it(
    fake: tuple[FakeSpeech, str], transcriber: GoogleSpeechTranscriber
) -> None:
    speech, _ = fake

    with pytest.raises(TranscriptionPending) as pending:
        await transcriber.transcribe(RECORDING)

    (operation,) = speech.operations.values()
    assert operation.dynamic
    assert speech.requests[0].body["processingStrategy"] == DYNAMIC_BATCHING
    assert pending.value.ticket == operation.name
    assert pending.value.check_after_s == 300.0
    assert [r.method for r in speech.requests] == ["POST"]  # no polling


async def test_a_ticket_is_asked_about_once_an_attempt_then_collected(
    fake: tuple[FakeSpeech, str], transcriber: GoogleSpeechTranscriber
) -> None:
    speech, _ = fake
    ticket = await started(transcriber)

    for _ in range(2):  # the stand-in answers "not done" twice
        with pytest.raises(TranscriptionPending) as still:
            await transcriber.transcribe(RECORDING, ticket=ticket)
        assert still.value.ticket == ticket
    transcript = await transcriber.transcribe(RECORDING, ticket=ticket)

    assert transcript.text == " ".join(turn.text for turn in TURNS)
    assert [word.text for word in transcript.segments[0].words][:2] == ["Comfort", "Heating,"]
    assert [r.method for r in speech.requests] == ["POST", "GET", "GET", "GET"]
    assert len(speech.operations) == 1  # recognised once, paid for once


async def test_a_ticket_is_collected_after_the_deployment_went_back_to_standard(
    fake: tuple[FakeSpeech, str], transcriber: GoogleSpeechTranscriber
) -> None:
    speech, url = fake
    ticket = await started(transcriber)
    speech.polls_before_done = 0
    next(iter(speech.operations.values())).polls_left = 0
    standard = transcriber_for(url, dynamic_batch=False)
    try:
        transcript = await standard.transcribe(RECORDING, ticket=ticket)
    finally:
        standard.close()

    assert transcript.text.startswith("Comfort Heating")
    assert len(speech.operations) == 1


async def test_a_ticket_the_service_no_longer_knows_starts_the_work_again(
    fake: tuple[FakeSpeech, str], transcriber: GoogleSpeechTranscriber
) -> None:
    speech, _ = fake
    lost = "projects/acme-project/locations/us/operations/123"

    with pytest.raises(TranscriptionPending) as pending:
        await transcriber.transcribe(RECORDING, ticket=lost)

    (operation,) = speech.operations.values()
    assert pending.value.ticket == operation.name != lost
    assert [r.method for r in speech.requests] == ["GET", "POST"]


@pytest.mark.parametrize(
    ("code", "port_error", "said"),
    [
        (7, PermanentFailure, "Permission denied"),  # PERMISSION_DENIED reading the bucket
        (3, UnreadableAudio, "Permission denied"),  # INVALID_ARGUMENT: the audio
    ],
)
async def test_an_operation_that_failed_is_told_as_the_ports_error(
    fake: tuple[FakeSpeech, str],
    transcriber: GoogleSpeechTranscriber,
    code: int,
    port_error: type[Exception],
    said: str,
) -> None:
    speech, _ = fake
    speech.polls_before_done = 0
    speech.operation_error(URI, code=code)
    ticket = await started(transcriber)

    with pytest.raises(port_error, match=said):
        await transcriber.transcribe(RECORDING, ticket=ticket)


@pytest.mark.parametrize(
    "fails",
    [
        lambda speech: speech.operation_error(URI, code=14),  # the operation: UNAVAILABLE
        lambda speech: speech.file_error(URI, code=14),  # the file's result: UNAVAILABLE
        lambda speech: speech.file_error(URI, code=8),  # the file's result: RESOURCE_EXHAUSTED
    ],
)
async def test_an_operation_that_failed_for_a_passing_reason_is_started_again(
    fake: tuple[FakeSpeech, str],
    transcriber: GoogleSpeechTranscriber,
    fails: Callable[[FakeSpeech], None],
) -> None:
    """A finished operation answers the same failure however often it is asked: its ticket
    has nothing more to give, and a retry that only read it again could never succeed."""
    speech, _ = fake
    speech.polls_before_done = 0
    fails(speech)
    ticket = await started(transcriber)

    with pytest.raises(TranscriptionPending) as again:
        await transcriber.transcribe(RECORDING, ticket=ticket)

    assert again.value.ticket != ticket
    assert [r.method for r in speech.requests] == ["POST", "GET", "POST"]


async def test_a_failed_status_request_is_transient_and_keeps_nothing(
    fake: tuple[FakeSpeech, str], transcriber: GoogleSpeechTranscriber
) -> None:
    speech, _ = fake
    ticket = await started(transcriber)
    speech.fail_next(1, status=503)

    with pytest.raises(TransientFailure, match="collecting the transcription"):
        await transcriber.transcribe(RECORDING, ticket=ticket)
    assert len(speech.operations) == 1  # not started again

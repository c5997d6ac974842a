"""The Transcriber port on Speech-to-Text v2 BatchRecognize, reading the recording where the
Cloud Storage AudioStore put it (its gs:// URI): no audio passes through this process.

google-cloud-speech's asyncio client speaks gRPC only; the synchronous client with the REST
transport is used instead, on a small pool of its own threads, so the event loop never blocks
and a local fake HTTP server can stand in for the service. One request per call: the
long-running operation it starts is polled until `operation_timeout_s`, then cancelled and the
call handed back to the queue as a TransientFailure (the queue owns retries and their backoff).

With `dynamic_batch`, the request asks for DYNAMIC_BATCHING (a fifth of the price, answered
within 24 hours): nothing waits for it. The operation's name goes back as the ticket of a
TranscriptionPending; a later attempt holding the ticket asks once whether it is done (a single
GetOperation) and collects it, or hears "still pending" again. Any attempt with a ticket
collects it, whichever strategy is configured now; an operation the service no longer knows,
or one that finished failed for a passing reason (asked again, it only repeats the failure),
is started again.

The tenant's hint (business name and trade words) goes in as an inline phrase set, Speech-to-
Text's model adaptation, with a moderate boost: phrase hints favour the words, they never force
them. The service's models do not loop the way Whisper's decoder does, so nothing here looks
for repetition loops.

Every word comes back with its offsets (what audio redaction silences). Each channel is
recognised separately by default (SEPARATE_RECOGNITION_PER_CHANNEL; the v2 reference refuses
it for latest_short only, and a mono file is one channel): otherwise the service transcribes
only the first channel of a dual-channel call recording, the agent's side, and a card number
the caller read would be neither redacted nor silenced. Not yet run against the real service.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from typing import Any

from google.api_core import exceptions as api
from google.api_core.client_options import ClientOptions
from google.api_core.future import polling
from google.auth import exceptions as auth
from google.auth.credentials import Credentials
from google.cloud import speech_v2
from google.cloud.speech_v2.types import cloud_speech as cs

from adapters.googlespeech.turns import MAX_MESSAGE_CHARS, transcript_for_file
from domain.errors import (
    PermanentFailure,
    RateLimited,
    TranscriptionPending,
    TransientFailure,
    UnreadableAudio,
)
from domain.results import StoredRecording, Transcript
from domain.transcription_hint import TranscriptionHint
from ports.speech import Transcriber

DEFAULT_MODEL = "chirp_3"
DEFAULT_LOCATION = "us"  # chirp_3's multi-region; "eu" and some regions have it too
GCS_SCHEME = "gs://"
# Google suggests boosts between 0 and 20, starting low: higher ones turn near-misses into the
# phrase. A business name and a handful of trade words can take a moderate one.
PHRASE_BOOST = 10.0


PING_TIMEOUT_S = 2.0  # a health check (/v1/health waits 2 s): short, and never retried


class GoogleSpeechTranscriber(Transcriber):
    def __init__(
        self,
        project: str,
        location: str = DEFAULT_LOCATION,
        model: str = DEFAULT_MODEL,
        *,
        api_endpoint: str | None = None,
        credentials: Credentials | None = None,
        request_timeout_s: float = 30.0,
        operation_timeout_s: float = 900.0,
        poll_initial_s: float = 2.0,
        poll_max_s: float = 20.0,
        max_workers: int = 4,
        separate_channels: bool = True,
        dynamic_batch: bool = False,
        check_every_s: float = 600.0,
    ):
        """`api_endpoint` defaults to the regional "{location}-speech.googleapis.com"; a local
        fake is given as "http://127.0.0.1:PORT". `credentials` default to the environment's
        (Application Default Credentials). `separate_channels` has each channel of the audio
        recognised on its own, and each segment say which it was heard on. `dynamic_batch`
        asks for the discounted batch processing and collects it `check_every_s` apart."""
        self._recognizer = f"projects/{project}/locations/{location}/recognizers/_"
        self._model = model
        self._endpoint = api_endpoint or _regional_endpoint(location)
        self._credentials = credentials
        self._request_timeout_s = request_timeout_s
        self._operation_timeout_s = operation_timeout_s
        self._polling = polling.DEFAULT_POLLING.with_delay(
            initial=poll_initial_s, maximum=poll_max_s, multiplier=1.5
        ).with_timeout(operation_timeout_s)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="google-speech"
        )
        self._lock = threading.Lock()
        self._client: speech_v2.SpeechClient | None = None
        self._separate_channels = separate_channels
        self._dynamic_batch = dynamic_batch
        self._check_every_s = check_every_s

    @property
    def engine(self) -> str:
        return f"google-{self._model}"

    async def transcribe(
        self,
        recording: StoredRecording,
        language: str = "en-US",
        hint: TranscriptionHint | None = None,
        ticket: str | None = None,
    ) -> Transcript:
        if not recording.uri.startswith(GCS_SCHEME):
            scheme = recording.uri.split("://", 1)[0] if "://" in recording.uri else "a path"
            raise PermanentFailure(
                "GoogleSpeechTranscriber reads recordings from Cloud Storage, and this one is "
                f"stored as {scheme}: configure the Cloud Storage audio store (gs://bucket/prefix)"
                " or another transcriber"
            )
        loop = asyncio.get_running_loop()
        phrases = hint.phrases() if hint is not None else ()
        transcript: Transcript = await loop.run_in_executor(
            self._executor, self._recognize, recording.uri, language, phrases, ticket
        )
        return transcript

    async def ping(self) -> None:
        """Speech-to-Text answers for this project and location with these credentials: one
        ListRecognizers of one item (speech.recognizers.list, in roles/speech.client), for
        /v1/health. Raises the port's errors."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._list_one_recognizer)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            if self._client is not None:
                self._client.transport.close()  # type: ignore[no-untyped-call]
                self._client = None

    # --- on a worker thread -----------------------------------------------------------------

    def _speech(self) -> speech_v2.SpeechClient:
        """Made on first use, on a worker thread: finding default credentials may do I/O."""
        with self._lock:
            if self._client is None:
                self._client = speech_v2.SpeechClient(
                    credentials=self._credentials,
                    transport="rest",
                    client_options=ClientOptions(api_endpoint=self._endpoint),
                )
            return self._client

    def _recognize(
        self, uri: str, language: str, phrases: tuple[str, ...] = (), ticket: str | None = None
    ) -> Transcript:
        if ticket is not None and (collected := self._collect(ticket, uri, language)) is not None:
            return collected
        try:
            client = self._speech()
            operation = client.batch_recognize(
                request=self._request(uri, language, phrases), timeout=self._request_timeout_s
            )
        except Exception as exc:
            raise _port_error(exc, "starting the transcription") from exc
        if self._dynamic_batch:
            raise TranscriptionPending(operation.operation.name, self._check_every_s)
        try:
            response = operation.result(  # type: ignore[no-untyped-call]
                timeout=self._operation_timeout_s, polling=self._polling
            )
        except concurrent.futures.TimeoutError:
            with contextlib.suppress(Exception):  # best effort: nobody will read its result
                client.cancel_operation(
                    request={"name": operation.operation.name}, timeout=self._request_timeout_s
                )
            raise TransientFailure(
                f"Speech-to-Text did not finish within {self._operation_timeout_s:g} s"
            ) from None
        except Exception as exc:
            raise _port_error(exc, "transcribing") from exc
        return self._transcript(response, uri, language)

    def _transcript(self, response: Any, uri: str, language: str) -> Transcript:
        return transcript_for_file(response, uri, self.engine, language, self._separate_channels)

    def _collect(self, ticket: str, uri: str, language: str) -> Transcript | None:
        """The transcript of the operation `ticket` names; TranscriptionPending while it runs;
        None if there is nothing to collect, to be started again: the service no longer knows
        it, or it finished failed for a passing reason."""
        try:
            operation = self._speech().get_operation(
                request={"name": ticket}, timeout=self._request_timeout_s
            )
        except api.NotFound:
            return None
        except Exception as exc:
            raise _port_error(exc, "collecting the transcription") from exc
        if not operation.done:
            raise TranscriptionPending(ticket, self._check_every_s)
        try:
            if operation.HasField("error"):
                error = operation.error
                failed = api.from_grpc_status(error.code, error.message)  # type: ignore[no-untyped-call]
                raise _port_error(failed, "transcribing")
            response = cs.BatchRecognizeResponse.deserialize(operation.response.value)
            return self._transcript(response, uri, language)
        except TransientFailure:
            return None  # RateLimited too: the finished operation would only say it again

    def _list_one_recognizer(self) -> None:
        parent = self._recognizer.rsplit("/recognizers/", 1)[0]
        try:  # the pager has fetched its first page when it is returned; it is not read on
            self._speech().list_recognizers(
                request={"parent": parent, "page_size": 1}, retry=None, timeout=PING_TIMEOUT_S
            )
        except Exception as exc:
            raise _port_error(exc, "listing recognizers") from exc

    def _request(
        self, uri: str, language: str, phrases: tuple[str, ...] = ()
    ) -> cs.BatchRecognizeRequest:
        channels = cs.RecognitionFeatures.MultiChannelMode
        features = cs.RecognitionFeatures(
            enable_word_time_offsets=True,
            enable_automatic_punctuation=True,
            diarization_config=cs.SpeakerDiarizationConfig(
                min_speaker_count=2, max_speaker_count=2
            ),
            multi_channel_mode=(
                channels.SEPARATE_RECOGNITION_PER_CHANNEL
                if self._separate_channels
                else channels.MULTI_CHANNEL_MODE_UNSPECIFIED
            ),
        )
        config = cs.RecognitionConfig(
            auto_decoding_config=cs.AutoDetectDecodingConfig(),
            model=self._model,
            language_codes=[language],
            features=features,
            adaptation=_adaptation(phrases),
        )
        strategy = cs.BatchRecognizeRequest.ProcessingStrategy
        return cs.BatchRecognizeRequest(
            processing_strategy=(
                strategy.DYNAMIC_BATCHING
                if self._dynamic_batch
                else strategy.PROCESSING_STRATEGY_UNSPECIFIED
            ),
            recognizer=self._recognizer,
            config=config,
            files=[cs.BatchRecognizeFileMetadata(uri=uri)],
            recognition_output_config=cs.RecognitionOutputConfig(
                inline_response_config=cs.InlineOutputConfig()
            ),
        )


def _adaptation(phrases: tuple[str, ...]) -> cs.SpeechAdaptation | None:
    if not phrases:
        return None
    phrase_set = cs.PhraseSet(
        phrases=[cs.PhraseSet.Phrase(value=phrase, boost=PHRASE_BOOST) for phrase in phrases]
    )
    return cs.SpeechAdaptation(
        phrase_sets=[cs.SpeechAdaptation.AdaptationPhraseSet(inline_phrase_set=phrase_set)]
    )


def _regional_endpoint(location: str) -> str:
    return "speech.googleapis.com" if location == "global" else f"{location}-speech.googleapis.com"


def _port_error(exc: Exception, doing: str) -> Exception:
    """A client library failure as the port's error; the message never holds credentials."""
    if isinstance(exc, TransientFailure | PermanentFailure):
        return exc
    said = f"Speech-to-Text failed {doing}: {type(exc).__name__}: {str(exc)[:MAX_MESSAGE_CHARS]}"
    if isinstance(exc, api.TooManyRequests):  # 429 and RESOURCE_EXHAUSTED alike
        return RateLimited(said)
    if isinstance(exc, api.BadRequest):  # 400 and INVALID_ARGUMENT: the audio or its config
        return UnreadableAudio(said)
    if isinstance(exc, api.Unauthorized | api.Forbidden | api.NotFound):
        return PermanentFailure(said)  # credentials, permissions, a wrong project or region
    if isinstance(exc, auth.RefreshError):
        return PermanentFailure(said)
    if isinstance(exc, api.ClientError) and not isinstance(exc, api.Cancelled | api.Conflict):
        return PermanentFailure(said)
    # 5xx, DEADLINE_EXCEEDED, ABORTED, connection and transport errors (requests' are OSErrors)
    return TransientFailure(said)

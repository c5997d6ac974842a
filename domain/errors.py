"""Domain errors. Entry points map them to HTTP statuses and exit codes; adapters re-raise
driver failures as the port errors declared here, so nothing above them sees a driver type."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs


@attrs.frozen
class FieldError:
    field: str
    message: str


def unknown_keys(
    raw: Mapping[str, Any], known: Sequence[str], path: str, what: str
) -> list[FieldError]:
    """A FieldError for each key of `raw` not in `known`, naming the keys that are."""
    return [
        FieldError(f"{path}.{key}", f"not {what}; {', '.join(known)}")
        for key in raw
        if key not in known
    ]


class DomainError(Exception):
    """Base of every error the domain and its ports raise on purpose."""


class ValidationFailed(DomainError):
    def __init__(self, fields: list[FieldError] | tuple[FieldError, ...], what: str = "input"):
        self.fields = tuple(fields)
        self.what = what
        summary = "; ".join(f"{f.field}: {f.message}" for f in self.fields)
        super().__init__(f"invalid {what}: {summary}")


class MalformedPayload(DomainError):
    """The body is not the JSON object it has to be."""


class TenantNotFound(DomainError):
    pass


class TenantAlreadyExists(DomainError):
    pass


class TenantInactive(DomainError):
    pass


class CallNotFound(DomainError):
    pass


class InvalidSignature(DomainError):
    pass


class AuthenticationFailed(DomainError):
    pass


class IllegalTransition(DomainError):
    pass


class LeaseHeld(DomainError):
    """Another worker owns the call right now, until `until` at the latest."""

    def __init__(self, message: str, until: datetime | None = None):
        super().__init__(message)
        self.until = until


class ConcurrentUpdate(DomainError):
    """The row changed since it was read (optimistic concurrency)."""


class SecretNotFound(DomainError):
    """A secret reference names nothing in the secret store. The message names the reference,
    never a value."""


class StorageUnavailable(DomainError):
    """The database or another store cannot be reached; the caller may retry later."""


class PermanentFailure(DomainError):
    """Retrying cannot help (404 recording, refused URL, unreadable audio, revoked credentials):
    the call is marked FAILED with this message as the reason."""


class TransientFailure(DomainError):
    """Worth retrying later (timeouts, 429, 5xx). `retry_after_s` is the server's hint, if any."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimited(TransientFailure):
    """The outside service asked us to wait (429, a daily quota, an open circuit). Nothing is
    wrong with the call: the wait does not count as a failed attempt, and it may be long."""


class TranscriptionPending(DomainError):
    """The engine took the recording and answers later (Speech-to-Text's dynamic batching,
    within 24 hours): nothing is wrong. `ticket` names the work to collect on a later attempt
    instead of paying for it again; `check_after_s` is when to look."""

    def __init__(self, ticket: str, check_after_s: float):
        super().__init__("waiting for the batch transcription (answered within 24 hours)")
        self.ticket = ticket
        self.check_after_s = check_after_s


class RecordingUnavailable(PermanentFailure):
    """The recording does not exist (any more) at its source."""


class RecordingRefused(PermanentFailure):
    """The recording URL or its content is not one we fetch: host not allowed, private
    address, too large, not audio. The message says which, never the URL's query string."""


class UnreadableAudio(PermanentFailure):
    pass

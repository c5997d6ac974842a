"""Domain errors. Entry points map them to HTTP statuses and exit codes; adapters re-raise
driver failures as the port errors declared here, so nothing above them sees a driver type."""

from __future__ import annotations

import attrs


@attrs.frozen
class FieldError:
    field: str
    message: str


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
    """Another worker owns the call right now."""


class ConcurrentUpdate(DomainError):
    """The row changed since it was read (optimistic concurrency)."""


class SecretNotFound(DomainError):
    """A secret reference names nothing in the secret store. The message names the reference,
    never a value."""


class StorageUnavailable(DomainError):
    """The database or another store cannot be reached; the caller may retry later."""

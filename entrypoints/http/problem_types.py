"""The kinds of problem the HTTP API answers (RFC 9457), each with a `type` URI of its own and
the status and title every answer of that kind carries. entrypoints.http.problems writes them;
GET /v1/openapi.json lists them (the Problem-* schemas)."""

from __future__ import annotations

import attrs

# Problem types are identifiers, not addresses: absolute (a client compares them as they are,
# whichever deployment answered) and never fetched (RFC 4151 tag URIs). GET /v1/openapi.json
# lists each with its status, title and meaning.
TYPE_PREFIX = "tag:ingestion-pipeline,2026:problems/"


@attrs.frozen
class ProblemType:
    """One kind of problem: its own `type` URI, and the status and title every answer of that
    kind carries (RFC 9457: the title does not change from one occurrence to the next)."""

    name: str
    status: int
    title: str
    meaning: str

    @property
    def uri(self) -> str:
        return TYPE_PREFIX + self.name


INVALID_REQUEST = ProblemType(
    "invalid-request",
    400,
    "Invalid request",
    "fields of the body or query are wrong; `errors` names each field and what it must be",
)
MALFORMED_BODY = ProblemType(
    "malformed-body",
    400,
    "Malformed body",
    "the body is not the JSON object the route reads "
    "(not JSON, not UTF-8, not an object, or nested too deep)",
)
MALFORMED_HTTP = ProblemType(
    "malformed-http",
    400,
    "Bad request",
    "the request is not well-formed HTTP/1.1; answered before any route, on any path",
)
INVALID_SIGNATURE = ProblemType(
    "invalid-signature",
    401,
    "Invalid signature",
    "the webhook's Signature header is missing "
    "or is not the HMAC-SHA1 of the body under the tenant's signing key",
)
NOT_AUTHENTICATED = ProblemType(
    "not-authenticated",
    401,
    "Not authenticated",
    "no bearer token, or one that is neither the "
    "operator token nor a tenant API key (or a Pub/Sub push's OIDC token that does not verify)",
)
ADMIN_API_CLOSED = ProblemType(
    "admin-api-closed",
    403,
    "Admin API closed",
    "PIPELINE_OPERATOR_TOKEN is not set on this "
    "instance: tenant administration over HTTP is off (the CLI still works)",
)
OPERATOR_ONLY = ProblemType(
    "operator-only",
    403,
    "Forbidden",
    "a tenant API key was presented where only the operator token will do",
)
UNKNOWN_TENANT = ProblemType(
    "unknown-tenant",
    404,
    "Unknown tenant",
    "no such tenant, a suspended one, or one the "
    "presented API key does not belong to: the three are answered alike",
)
UNKNOWN_CALL = ProblemType("unknown-call", 404, "Unknown call", "the tenant has no such call")
NO_ROUTE = ProblemType("no-route", 404, "Not Found", "no route has this path")
METHOD_NOT_ALLOWED = ProblemType(
    "method-not-allowed",
    405,
    "Method Not Allowed",
    "the path exists; the Allow header lists the methods it takes",
)
TENANT_EXISTS = ProblemType(
    "tenant-exists", 409, "Conflict", "a tenant with this tenant_id already exists"
)
ILLEGAL_TRANSITION = ProblemType(
    "illegal-transition",
    409,
    "Conflict",
    "the call's stage does not allow this (a call still in progress cannot be re-run)",
)
CONCURRENT_UPDATE = ProblemType(
    "concurrent-update",
    409,
    "Conflict",
    "the record changed while this request updated it; read it again and retry",
)
PAYLOAD_TOO_LARGE = ProblemType(
    "payload-too-large",
    413,
    "Payload too large",
    "the body is larger than the route accepts (1 MiB)",
)
UNSUPPORTED_MEDIA_TYPE = ProblemType(
    "unsupported-media-type",
    415,
    "Unsupported media type",
    "the body is not sent as application/json (or a +json type), or it has a Content-Encoding",
)
HEADER_TOO_LARGE = ProblemType(
    "header-too-large",
    431,
    "Request header fields too large",
    "a request line or header is "
    "too long, or there are too many headers; answered before any route",
)
INTERNAL_ERROR = ProblemType(
    "internal-error", 500, "Internal error", "an unexpected error; it has been logged"
)
SECRET_UNAVAILABLE = ProblemType(
    "secret-unavailable",
    503,
    "Secret unavailable",
    "a secret the request needs cannot be read "
    "from the secret store; retry after Retry-After seconds",
)
STORAGE_UNAVAILABLE = ProblemType(
    "storage-unavailable",
    503,
    "Storage unavailable",
    "the database or another store cannot be reached; retry after Retry-After seconds",
)

PROBLEM_TYPES: tuple[ProblemType, ...] = (
    INVALID_REQUEST,
    MALFORMED_BODY,
    MALFORMED_HTTP,
    INVALID_SIGNATURE,
    NOT_AUTHENTICATED,
    ADMIN_API_CLOSED,
    OPERATOR_ONLY,
    UNKNOWN_TENANT,
    UNKNOWN_CALL,
    NO_ROUTE,
    METHOD_NOT_ALLOWED,
    TENANT_EXISTS,
    ILLEGAL_TRANSITION,
    CONCURRENT_UPDATE,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    HEADER_TOO_LARGE,
    INTERNAL_ERROR,
    SECRET_UNAVAILABLE,
    STORAGE_UNAVAILABLE,
)

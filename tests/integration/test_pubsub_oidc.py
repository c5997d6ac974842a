"""The push endpoint's OIDC check, against RSA keys made here and a certificates endpoint on
127.0.0.1 that serves them the way Google does (kid -> PEM certificate, Cache-Control max-age)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from adapters.memory.fakes import FixedClock
from adapters.pubsub.push import HttpAnswer, OidcVerifier, PushCaller, aiohttp_fetch
from domain.errors import AuthenticationFailed

AUDIENCE = "https://pipeline.example.com/v1/pubsub/push"
ACCOUNT = "pubsub-push@acme-prod.iam.gserviceaccount.com"
ISSUER = "https://accounts.google.com"
START = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
AiohttpServer = Callable[..., Awaitable[TestServer]]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(document: dict[str, Any]) -> str:
    return b64url(json.dumps(document).encode())


@attrs.frozen
class Key:
    kid: str
    private: rsa.RSAPrivateKey

    def certificate_pem(self) -> str:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.kid)])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(START - timedelta(days=1))
            .not_valid_after(START + timedelta(days=30))
            .sign(self.private, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.PEM).decode()

    def jwk(self) -> dict[str, str]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes(3, "big")),
        }

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        head = segment({"alg": "RS256", "kid": self.kid, "typ": "JWT", **header})
        signing_input = f"{head}.{segment(claims)}".encode()
        signature = self.private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{head}.{segment(claims)}.{b64url(signature)}"


def claims(at: datetime = START, **changes: Any) -> dict[str, Any]:
    issued = int(at.timestamp())
    return {
        "aud": AUDIENCE,
        "azp": "1234567890",
        "email": ACCOUNT,
        "email_verified": True,
        "exp": issued + 3600,
        "iat": issued,
        "iss": ISSUER,
        "sub": "1234567890",
        **changes,
    }


@pytest.fixture(scope="module")
def keys() -> list[Key]:
    return [
        Key(f"kid-{n}", rsa.generate_private_key(public_exponent=65537, key_size=2048))
        for n in range(3)
    ]


@attrs.define
class CertsEndpoint:
    """Google's certificate endpoint, played on 127.0.0.1."""

    served: list[Key]
    url: str = ""
    hits: int = 0
    status: int = 200
    cache_control: str = "public, max-age=3600, must-revalidate, no-transform"
    jwks: bool = False

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.jwks:
            body: dict[str, Any] = {"keys": [key.jwk() for key in self.served]}
        else:
            body = {key.kid: key.certificate_pem() for key in self.served}
        headers = {"Cache-Control": self.cache_control}
        return web.json_response(body, status=self.status, headers=headers)


@attrs.define
class Harness:
    endpoint: CertsEndpoint
    clock: FixedClock
    verifier: OidcVerifier

    async def verify(self, token: str) -> PushCaller:
        return await self.verifier.verify(f"Bearer {token}")


@pytest.fixture
async def harness(keys: list[Key], aiohttp_server: AiohttpServer) -> AsyncIterator[Harness]:
    endpoint = CertsEndpoint(served=[keys[0], keys[1]])
    app = web.Application()
    app.router.add_get("/oauth2/v1/certs", endpoint.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    endpoint.url = f"http://127.0.0.1:{server.port}/oauth2/v1/certs"
    clock = FixedClock(START + timedelta(minutes=5))
    async with aiohttp.ClientSession() as session:
        verifier = OidcVerifier(
            AUDIENCE,
            ACCOUNT,
            fetch=aiohttp_fetch(session, timeout_s=5),
            clock=clock,
            certs_url=endpoint.url,
        )
        yield Harness(endpoint, clock, verifier)


def shown(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


async def refused(harness: Harness, authorization: str | None, reason: str) -> None:
    with pytest.raises(AuthenticationFailed, match=reason) as caught:
        await harness.verifier.verify(authorization)
    token = (authorization or "").removeprefix("Bearer ")
    for part in [p for p in token.split(".") if len(p) > 8]:
        assert part not in shown(caught.value)


async def test_a_valid_token_names_the_service_account(harness: Harness, keys: list[Key]) -> None:
    caller = await harness.verify(keys[0].sign(claims()))
    assert caller == PushCaller(ACCOUNT, "1234567890")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"aud": "https://elsewhere.example.com/push"}, "another audience"),
        ({"iss": "https://evil.example.com"}, "another issuer"),
        ({"iss": "accounts.google.com"}, "another issuer"),
        ({"email": "someone@acme-prod.iam.gserviceaccount.com"}, "another service account"),
        ({"email_verified": False}, "not verified"),
        ({"exp": "tomorrow"}, "no numeric exp"),
    ],
    ids=["audience", "issuer", "bare-issuer", "email", "unverified", "exp-not-a-number"],
)
async def test_claims_that_do_not_match_are_refused(
    harness: Harness, keys: list[Key], changes: dict[str, Any], reason: str
) -> None:
    await refused(harness, f"Bearer {keys[0].sign(claims(**changes))}", reason)


async def test_an_expired_token_is_refused_past_a_small_leeway(
    harness: Harness, keys: list[Key]
) -> None:
    token = keys[0].sign(claims())
    harness.clock.at = START + timedelta(hours=1, seconds=20)
    assert await harness.verify(token)
    harness.clock.at = START + timedelta(hours=1, seconds=31)
    await refused(harness, f"Bearer {token}", "expired")


async def test_a_token_from_the_future_is_refused(harness: Harness, keys: list[Key]) -> None:
    token = keys[0].sign(claims(at=harness.clock.now() + timedelta(minutes=2)))
    await refused(harness, f"Bearer {token}", "not valid yet")


async def test_a_bad_signature_is_refused(harness: Harness, keys: list[Key]) -> None:
    forged = Key(keys[0].kid, keys[2].private).sign(claims())
    await refused(harness, f"Bearer {forged}", "signature is not valid")
    head, _, signature = keys[0].sign(claims()).split(".")
    tampered = segment(claims(email="intruder@evil.example.com"))
    await refused(harness, f"Bearer {head}.{tampered}.{signature}", "signature is not valid")


async def test_an_unknown_key_refetches_once_a_minute_at_most(
    harness: Harness, keys: list[Key]
) -> None:
    await harness.verify(keys[0].sign(claims()))
    assert harness.endpoint.hits == 1

    # Fetched a moment ago: a refetch could not know more, so none.
    await refused(harness, f"Bearer {keys[2].sign(claims())}", "unknown key")
    assert harness.endpoint.hits == 1

    harness.clock.advance(61)
    for _ in range(5):
        await refused(harness, f"Bearer {keys[2].sign(claims())}", "unknown key")
    assert harness.endpoint.hits == 2  # one refetch for the unknown kid, then none

    harness.clock.advance(61)
    harness.endpoint.served.append(keys[2])  # Google rotated its keys meanwhile
    assert await harness.verify(keys[2].sign(claims(at=harness.clock.now())))
    assert harness.endpoint.hits == 3


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-jwt",
        "Bearer a.b",
        "Bearer a.b.c.d",
        "Bearer !!!.???.***",
        "Bearer " + "A" * 20_000,
    ],
    ids=[
        "none",
        "empty",
        "no-token",
        "basic",
        "one-part",
        "two-parts",
        "four-parts",
        "chars",
        "huge",
    ],
)
async def test_malformed_authorization_is_refused(
    harness: Harness, authorization: str | None
) -> None:
    with pytest.raises(AuthenticationFailed):
        await harness.verifier.verify(authorization)
    assert harness.endpoint.hits == 0


async def test_headers_that_are_not_rs256_with_a_kid_are_refused(
    harness: Harness, keys: list[Key]
) -> None:
    body = segment(claims())
    unsigned = f"{segment({'alg': 'none', 'kid': keys[0].kid})}.{body}.AAAA"
    await refused(harness, f"Bearer {unsigned}", "RS256")
    await refused(harness, f"Bearer {keys[0].sign(claims(), kid=None)}", "names no signing key")
    await refused(harness, f"Bearer {keys[0].sign(claims(), crit=['exp'])}", "RS256")
    # The classic confusion: HMAC keyed with the (public) certificate.
    head = segment({"alg": "HS256", "kid": keys[0].kid})
    secret = keys[0].certificate_pem().encode()
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    await refused(harness, f"Bearer {head}.{body}.{b64url(mac)}", "RS256")
    not_json = f"{b64url(b'{nope')}.{body}.AAAA"
    await refused(harness, f"Bearer {not_json}", "not a JWT")


async def test_certificates_are_fetched_once_for_many_verifications(
    harness: Harness, keys: list[Key]
) -> None:
    tokens = [keys[n % 2].sign(claims(sub=str(n))) for n in range(40)]
    callers = await asyncio.gather(*(harness.verify(t) for t in tokens))
    callers += [await harness.verify(t) for t in tokens]
    assert len(callers) == 80
    assert harness.endpoint.hits == 1


async def test_the_cache_lasts_as_long_as_max_age_says(harness: Harness, keys: list[Key]) -> None:
    harness.endpoint.cache_control = "public, max-age=600"
    token = keys[0].sign(claims())
    await harness.verify(token)
    harness.clock.advance(599)
    await harness.verify(token)
    assert harness.endpoint.hits == 1
    harness.clock.advance(2)
    await harness.verify(token)
    assert harness.endpoint.hits == 2


async def test_stale_keys_serve_while_google_cannot_be_reached(
    harness: Harness, keys: list[Key]
) -> None:
    token = keys[0].sign(claims())
    await harness.verify(token)
    harness.endpoint.status = 503
    harness.clock.advance(3601)

    for _ in range(3):
        assert await harness.verify(keys[0].sign(claims(at=harness.clock.now())))
    assert harness.endpoint.hits == 2  # one failed refresh; no hammering after it

    harness.endpoint.status = 200
    harness.clock.advance(61)
    await harness.verify(keys[0].sign(claims(at=harness.clock.now())))
    assert harness.endpoint.hits == 3


async def test_without_any_certificates_every_token_is_refused(
    harness: Harness, keys: list[Key]
) -> None:
    harness.endpoint.status = 500
    await refused(harness, f"Bearer {keys[0].sign(claims())}", "certificates are unavailable")


async def test_a_jwks_document_works_as_well(harness: Harness, keys: list[Key]) -> None:
    harness.endpoint.jwks = True
    assert await harness.verify(keys[1].sign(claims()))


async def test_a_certificates_endpoint_that_hangs_is_given_up_on(keys: list[Key]) -> None:
    async def hang(url: str) -> HttpAnswer:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    verifier = OidcVerifier(
        AUDIENCE, ACCOUNT, fetch=hang, clock=FixedClock(START), fetch_timeout_s=0.2
    )
    with pytest.raises(AuthenticationFailed, match="certificates are unavailable"):
        await asyncio.wait_for(verifier.verify(f"Bearer {keys[0].sign(claims())}"), timeout=5)

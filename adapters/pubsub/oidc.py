"""Checks the OIDC token Google attaches to every Pub/Sub push (`Authorization: Bearer <JWT>`):
RS256 signed by one of Google's keys, for our audience, from Google's issuer, unexpired, and
minted for the push subscription's service account with a verified email.

Google's certificates are cached for as long as their Cache-Control max-age says. A key id not
in the cache triggers one refetch, at most once a minute, so forged kids cannot make us hammer
Google; when a refresh fails the stale keys stay in use. Any problem is AuthenticationFailed,
whose message never carries the token or any part of it."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from domain.errors import AuthenticationFailed
from ports.system import Clock

log = logging.getLogger("ingestion_pipeline.pubsub")

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUER = "https://accounts.google.com"
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_MAX_TOKEN_CHARS = 16 * 1024
_MAX_CERTS_BYTES = 1024 * 1024


@attrs.frozen
class HttpAnswer:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes


Fetch = Callable[[str], Awaitable[HttpAnswer]]


def aiohttp_fetch(session: aiohttp.ClientSession, timeout_s: float = 5.0) -> Fetch:
    """A Fetch over the app's client session, bounded in time and size."""

    async def fetch(url: str) -> HttpAnswer:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with session.get(url, timeout=timeout, allow_redirects=False) as response:
            body = await response.content.read(_MAX_CERTS_BYTES + 1)
            headers = {k.lower(): v for k, v in response.headers.items()}
            return HttpAnswer(response.status, headers, body)

    return fetch


@attrs.frozen
class PushCaller:
    """Who signed the push: the subscription's service account."""

    email: str
    subject: str


class OidcVerifier:
    def __init__(
        self,
        audience: str,
        service_account_email: str,
        *,
        fetch: Fetch,
        clock: Clock,
        issuer: str = GOOGLE_ISSUER,
        certs_url: str = GOOGLE_CERTS_URL,
        leeway_s: float = 30.0,
        fetch_timeout_s: float = 10.0,
        min_refetch_interval_s: float = 60.0,
        default_max_age_s: float = 300.0,
    ):
        self._audience = audience
        self._email = service_account_email.lower()
        self._fetch = fetch
        self._clock = clock
        self._issuer = issuer
        self._certs_url = certs_url
        self._leeway_s = leeway_s
        self._fetch_timeout_s = fetch_timeout_s
        self._min_refetch_s = min_refetch_interval_s
        self._default_max_age_s = default_max_age_s
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._expires_at = float("-inf")
        self._last_attempt: float | None = None
        self._last_failed = False
        self._lock = asyncio.Lock()

    async def verify(self, authorization: str | None) -> PushCaller:
        """The caller named by a valid `Authorization: Bearer <JWT>` header value."""
        header, claims, signed, signature = _decode(_bearer(authorization))
        key = await self._key(header["kid"])
        try:
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise AuthenticationFailed("the push token's signature is not valid") from None
        return self._check(claims)

    def _check(self, claims: Mapping[str, Any]) -> PushCaller:
        now = self._now()
        if claims.get("iss") != self._issuer:
            raise AuthenticationFailed("the push token is from another issuer")
        audience = claims.get("aud")
        if not (
            audience == self._audience
            or (isinstance(audience, list) and self._audience in audience)
        ):
            raise AuthenticationFailed("the push token is for another audience")
        expires, issued = _number(claims, "exp"), _number(claims, "iat")
        if now > expires + self._leeway_s:
            raise AuthenticationFailed("the push token has expired")
        if issued > now + self._leeway_s or (
            "nbf" in claims and _number(claims, "nbf") > now + self._leeway_s
        ):
            raise AuthenticationFailed("the push token is not valid yet")
        email = claims.get("email")
        if not isinstance(email, str) or email.lower() != self._email:
            raise AuthenticationFailed("the push token is for another service account")
        if claims.get("email_verified") not in (True, "true"):
            raise AuthenticationFailed("the push token's email is not verified")
        subject = claims.get("sub")
        return PushCaller(email, subject if isinstance(subject, str) else "")

    # --- Google's keys ---------------------------------------------------------------------

    async def _key(self, kid: str) -> rsa.RSAPublicKey:
        if self._now() >= self._expires_at:
            await self._refresh(kid, expired=True)
        if kid not in self._keys:
            await self._refresh(kid, expired=False)
        key = self._keys.get(kid)
        if key is None:
            if not self._keys:
                raise AuthenticationFailed("Google's signing certificates are unavailable")
            raise AuthenticationFailed("the push token is signed with an unknown key")
        return key

    async def _refresh(self, kid: str, *, expired: bool) -> None:
        async with self._lock:
            now = self._now()
            recent = (
                self._last_attempt is not None and now - self._last_attempt < self._min_refetch_s
            )
            if expired:
                # Refreshed meanwhile, or failing: then keep using the stale keys for a while.
                if now < self._expires_at or (recent and self._last_failed):
                    return
            elif kid in self._keys or recent:
                return
            self._last_attempt = now
            try:
                async with asyncio.timeout(self._fetch_timeout_s):
                    answer = await self._fetch(self._certs_url)
                keys = _parse_certs(answer)
            except Exception as exc:
                self._last_failed = True
                log.warning("fetching Google's OIDC certificates failed: %s", _reason(exc))
                return
            self._keys, self._last_failed = keys, False
            self._expires_at = now + self._max_age(answer.headers)

    def _max_age(self, headers: Mapping[str, str]) -> float:
        found = _MAX_AGE.search(headers.get("cache-control", ""))
        if found is None:
            return self._default_max_age_s
        age = headers.get("age", "0")
        return max(
            0.0, min(float(found.group(1)) - (float(age) if age.isdigit() else 0.0), 86400.0)
        )

    def _now(self) -> float:
        return self._clock.now().timestamp()


class _CertsUnusable(Exception):
    pass


def _parse_certs(answer: HttpAnswer) -> dict[str, rsa.RSAPublicKey]:
    """Google's v1 form ({kid: PEM certificate}) or a JWKS ({"keys": [...]})."""
    if answer.status != 200:
        raise _CertsUnusable(f"HTTP {answer.status}")
    if len(answer.body) > _MAX_CERTS_BYTES:
        raise _CertsUnusable("too large")
    try:
        document = json.loads(answer.body)
    except ValueError:
        raise _CertsUnusable("not JSON") from None
    if not isinstance(document, dict):
        raise _CertsUnusable("not a JSON object")
    keys: dict[str, rsa.RSAPublicKey] = {}
    if isinstance(document.get("keys"), list):
        for jwk in document["keys"]:
            if (
                isinstance(jwk, dict)
                and jwk.get("kty") == "RSA"
                and isinstance(jwk.get("kid"), str)
            ):
                try:
                    numbers = rsa.RSAPublicNumbers(_jwk_int(jwk["e"]), _jwk_int(jwk["n"]))
                    keys[jwk["kid"]] = numbers.public_key()
                except (KeyError, ValueError, TypeError):
                    continue
    else:
        for kid, pem in document.items():
            try:
                public = x509.load_pem_x509_certificate(pem.encode()).public_key()
            except (AttributeError, ValueError):
                continue
            if isinstance(public, rsa.RSAPublicKey):
                keys[kid] = public
    if not keys:
        raise _CertsUnusable("no RSA key in the answer")
    return keys


def _jwk_int(value: Any) -> int:
    return int.from_bytes(_b64url(value), "big")


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed("the push has no bearer token")
    if len(token) > _MAX_TOKEN_CHARS:
        raise AuthenticationFailed("the push token is too long")
    return token


def _decode(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signing input, signature) of a compact JWS; nothing checked but form."""
    parts = token.split(".")
    if len(parts) != 3 or not all(_SEGMENT.match(part) for part in parts):
        raise AuthenticationFailed("the push token is not a JWT")
    try:
        header, claims = (json.loads(_b64url(part)) for part in parts[:2])
        signature = _b64url(parts[2])
    except (ValueError, UnicodeDecodeError):
        raise AuthenticationFailed("the push token is not a JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise AuthenticationFailed("the push token is not a JWT")
    if header.get("alg") != "RS256" or "crit" in header:
        raise AuthenticationFailed("the push token is not signed with RS256")
    if not isinstance(header.get("kid"), str):
        raise AuthenticationFailed("the push token names no signing key")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), signature


def _b64url(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not text")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error:
        raise ValueError("not base64url") from None


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthenticationFailed(f"the push token has no numeric {name}")
    return float(value)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) if isinstance(exc, _CertsUnusable) else type(exc).__name__

"""Builds each tenant's CrmGateway from its crm_config. It lives in the composition root because
it is the one place that knows every CRM adapter.

Rate limiters, circuit breakers and Salesforce tokens are kept per tenant and CRM for the life
of the process, so every delivery of every call of a tenant shares one budget and one token;
one HTTP session serves them all. The budget is the vendor's suggested rate divided by
`instances`, the most processes that sync at once (PIPELINE_WORKER_MAX_INSTANCES): the shares
together hold the limit for the whole deployment without a word between the processes.
A tenant's `base_url` / `instance_url` receives its credentials, so only the vendors' own https
hosts are accepted, plus plain-http hosts the operator lists in PIPELINE_CRM_HTTP_HOSTS (the
demo's and the tests' stand-ins on loopback)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp

from adapters.hubspot import SUGGESTED_BURST as HUBSPOT_BURST
from adapters.hubspot import SUGGESTED_RATE_PER_S as HUBSPOT_RATE
from adapters.hubspot import HubSpotCrmGateway
from adapters.hubspot.gateway import DEFAULT_BASE_URL as HUBSPOT_BASE_URL
from adapters.salesforce import SUGGESTED_BURST as SALESFORCE_BURST
from adapters.salesforce import SUGGESTED_RATE_PER_S as SALESFORCE_RATE
from adapters.salesforce import SalesforceCrmGateway, SalesforceTokenCache
from domain.errors import PermanentFailure
from domain.tenant import Tenant
from domain.throttle import CircuitBreaker, TokenBucket
from domain.usecases.secrets import reveal
from ports.crm import CrmGateway, CrmGatewayFactory
from ports.secrets import SecretStore

VENDOR_HOSTS = {"hubspot": ("api.hubapi.com",), "salesforce": (".salesforce.com", ".force.com")}


def _checked_url(crm: str, url: str, http_hosts: tuple[str, ...]) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "http" and host in http_hosts:
        return url.rstrip("/")
    vendor = any(host == h or (h.startswith(".") and host.endswith(h)) for h in VENDOR_HOSTS[crm])
    if parts.scheme != "https" or not vendor or parts.username or parts.password:
        raise PermanentFailure(f"{crm} URL must be https on the vendor's own domain, not {host!r}")
    return url.rstrip("/")


async def _required(tenant: Tenant, name: str, secrets: SecretStore) -> str:
    secret = tenant.config.crm.secret_setting(name)
    if secret is None:
        raise PermanentFailure(f"{tenant.config.crm.type} {name} is not configured for this tenant")
    return await reveal(secret, secrets)


class ConfiguredCrmGatewayFactory(CrmGatewayFactory):
    def __init__(self, secrets: SecretStore, http_hosts: tuple[str, ...] = (), instances: int = 1):
        self._secrets = secrets
        self._http_hosts = http_hosts
        self._instances = instances
        self._session: aiohttp.ClientSession | None = None
        self._limits: dict[tuple[str, str], tuple[TokenBucket, CircuitBreaker]] = {}
        self._tokens: dict[tuple[str, str, str], SalesforceTokenCache] = {}

    def _throttle(
        self, tenant: Tenant, rate: float, burst: int
    ) -> tuple[TokenBucket, CircuitBreaker]:
        key = (tenant.tenant_id, tenant.config.crm.type)
        if key not in self._limits:
            limiter = TokenBucket.one_share(rate, burst, self._instances)
            self._limits[key] = (limiter, CircuitBreaker())
        return self._limits[key]

    def _salesforce_tokens(
        self, tenant: Tenant, instance_url: str, client_id: str
    ) -> SalesforceTokenCache:
        """The org's token, kept while the tenant's configuration names the same org and app:
        a changed instance_url never receives the old org's token."""
        key = (tenant.tenant_id, instance_url, client_id)
        if key not in self._tokens:
            self._tokens[key] = SalesforceTokenCache()
        return self._tokens[key]

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def for_tenant(self, tenant: Tenant) -> CrmGateway | None:
        crm = tenant.config.crm
        settings: Mapping[str, object] = crm.settings
        if crm.type == "hubspot":
            limiter, breaker = self._throttle(tenant, HUBSPOT_RATE, HUBSPOT_BURST)
            base = str(settings.get("base_url") or HUBSPOT_BASE_URL)
            return HubSpotCrmGateway(
                token=await _required(tenant, "access_token", self._secrets),
                session=self._http(),
                limiter=limiter,
                breaker=breaker,
                base_url=_checked_url("hubspot", base, self._http_hosts),
                settings=settings,
            )
        if crm.type == "salesforce":
            limiter, breaker = self._throttle(tenant, SALESFORCE_RATE, SALESFORCE_BURST)
            instance = settings.get("instance_url")
            client_id = settings.get("client_id")
            if not isinstance(instance, str) or not isinstance(client_id, str):
                raise PermanentFailure("salesforce instance_url and client_id are not configured")
            instance_url = _checked_url("salesforce", instance, self._http_hosts)
            return SalesforceCrmGateway(
                instance_url=instance_url,
                client_id=client_id,
                client_secret=await _required(tenant, "client_secret", self._secrets),
                session=self._http(),
                limiter=limiter,
                breaker=breaker,
                settings=settings,
                tokens=self._salesforce_tokens(tenant, instance_url, client_id),
            )
        return None

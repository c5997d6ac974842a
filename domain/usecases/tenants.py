"""Tenant administration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.apikeys import hash_api_key, new_api_key
from domain.errors import AuthenticationFailed, TenantNotFound
from domain.tenant import Tenant, apply_patch, parse_tenant
from ports.repositories import UnitOfWorkFactory
from ports.system import Clock, IdGenerator


class CreateTenant:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, alert_http_hosts: tuple[str, ...] = ()
    ):
        """`alert_http_hosts`: hosts an alert destination may reach over plain http."""
        self._uow = uow
        self._clock = clock
        self._alert_http_hosts = alert_http_hosts

    async def __call__(self, document: Mapping[str, Any]) -> Tenant:
        now = self._clock.now()
        tenant = parse_tenant(document, now, alert_http_hosts=self._alert_http_hosts)
        async with self._uow() as uow:
            await uow.tenants.add(tenant)
            await uow.commit()
        return tenant


class UpdateTenant:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, alert_http_hosts: tuple[str, ...] = ()
    ):
        self._uow = uow
        self._clock = clock
        self._alert_http_hosts = alert_http_hosts

    async def __call__(self, tenant_id: str, patch: Mapping[str, Any]) -> Tenant:
        async with self._uow() as uow:
            current = await uow.tenants.get(tenant_id)
            if current is None:
                raise TenantNotFound(f"no tenant {tenant_id}")
            updated = apply_patch(
                current, patch, self._clock.now(), alert_http_hosts=self._alert_http_hosts
            )
            await uow.tenants.update(updated)
            await uow.commit()
        return updated


class GetTenant:
    def __init__(self, uow: UnitOfWorkFactory):
        self._uow = uow

    async def __call__(self, tenant_id: str) -> Tenant:
        async with self._uow(read_only=True) as uow:
            tenant = await uow.tenants.get(tenant_id)
        if tenant is None:
            raise TenantNotFound(f"no tenant {tenant_id}")
        return tenant


class ListTenants:
    def __init__(self, uow: UnitOfWorkFactory):
        self._uow = uow

    async def __call__(self) -> Sequence[Tenant]:
        async with self._uow(read_only=True) as uow:
            return await uow.tenants.list()


class IssueApiKey:
    """Returns the key itself, once; only its hash is kept."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator):
        self._uow = uow
        self._clock = clock
        self._ids = ids

    async def __call__(self, tenant_id: str) -> str:
        key, record = new_api_key(tenant_id, self._ids.new_token(), self._clock.now())
        async with self._uow() as uow:
            if await uow.tenants.get(tenant_id) is None:
                raise TenantNotFound(f"no tenant {tenant_id}")
            await uow.api_keys.add(record)
            await uow.commit()
        return key


class AuthenticateApiKey:
    """The tenant a presented API key belongs to."""

    def __init__(self, uow: UnitOfWorkFactory):
        self._uow = uow

    async def __call__(self, key: str) -> str:
        async with self._uow(read_only=True) as uow:
            record = await uow.api_keys.find(hash_api_key(key))
        if record is None:
            raise AuthenticationFailed("unknown API key")
        return record.tenant_id

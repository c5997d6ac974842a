from __future__ import annotations

from domain.tenant import Secret, SecretRef
from ports.secrets import SecretStore


async def reveal(secret: Secret, store: SecretStore) -> str:
    if isinstance(secret, SecretRef):
        return await store.resolve(secret.name)
    return secret.value

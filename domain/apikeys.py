"""Tenant-scoped API keys: shown once, stored only as a hash.

The key carries 256 bits from the IdGenerator, so a fast hash is enough: there is nothing to
brute-force that a slow password hash would protect.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import attrs

KEY_PREFIX = "ipk_"


@attrs.frozen
class ApiKey:
    key_hash: str
    tenant_id: str
    created_at: datetime
    hint: str  # the first characters, to tell keys apart in a listing


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_api_key(tenant_id: str, random_token: str, now: datetime) -> tuple[str, ApiKey]:
    key = f"{KEY_PREFIX}{random_token}"
    return key, ApiKey(hash_api_key(key), tenant_id, now, key[:10])

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from ports.system import Clock, IdGenerator


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidIdGenerator(IdGenerator):
    def new_id(self) -> str:
        return uuid.uuid4().hex

    def new_token(self) -> str:
        return secrets.token_urlsafe(32)

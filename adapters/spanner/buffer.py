"""A write unit of work's buffer (what its commit will write, and what that relied on), and
what a process has learned of rows it read or wrote."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any

import attrs

from adapters.spanner import rows
from adapters.spanner.usage import UsageKey, new_entry_id
from domain.apikeys import ApiKey
from domain.call import Call
from domain.retention import DeletionRecord
from domain.tenant import Tenant
from domain.usage import UsageDelta

CallKey = tuple[str, str]
JobKey = tuple[str, str, str]


class CallChange(Enum):
    INSERT = "insert"  # a new call: it must still be new at commit
    UPDATE = "update"  # the whole row, if the version is still `base_version`
    LEASE = "lease"  # only the lease's expiry, if `lease_owner` still holds it


@attrs.define
class StagedCall:
    call: Call  # the buffer's own copy: what the row will be
    change: CallChange
    base_version: int = 0
    lease_owner: str | None = None


@attrs.define
class StagedJob:
    row: rows.JobRow | None  # None: completed, to be deleted
    inserted: bool = False
    claimed_from: rows.JobRow | None = None  # the row as this unit of work claimed it
    reschedules: int = 0  # deliveries to add to the stored count
    # Only a longer claim, applied if this worker still holds it then; `stored` as read.
    holder: str | None = None
    stored: rows.JobRow | None = None
    key: JobKey | None = None  # of a job completed by its id, when this process knows it

    @property
    def blind(self) -> bool:
        """Whether it can be written without reading the stored row first."""
        if self.inserted:
            return True
        unclaimed = self.claimed_from is None and self.holder is None
        return self.row is None and self.key is not None and unclaimed


@attrs.define
class Staged:
    tenants: dict[str, tuple[Tenant, bool]] = attrs.field(factory=dict)  # (tenant, inserted)
    api_keys: dict[str, ApiKey] = attrs.field(factory=dict)
    calls: dict[CallKey, StagedCall] = attrs.field(factory=dict)
    jobs: dict[str, StagedJob] = attrs.field(factory=dict)
    # Versions this unit of work read from the store: an update of one of them needs no read.
    seen_versions: dict[CallKey, int] = attrs.field(factory=dict)
    usage: dict[UsageKey, UsageDelta] = attrs.field(factory=dict)
    usage_entry: str = attrs.field(factory=new_entry_id)
    # Erasure: rows deleted at commit (with what is interleaved under them), and its record.
    deleted_calls: list[CallKey] = attrs.field(factory=list)
    deleted_tenants: list[str] = attrs.field(factory=list)
    deletions: list[DeletionRecord] = attrs.field(factory=list)

    @property
    def empty(self) -> bool:
        erasure = self.deleted_calls or self.deleted_tenants or self.deletions
        return not (
            self.tenants or self.api_keys or self.calls or self.jobs or self.usage or erasure
        )

    def live_jobs(self) -> list[rows.JobRow]:
        return [s.row for s in self.jobs.values() if s.row is not None]

    @property
    def blind(self) -> bool:
        """Whether one Commit without reads can write it all (see the module's docstring)."""
        # Erasure goes in a transaction: re-run on ABORTED, never refused for a write that
        # landed (a Commit's lost answer), so its record is written once.
        return (
            not (self.tenants or self.api_keys)
            and not (self.deleted_calls or self.deleted_tenants or self.deletions)
            and all(s.change is not CallChange.LEASE for s in self.calls.values())
            and all(s.blind for s in self.jobs.values())
        )


class Known:
    """What this process has learned of rows it read or wrote, for the writes that follow:
    the version each call was at (so an update needs no read first: its commit checks it),
    and the call each job belongs to (a job's key never changes). Bounded; a wrong version
    costs only the checked transaction."""

    def __init__(self, size: int = 4096):
        self._size = size
        self._versions: dict[CallKey, int] = {}
        self._jobs: dict[str, JobKey] = {}

    def version(self, key: CallKey) -> int | None:
        return self._versions.get(key)

    def job_key(self, job_id: str) -> JobKey | None:
        return self._jobs.get(job_id)

    def saw(self, key: CallKey, version: int, job_ids: Sequence[str] = ()) -> None:
        self._put(self._versions, key, version)
        for job_id in job_ids:
            self._put(self._jobs, job_id, (*key, job_id))

    def forget(self, keys: Sequence[CallKey]) -> None:
        for key in keys:
            self._versions.pop(key, None)

    def committed(self, staged: Staged) -> None:
        for key, s in staged.calls.items():
            self.saw(key, s.call.version)
        for job_id, job in staged.jobs.items():
            if job.row is None:
                self._jobs.pop(job_id, None)
            elif job.inserted:
                self._put(self._jobs, job_id, job.row.key)

    def _put(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        table.pop(key, None)
        if len(table) >= self._size:
            table.pop(next(iter(table)))  # the oldest: dicts keep insertion order
        table[key] = value

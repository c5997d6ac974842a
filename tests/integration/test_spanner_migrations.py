"""The Spanner schema on the real emulator: migrations apply once, survive a crash between the
DDL and its tracking row, and leave the interleaving that keeps a tenant's rows together and
deletes them with it."""

from __future__ import annotations

from datetime import timedelta

from adapters.spanner.database import SpannerDatabase, TransactionContext
from adapters.spanner.migrations import (
    available_migrations,
    migrate,
    pending_migrations,
    statements,
)
from adapters.spanner.repositories import SpannerUnitOfWorkFactory
from domain.apikeys import hash_api_key, new_api_key
from domain.jobs import Job
from tests.contract.test_repository_contract import (
    ACME_COMPANY,
    BETA_COMPANY,
    T0,
    add_calls,
    add_tenants,
    make_call,
    make_tenant,
)
from tests.emulators.spanner import (  # noqa: F401 - fixtures
    spanner_database_fixture,
    spanner_emulator_fixture,
)


async def test_migrations_apply_once(spanner_database: SpannerDatabase) -> None:
    # The fixture migrated the database already: nothing is pending, a second run does nothing.
    assert await pending_migrations(spanner_database) == []
    assert await migrate(spanner_database) == []
    recorded = await spanner_database.query(
        "SELECT version, name FROM SchemaMigrations ORDER BY version"
    )
    assert recorded == [[version, name] for version, name, _ in available_migrations()]


async def test_a_crash_between_the_ddl_and_its_record_is_recovered(
    spanner_database: SpannerDatabase,
) -> None:
    def forget(tx: TransactionContext) -> None:
        tx.delete("SchemaMigrations", [[1]])

    await spanner_database.transact(forget)
    assert await pending_migrations(spanner_database) == ["001_initial.sql"]

    # The DDL is not run twice (it would fail on the existing tables): its operation is found.
    assert await migrate(spanner_database) == ["001_initial.sql"]
    assert await pending_migrations(spanner_database) == []


async def test_call_tables_are_interleaved_in_their_tenant(
    spanner_database: SpannerDatabase,
) -> None:
    tables = await spanner_database.query(
        "SELECT table_name, parent_table_name, on_delete_action FROM information_schema.tables"
        " WHERE table_schema = '' ORDER BY table_name"
    )
    assert tables == [
        ["SchemaMigrations", None, None],
        ["api_keys", "tenants", "CASCADE"],
        ["call_versions", "calls", "CASCADE"],
        ["calls", "tenants", "CASCADE"],
        ["deletions", None, None],  # the record of deletions outlives the tenant it names
        ["jobs", "calls", "CASCADE"],
        ["tenants", None, None],
        ["usage_entries", "tenants", "CASCADE"],
    ]
    indexes = await spanner_database.query(
        "SELECT index_name, is_unique, parent_table_name FROM information_schema.indexes"
        " WHERE table_schema = '' AND index_type = 'INDEX' ORDER BY index_name"
    )
    assert indexes == [
        ["api_keys_by_hash", True, ""],
        ["calls_by_stage", False, "tenants"],
        ["calls_by_time", False, "tenants"],
        ["calls_in_flight", False, ""],
        ["deletions_by_tenant", False, ""],
        ["deletions_by_time", False, ""],
        ["jobs_by_id", True, ""],
        ["jobs_due", False, ""],
        ["tenants_by_company", True, ""],
    ]
    stamped = await spanner_database.query(
        "SELECT table_name FROM information_schema.column_options"
        " WHERE column_name = 'committed_at' AND option_name = 'allow_commit_timestamp'"
        " AND option_value = 'TRUE' ORDER BY table_name"
    )
    assert stamped == [
        ["api_keys"],
        ["calls"],
        ["deletions"],
        ["jobs"],
        ["tenants"],
        ["usage_entries"],
    ]


async def test_deleting_a_tenant_deletes_what_it_owns(spanner_database: SpannerDatabase) -> None:
    uow_factory = SpannerUnitOfWorkFactory(spanner_database)
    await add_tenants(
        uow_factory, make_tenant("acme", ACME_COMPANY), make_tenant("beta", BETA_COMPANY)
    )
    await add_calls(
        uow_factory,
        make_call("acme", "1", T0),
        make_call("acme", "2", T0 + timedelta(minutes=1)),
        make_call("beta", "1", T0, BETA_COMPANY),
    )
    acme_key, acme_record = new_api_key("acme", "a" * 43, T0)
    async with uow_factory() as uow:
        await uow.jobs.add(Job("job-acme", "acme", "CAL1", T0), due_at=T0)
        await uow.jobs.add(Job("job-beta", "beta", "CAL1", T0), due_at=T0)
        await uow.api_keys.add(acme_record)
        await uow.commit()

    def delete_acme(tx: TransactionContext) -> None:
        tx.delete("tenants", [["acme"]])

    await spanner_database.transact(delete_acme)

    left = await spanner_database.query(
        "SELECT 'call', tenant_id, call_id FROM calls"
        " UNION ALL SELECT 'job', tenant_id, job_id FROM jobs"
        " UNION ALL SELECT 'key', tenant_id, hint FROM api_keys"
        " UNION ALL SELECT 'version', tenant_id, call_id FROM call_versions ORDER BY 1, 2, 3"
    )
    assert left == [
        ["call", "beta", "CAL1"],
        ["job", "beta", "job-beta"],
        ["version", "beta", "CAL1"],
    ]
    async with uow_factory(read_only=True) as uow:
        assert await uow.tenants.get("acme") is None
        assert await uow.api_keys.find(hash_api_key(acme_key)) is None
        assert (await uow.calls.list("acme")).calls == []


def test_statements_drop_comments_and_split_outside_quotes() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE a (x STRING(MAX) DEFAULT ('x;y')) PRIMARY KEY (x);  # another; comment
    CREATE INDEX b ON a (x)
    ;
    """
    assert statements(script) == [
        "CREATE TABLE a (x STRING(MAX) DEFAULT ('x;y')) PRIMARY KEY (x)",
        "CREATE INDEX b ON a (x)",
    ]

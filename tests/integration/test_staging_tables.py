"""Staging tables are created once per pooled connection, and again only when a rollback undid them."""

from __future__ import annotations

import pytest

from adapters.postgres.engine import create_postgres_engine
from adapters.postgres.staging import COMMITTED, STAGING_READY
from adapters.postgres.unit_of_work import PostgresUnitOfWork
from tests.factories import failed

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(database_url):
    engine = create_postgres_engine(database_url, pool_size=1)  # every unit of work on one connection
    yield engine
    engine.dispose()


def _staging_state(engine) -> object:
    with engine.connect() as connection:
        return connection.connection.info.get(STAGING_READY)


def _stored_offsets(engine) -> list[int]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT source_offset FROM failed_events ORDER BY source_offset")
        return [offset for (offset,) in rows]


def _dead_letter(engine, offset: int, *, commit: bool) -> None:
    with PostgresUnitOfWork(engine) as uow:
        uow.dead_letters.add([failed(offset=offset)])  # through the failed_incoming staging table
        if commit:
            uow.commit()


def test_committed_staging_tables_outlive_later_transactions_and_their_rollbacks(engine):
    _dead_letter(engine, 0, commit=True)
    assert _staging_state(engine) == COMMITTED

    _dead_letter(engine, 1, commit=True)  # the next batch: no CREATE again
    _dead_letter(engine, 2, commit=False)  # a batch that rolls back cannot undo tables an earlier one committed

    assert _staging_state(engine) == COMMITTED  # so the next batch does not CREATE them again
    _dead_letter(engine, 3, commit=True)
    assert _stored_offsets(engine) == [0, 1, 3]


def test_a_rollback_of_the_transaction_that_created_them_has_them_made_again(engine):
    _dead_letter(engine, 0, commit=False)  # created, then undone with the transaction
    assert _staging_state(engine) is None

    _dead_letter(engine, 1, commit=True)  # made again, not "relation does not exist"

    assert _staging_state(engine) == COMMITTED
    assert _stored_offsets(engine) == [1]

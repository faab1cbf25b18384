"""Between the ingest and the latency runs the bench vacuums and analyzes the database itself."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from adapters.postgres.engine import create_postgres_engine
from entrypoints.bench.ingest import vacuum_analyze

pytestmark = pytest.mark.integration


def _maintenance(engine) -> tuple[int, object, object]:
    query = text(
        "SELECT n_ins_since_vacuum, last_vacuum, last_analyze FROM pg_stat_user_tables WHERE relname = 'events'"
    )
    with engine.connect() as connection:
        return tuple(connection.execute(query).one())


def test_it_leaves_autovacuum_nothing_to_do_on_the_rows_just_ingested(database_url):
    engine = create_postgres_engine(database_url, pool_size=1)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO events (event_id, user_id, session_id, event_type, timestamp, device, country,"
                    " received_at, event_time) SELECT gen_random_uuid(), 'user_' || n, gen_random_uuid(),"
                    " 'page_view', now(), 'desktop', 'US', now(), now() FROM generate_series(1, 2000) AS n"
                )
            )
        deadline = time.monotonic() + 10
        while _maintenance(engine)[0] < 2000 and time.monotonic() < deadline:  # statistics arrive within ~1 s
            time.sleep(0.1)
        assert _maintenance(engine) == (2000, None, None)

        seconds = vacuum_analyze(engine)

        inserted_since, vacuumed_at, analyzed_at = _maintenance(engine)
        assert seconds >= 0
        assert inserted_since == 0
        assert vacuumed_at is not None and analyzed_at is not None
    finally:
        engine.dispose()

"""The Postgres adapter against the official Postgres image, started by testcontainers."""

from __future__ import annotations

import pytest

from adapters.postgres.engine import create_postgres_engine, upgrade_schema
from adapters.postgres.unit_of_work import PostgresUnitOfWork
from application.ingest import Recorder
from tests.docker import NO_DOCKER_REASON, docker_available
from tests.factories import T0, batch, make_event, received

pytestmark = [pytest.mark.integration, pytest.mark.skipif(not docker_available(), reason=NO_DOCKER_REASON)]


def test_migrations_and_an_exactly_once_batch_on_the_postgres_image():
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:17-alpine", driver="psycopg") as container:
        engine = create_postgres_engine(container.get_connection_url(), pool_size=2)
        upgrade_schema(engine)
        events = [received(make_event(), offset=i) for i in range(3)]
        for _ in range(2):  # the second time is a redelivery: nothing changes
            Recorder(lambda: PostgresUnitOfWork(engine), "tc")(batch(events), now=T0)
        with PostgresUnitOfWork(engine) as uow:
            assert uow.events.count() == 3
            assert uow.users.get("user_1").total_events == 3
        engine.dispose()

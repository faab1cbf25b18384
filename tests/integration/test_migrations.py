"""Migrations: down to nothing and up again, ending exactly at the tables the code defines."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import migrations
from adapters.postgres.engine import create_postgres_engine, upgrade_schema
from adapters.postgres.tables import metadata


@pytest.fixture
def engine(database_url):
    engine = create_postgres_engine(database_url)
    yield engine
    engine.dispose()


def _alembic(engine, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_migrations_downgrade_and_upgrade_again_and_match_the_table_definitions(engine):
    assert {"models", "detector_states"} <= _tables(engine)

    _alembic(engine, "downgrade", "0003")
    assert not {"models", "detector_states"} & _tables(engine)
    _alembic(engine, "downgrade", "base")
    assert _tables(engine) == set()
    upgrade_schema(engine)

    assert _tables(engine) == set(metadata.tables)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, metadata) == []
    inspector = inspect(engine)
    for table in metadata.sorted_tables:  # autogenerate skips expression indexes: compare their names
        assert {i.name for i in table.indexes} == {i["name"] for i in inspector.get_indexes(table.name)}, table.name
        assert inspector.get_pk_constraint(table.name)["constrained_columns"] == [c.name for c in table.primary_key]
    models_index = next(i for i in inspector.get_indexes("models") if i["name"] == "ix_models_kind_created_at")
    assert models_index["column_sorting"] == {"created_at": ("desc",)}

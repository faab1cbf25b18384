"""The bench finds the database server's processes from its own connection."""

from __future__ import annotations

import psutil
import pytest
from sqlalchemy import text

from adapters.embedded.postgres import EmbeddedPostgres
from entrypoints.bench.cpu import postgres_server_pid, tree_cpu_seconds

pytestmark = pytest.mark.integration


def test_the_database_server_is_the_parent_of_our_backend_and_its_tree_has_spent_cpu(postgres_server, postgres_engine):
    if not isinstance(postgres_server, EmbeddedPostgres):
        pytest.skip("the test server runs elsewhere (a URL or a container): its processes are not ours to read")
    server = postgres_server_pid(postgres_engine)

    assert server is not None
    with postgres_engine.connect() as connection:
        backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert backend in {child.pid for child in psutil.Process(server).children()}
    assert tree_cpu_seconds(server) > 0

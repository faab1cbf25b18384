"""Engine creation, migrations and the translation of driver errors into domain errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, exc, make_url, text
from sqlalchemy.pool import NullPool

import migrations
from domain.errors import RejectedByStore, StorageUnavailable


def create_postgres_engine(url: str, *, pool_size: int = 20, connect_args: dict | None = None) -> Engine:
    """A pooled engine (the seed's 20 connections); `pool_pre_ping` survives DB restarts."""
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size // 2,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args=connect_args or {},
    )


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """`alembic upgrade head` on the engine's database."""
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextmanager
def translated_errors() -> Iterator[None]:
    """Driver exceptions become `RejectedByStore` (bad data) or `StorageUnavailable` (retry)."""
    try:
        yield
    except (exc.DataError, exc.IntegrityError, psycopg.DataError, psycopg.IntegrityError) as error:
        raise RejectedByStore(_first_line(error)) from error
    except (exc.OperationalError, exc.InterfaceError, psycopg.OperationalError, psycopg.InterfaceError) as error:
        raise StorageUnavailable(_first_line(error)) from error
    except exc.DBAPIError as error:
        if error.connection_invalidated:
            raise StorageUnavailable(_first_line(error)) from error
        raise


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def create_database(server_url: str, name: str) -> str:
    """Create database `name` on the server of `server_url` unless it exists; return its URL."""
    url = make_url(server_url)
    admin = create_engine(url, poolclass=NullPool)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).first()
            if not exists:
                quoted = conn.dialect.identifier_preparer.quote_identifier(name)
                conn.execute(text(f"CREATE DATABASE {quoted}"))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(database_url: str) -> None:
    """Drop the database of `database_url` (connecting to the server's `postgres` database)."""
    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), poolclass=NullPool)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            quoted = conn.dialect.identifier_preparer.quote_identifier(url.database)
            conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
    finally:
        admin.dispose()

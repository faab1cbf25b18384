"""Where Kafka and Postgres are: the configured ones, or the embedded ones.

`analytics services` and `analytics up` start the embedded broker and Postgres and
leave a note in the data directory; other commands run meanwhile attach to them.
Postgres keeps its data in the data directory; the broker keeps data in memory.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from adapters.embedded.broker import EmbeddedKafka
from adapters.embedded.postgres import EmbeddedPostgres
from entrypoints.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str
    database_url: str

    def as_env(self) -> dict[str, str]:
        return {"ANALYTICS_KAFKA_BOOTSTRAP": self.kafka_bootstrap, "ANALYTICS_DATABASE_URL": self.database_url}


class LocalServices:
    """Context manager resolving the endpoints, starting embedded services when unset."""

    def __init__(self, settings: Settings, *, own_broker: bool = False) -> None:
        self._settings = settings
        self._own_broker = own_broker  # start a broker (services/up) rather than look for one
        self._stack = ExitStack()
        self.endpoints: Endpoints | None = None
        self.started: list[str] = []

    @property
    def _embedded_dir(self) -> Path:
        return self._settings.data_dir.resolve() / "embedded"

    def __enter__(self) -> Self:
        try:
            bootstrap = self._settings.kafka.bootstrap or self._embedded_broker()
            url = self._settings.database.url or self._embedded_postgres()
        except BaseException:
            self._stack.close()
            raise
        self.endpoints = Endpoints(bootstrap, url)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def _embedded_broker(self) -> str:
        note = self._embedded_dir / "broker.json"
        self._embedded_dir.mkdir(parents=True, exist_ok=True)
        if not self._own_broker and (running := _running_broker(note)):
            return running
        broker = EmbeddedKafka(self._embedded_dir).start()
        self._stack.callback(broker.stop)
        self._stack.callback(note.unlink, missing_ok=True)
        note.write_text(json.dumps({"bootstrap": broker.bootstrap, "pid": os.getpid()}))
        self.started.append(f"embedded Kafka broker at {broker.bootstrap}")
        if not self._own_broker:
            log.warning(
                "no ANALYTICS_KAFKA_BOOTSTRAP and no running `analytics services`: "
                "started a private in-memory broker that lives only as long as this command"
            )
        return broker.bootstrap

    def _embedded_postgres(self) -> str:
        self._embedded_dir.mkdir(parents=True, exist_ok=True)
        server = EmbeddedPostgres(self._embedded_dir / "postgres").start()
        self._stack.callback(server.stop)
        self.started.append(f"embedded Postgres in {server.data_dir}")
        return server.create_database("analytics")


def _running_broker(note: Path) -> str | None:
    try:
        info = json.loads(note.read_text())
        os.kill(info["pid"], 0)
        host, port = info["bootstrap"].rsplit(":", 1)
        socket.create_connection((host, int(port)), timeout=0.5).close()
        return info["bootstrap"]
    except (OSError, ValueError, KeyError):
        return None

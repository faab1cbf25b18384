"""What the handlers are given (through Litestar's `Provide`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from litestar.di import NamedDependency
from litestar.params import SkipValidation

from application.ingest import UnitOfWorkFactory
from application.ports.event_log import EventPublisher
from application.ports.queries import AnalyticsQueries


@dataclass(frozen=True)
class Collector:
    """Everything `POST /v1/events` needs."""

    publisher: EventPublisher
    topic: str
    start_unit_of_work: UnitOfWorkFactory
    version: str
    ping_broker: Callable[[], None]


@dataclass(frozen=True)
class ApiOptions:
    allowed_lateness_s: float


# Named dependencies; not validated, because ports are Protocols, not runtime types.
Queries = NamedDependency[SkipValidation[AnalyticsQueries]]
CollectorDep = NamedDependency[SkipValidation[Collector]]
OptionsDep = NamedDependency[SkipValidation[ApiOptions]]

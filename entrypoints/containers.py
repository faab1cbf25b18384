"""Dependency-injector containers: the one place where ports meet adapters.

`Gateways` holds clients of the outside world (Postgres engine, Kafka producer),
`Services` the application's units of work and steps. Tests override providers
with the in-memory fakes (`container.gateways.publisher.override(fake)`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

from dependency_injector import containers, providers
from sqlalchemy import Engine

from adapters.kafka.publisher import KafkaEventPublisher
from adapters.ml.model_store import FileModelRegistry
from adapters.ml.online import HalfSpaceTreesFactory
from adapters.postgres.engine import create_postgres_engine
from adapters.postgres.queries import PostgresAnalyticsQueries
from adapters.postgres.unit_of_work import PostgresUnitOfWork
from application.scoring import Scoring
from domain.detection import BATCH_DETECTOR
from entrypoints.local_services import Endpoints
from entrypoints.settings import Settings


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def _engine(settings: Settings, endpoints: Endpoints) -> Iterator[Engine]:
    engine = create_postgres_engine(
        endpoints.database_url,
        pool_size=settings.database.pool_size,
        connect_args=settings.database.connect_args(),
    )
    yield engine
    engine.dispose()


def _publisher(kafka_config: dict) -> Iterator[KafkaEventPublisher]:
    publisher = KafkaEventPublisher(kafka_config)
    yield publisher
    publisher.close()


class Gateways(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    endpoints = providers.Dependency(instance_of=Endpoints)

    kafka_config = providers.Callable(
        lambda settings, endpoints: settings.kafka.client_config(endpoints.kafka_bootstrap), settings, endpoints
    )
    engine = providers.Resource(_engine, settings, endpoints)
    publisher = providers.Resource(_publisher, kafka_config)
    clock = providers.Singleton(SystemClock)


def _scoring(settings: Settings) -> Scoring | None:
    if not settings.processor.scoring:
        return None
    registry = FileModelRegistry(settings.data_dir / "models").for_kind(BATCH_DETECTOR)
    rules = settings.processor.scoring_rules()
    return Scoring(registry=registry, online=HalfSpaceTreesFactory(), rules=rules, monotonic=time.monotonic)


class Services(containers.DeclarativeContainer):
    gateways = providers.DependenciesContainer()

    unit_of_work = providers.Factory(PostgresUnitOfWork, gateways.engine)
    queries = providers.Singleton(PostgresAnalyticsQueries, gateways.engine)
    scoring = providers.Singleton(_scoring, gateways.settings)


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    endpoints = providers.Dependency(instance_of=Endpoints)

    gateways = providers.Container(Gateways, settings=settings, endpoints=endpoints)
    services = providers.Container(Services, gateways=gateways)


def build_container(settings: Settings, endpoints: Endpoints) -> Container:
    return Container(settings=settings, endpoints=endpoints)

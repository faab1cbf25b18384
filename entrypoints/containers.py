"""Dependency-injector containers: the one place where ports meet adapters.

`Gateways` holds clients of the outside world (Postgres engine, Kafka producer),
`Services` the application's units of work and steps. Tests override providers
with the in-memory fakes (`container.gateways.publisher.override(fake)`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from dependency_injector import containers, providers
from opentelemetry import trace
from sqlalchemy import Engine

from adapters.kafka.publisher import KafkaEventPublisher
from adapters.ml.isolation_forest import fit_isolation_forest
from adapters.ml.model_store import FileModelRegistry, KindRegistry
from adapters.ml.online import HalfSpaceTreesFactory
from adapters.ml.prepared import prepare_matrix
from adapters.postgres.anomaly_training import PostgresAnomalyEventSource, PostgresModelCatalog
from adapters.postgres.engine import create_postgres_engine
from adapters.postgres.queries import PostgresAnalyticsQueries
from adapters.postgres.unit_of_work import PostgresUnitOfWork
from adapters.telemetry.kafka_context import TracedEventPublisher
from application.anomaly_training import AnomalyTrainingReport, CatalogEntry, train_anomaly
from application.retraining import Retrainer
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


def _publisher(kafka_config: dict, events_topic: str, overrides: dict | None = None) -> Iterator[TracedEventPublisher]:
    """Events produced to the events topic carry their trace context (`traceparent`)."""
    publisher = KafkaEventPublisher(kafka_config, overrides=overrides)
    yield TracedEventPublisher(publisher, trace.get_tracer("analytics.producer"), {events_topic})
    publisher.close()


LIVE_LINGER_MS = 250


class Gateways(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    endpoints = providers.Dependency(instance_of=Endpoints)

    kafka_config = providers.Callable(
        lambda settings, endpoints: settings.kafka.client_config(endpoints.kafka_bootstrap), settings, endpoints
    )
    engine = providers.Resource(_engine, settings, endpoints)
    events_topic = providers.Callable(lambda settings: settings.kafka.events_topic, settings)
    publisher = providers.Resource(_publisher, kafka_config, events_topic)
    # `analytics up`'s live generator: a light, steady stream whose records wait to share a request,
    # as a client batching its events would. The embedded broker keeps each produce request as an
    # object that every fetch finding data lists: at 200 events/s and the 20 ms linger its CPU rose
    # from 0.2 to 0.72 cores in 3 minutes; at 250 ms, from 0.12 to 0.13 (docs/performance.md).
    live_publisher = providers.Resource(_publisher, kafka_config, events_topic, {"linger.ms": LIVE_LINGER_MS})
    clock = providers.Singleton(SystemClock)


def _anomaly_models(settings: Settings) -> KindRegistry:
    return FileModelRegistry(settings.data_dir / "models").for_kind(BATCH_DETECTOR)


def _retrainer(settings: Settings, engine: Engine, registry: KindRegistry) -> Retrainer:
    processor = settings.processor

    source, catalog = PostgresAnomalyEventSource(engine), PostgresModelCatalog(engine)

    def train() -> AnomalyTrainingReport:
        return train_anomaly(
            source,
            registry,
            catalog,
            now=datetime.now(UTC),
            detector_factory=fit_isolation_forest,
            window=timedelta(hours=processor.train_window_h),
            min_events=processor.train_min_events,
        )

    every, retry = processor.retrain_every_s, processor.train_retry_s

    def latest() -> CatalogEntry | None:
        return next(iter(catalog.list(BATCH_DETECTOR, limit=1)), None)

    return Retrainer(train, latest, source.count_after, every_s=every, retry_s=retry, now=SystemClock().now)


def _scoring(settings: Settings, registry: KindRegistry) -> Scoring | None:
    if not settings.processor.scoring:
        return None
    rules = settings.processor.scoring_rules()
    return Scoring(
        registry=registry,
        online=HalfSpaceTreesFactory(),
        rules=rules,
        monotonic=time.monotonic,
        prepare=prepare_matrix,  # one array for both detectors, not a tuple per event
    )


class Services(containers.DeclarativeContainer):
    gateways = providers.DependenciesContainer()

    unit_of_work = providers.Factory(PostgresUnitOfWork, gateways.engine)
    queries = providers.Singleton(PostgresAnalyticsQueries, gateways.engine)
    anomaly_models = providers.Singleton(_anomaly_models, gateways.settings)
    scoring = providers.Singleton(_scoring, gateways.settings, anomaly_models)
    retrainer = providers.Singleton(_retrainer, gateways.settings, gateways.engine, anomaly_models)


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    endpoints = providers.Dependency(instance_of=Endpoints)

    gateways = providers.Container(Gateways, settings=settings, endpoints=endpoints)
    services = providers.Container(Services, gateways=gateways)


def build_container(settings: Settings, endpoints: Endpoints) -> Container:
    return Container(settings=settings, endpoints=endpoints)

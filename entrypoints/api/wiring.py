"""The API from settings and the container (the one place that knows both)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from litestar import Litestar
from litestar.stores.base import Store

from adapters.kafka.reader import KafkaEventLogReader
from adapters.kafka.topics import cluster_id
from domain.errors import AnalyticsError, BrokerUnavailable
from entrypoints.api.app import create_app
from entrypoints.api.auth import ApiKeys
from entrypoints.api.deps import Collector
from entrypoints.containers import Container


def api_from_container(container: Container, api_keys: ApiKeys) -> Litestar:
    settings = container.settings()
    kafka_config = container.gateways.kafka_config()

    # A dashboard poll must not hang on a broker that is gone: short timeouts.
    log_reader = KafkaEventLogReader(kafka_config, timeout=2)

    def ping_broker() -> None:
        with _broker_errors():
            cluster_id(kafka_config, timeout=2)

    def log_end_offsets() -> dict[int, int]:
        with _broker_errors():
            return log_reader.end_offsets(settings.kafka.events_topic)

    collector = Collector(
        publisher=container.gateways.publisher(),
        topic=settings.kafka.events_topic,
        start_unit_of_work=container.services.unit_of_work,
        version=f"analytics-api/{settings.processor_version.split('/')[-1]}",
        ping_broker=ping_broker,
    )
    return create_app(
        api_keys=api_keys,
        queries=container.services.queries(),
        collector=collector,
        settings=settings.api,
        allowed_lateness_s=settings.processor.allowed_lateness_s,
        cache_store=_cache_store(settings.redis_url.get_secret_value() if settings.redis_url else None),
        log_end_offsets=log_end_offsets,
    )


@contextmanager
def _broker_errors() -> Iterator[None]:
    try:
        yield
    except AnalyticsError:
        raise
    except Exception as error:  # librdkafka raises its own types when it cannot connect
        raise BrokerUnavailable(str(error)) from error


def _cache_store(redis_url: str | None) -> Store | None:
    if not redis_url:
        return None
    from litestar.stores.redis import RedisStore

    return RedisStore.with_client(url=redis_url, namespace="analytics")

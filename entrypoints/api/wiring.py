"""The API from settings and the container (the one place that knows both)."""

from __future__ import annotations

from litestar import Litestar
from litestar.stores.base import Store

from adapters.kafka.topics import cluster_id
from domain.errors import BrokerUnavailable
from entrypoints.api.app import create_app
from entrypoints.api.auth import ApiKeys
from entrypoints.api.deps import Collector
from entrypoints.containers import Container


def api_from_container(container: Container, api_keys: ApiKeys) -> Litestar:
    settings = container.settings()
    kafka_config = container.gateways.kafka_config()

    def ping_broker() -> None:
        try:
            cluster_id(kafka_config, timeout=2)
        except BrokerUnavailable:
            raise
        except Exception as error:  # librdkafka raises its own types when it cannot connect
            raise BrokerUnavailable(str(error)) from error

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
        cache_store=_cache_store(settings.redis_url),
    )


def _cache_store(redis_url: str | None) -> Store | None:
    if not redis_url:
        return None
    from litestar.stores.redis import RedisStore

    return RedisStore.with_client(url=redis_url, namespace="analytics")

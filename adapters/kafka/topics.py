"""The platform's topics, and creating them before anything produces or consumes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import TimeoutError as FutureTimeout

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ClusterMetadata, NewTopic

from application.ports.event_log import MAX_RECORD_BYTES
from domain.errors import BrokerUnavailable, NotFound

USER_EVENTS = "user-events"
USER_ANALYTICS = "user-analytics"
USER_ANOMALIES = "user-anomalies"
DEFAULT_PARTITIONS = 3


def _admin(config: Mapping[str, object]) -> AdminClient:
    # Admin handles are producer-type, whose metadata requests ask the broker to auto-create
    # unknown topics (Tansu does, with its own partition count). Topics must come only
    # from `ensure_topics`, with the partition count the platform chose.
    return AdminClient({**config, "allow.auto.create.topics": False})


def _list_topics(admin: AdminClient, timeout: float, topic: str | None = None) -> ClusterMetadata:
    try:
        return admin.list_topics(topic, timeout=timeout)
    except KafkaException as exc:
        raise BrokerUnavailable(f"no metadata from the broker within {timeout}s: {exc}") from exc


def ensure_topics(config: dict, topics: Mapping[str, int], replication: int = 1, timeout: float = 15) -> None:
    """Create each missing topic of `topics` (name -> partition count); existing ones are left as is."""
    admin = _admin(config)
    existing = _list_topics(admin, timeout).topics
    missing = [
        NewTopic(
            name,
            num_partitions=count,
            replication_factor=replication,
            config={"max.message.bytes": str(MAX_RECORD_BYTES)},  # Kafka's default is 1 MB
        )
        for name, count in topics.items()
        if name not in existing
    ]
    if not missing:
        return
    futures = admin.create_topics(missing, operation_timeout=timeout, request_timeout=timeout)
    # Another process may have created one since we listed: that is success too.
    _await_admin(futures, "creating", KafkaError.TOPIC_ALREADY_EXISTS, timeout)
    _await_metadata(admin, [t.topic for t in missing], timeout)


def _await_admin(futures: Mapping[str, object], action: str, harmless: int, timeout: float) -> None:
    """Wait for admin operations; the `harmless` error code counts as done."""
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            if exc.args[0].code() != harmless:
                raise BrokerUnavailable(f"{action} topic {name!r} failed: {exc}") from exc
        except FutureTimeout as exc:
            raise BrokerUnavailable(f"{action} topic {name!r} timed out after {timeout}s") from exc


def _await_metadata(admin: AdminClient, names: list[str], timeout: float) -> None:
    # A multi-broker cluster acknowledges creation before every broker's metadata knows the
    # topic; clients started right after would otherwise see "unknown topic".
    deadline = time.monotonic() + timeout
    while True:
        known = _list_topics(admin, timeout).topics
        if all(name in known and known[name].error is None for name in names):
            return
        if time.monotonic() >= deadline:
            raise BrokerUnavailable(f"topics {names} not visible in metadata after {timeout}s")
        time.sleep(0.1)


def topic_partitions(config: dict, topic: str, timeout: float = 10) -> list[int]:
    """The partition numbers of `topic`, sorted; `NotFound` if the topic does not exist."""
    metadata = _list_topics(_admin(config), timeout, topic).topics.get(topic)
    if metadata is None or (metadata.error is not None and metadata.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART):
        raise NotFound(f"topic {topic!r} does not exist")
    if metadata.error is not None:
        raise BrokerUnavailable(f"metadata for topic {topic!r}: {metadata.error.str()}")
    return sorted(metadata.partitions)


def cluster_id(config: dict, timeout: float = 10) -> str:
    """The Kafka cluster's id: consumed offsets are only meaningful within one cluster."""
    return _list_topics(_admin(config), timeout).cluster_id or "unknown-cluster"


def delete_topics(config: dict, names: list[str], timeout: float = 15) -> None:
    """Delete topics (best effort for ones already gone)."""
    admin = _admin(config)  # must outlive the futures: a destroyed handle fails them
    futures = admin.delete_topics(names, operation_timeout=timeout, request_timeout=timeout)
    _await_admin(futures, "deleting", KafkaError.UNKNOWN_TOPIC_OR_PART, timeout)

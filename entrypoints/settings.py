"""Configuration, read once from the environment (pydantic-settings) and passed down."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from application.messages import TimingRules
from application.scoring import ScoringRules
from domain.detection import DEFAULT_THRESHOLD, ONLINE_ONLY_THRESHOLD

try:
    VERSION = version("user-analytics")
except PackageNotFoundError:  # running from a source tree without installation
    VERSION = "0.0.0"


class KafkaSettings(BaseSettings):
    """`ANALYTICS_KAFKA_*`. Without a bootstrap address the embedded broker is used."""

    model_config = SettingsConfigDict(env_prefix="ANALYTICS_KAFKA_")

    bootstrap: str | None = None
    events_topic: str = "user-events"
    analytics_topic: str = "user-analytics"
    anomalies_topic: str = "user-anomalies"
    partitions: int = Field(default=3, ge=1)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: Path | None = None
    ssl_certificate_location: Path | None = None
    ssl_key_location: Path | None = None

    @model_validator(mode="after")
    def _sasl_is_all_or_nothing(self) -> KafkaSettings:
        # librdkafka would otherwise connect without the credentials (a warning in its log at
        # most) or fall back to GSSAPI, which this build lacks: both fail later, obscurely.
        uses_sasl = self.security_protocol.startswith("SASL_")
        given = [name for name in ("sasl_mechanism", "sasl_username", "sasl_password") if getattr(self, name)]
        if given and not uses_sasl:
            raise ValueError(f"SASL settings ({', '.join(given)}) need security_protocol SASL_SSL or SASL_PLAINTEXT")
        if uses_sasl and len(given) < 3:
            raise ValueError(f"security_protocol {self.security_protocol} needs SASL mechanism, username and password")
        return self

    def client_config(self, bootstrap: str) -> dict[str, str]:
        """librdkafka settings shared by producers, consumers and the admin client."""
        config = {"bootstrap.servers": bootstrap, "security.protocol": self.security_protocol}
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        for key, path in (
            ("ssl.ca.location", self.ssl_ca_location),
            ("ssl.certificate.location", self.ssl_certificate_location),
            ("ssl.key.location", self.ssl_key_location),
        ):
            if path:
                config[key] = str(path)
        return config


class DatabaseSettings(BaseSettings):
    """`ANALYTICS_DATABASE_*`. Without a URL the embedded Postgres is used."""

    model_config = SettingsConfigDict(env_prefix="ANALYTICS_DATABASE_")

    url: str | None = None
    pool_size: int = Field(default=20, ge=1)
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = None
    sslrootcert: Path | None = None

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # The URL may carry the password: printed settings show it masked.
        for name, value in super().__repr_args__():
            yield name, (_without_password(value) if name == "url" and value else value)

    def connect_args(self) -> dict[str, str]:
        args: dict[str, str] = {}
        if self.sslmode:
            args["sslmode"] = self.sslmode
        if self.sslrootcert:
            args["sslrootcert"] = str(self.sslrootcert)
        return args


def without_password(url: str) -> str:
    """`url` safe to print: its password replaced by `***`."""
    return _without_password(url)


def _without_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "***"  # unparsable: it could be anything, so nothing of it is shown


class ProcessorSettings(BaseSettings):
    """`ANALYTICS_PROCESSOR_*`: how the dataflow consumes."""

    model_config = SettingsConfigDict(env_prefix="ANALYTICS_PROCESSOR_")

    consumer: str = "analytics-processor"
    batch_size: int = Field(default=20_000, ge=1, description="max records per poll and partition")
    poll_interval_ms: int = Field(default=10, ge=1)
    allowed_lateness_s: float = Field(default=300, ge=0, description="later events skip windows and sessions")
    max_future_s: float = Field(default=300, ge=0, description="event times further ahead are clamped")
    session_gap_s: float = Field(default=1800, gt=0, description="inactivity that ends a session")
    publish_processed: bool = Field(default=True, description="publish enriched events to user-analytics")
    scoring: bool = Field(default=True, description="score every event for anomalies")
    anomaly_threshold: float = Field(
        default=DEFAULT_THRESHOLD, ge=0, le=1, description="combined score at which an event is an anomaly"
    )
    online_only_threshold: float = Field(
        default=ONLINE_ONLY_THRESHOLD, ge=0, le=1, description="the same, while no batch model is trained yet"
    )
    model_poll_s: float = Field(default=30, gt=0, description="how often to look for a newer batch model")
    detector_snapshot_s: float = Field(
        default=30, ge=0, description="how often the online model's state, and a changed user's feature state, is saved"
    )
    auto_train: bool = Field(default=True, description="train the batch model: once enough events, then on schedule")
    retrain_every_s: float = Field(default=3600, gt=0, description="age at which the batch model is retrained")
    train_window_h: float = Field(default=24, gt=0, description="hours of events the batch model learns from")
    train_min_events: int = Field(default=5_000, ge=1, description="fewest events to train the batch model on")
    train_retry_s: float = Field(default=60, gt=0, description="wait after a training that could not happen")
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="serve Prometheus metrics here (+ process id in a cluster)"
    )
    scoring_users_in_memory: int = Field(default=50_000, ge=1, description="per partition")

    def timing_rules(self) -> TimingRules:
        return TimingRules(
            allowed_lateness=timedelta(seconds=self.allowed_lateness_s),
            max_future=timedelta(seconds=self.max_future_s),
            session_gap=timedelta(seconds=self.session_gap_s),
        )

    def scoring_rules(self) -> ScoringRules:
        return ScoringRules(
            threshold=self.anomaly_threshold,
            online_only_threshold=self.online_only_threshold,
            model_poll_s=self.model_poll_s,
            snapshot_every_s=self.detector_snapshot_s,
            users_in_memory=self.scoring_users_in_memory,
        )


class ApiSettings(BaseSettings):
    """`ANALYTICS_API_*`: the HTTP API."""

    model_config = SettingsConfigDict(env_prefix="ANALYTICS_API_")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    metrics_from: list[str] = Field(
        default_factory=list,
        description="Sibling processes' /metrics URLs to include in this API's /metrics (one-machine runs)",
    )
    rate_limit_per_second: int = Field(default=1000, ge=1, description="requests per second per API key")
    cache_ttl_s: int = Field(default=2, ge=1, description="stats responses are cached this long")


class TracingSettings(BaseSettings):
    """`ANALYTICS_TRACE_*`: OpenTelemetry sampling (the exporter is configured by `OTEL_EXPORTER_OTLP_*`)."""

    model_config = SettingsConfigDict(env_prefix="ANALYTICS_TRACE_")

    sample_ratio: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="share of new traces sampled; unset: 1.0 for API requests, 0.01 for generated events",
    )


class Settings(BaseSettings):
    """`ANALYTICS_*`: the whole configuration."""

    model_config = SettingsConfigDict(env_prefix="ANALYTICS_")

    data_dir: Path = Path(".analytics")
    api_keys: SecretStr | None = None
    redis_url: SecretStr | None = None  # may carry a password (redis://:pw@host)
    log_level: str = "INFO"
    producer_metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="generate/produce serve their producer metrics on this port"
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    processor: ProcessorSettings = Field(default_factory=ProcessorSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)

    @property
    def processor_version(self) -> str:
        return f"analytics-processor/{VERSION}"

"""Kafka and Postgres security settings: what reaches librdkafka and libpq, what is refused,
and that no secret shows when the settings are printed.

SASL/SCRAM cannot be shown end to end here: the embedded broker (Tansu 0.6.0) only answers
SASL with `--authentication`, and then also refuses the unauthenticated request that would
create the first user (its memory storage starts with none). So the SCRAM settings are
checked against librdkafka itself, which validates them when a client is made.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Producer
from pydantic import ValidationError

from entrypoints.settings import DatabaseSettings, KafkaSettings, Settings

SASL_PASSWORD = "Sasl-S3cret-pw"
DB_PASSWORD = "S3cretPw"
API_KEY = "plain-api-key-0123456789"


def test_scram_over_tls_settings_become_the_librdkafka_config(monkeypatch):
    for name, value in {
        "SECURITY_PROTOCOL": "SASL_SSL",
        "SASL_MECHANISM": "SCRAM-SHA-512",
        "SASL_USERNAME": "analytics",
        "SASL_PASSWORD": SASL_PASSWORD,
        "SSL_CA_LOCATION": "/etc/analytics/ca.pem",
    }.items():
        monkeypatch.setenv(f"ANALYTICS_KAFKA_{name}", value)

    assert Settings().kafka.client_config("kafka-1:9093,kafka-2:9093") == {
        "bootstrap.servers": "kafka-1:9093,kafka-2:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "analytics",
        "sasl.password": SASL_PASSWORD,
        "ssl.ca.location": "/etc/analytics/ca.pem",
    }


def test_mutual_tls_settings_pass_the_client_certificate_and_key():
    config = KafkaSettings(
        security_protocol="SSL",
        ssl_ca_location=Path("/tls/ca.pem"),
        ssl_certificate_location=Path("/tls/client.pem"),
        ssl_key_location=Path("/tls/client.key"),
    ).client_config("kafka:9093")

    assert config == {
        "bootstrap.servers": "kafka:9093",
        "security.protocol": "SSL",
        "ssl.ca.location": "/tls/ca.pem",
        "ssl.certificate.location": "/tls/client.pem",
        "ssl.key.location": "/tls/client.key",
    }


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])
def test_librdkafka_accepts_every_sasl_mechanism_the_settings_allow(mechanism):
    settings = KafkaSettings(
        security_protocol="SASL_PLAINTEXT", sasl_mechanism=mechanism, sasl_username="u", sasl_password="p"
    )

    # A client is made (and its config checked) without connecting; port 9 is never dialled
    # successfully on loopback, and the producer is dropped at once.
    Producer({**settings.client_config("127.0.0.1:9"), "socket.connection.setup.timeout.ms": 1000})


def test_nothing_in_the_settings_switches_certificate_verification_off():
    config = KafkaSettings(
        security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-256", sasl_username="u", sasl_password="p"
    ).client_config("kafka:9093")

    assert "enable.ssl.certificate.verification" not in config
    assert "ssl.endpoint.identification.algorithm" not in config  # librdkafka's default: https


@pytest.mark.parametrize(
    "settings",
    [
        {"security_protocol": "PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "u"},
        {"security_protocol": "SSL", "sasl_username": "u", "sasl_password": "p"},
        {"security_protocol": "SASL_SSL", "sasl_username": "u", "sasl_password": "p"},
        {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_password": "p"},
        {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256", "sasl_username": "u"},
    ],
    ids=["sasl-without-sasl-protocol", "credentials-on-ssl", "no-mechanism", "no-username", "no-password"],
)
def test_inconsistent_sasl_settings_are_refused_at_startup(settings):
    # Otherwise librdkafka would connect without the credentials (a warning in its log at
    # most), or fall back to GSSAPI, which this build lacks; both fail later and obscurely.
    with pytest.raises(ValidationError, match="SASL"):
        KafkaSettings(**settings)


def test_postgres_tls_settings_become_libpq_connect_args():
    settings = DatabaseSettings(sslmode="verify-full", sslrootcert=Path("/tls/ca.pem"))

    assert settings.connect_args() == {"sslmode": "verify-full", "sslrootcert": "/tls/ca.pem"}
    assert DatabaseSettings().connect_args() == {}


def test_printing_the_settings_shows_no_secret(monkeypatch):
    monkeypatch.setenv("ANALYTICS_API_KEYS", f"{API_KEY}:admin")
    monkeypatch.setenv(
        "ANALYTICS_DATABASE_URL", f"postgresql+psycopg://analytics:{DB_PASSWORD}@db.internal:5432/analytics"
    )
    monkeypatch.setenv("ANALYTICS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("ANALYTICS_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("ANALYTICS_KAFKA_SASL_USERNAME", "analytics")
    monkeypatch.setenv("ANALYTICS_KAFKA_SASL_PASSWORD", SASL_PASSWORD)
    settings = Settings()

    for shown in (repr(settings), str(settings), repr(settings.database), repr(settings.kafka)):
        for secret in (API_KEY, DB_PASSWORD, SASL_PASSWORD):
            assert secret not in shown
    # Still useful to read: where the database is, minus the password.
    assert "postgresql+psycopg://analytics:***@db.internal:5432/analytics" in repr(settings)
    # ...and the values themselves are intact for the code that needs them.
    assert DB_PASSWORD in settings.database.url
    assert settings.kafka.client_config("k:9093")["sasl.password"] == SASL_PASSWORD


def test_a_database_url_that_cannot_be_parsed_is_hidden_whole():
    shown = repr(DatabaseSettings(url=f"not a url but {DB_PASSWORD}"))

    assert DB_PASSWORD not in shown

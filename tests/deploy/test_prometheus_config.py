"""Prometheus: promtool accepts the config and rules, the alert unit tests pass, and the scrape
targets match the services docker-compose.yml runs."""

from __future__ import annotations

import pytest

from tests.deploy.support import PROMETHEUS_DIR, compose, load_yaml, promtool, run

CONFIG = PROMETHEUS_DIR / "prometheus.yml"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERT_TESTS = PROMETHEUS_DIR / "tests" / "alerts_test.yml"


def _promtool(*args: str):
    result = run([promtool(), *args], cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_promtool_accepts_the_config_and_the_rules_it_loads():
    # `check config` also checks every rule file, resolved relative to the config file.
    output = _promtool("check", "config", str(CONFIG)).stdout
    assert "1 rule files found" in output


def test_promtool_accepts_the_alert_rules():
    _promtool("check", "rules", str(ALERTS))


def test_each_alert_fires_on_its_case_and_not_on_a_near_miss():
    _promtool("test", "rules", str(ALERT_TESTS))


def _targets(job: str) -> list[str]:
    (scrape,) = [s for s in load_yaml(CONFIG)["scrape_configs"] if s["job_name"] == job]
    return [target for group in scrape["static_configs"] for target in group["targets"]]


def test_every_process_of_the_dataflow_is_scraped():
    services = compose()["services"]
    command = services["processor"]["command"]
    processes = int(command[command.index("--processes") + 1])
    base = int(services["processor"]["environment"]["ANALYTICS_PROCESSOR_METRICS_PORT"])
    assert processes == services["kafka"]["environment"]["KAFKA_NUM_PARTITIONS"]
    assert _targets("processor") == [f"processor:{base + i}" for i in range(processes)]


def test_api_generator_and_prometheus_are_scraped():
    config = load_yaml(CONFIG)
    assert config["global"]["scrape_interval"] == "15s"
    assert _targets("api") == ["api:8000"]
    port = compose()["services"]["generator"]["environment"]["ANALYTICS_PRODUCER_METRICS_PORT"]
    assert _targets("generator") == [f"generator:{port}"]
    assert _targets("prometheus") == ["localhost:9090"]
    assert {s["job_name"]: s.get("metrics_path", "/metrics") for s in config["scrape_configs"]}["api"] == "/metrics"


def test_rule_files_exist_next_to_the_config():
    for rule_file in load_yaml(CONFIG)["rule_files"]:
        assert (PROMETHEUS_DIR / rule_file).is_file()


@pytest.mark.parametrize(
    "rule", [r for g in load_yaml(ALERTS)["groups"] for r in g["rules"]], ids=lambda rule: rule["alert"]
)
def test_every_alert_waits_has_a_severity_and_explains_itself(rule):
    assert rule["for"]
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_the_requested_alerts_exist():
    names = {r["alert"] for g in load_yaml(ALERTS)["groups"] for r in g["rules"]}
    assert {"ConsumerLagGrowing", "DeadLetterRateHigh", "NoEventsStored", "ApiErrorRateHigh", "ProcessorDown"} <= names

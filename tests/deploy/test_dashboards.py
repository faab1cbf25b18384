"""Grafana: provisioning and dashboards are well formed, and every metric a panel or an alert
queries is one the platform exports (a renamed metric must fail here, not leave a panel empty)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.deploy.support import DASHBOARDS_DIR, DEPLOY, PROMETHEUS_DIR, compose, load_yaml, promtool, run

DASHBOARDS = sorted(DASHBOARDS_DIR.glob("*.json"))
PROVISIONING = DEPLOY / "grafana" / "provisioning"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}

# PromQL words that look like identifiers: functions, aggregations, keywords, the `le` label.
PROMQL_WORDS = frozenset(
    """
    abs absent absent_over_time acos acosh asin asinh atan atanh ceil changes clamp clamp_max clamp_min cos cosh
    day_of_month day_of_week day_of_year days_in_month deg delta deriv exp floor histogram_avg histogram_count
    histogram_fraction histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters
    double_exponential_smoothing hour idelta increase irate label_join label_replace ln log2 log10 minute month pi
    predict_linear rad rate resets round scalar sgn sin sinh sort sort_by_label sort_by_label_desc sort_desc sqrt
    tan tanh time timestamp vector year avg_over_time count_over_time last_over_time mad_over_time max_over_time
    min_over_time present_over_time quantile_over_time stddev_over_time stdvar_over_time sum_over_time
    avg bottomk count count_values group limitk limit_ratio max min quantile stddev stdvar sum topk
    and or unless by without on ignoring group_left group_right bool offset atan2 le inf nan
    """.split()
)
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_VARIABLES = re.compile(r"\$\{?\w+\}?")
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPINGS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# An identifier followed by `{`, `[`, `)`, whitespace or the end: a metric unless a PromQL word.
_NAME = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)(?=[\s{\[)]|$)")


def promql_metric_names(expr: str) -> set[str]:
    """Metric names queried by a PromQL expression (label names, durations, functions left out)."""
    stripped = _STRINGS.sub('""', expr)
    stripped = _VARIABLES.sub("", stripped)
    stripped = _MATCHERS.sub("{}", stripped)
    stripped = _RANGES.sub("[]", stripped)
    stripped = _GROUPINGS.sub(" ", stripped)
    return {name for name in _NAME.findall(stripped) if name not in PROMQL_WORDS}


def test_the_extractor_finds_metrics_and_nothing_else():
    expr = (
        'histogram_quantile(0.95, sum by (le, partition) (rate(analytics_db_write_seconds_bucket{job="processor",'
        ' path=~"/v1/{id}"}[$__rate_interval]))) / ignoring(instance) group_left '
        "sum without (instance) (increase(analytics_events_processed_total[5m] offset 1h)) "
        "or absent(up) > bool 1e-9 and on (partition) max(analytics_consumer_lag)"
    )
    assert promql_metric_names(expr) == {
        "analytics_db_write_seconds_bucket",
        "analytics_events_processed_total",
        "up",
        "analytics_consumer_lag",
    }
    assert promql_metric_names("sum(rate(x_total[1m])) by (le)") == {"x_total"}
    assert promql_metric_names("metric_a\n/\nmetric_b") == {"metric_a", "metric_b"}


def _dashboard(path: Path) -> dict:
    return json.loads(path.read_text())


def _panel_exprs() -> list[tuple[str, str]]:
    return [
        (f"{path.name}: {panel['title']}", target["expr"])
        for path in DASHBOARDS
        for panel in _dashboard(path)["panels"]
        for target in panel.get("targets", [])
    ]


def _alert_exprs() -> list[tuple[str, str]]:
    rules = load_yaml(PROMETHEUS_DIR / "alerts.yml")
    return [(f"alerts.yml: {r['alert']}", r["expr"]) for g in rules["groups"] for r in g["rules"]]


def test_the_four_dashboards_exist():
    assert {p.name for p in DASHBOARDS} == {"overview.json", "kafka.json", "business.json", "system-health.json"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_well_formed(path):
    board = _dashboard(path)
    assert board["uid"] and board["title"] and board["panels"]
    assert board["schemaVersion"] == 39
    assert board["id"] is None  # provisioned: Grafana assigns it
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "text":
            continue
        assert panel["type"] in {"timeseries", "stat"}, panel["title"]
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE and target["expr"].strip(), panel["title"]


def test_dashboard_uids_and_titles_are_unique():
    boards = [_dashboard(p) for p in DASHBOARDS]
    assert len({b["uid"] for b in boards}) == len(boards)
    assert len({b["title"] for b in boards}) == len(boards)


@pytest.fixture(scope="module")
def catalog() -> set[str]:
    from entrypoints.metrics_catalog import exported_metric_names

    return exported_metric_names()


@pytest.mark.parametrize("where, expr", [pytest.param(w, e, id=w) for w, e in _panel_exprs() + _alert_exprs()])
def test_every_queried_metric_is_exported(where, expr, catalog):
    names = promql_metric_names(expr)
    assert names, f"{where}: no metric found in {expr!r}"
    assert names <= catalog, f"{where}: not exported: {sorted(names - catalog)}"


def test_promtool_parses_every_panel_query(tmp_path):
    # Each query as a recording rule: `promtool check rules` parses it as Prometheus would.
    grafana_vars = re.compile(r"\$__(?:rate_interval|interval|range)")
    rules = [
        {"record": f"dashboard:query_{i}", "expr": grafana_vars.sub("1m", expr)}
        for i, (_, expr) in enumerate(_panel_exprs())
    ]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = run([promtool(), "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_datasource_is_the_one_the_panels_use():
    (source,) = load_yaml(PROVISIONING / "datasources" / "prometheus.yml")["datasources"]
    assert source["uid"] == DATASOURCE["uid"] and source["type"] == DATASOURCE["type"]
    assert source["url"] == "http://prometheus:9090" and source["isDefault"] is True


def test_grafana_loads_the_dashboards_from_where_compose_mounts_them():
    (provider,) = load_yaml(PROVISIONING / "dashboards" / "dashboards.yml")["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    mounts = dict(v.split(":")[:2][::-1] for v in compose()["services"]["grafana"]["volumes"])
    assert mounts[path] == "./deploy/grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"

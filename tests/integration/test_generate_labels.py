"""`generate --anomaly-rate --labels`: the ground truth matches the events written, one to one."""

from __future__ import annotations

import csv
import json

import pytest

from tests.integration.platform import analytics

pytestmark = pytest.mark.integration


def test_labels_match_the_generated_events_one_to_one(tmp_path):
    labels = tmp_path / "labels.csv"
    result = analytics(
        "generate", "--count", "3000", "--seed", "1", "--anomaly-rate", "0.02", "--labels", str(labels), "--stdout",
        env={},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()[-2000:]

    events = [json.loads(line) for line in result.stdout.splitlines()]
    with labels.open(newline="") as f:
        header, *rows = list(csv.reader(f))
    assert header == ["event_id", "label", "kind"]
    assert len(events) == len(rows) == 3000
    assert [row[0] for row in rows] == [e["event_id"] for e in events]
    assert all((label, kind == "") in {("0", True), ("1", False)} for _, label, kind in rows)
    anomalous = [kind for _, label, kind in rows if label == "1"]
    assert 0.01 * 3000 <= len(anomalous) <= 0.05 * 3000

    with (tmp_path / "labels.csv.churn.csv").open(newline="") as f:
        header, *churn = list(csv.reader(f))
    assert header == ["user_id", "churned"]
    assert sorted(user for user, _ in churn) == sorted({e["user_id"] for e in events})
    assert any(churned == "1" for _, churned in churn)

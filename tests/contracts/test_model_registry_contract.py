"""One contract for the model ports, each suite run against every implementation.

- `ModelRegistry` (domain.scoring): `InMemoryModelRegistry` and `FileModelRegistry.for_kind`;
- `ModelCatalog` (application.anomaly_training): `InMemoryModelCatalog` and `PostgresModelCatalog`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from adapters.in_memory.models import InMemoryModelCatalog, InMemoryModelRegistry
from adapters.ml.isolation_forest import SklearnIsolationForest
from adapters.ml.model_store import FileModelRegistry
from adapters.postgres.anomaly_training import PostgresModelCatalog
from application.anomaly_training import ModelCatalog
from domain.detection import PREPARED_NAMES
from domain.errors import NotFound
from domain.scoring import ModelInfo, ModelRegistry, ModelVersion

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
KIND = "if"
VERSION = re.compile(r"if-\d{8}T\d{6}-[0-9a-f]{8}")
ROWS = [tuple(float((i * 7 + j * 3) % 11) for j in range(4)) for i in range(200)] + [(50.0, -50.0, 50.0, -50.0)]


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 1.0) -> None:
        self.now += timedelta(seconds=seconds)


def make_info(kind: str = KIND, **overrides) -> ModelInfo:
    fields = {
        "kind": kind,
        "params": {"n_estimators": 10, "contamination": "auto", "window_seconds": 3600.0},
        "trained_from": T0 - timedelta(hours=1),
        "trained_to": T0,
        "metrics": {"score_p50": 0.41, "roc_auc": 0.97},
        "features": PREPARED_NAMES,
        **overrides,
    }
    return ModelInfo(**fields)


def forest(seed: int = 0) -> SklearnIsolationForest:
    return SklearnIsolationForest(name=KIND).fit(ROWS, n_estimators=10, max_samples=64, random_state=seed)


# -- ModelRegistry ---------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["in_memory", "file"])
def make_registry(request, tmp_path, clock):
    """(kind) -> a `ModelRegistry` of that kind; registries of one test share one store and clock."""
    if request.param == "in_memory":
        stores: dict[str, InMemoryModelRegistry] = {}
        return lambda kind=KIND: stores.setdefault(kind, InMemoryModelRegistry(kind, clock=clock))
    files = FileModelRegistry(tmp_path / "models", clock=clock)
    return lambda kind=KIND: files.for_kind(kind)


@pytest.fixture
def registry(make_registry) -> ModelRegistry:
    return make_registry()


def test_latest_is_none_when_nothing_is_saved(registry):
    assert registry.latest() is None


def test_save_then_latest_returns_it(registry, clock):
    info = make_info()

    saved = registry.save(forest(), info)

    assert VERSION.fullmatch(saved.version)
    assert saved.created_at == clock.now and saved.created_at.tzinfo is not None
    assert saved.info == info
    assert registry.latest() == saved


def test_a_newer_save_wins_latest_whatever_the_order_of_saves(registry, clock):
    first = registry.save(forest(1), make_info())
    clock.advance()
    second = registry.save(forest(2), make_info(metrics={"roc_auc": 0.5}))
    assert second.version != first.version
    assert registry.latest() == second

    clock.advance(-3600)  # a save stamped earlier (e.g. a slow clock elsewhere) is not the latest
    registry.save(forest(3), make_info())

    assert registry.latest() == second


def test_load_returns_a_detector_scoring_like_the_saved_one(registry):
    saved_detector = forest(4)
    version = registry.save(saved_detector, make_info())

    loaded = registry.load(registry.latest())

    assert loaded.name == KIND
    assert loaded.score(ROWS) == saved_detector.score(ROWS)
    assert registry.load(version).score(ROWS[-1:])[0] > 0.6  # the outlier still stands out


def test_each_version_loads_its_own_detector(registry, clock):
    versions = []
    for seed in range(3):
        versions.append((registry.save(forest(seed), make_info()), forest(seed)))
        clock.advance()

    for version, expected in versions:
        assert registry.load(version).score(ROWS) == expected.score(ROWS)


def test_a_model_of_another_kind_is_rejected(registry):
    with pytest.raises(ValueError):
        registry.save(forest(), make_info(kind="hst"))
    assert registry.latest() is None


def test_a_version_of_another_kind_does_not_load(make_registry):
    other = make_registry("hst").save(forest(), make_info(kind="hst"))

    with pytest.raises(NotFound):
        make_registry(KIND).load(other)
    assert make_registry(KIND).latest() is None  # kinds do not see each other's versions


def test_an_unknown_version_does_not_load(registry):
    missing = ModelVersion(version="if-20261127T100000-0badc0de", created_at=T0, info=make_info())

    with pytest.raises(NotFound):
        registry.load(missing)


def test_empty_params_record_the_detectors_own(registry):
    detector = forest()

    saved = registry.save(detector, make_info(params={}))

    assert saved.info.params["n_estimators"] == 10 and saved.info.params["max_samples"] == 64
    assert registry.latest().info.params == saved.info.params


# -- ModelCatalog ----------------------------------------------------------------------------------


@pytest.fixture(params=["in_memory", pytest.param("postgres", marks=pytest.mark.integration)])
def catalog(request) -> ModelCatalog:
    if request.param == "in_memory":
        return InMemoryModelCatalog()
    engine = request.getfixturevalue("postgres_engine")
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE models"))
    return PostgresModelCatalog(engine)


def model(version: str, created_at: datetime, kind: str = KIND, **info) -> ModelVersion:
    return ModelVersion(version=version, created_at=created_at, info=make_info(kind, **info))


def test_an_empty_catalog_has_no_latest_and_lists_nothing(catalog):
    assert catalog.latest(KIND) is None
    assert catalog.list(KIND) == []


def test_record_then_latest_returns_it_as_recorded(catalog):
    version = model(
        "if-20261127T100000-00000001",
        T0,
        params={"n_estimators": 200, "contamination": "auto", "random_state": None, "nested": {"a": [1, 2]}},
        metrics={"score_p99_9": 0.7149545570564378, "labelled_events": 20000.0, "roc_auc": 0.9949555557963476},
    )

    catalog.record(version, 20_000)

    latest = catalog.latest(KIND)
    assert latest == version
    assert latest.created_at.utcoffset() is not None and latest.info.trained_to == T0
    assert latest.info.features == PREPARED_NAMES
    [entry] = catalog.list(KIND)
    assert (entry.model, entry.training_events) == (version, 20_000)


def test_the_newest_created_is_latest_and_lists_come_newest_first(catalog):
    recorded = [
        model("if-20261127T100000-00000002", T0 + timedelta(minutes=2)),
        model("if-20261127T100000-00000001", T0),
        model("if-20261127T100000-00000003", T0 + timedelta(minutes=1)),
        model("if-20261127T100000-00000004", T0 + timedelta(minutes=1)),  # same time: the greater version first
    ]
    for n, version in enumerate(recorded):
        catalog.record(version, 1_000 + n)

    assert catalog.latest(KIND) == recorded[0]
    listed = catalog.list(KIND)
    assert [e.model.version[-1] for e in listed] == ["2", "4", "3", "1"]
    assert [e.training_events for e in listed] == [1_000, 1_003, 1_002, 1_001]
    assert [e.model.version[-1] for e in catalog.list(KIND, limit=2)] == ["2", "4"]


def test_kinds_are_kept_apart(catalog):
    mine = model("if-20261127T100000-00000001", T0)
    other = model("hst-20261127T110000-00000001", T0 + timedelta(hours=1), kind="hst")
    catalog.record(mine, 10)
    catalog.record(other, 20)

    assert catalog.latest(KIND) == mine
    assert catalog.latest("hst") == other
    assert [e.model for e in catalog.list("hst")] == [other]
    assert catalog.latest("churn") is None


def test_recording_a_version_again_changes_nothing(catalog):
    version = model("if-20261127T100000-00000001", T0)

    catalog.record(version, 10)
    catalog.record(version, 10)

    assert [(e.model, e.training_events) for e in catalog.list(KIND)] == [(version, 10)]


def test_bad_arguments_are_refused(catalog):
    with pytest.raises(ValueError):
        catalog.list(KIND, limit=0)
    with pytest.raises(ValueError):
        catalog.record(model("if-20261127T100000-00000001", T0), -1)
    assert catalog.latest(KIND) is None

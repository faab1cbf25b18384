"""What the anomaly detectors see and how their scores become one: shared by training,
live scoring and evaluation, so all three score the same way.

`prepare` turns a `domain.features` vector into the detectors' input: 11 of the 20 features,
heavy tails compressed with log1p. Dropped: the hour of day (in one global model it only encodes
the country's time zone), `device_changed` (a switch to a known device is everyday multi-device
use; `new_device` is the signal), the country count and `country_changed` (covered by
`seconds_since_country_change` and `new_country`), `is_login`, `events_last_1h` (ramps up while
a stream warms up, and saturates for bots), and the per-user amount z-score and ratio to median:
with a user's few, lognormal purchases they call many ordinary purchases 20-100 standard
deviations out, so they drowned the detectors in false positives; the absolute amount stays.
All 20 features still feed the rule-based `domain.anomaly_reasons.reasons`.

Weights 2:1 for the batch model (Isolation Forest, "if") against the online one (Half-Space
Trees, "hst") in a weighted mean: HST scores spread about twice as wide as IF's (median -> 99.9th
percentile: 0.53 -> 0.96 vs 0.40 -> 0.73), so 2:1 gives both the same say. The figures behind
these choices are in `adapters.ml.stream_evaluation`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import log1p

from domain.features import INDEX, Features
from domain.scoring import CombineMode

PREPARED_NAMES: tuple[str, ...] = (
    "events_last_1m",  # log1p, as every count and rate here
    "purchases_last_1m",
    "clicks_last_10s",
    "seconds_since_previous",  # log1p(min(s, GAP_CAP_S))
    "amount_log",  # already log1p(value)
    "seconds_since_country_change",  # log1p(min(s, GAP_CAP_S))
    "new_device",
    "new_country",
    "session_events_per_minute",
    "is_purchase",
    "is_click",
)
GAP_CAP_S = 3_600.0  # beyond an hour a gap tells a detector nothing more ("first event" included)
_LOG = frozenset({"events_last_1m", "purchases_last_1m", "clicks_last_10s", "session_events_per_minute"})
_GAP = frozenset({"seconds_since_previous", "seconds_since_country_change"})
PREPARED_COLUMNS: tuple[tuple[int, bool, bool], ...] = tuple(
    (INDEX[name], name in _LOG, name in _GAP) for name in PREPARED_NAMES
)
"""Per prepared column: its index in a `domain.features` vector, whether log1p, whether a capped gap."""
(_EVENTS_1M, _PURCHASES_1M, _CLICKS_10S, _SINCE_PREVIOUS, _AMOUNT_LOG, _SINCE_COUNTRY_CHANGE, _NEW_DEVICE,
 _NEW_COUNTRY, _SESSION_RATE, _IS_PURCHASE, _IS_CLICK) = (INDEX[name] for name in PREPARED_NAMES)  # fmt: skip

BATCH_DETECTOR = "if"
ONLINE_DETECTOR = "hst"
DEFAULT_WEIGHTS: dict[str, float] = {BATCH_DETECTOR: 2.0, ONLINE_DETECTOR: 1.0}  # by detector name
COMBINE_MODE: CombineMode = "mean"
DEFAULT_THRESHOLD = 0.71  # combined; precision 0.54-0.73, recall 0.73-0.82 over 8 seeds (0.70: precision 0.48+)
# Before any batch model is trained the online model scores alone; its scores spread wider (median 0.53,
# 99.9th percentile 0.96), and early on, with few windows learned, wider still: 0.71 flagged a third of
# a fresh platform's events. At 0.95 only its most isolated events are flagged.
ONLINE_ONLY_THRESHOLD = 0.95


def prepare(features: Features) -> Features:
    """The detectors' input (aligned with PREPARED_NAMES) from a `domain.features` vector.

    Spelled out rather than looped over `PREPARED_COLUMNS`: it runs for every event (a test checks the
    two agree)."""
    f = features
    return (
        log1p(f[_EVENTS_1M]),
        log1p(f[_PURCHASES_1M]),
        log1p(f[_CLICKS_10S]),
        log1p(min(f[_SINCE_PREVIOUS], GAP_CAP_S)),
        f[_AMOUNT_LOG],
        log1p(min(f[_SINCE_COUNTRY_CHANGE], GAP_CAP_S)),
        f[_NEW_DEVICE],
        f[_NEW_COUNTRY],
        log1p(f[_SESSION_RATE]),
        f[_IS_PURCHASE],
        f[_IS_CLICK],
    )


PrepareBatch = Callable[[Sequence[Features]], Sequence[Features]]
"""`prepare` over a batch. An adapter may answer with an array that the detectors take as it is."""


def prepare_batch(features: Sequence[Features]) -> list[Features]:
    """`prepare` of every vector: the pure default of a `PrepareBatch`."""
    return [prepare(f) for f in features]


def prepare_by_table(features: Features) -> Features:
    """`prepare` as the table above says it: the reference the fast version is tested against."""
    out = []
    for i, log, gap in PREPARED_COLUMNS:
        value = features[i]
        out.append(log1p(min(value, GAP_CAP_S)) if gap else log1p(value) if log else value)
    return tuple(out)

"""What the in-memory store holds once committed: one `InMemoryState`, shared by its units of work."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import NamedTuple
from uuid import UUID

from adapters.in_memory.projections import ProjectionState
from application.messages import Anomaly, ReceivedEvent
from domain.failures import FailedEvent
from domain.features import UserFeatureState
from domain.users import User


class SavedFeatureState(NamedTuple):
    events_total: int
    state: UserFeatureState
    stored_before: int  # how many events were stored when it was saved: the later ones it lacks


@dataclass
class InMemoryState:
    """The committed contents; share one between units of work."""

    events: dict[UUID, ReceivedEvent] = field(default_factory=dict)
    scores: dict[UUID, float] = field(default_factory=dict)
    anomalies: dict[UUID, Anomaly] = field(default_factory=dict)
    detector_states: dict[tuple[str, int], tuple[bytes, int]] = field(default_factory=dict)
    feature_states: dict[str, SavedFeatureState] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    dead_letters: list[FailedEvent] = field(default_factory=list)
    offsets: dict[tuple[str, str, int], int] = field(default_factory=dict)
    replayed: set[int] = field(default_factory=set)
    projections: ProjectionState = field(default_factory=ProjectionState)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

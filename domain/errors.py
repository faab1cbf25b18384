"""The domain's error hierarchy; adapters translate driver errors into it."""

from __future__ import annotations

from domain.failures import ErrorType


class AnalyticsError(Exception):
    """Base of every error this platform raises on purpose."""


class InvalidEvent(AnalyticsError):
    """An input that is not a valid event of the contract."""

    def __init__(self, error_type: ErrorType, reason: str, event_id: str | None = None) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason
        self.event_id = event_id


class NotFound(AnalyticsError):
    """A requested entity does not exist."""


class StorageUnavailable(AnalyticsError):
    """The event store cannot be reached or refused a write for a transient reason."""


class BrokerUnavailable(AnalyticsError):
    """The event log (Kafka) cannot be reached or did not acknowledge a write."""


class RejectedByStore(AnalyticsError):
    """The store refused the data itself (not a transient failure); retrying will not help."""


class AlreadyStored(AnalyticsError):
    """Events given as all new were not: some are stored already (a redelivery, or another writer
    stored them first). The unit of work cannot go on: roll it back, and look before storing."""

"""The ingest dataflow: Kafka batches -> validate -> store exactly once.

`build_ingest_flow` only assembles steps from what it is given; nothing runs or
connects on import. Items are micro-batches of one Kafka partition (a list of
records), so Bytewax's per-item overhead is paid once per batch, not per event.
"""

from __future__ import annotations

from collections.abc import Callable

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from application.messages import IngestBatch, RawMessage

FLOW_ID = "analytics-ingest"


def partition_key(batch: IngestBatch) -> str:
    """Batches are routed by Kafka partition: one writer per partition keeps offsets in order."""
    return str(batch.position.partition)


def build_ingest_flow(
    source: Source[list[RawMessage]],
    sink: Sink[tuple[str, IngestBatch]],
    *,
    decode: Callable[[list[RawMessage]], IngestBatch],
    flow_id: str = FLOW_ID,
) -> Dataflow:
    """read_user_events -> decode_and_validate -> by_partition -> store_exactly_once."""
    flow = Dataflow(flow_id)
    records = op.input("read_user_events", flow, source)
    batches = op.map("decode_and_validate", records, decode)
    keyed = op.key_on("by_partition", batches, partition_key)
    op.output("store_exactly_once", keyed, sink)
    return flow

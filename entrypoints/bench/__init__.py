"""`analytics bench`: ingest throughput, produce-to-commit latency and the API, against a consumer
that inserts one event per transaction."""

"""OpenTelemetry adapters: trace context on Kafka records, spans of the dataflow's batches."""

"""The serving workload, `continuum serve`: Kafka requests scored by the registered PipelineModel,
predictions and dead letters written exactly once, the handoff Lease, health and metrics."""

"""What the scoring tasks name without Kafka or Spark."""

from __future__ import annotations

from continuum_workloads.serving.transactions import partition_transactional_id


def test_each_partition_of_the_requests_topic_has_a_transactional_id_of_its_own() -> None:
    ids = {partition_transactional_id("serving-used-cars", p) for p in range(3)}
    assert ids == {"serving-used-cars-0", "serving-used-cars-1", "serving-used-cars-2"}

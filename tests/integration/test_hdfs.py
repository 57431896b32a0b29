"""The stack's HDFS is real: WebHDFS lists what was written, Spark reads it over hdfs://."""

from __future__ import annotations

import time


def test_file_listed_through_webhdfs_and_read_by_spark(stack, hdfs_client, hdfs_dir, spark):
    rows = "make,price\nford,12500\ntoyota,18900\n"
    before_ms = int(time.time() * 1000)
    hdfs_client.write(f"{hdfs_dir}/cars.csv", data=rows, encoding="utf-8")

    listing = dict(hdfs_client.list(hdfs_dir, status=True))
    assert set(listing) == {"cars.csv"}
    status = listing["cars.csv"]
    assert status["type"] == "FILE"
    assert status["length"] == len(rows)
    assert before_ms - 5_000 <= status["modificationTime"] <= int(time.time() * 1000) + 5_000

    frame = spark.read.option("header", True).csv(f"{stack['HDFS_URI']}{hdfs_dir}/cars.csv")
    assert sorted((r["make"], int(r["price"])) for r in frame.collect()) == [
        ("ford", 12500),
        ("toyota", 18900),
    ]

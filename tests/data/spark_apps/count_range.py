"""A minimal PySpark application for the spark-operator stand-in's tests: counts a range."""

import sys

from pyspark.sql import SparkSession

if __name__ == "__main__":
    rows = int(sys.argv[1])
    spark = SparkSession.builder.getOrCreate()
    counted = spark.range(rows).count()
    spark.stop()
    if counted != rows:
        sys.exit(f"counted {counted} rows, expected {rows}")
    print(f"counted {counted} rows")

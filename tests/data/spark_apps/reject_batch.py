"""A PySpark application that fails the way a job rejecting its input does: a reason, exit 1."""

import sys

from pyspark.sql import SparkSession

if __name__ == "__main__":
    SparkSession.builder.getOrCreate().stop()
    print(f"batch {sys.argv[1]} rejected: missing columns price, year", file=sys.stderr)
    sys.exit(1)

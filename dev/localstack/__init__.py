"""Continuum's local stack: real Kubernetes, Kafka, HDFS, MLflow and Spark on 127.0.0.1.

`python -m localstack up|down|status|env|fetch` (wrapped by `make stack-*`). The components are
fetched or built from the package registries into a per-user cache, started as plain processes
whose data and logs live under one stack directory, and checked by one health probe each.
"""

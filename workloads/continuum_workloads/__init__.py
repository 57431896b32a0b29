"""Continuum workloads: the Spark jobs and the data tools."""

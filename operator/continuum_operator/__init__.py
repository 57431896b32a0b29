"""Continuum operator: the kopf handlers, reconcile logic and adapters."""

"""The security contexts of every pod Continuum creates (scorer pods, training drivers and
executors): what the restricted Pod Security Standard asks of a pod, so they run in namespaces
that enforce it. The images run as a non-root user of their own."""

from __future__ import annotations

from typing import Any


def pod_security_context() -> dict[str, Any]:
    return {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def container_security_context() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}

"""HTTP on the pod's one port: /healthz, /readyz and /metrics (the serving pod's contract)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from continuum_workloads.contract import HEALTHZ_PATH, METRICS_PATH, READYZ_PATH


class Readiness:
    """Why the pod is not ready, or None once it is. Each part of the pod (the model, the
    services it needs) states its own reason; the pod is ready when no part has one."""

    MODEL = "model"

    def __init__(self, reason: str) -> None:
        self._lock = threading.Lock()
        self._reasons: dict[str, str] = {self.MODEL: reason}

    def set(self, reason: str | None, part: str = MODEL) -> None:
        with self._lock:
            if reason is None:
                self._reasons.pop(part, None)
            else:
                self._reasons[part] = reason

    @property
    def reason(self) -> str | None:
        with self._lock:
            return "; ".join(self._reasons.values()) or None


def serve_probes(
    port: int, readiness: Readiness, registry: CollectorRegistry
) -> ThreadingHTTPServer:
    """Starts the HTTP server in a daemon thread; `shutdown()` stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == HEALTHZ_PATH:
                self._reply(200, b"ok\n", "text/plain")
            elif self.path == READYZ_PATH:
                reason = readiness.reason
                if reason is None:
                    self._reply(200, b"ready\n", "text/plain")
                else:
                    self._reply(503, f"not ready: {reason}\n".encode(), "text/plain")
            elif self.path == METRICS_PATH:
                self._reply(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            else:
                self._reply(404, b"not found\n", "text/plain")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # probes every few seconds
            return

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    return server

"""The handoff Lease (coordination.k8s.io/v1): only its holder runs the queries.

The operator creates the Lease; pods only read and update it. A pod takes it when it is free,
expired, or already its own; renews it while it holds it; and on a graceful stop gives it up by
clearing the holder. The Lease orders a handoff but is not a fence (a paused holder can wake up
after it expired): the Kafka transactional.id is.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)
DEFAULT_DURATION_S = 15


def may_take(
    holder: str | None,
    renewed: datetime | None,
    duration_s: int | None,
    me: str,
    now: datetime,
) -> bool:
    """Whether `me` may write itself as the holder: nobody holds it, `me` already does, or the
    holder has not renewed within its duration."""
    if not holder or holder == me or renewed is None:
        return True
    return renewed + timedelta(seconds=duration_s or DEFAULT_DURATION_S) < now


class HandoffLease:
    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        name: str,
        me: str,
        duration_s: int = DEFAULT_DURATION_S,
    ) -> None:
        self._leases = client.CoordinationV1Api(api)
        self.namespace, self.name, self.me, self.duration_s = namespace, name, me, duration_s
        self.lost = threading.Event()
        """Set when a renewal finds the Lease held by someone else or expired under us."""
        self._stop_renewing = threading.Event()
        self._renewer: threading.Thread | None = None
        self._renewed_at = float("-inf")  # time.monotonic() of the last successful take

    def _now(self) -> datetime:
        return datetime.now(UTC)

    def try_take(self) -> bool:
        """One attempt; True if this pod holds the Lease afterwards."""
        lease = self._leases.read_namespaced_lease(self.name, self.namespace)
        spec = lease.spec or client.V1LeaseSpec()
        now = self._now()
        if not may_take(spec.holder_identity, spec.renew_time, spec.lease_duration_seconds,
                        self.me, now):  # fmt: skip
            return False
        if spec.holder_identity != self.me:
            spec.acquire_time = now
            spec.lease_transitions = (spec.lease_transitions or 0) + 1
        spec.holder_identity = self.me
        spec.renew_time = now
        spec.lease_duration_seconds = self.duration_s
        lease.spec = spec
        asked_at = time.monotonic()
        try:  # the resourceVersion read above makes this a compare-and-swap
            self._leases.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException as error:
            if error.status == 409:
                return False
            raise
        self._renewed_at = asked_at
        return True

    def current(self) -> bool:
        """Whether this pod can be sure it still holds the Lease: not lost, and renewed within
        its duration by this process's own clock. A pod paused longer than that (SIGSTOP, a
        long GC) wakes up not current, before its renewer has even run."""
        return not self.lost.is_set() and time.monotonic() - self._renewed_at < self.duration_s

    def take(self, stop: threading.Event, retry_s: float = 1.0) -> bool:
        """Blocks until this pod holds the Lease (then keeps renewing it) or `stop` is set."""
        while not stop.is_set():
            try:
                if self.try_take():
                    log.info("holding Lease %s/%s", self.namespace, self.name)
                    self._start_renewing()
                    return True
            except ApiException as error:
                log.warning("cannot read or update Lease %s: %s", self.name, error.reason)
            stop.wait(retry_s)
        return False

    def _start_renewing(self) -> None:
        self.lost.clear()
        self._stop_renewing.clear()
        self._renewer = threading.Thread(target=self._renew_loop, name="lease-renewer", daemon=True)
        self._renewer.start()

    def _renew_loop(self) -> None:
        last_renewal = self._now()
        while not self._stop_renewing.wait(self.duration_s / 3):
            try:
                if not self.try_take():
                    log.error("Lease %s was taken over by another pod", self.name)
                    self.lost.set()
                    return
                last_renewal = self._now()
            except ApiException as error:
                log.warning("renewing Lease %s failed: %s", self.name, error.reason)
                if self._now() - last_renewal > timedelta(seconds=self.duration_s):
                    log.error("Lease %s expired while it could not be renewed", self.name)
                    self.lost.set()
                    return

    def release(self) -> None:
        """Stops renewing and clears the holder if it is still this pod."""
        self._stop_renewing.set()
        if self._renewer is not None:
            self._renewer.join()
        try:
            lease = self._leases.read_namespaced_lease(self.name, self.namespace)
            if lease.spec is None or lease.spec.holder_identity != self.me:
                return
            lease.spec.holder_identity = None
            lease.spec.renew_time = None
            self._leases.replace_namespaced_lease(self.name, self.namespace, lease)
            log.info("released Lease %s/%s", self.namespace, self.name)
        except ApiException as error:  # it expires on its own
            log.warning("releasing Lease %s failed: %s", self.name, error.reason)

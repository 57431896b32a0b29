"""One reconcile pass of a ServingDeployment: observe (its Secrets, the registry's latest word on
its model, its Deployment), decide with the pure functions (target, rollout, children), act, and
return the status to write and the Events to post.

What the pods run changes only when the registry has been heard from and names a version: with
MLflow unreachable, a model it does not know, or a Secret missing, whatever is deployed keeps
serving untouched and Ready says why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from continuum_operator.adapters.kube import Kube, owner_reference
from continuum_operator.adapters.registry import (
    MLFLOW_ROLLOUT_FAILED_TAG,
    Credentials,
    NotFound,
    Registry,
    RegistryError,
)
from continuum_operator.core.api import Kind
from continuum_operator.core.conditions import (
    AVAILABLE,
    DEGRADED,
    PROGRESSING,
    READY,
    REGISTRY_AVAILABLE,
    Conditions,
)
from continuum_operator.core.credentials import (
    SECRET_NOT_FOUND,
    SecretNotFound,
    mlflow_credentials,
)
from continuum_operator.core.loop import PassResult
from continuum_operator.core.spec import InvalidSpecError
from continuum_operator.core.status import Event
from continuum_operator.serving import children
from continuum_operator.serving.follow import ModelFollowers, ModelKey, Observation
from continuum_operator.serving.rollout import (
    ObservedDeployment,
    Phase,
    Rollout,
    ServingState,
    Step,
    plan,
)
from continuum_operator.serving.spec import ServingDeploymentSpec, parse_serving_deployment_spec
from continuum_operator.serving.target import resolve

RESYNC_INTERVAL = timedelta(minutes=5)
"""Passes come when something changes (spec, registry, Deployment); this is the longest gap."""
COMPANIONS_RESYNC = timedelta(minutes=10)
"""How often the objects beside the Deployment are applied again even if nothing changed, so
one deleted by hand comes back."""


@dataclass
class Memory:
    companions_applied: datetime | None = None
    """When this process last applied the Service, PDB, Lease and RBAC objects."""


@dataclass(frozen=True)
class _Problem:
    """Why the pods cannot be changed now; Ready says it."""

    reason: str
    message: str
    announce: bool = True
    """Whether Ready is the only condition that tells (then its change is an Event)."""


class ServingDeploymentController:
    """Reconciles ServingDeployments (`core.loop.Controller`)."""

    kind = Kind.SERVING_DEPLOYMENT

    def __init__(
        self,
        kube: Kube,
        followers: ModelFollowers,
        registry_for: Callable[[str, Credentials | None], Registry],
    ) -> None:
        self._kube = kube
        self._followers = followers
        self._registry_for = registry_for

    def new_memory(self) -> Memory:
        return Memory()

    def poll_interval(self, body: Mapping[str, Any]) -> timedelta:
        return RESYNC_INTERVAL

    def reconcile(self, body: Mapping[str, Any], memory: Memory, now: datetime) -> PassResult:
        metadata = body["metadata"]
        namespace, name = metadata["namespace"], metadata["name"]
        status = body.get("status") or {}
        generation = int(metadata.get("generation") or 0)
        conditions = Conditions(status, generation, now)
        result = PassResult({"observedGeneration": generation}, poll_interval=RESYNC_INTERVAL)
        try:
            spec = parse_serving_deployment_spec(body.get("spec") or {})
        except InvalidSpecError as error:
            conditions.set(READY, False, "InvalidSpec", str(error))
            result.status.update(phase=str(Phase.INVALID), conditions=conditions.items)
            result.events = conditions.events
            return result

        problem: _Problem | None = None
        target: str | None = None
        credentials: Credentials | None = None
        try:
            credentials = mlflow_credentials(self._kube, namespace, spec.mlflow)
            self._check_kafka_secret(namespace, spec)
        except SecretNotFound as error:
            problem = _Problem(SECRET_NOT_FOUND, str(error))
        else:
            key = ModelKey(spec.mlflow.tracking_uri, spec.model.name, credentials)
            observation = self._followers.follow((namespace, name), key, spec.mlflow.poll_interval)
            target, problem = self._target(spec, observation, conditions, result)

        raw = self._kube.deployment(namespace, children.child_name(name))
        observed = (
            None
            if raw is None
            else ObservedDeployment.from_body(raw, children.APPLIED_HASH_ANNOTATION)
        )
        step = plan(
            target if problem is None else None,
            observed,
            ServingState.from_status(status),
            generation=generation,
            auto_rollback=spec.rollout.auto_rollback,
            history_limit=spec.rollout.history_limit,
            now=now,
        )
        result.events.extend(step.events)
        if step.failed_rollout is not None:
            self._tag_failed(spec, credentials, namespace, name, step.failed_rollout, result)
        if problem is None and step.deploy is not None:
            self._apply(body, spec, step, observed, memory, now, result)

        self._conditions(spec, step, observed, problem, conditions)
        result.status.update(
            step.state.to_status(),
            phase=str(step.phase),
            targetVersion=target,
            replicas=observed.replicas if observed else 0,
            readyReplicas=observed.ready if observed else 0,
            availableReplicas=observed.available if observed else 0,
            updatedReplicas=observed.updated if observed else 0,
            conditions=conditions.items,
        )
        result.events[:0] = conditions.events
        return result

    def _check_kafka_secret(self, namespace: str, spec: ServingDeploymentSpec) -> None:
        reference = spec.kafka.security_secret_ref
        if reference is not None and self._kube.secret_data(namespace, reference.name) is None:
            raise SecretNotFound(
                f"spec.kafka.securitySecretRef: Secret {namespace}/{reference.name} does not exist"
            )

    def _target(
        self,
        spec: ServingDeploymentSpec,
        observation: Observation | None,
        conditions: Conditions,
        result: PassResult,
    ) -> tuple[str | None, _Problem | None]:
        server = spec.mlflow.tracking_uri
        if observation is None:
            conditions.set(
                REGISTRY_AVAILABLE, None, "Polling", f"waiting for the first poll of {server}"
            )
            return None, _Problem("Polling", f"waiting for the first poll of {server}", False)
        if isinstance(observation, NotFound):
            conditions.set(REGISTRY_AVAILABLE, True, "Reachable", server)
            return None, _Problem(
                "ModelNotFound",
                f"spec.model.name: MLflow at {server} has no registered model {spec.model.name}",
            )
        if isinstance(observation, RegistryError):
            conditions.set(REGISTRY_AVAILABLE, False, "RegistryUnreachable", str(observation))
            result.failed.append("Registry")
            return None, _Problem("RegistryUnreachable", str(observation), False)
        conditions.set(REGISTRY_AVAILABLE, True, "Reachable", server)
        target = resolve(spec.model, observation)
        if target.version is None:
            return None, _Problem(target.reason, target.message)
        return target.version, None

    def _tag_failed(
        self,
        spec: ServingDeploymentSpec,
        credentials: Credentials | None,
        namespace: str,
        name: str,
        rollout: Rollout,
        result: PassResult,
    ) -> None:
        """The failed version is marked in MLflow for whoever promotes versions next; the
        rollback does not wait for it."""
        value = f"{namespace}/{name}: {rollout.message or 'rollout failed'}"[:5000]
        try:
            self._registry_for(spec.mlflow.tracking_uri, credentials).tag(
                spec.model.name, rollout.to_version, MLFLOW_ROLLOUT_FAILED_TAG, value
            )
        except RegistryError as error:
            result.events.append(
                Event(
                    "TagFailed",
                    f"could not tag version {rollout.to_version} as failed: {error}",
                    warning=True,
                )
            )

    def _apply(
        self,
        body: Mapping[str, Any],
        spec: ServingDeploymentSpec,
        step: Step,
        observed: ObservedDeployment | None,
        memory: Memory,
        now: datetime,
        result: PassResult,
    ) -> None:
        metadata = body["metadata"]
        namespace, name = metadata["namespace"], metadata["name"]
        owner = owner_reference(body)
        companions = children.companions(namespace, name, owner)
        deployment = children.deployment(
            spec, namespace, name, step.deploy, owner, step.state.failed
        )
        digest = children.digest([*companions, deployment])
        deployment["metadata"]["annotations"][children.APPLIED_HASH_ANNOTATION] = digest
        changed = observed is None or observed.applied_hash != digest
        stale = memory.companions_applied is None or now - memory.companions_applied > (
            COMPANIONS_RESYNC
        )
        if changed or stale:
            # Before the Deployment: its pods need their ServiceAccount and Lease.
            for companion in companions:
                self._kube.apply(companion)
            memory.companions_applied = now
        if changed:
            self._kube.apply(deployment)
            if observed is None:
                result.events.append(
                    Event(
                        "Created",
                        f"created the scorer's Deployment, Service, PodDisruptionBudget, Lease, "
                        f"ServiceAccount, Role and RoleBinding ({children.child_name(name)})",
                    )
                )

    def _conditions(
        self,
        spec: ServingDeploymentSpec,
        step: Step,
        observed: ObservedDeployment | None,
        problem: _Problem | None,
        conditions: Conditions,
    ) -> None:
        if observed is None:
            conditions.set(AVAILABLE, False, "NotDeployed", "no scorer runs yet", problem_when=None)
            conditions.set(
                PROGRESSING, False, "NotDeployed", "no scorer runs yet", problem_when=None
            )
        else:
            counts = f"{observed.available}/{observed.desired} scorer pods available"
            if observed.minimum_available:
                conditions.set(AVAILABLE, True, "MinimumReplicasAvailable", counts)
            else:
                conditions.set(
                    AVAILABLE, False, "MinimumReplicasUnavailable", counts, new_reason_is_news=False
                )
        if step.progressing is not None:
            value = step.progressing
            conditions.set(
                PROGRESSING, value.status, value.reason, value.message, problem_when=None
            )
        degraded = step.degraded
        conditions.set(
            DEGRADED, degraded.status, degraded.reason, degraded.message, problem_when=True
        )

        if problem is not None:
            conditions.set(
                READY,
                False,
                problem.reason,
                problem.message,
                problem_when=False if problem.announce else None,
            )
        elif step.phase is not Phase.SERVING:
            reason = {
                Phase.ROLLING_OUT: "RollingOut",
                Phase.ROLLED_BACK: "RolledBack",
                Phase.FAILED: "RolloutFailed",
            }.get(step.phase, str(step.phase))
            conditions.set(READY, False, reason, f"phase {step.phase}", problem_when=None)
        elif observed is None or not observed.minimum_available:
            conditions.set(
                READY, False, "NotAvailable", "too few scorer pods are available", problem_when=None
            )
        else:
            serving = step.state.serving_version
            conditions.set(
                READY,
                True,
                "Serving",
                f"serving {spec.model.name} version {serving}",
                problem_when=None,
            )

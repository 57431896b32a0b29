"""Which model version a ServingDeployment should serve, from one snapshot of the registry."""

from __future__ import annotations

from dataclasses import dataclass

from continuum_operator.adapters.registry import ModelSnapshot
from continuum_operator.serving.spec import Model, ModelPolicy


@dataclass(frozen=True)
class Target:
    version: str | None
    """None when the policy names no version yet; the reason says why."""
    reason: str
    message: str


def resolve(model: Model, snapshot: ModelSnapshot) -> Target:
    if model.policy is ModelPolicy.ALIAS:
        version = snapshot.aliases.get(model.alias)
        if version is None:
            return Target(None, "AliasNotSet", f"{model.name} has no alias {model.alias!r} yet")
        return Target(version, "Alias", f"{model.name}@{model.alias} is version {version}")
    if model.policy is ModelPolicy.LATEST:
        if snapshot.latest_version is None:
            return Target(None, "NoVersion", f"{model.name} has no registered version yet")
        latest = snapshot.latest_version
        return Target(latest, "Latest", f"the latest version of {model.name} is {latest}")
    pinned = str(model.version)
    if snapshot.latest_version is None or int(pinned) > int(snapshot.latest_version):
        return Target(
            None,
            "VersionNotFound",
            f"spec.model.version: {model.name} has no version {pinned} "
            f"(latest: {snapshot.latest_version or 'none'})",
        )
    return Target(pinned, "Pinned", f"{model.name} version {pinned} is pinned")

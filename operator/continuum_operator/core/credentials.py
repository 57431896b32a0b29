"""The MLflow credentials of an object, from the Secret its spec names: the operator's own MLflow
client uses the same Secret as the object's pods (or Spark driver)."""

from __future__ import annotations

from continuum_operator.adapters.kube import Kube
from continuum_operator.adapters.registry import Credentials
from continuum_operator.core.spec import MLflowServer

SECRET_NOT_FOUND = "SecretNotFound"


class SecretNotFound(Exception):
    """A Secret the spec names does not exist; `str()` names the field and the Secret."""


def mlflow_credentials(kube: Kube, namespace: str, server: MLflowServer) -> Credentials | None:
    """None when the spec names no Secret (the operator's own environment applies)."""
    if server.credentials_secret_ref is None:
        return None
    name = server.credentials_secret_ref.name
    data = kube.secret_data(namespace, name)
    if data is None:
        raise SecretNotFound(
            f"spec.mlflow.credentialsSecretRef: Secret {namespace}/{name} does not exist"
        )
    return Credentials.from_secret_data(data)

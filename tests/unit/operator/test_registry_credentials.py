"""The operator's MLflow client authenticates with the credentials Secret an object names (the
keys are MLflow's own variable names), else with the operator's environment."""

from __future__ import annotations

import pytest

from continuum_operator.adapters.registry import Credentials, Registry, registry_for


def test_a_secrets_keys_are_mlflows_variables() -> None:
    credentials = Credentials.from_secret_data(
        {
            "MLFLOW_TRACKING_USERNAME": "ci",
            "MLFLOW_TRACKING_PASSWORD": "pw",
            "MLFLOW_TRACKING_INSECURE_TLS": "true",
            "unrelated": "x",
        }
    )

    assert credentials == Credentials(username="ci", password="pw", insecure_tls=True)
    assert Credentials.from_secret_data({"MLFLOW_TRACKING_TOKEN": "t"}).token == "t"


def test_requests_carry_the_objects_credentials() -> None:
    creds = Registry(
        "https://mlflow:5000", Credentials(username="ci", password="pw")
    ).host_credentials()

    assert (creds.host, creds.username, creds.password) == ("https://mlflow:5000", "ci", "pw")
    assert creds.ignore_tls_verification is False


def test_without_a_secret_the_operators_environment_applies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "operator-token")

    creds = Registry("https://mlflow:5000").host_credentials()

    assert creds.token == "operator-token"


def test_one_client_per_server_and_credentials() -> None:
    alice, bob = Credentials(username="alice"), Credentials(username="bob")

    assert registry_for("http://m", alice) is registry_for(
        "http://m", Credentials(username="alice")
    )
    assert registry_for("http://m", alice) is not registry_for("http://m", bob)

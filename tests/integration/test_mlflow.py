"""The stack's MLflow is a real tracking server with a model registry and aliases."""

from __future__ import annotations

import uuid

import mlflow
import pandas as pd


class AddOne(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.Series:
        return model_input["x"] + 1


def test_logged_run_registers_version_reachable_by_alias(stack, mlflow_client):
    mlflow.set_tracking_uri(stack["MLFLOW_TRACKING_URI"])
    model_name = f"stack-test-{uuid.uuid4().hex[:8]}"
    mlflow.set_experiment(f"stack-test-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run() as run:
        mlflow.log_metric("rmse", 1234.5)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=AddOne(),
            registered_model_name=model_name,
            input_example=pd.DataFrame({"x": [1.0]}),
        )
    assert str(info.registered_model_version) == "1"
    assert mlflow_client.get_run(run.info.run_id).data.metrics["rmse"] == 1234.5

    mlflow_client.set_registered_model_alias(model_name, "champion", "1")
    by_alias = mlflow_client.get_model_version_by_alias(model_name, "champion")
    assert (by_alias.version, by_alias.run_id) == ("1", run.info.run_id)

    model = mlflow.pyfunc.load_model(f"models:/{model_name}@champion")
    assert model.predict(pd.DataFrame({"x": [41.0]})).tolist() == [42.0]

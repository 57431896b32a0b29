"""ServingDeployments whose scorer pods really run on the stack's real node, from the workloads
image: they load their model from MLflow, score requests from Kafka, report Ready from their
probe and hand the Lease over while the operator rolls them forward or back.

What kwok's fake nodes cannot show is shown here: a rollout under a steady stream of requests
loses and duplicates none of them, the Deployment never has fewer Ready pods than asked for, and
a version whose pods never become Ready is rolled back while the old pod keeps serving.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from listing_model import register_listing_model
from pipeline_harness import Servings
from scoring_harness import CommittedReader, SteadyRequests, reckon

from continuum_operator.adapters.registry import MLFLOW_ROLLOUT_FAILED_TAG
from continuum_workloads.dataset.generator import generate_chunks
from continuum_workloads.serving.records import ModelIdentity
from localstack.harness import Operator, wait_for

pytestmark = pytest.mark.timeout(1800)

# A scorer pod starts a JVM and loads its model: ~30 s on an idle machine, minutes under load.
POD_WAIT_S = 600
# Long enough for a good version's pod to become Ready on a loaded machine; the never-Ready
# version is then given a short one.
PROGRESS_DEADLINE = "10m"
SHORT_DEADLINE = "45s"


@pytest.fixture(scope="module")
def listings() -> list[dict[str, str]]:
    frame = next(generate_chunks(500, seed=33))
    frame = frame[frame["mileage"].map(lambda m: m == "" or float(m) < 1_000_000)]
    return frame.to_dict("records")


@pytest.fixture(scope="module")
def scorer_model(stack, spark, listings) -> ModelIdentity:
    import pandas as pd

    return register_listing_model(spark, pd.DataFrame(listings[:300]), stack["MLFLOW_TRACKING_URI"])


@pytest.fixture
def node_servings(k8s_api: client.ApiClient, node_namespace: str) -> Iterator[Servings]:
    servings = Servings(k8s_api, node_namespace)
    yield servings
    servings.delete_all()


class ScorerPods:
    """Samples the scorer pods of one ServingDeployment in a thread: how many are Ready, and
    which pods (by uid) were Ready at each sample."""

    def __init__(self, k8s_api: client.ApiClient, namespace: str, name: str) -> None:
        self.core = client.CoreV1Api(k8s_api)
        self.namespace = namespace
        self.selector = f"continuum.ml/serving-deployment={name}"
        self.samples: list[set[str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ScorerPods:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def pods_now(self) -> dict[str, bool]:
        """Every scorer pod's uid, and whether it is Ready."""
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=self.selector).items
        return {
            pod.metadata.uid: any(
                c.type == "Ready" and c.status == "True" for c in pod.status.conditions or ()
            )
            for pod in pods
        }

    def ready_now(self) -> set[str]:
        return {uid for uid, ready in self.pods_now().items() if ready}

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.ready_now())
            time.sleep(0.2)

    @property
    def fewest_ready(self) -> int:
        return min(len(sample) for sample in self.samples)


def scorer_spec(
    stack: dict[str, str],
    images: dict[str, str],
    model: ModelIdentity,
    topics: dict[str, str],
    checkpoint: str,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "model": {"name": model.name},
        "mlflow": {"trackingUri": stack["MLFLOW_TRACKING_URI"], "pollInterval": "1s"},
        "kafka": {"bootstrapServers": stack["KAFKA_BOOTSTRAP_SERVERS"], "topics": topics},
        "image": images["workloads"],
        "imagePullPolicy": "Never",
        "checkpointUri": checkpoint,
        "sparkConf": {"spark.driver.memory": "768m"},
        "terminationGracePeriodSeconds": 120,
        "rollout": {"progressDeadline": PROGRESS_DEADLINE},
        **extra,
    }


def serving(servings: Servings, name: str, version: str) -> dict[str, Any] | None:
    status = servings.status(name)
    ready = servings.condition(name, "Ready")
    if status.get("servingVersion") == version and ready and ready["status"] == "True":
        return status
    return None


def answered_by(version: str) -> Callable[[list[Any]], bool]:
    """Whether a prediction of `version` is among the records read."""
    return lambda seen: any(json.loads(m.value())["model_version"] == version for m in seen)


def new_version(mlflow_client: Any, model: ModelIdentity, loadable: bool = True) -> str:
    """Another version of the model: the same artefacts, or a source with no model in it."""
    first = mlflow_client.get_model_version(model.name, model.version)
    source = first.source if loadable else f"{first.source.rstrip('/')}-missing"
    return str(mlflow_client.create_model_version(model.name, source, run_id=first.run_id).version)


def promote(mlflow_client: Any, model: ModelIdentity, version: str) -> None:
    mlflow_client.set_registered_model_alias(model.name, "champion", version)


@pytest.fixture
def champion(mlflow_client: Any, scorer_model: ModelIdentity) -> Callable[[str], None]:
    return lambda version: promote(mlflow_client, scorer_model, version)


def test_a_new_version_rolls_out_on_real_pods_answering_every_request_once(
    stack, images, k8s_api, node_servings, start_operator, mlflow_client, scorer_model,
    champion, new_topic, hdfs_dir, listings,
) -> None:  # fmt: skip
    """v1's pod scores a steady stream; the alias moves to v2; the operator rolls the Deployment
    (maxSurge 1, maxUnavailable 0): v2's pod loads and warms its model, turns Ready, v1's pod
    is stopped, hands over the Lease, and v2's pod goes on from v1's last committed batch.
    Every request has exactly one committed prediction, the answers switch from v1 to v2 at one
    point, and a Ready pod was there at every sample of the rollout."""
    operator: Operator = start_operator(node_servings.namespace)
    topics = {"requests": new_topic(1), "predictions": new_topic(1), "deadLetter": new_topic(1)}
    first = scorer_model.version
    second = new_version(mlflow_client, scorer_model)
    champion(first)
    node_servings.apply(
        "cars",
        scorer_spec(stack, images, scorer_model, topics, f"{stack['HDFS_URI']}{hdfs_dir}/ckpt"),
    )
    wait_for(lambda: serving(node_servings, "cars", first), timeout=POD_WAIT_S, what="v1 serving")
    bootstrap = stack["KAFKA_BOOTSTRAP_SERVERS"]
    stream = SteadyRequests(bootstrap, topics["requests"], listings, rate=50)
    stream.start()
    try:
        with CommittedReader(bootstrap, topics["predictions"]) as predictions:
            # v1 answers before the rollout starts: the handoff happens mid-stream.
            predictions.read_until(answered_by(first), POD_WAIT_S)
            with ScorerPods(k8s_api, node_servings.namespace, "cars") as pods:
                promoted_ms = time.time() * 1000
                champion(second)
                status = wait_for(
                    lambda: serving(node_servings, "cars", second),
                    timeout=POD_WAIT_S,
                    what="v2 serving",
                )
                # v1's pod hands the Lease over as it stops; requests keep coming for v2.
                predictions.read_until(answered_by(second), POD_WAIT_S)
            stream.halt.set()
            stream.join(60)
            messages = predictions.read_until(
                lambda seen: len(seen) >= len(stream.sent), POD_WAIT_S, settle_s=5
            )
    finally:
        stream.halt.set()
    reckoning = reckon(stream.sent, messages, since_ms=promoted_ms)
    print(f"\nrollout on the real node: {reckoning}; fewest Ready pods {pods.fewest_ready} "
          f"in {len(pods.samples)} samples")  # fmt: skip
    assert (len(reckoning.lost), len(reckoning.duplicated)) == (0, 0), reckoning
    assert (reckoning.versions[0], reckoning.versions[-1], reckoning.switches) == (
        first, second, 1,
    )  # fmt: skip
    assert pods.fewest_ready >= 1, pods.samples
    assert [(r["toVersion"], r.get("fromVersion"), r["result"]) for r in status["rollouts"]] == [
        (second, first, "Succeeded"),
        (first, None, "Succeeded"),
    ]
    assert operator.alive()


def test_a_version_whose_pods_never_become_ready_leaves_the_old_pod_serving(
    stack, images, k8s_api, node_servings, start_operator, mlflow_client, scorer_model,
    champion, new_topic, hdfs_dir,
) -> None:  # fmt: skip
    """Two ServingDeployments follow one model, one with autoRollback and one without. The alias
    moves to a version whose artefacts do not load: its pods never turn Ready and pass their
    progress deadline. Each old pod serves throughout (the same pod, Ready at every sample).
    With autoRollback the Deployment returns to the old version, the failed one is tagged in
    MLflow and not tried again, phase RolledBack; without, the phase is Failed and the
    Deployment is left as it is. Both are Degraded."""
    start_operator(node_servings.namespace)
    topics = {"requests": new_topic(1), "predictions": new_topic(1), "deadLetter": new_topic(1)}
    good = scorer_model.version
    champion(good)
    auto_rollback = {"rollback": True, "stay": False}
    specs = {
        name: scorer_spec(stack, images, scorer_model, topics,
                          f"{stack['HDFS_URI']}{hdfs_dir}/{name}",
                          rollout={"autoRollback": rollback})
        for name, rollback in auto_rollback.items()
    }  # fmt: skip
    for name, spec in specs.items():
        node_servings.apply(name, spec)
    for name, spec in specs.items():
        wait_for(lambda n=name: serving(node_servings, n, good), timeout=POD_WAIT_S, what=name)
        # Once the good version serves, a short deadline: the broken one is given up on soon.
        spec["rollout"]["progressDeadline"] = SHORT_DEADLINE
        node_servings.apply(name, spec)
    broken = new_version(mlflow_client, scorer_model, loadable=False)
    samplers = {name: ScorerPods(k8s_api, node_servings.namespace, name) for name in auto_rollback}
    old_pods = {name: sampler.ready_now() for name, sampler in samplers.items()}
    for sampler in samplers.values():
        sampler.__enter__()
    try:
        champion(broken)
        for name, rollback in auto_rollback.items():
            phase = "RolledBack" if rollback else "Failed"
            wait_for(lambda n=name, p=phase: node_servings.status(n).get("phase") == p,
                     timeout=POD_WAIT_S, what=f"{name}: phase {phase}")  # fmt: skip
        wait_for(
            lambda: (
                node_servings.scorer_version("rollback") == good
                and samplers["rollback"].pods_now() == dict.fromkeys(old_pods["rollback"], True)
            ),
            timeout=POD_WAIT_S,
            what="the rolled back Deployment on the good version with its old pod alone",
        )
    finally:
        for sampler in samplers.values():
            sampler.__exit__()

    for name, rollback in auto_rollback.items():
        status = node_servings.status(name)
        [latest, *_] = status["rollouts"]
        print(f"\n{name}: phase {status['phase']}, {json.dumps(latest)}")
        assert len(old_pods[name]) == 1
        assert set.intersection(*samplers[name].samples) == old_pods[name], name
        assert (latest["toVersion"], latest["fromVersion"]) == (broken, good)
        assert latest["result"] == ("RolledBack" if rollback else "Failed")
        assert status["servingVersion"] == good
        degraded = node_servings.condition(name, "Degraded")
        assert degraded is not None and degraded["status"] == "True", (name, degraded)
        assert node_servings.scorer_version(name) == (good if rollback else broken)
        reasons = [reason for _, reason, _ in node_servings.events(name)]
        assert "RolloutFailed" in reasons
        assert ("RollbackStarted" in reasons) == rollback
    tags = mlflow_client.get_model_version(scorer_model.name, broken).tags
    assert MLFLOW_ROLLOUT_FAILED_TAG in tags, tags
    assert [f["version"] for f in node_servings.status("rollback")["failedVersions"]] == [broken]

"""The whole loop on the local stack, as `make demo --short` plays it: the operator and the
Kubeflow spark-operator deployed as pods from the manifests (watching only the test's namespace),
the used-cars pipeline and its scorer, two good batches and a bad one between them, traffic with
malformed requests throughout.

It proves, in order: two good batches → two promoted versions, trained by driver and executor
pods that the real spark-operator started on the real node → the scorer's Deployment rolled
to the second, its pod running on the real node → every request sent during the whole run has
exactly one committed prediction or one dead letter → live metrics for both versions →
`kubectl get tp,sd` shows the final state → the bad batch failed as a data error and left the
champion alone. Everything it deployed is removed at the end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rich.console import Console

from demo import view
from demo.play import Demo, Outcome
from demo.scenario import E2E
from localstack.node import NODE_NAME


@pytest.fixture(scope="module")
def demo(stack: dict[str, str], images: dict[str, str]) -> Iterator[Demo]:
    """The demo on the running stack, its node holding the project's images (the end-to-end test
    runs the operator and the scorer as pods: it needs the real node)."""
    played = Demo(E2E, stack, Console(width=160, force_terminal=False), live=False)
    yield played
    played.cluster.reset()


@pytest.fixture(scope="module")
def outcome(demo: Demo) -> Outcome:
    """The shortened demo, played once for every assertion below; it keeps its deployment until
    the module ends, so the tests can look at it."""
    played = demo.run(keep=True)
    demo.console.print(view.summary(played.picture, played.reckoning, played.table))
    reckoning = played.reckoning
    print(
        f"requests: {reckoning.sent} sent, {reckoning.predicted} predicted, "
        f"{reckoning.dead_lettered} dead-lettered, {len(reckoning.lost)} lost, "
        f"{len(reckoning.duplicated)} duplicated, {len(reckoning.unexpected)} unexpected"
    )
    return played


pytestmark = pytest.mark.timeout(3600)


def test_two_good_batches_give_two_promoted_versions(outcome: Outcome) -> None:
    good = [batch for batch in outcome.batches if not batch.plan.bad]
    assert [batch.state for batch in good] == ["Succeeded", "Succeeded"]
    assert all(batch.promoted for batch in good), [batch.run for batch in good]
    first, second = outcome.promoted_versions
    assert int(second) > int(first)
    assert outcome.champions[-1] == second


def test_every_run_was_a_driver_pod_the_spark_operator_started_on_the_real_node(
    outcome: Outcome, demo: Demo, images: dict[str, str]
) -> None:
    runs = {batch.run["name"] for batch in outcome.batches}
    drivers = {
        pod["metadata"]["labels"]["sparkoperator.k8s.io/app-name"]: pod
        for pod in demo.cluster.pods("spark-role=driver")
    }
    # Every run that settled has its driver; a retried one has one per attempt.
    assert runs <= set(drivers), (runs, sorted(drivers))
    for name in runs:
        pod = drivers[name]
        spec = pod["spec"]
        [container] = spec["containers"]
        assert spec["nodeName"] == NODE_NAME
        assert spec["serviceAccountName"] == "spark"
        assert container["image"] == images["workloads"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert pod["metadata"]["labels"]["continuum.ml/run"] == name
    states = {b.run["name"]: drivers[b.run["name"]]["status"]["phase"] for b in outcome.batches}
    assert sorted(states.values()) == ["Failed", "Succeeded", "Succeeded"], states


def test_the_scorer_rolled_to_the_second_version_on_the_real_node(
    outcome: Outcome, demo: Demo
) -> None:
    second = outcome.promoted_versions[-1]
    status = demo.cluster.serving()
    assert (status["phase"], status["servingVersion"]) == ("Serving", second)
    rollouts = [(r.get("toVersion"), r["result"]) for r in reversed(status["rollouts"])]
    assert rollouts == [(v, "Succeeded") for v in outcome.promoted_versions]
    pods = [
        pod for pod in demo.cluster.scorer_pods() if not pod["metadata"].get("deletionTimestamp")
    ]
    assert pods, "no scorer pod"
    for pod in pods:
        assert pod["spec"]["nodeName"] == NODE_NAME
        annotations = pod["metadata"]["annotations"]
        assert annotations["continuum.ml/model-version"] == second
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert ready["Ready"] == "True"


def test_every_request_has_exactly_one_prediction_or_one_dead_letter(outcome: Outcome) -> None:
    reckoning = outcome.reckoning
    assert reckoning.sent > 0
    assert (reckoning.lost, reckoning.duplicated, reckoning.unexpected) == ((), (), ())
    assert reckoning.predicted + reckoning.dead_lettered == reckoning.sent
    # Every malformed request is among the dead letters (valid listings may be refused too).
    assert reckoning.dead_lettered >= outcome.picture.malformed > 0
    assert set(outcome.picture.by_version) == set(outcome.promoted_versions)


def test_live_metrics_exist_for_both_versions(outcome: Outcome) -> None:
    for version in outcome.promoted_versions:
        metrics = outcome.picture.metrics[version]
        assert metrics.count > 0 and metrics.rmse > 0, metrics


def test_kubectl_shows_the_final_state(outcome: Outcome) -> None:
    rows = {line.split()[0]: line.split() for line in outcome.table.splitlines() if line.strip()}
    second = outcome.promoted_versions[-1]
    pipeline = rows["trainingpipeline.continuum.ml/used-cars"]
    assert pipeline[1] == "Idle" and second in pipeline, outcome.table
    serving = rows["servingdeployment.continuum.ml/used-cars"]
    assert serving[2:5] == [second, second, "Serving"], outcome.table


def test_the_bad_batch_failed_as_a_data_error_and_left_the_champion_alone(
    outcome: Outcome,
) -> None:
    [(index, bad)] = [(i, b) for i, b in enumerate(outcome.batches) if b.plan.bad]
    assert (bad.state, bad.failure) == ("Failed", "DataError"), bad.run
    assert "price" in bad.run.get("message", ""), bad.run
    assert bad.version is None
    assert outcome.champions[index] == outcome.champions[index - 1]

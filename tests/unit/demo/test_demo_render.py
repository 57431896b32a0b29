"""The overlay's objects moved into a demo's namespace and pointed at the stack's services."""

from typing import Any

from demo.render import OVERLAY_NAMESPACE, StackAddresses, by_kind, dump, load, render
from demo.scenario import Names

ADDRESSES = StackAddresses.from_env(
    {
        "HDFS_URI": "hdfs://10.0.2.15:19000",
        "WEBHDFS_URI": "http://10.0.2.15:19870/",
        "MLFLOW_TRACKING_URI": "http://10.0.2.15:15000",
        "KAFKA_BOOTSTRAP_SERVERS": "10.0.2.15:19092",
    }
)

OVERLAY_OUTPUT = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {OVERLAY_NAMESPACE}}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: trainingpipelines.continuum.ml}}
spec: {{group: continuum.ml}}
---
apiVersion: kopf.dev/v1
kind: ClusterKopfPeering
metadata: {{name: continuum, namespace: {OVERLAY_NAMESPACE}}}
---
apiVersion: kopf.dev/v1
kind: KopfPeering
metadata: {{name: continuum, namespace: {OVERLAY_NAMESPACE}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: continuum-operator}}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: continuum-operator}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: continuum-operator}}
subjects:
  - {{kind: ServiceAccount, name: continuum-operator, namespace: {OVERLAY_NAMESPACE}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: continuum-operator, namespace: {OVERLAY_NAMESPACE}}}
spec:
  template:
    spec:
      containers:
        - name: operator
          args: [operator, --namespace={OVERLAY_NAMESPACE}, --peering=continuum]
          env:
            - {{name: CONTINUUM_WEBHDFS_URL, value: "http://webhdfs.invalid:9870"}}
            - {{name: HOME, value: /tmp}}
---
apiVersion: continuum.ml/v1alpha1
kind: TrainingPipeline
metadata: {{name: used-cars, namespace: {OVERLAY_NAMESPACE}}}
spec:
  data: {{uri: "hdfs://namenode.invalid:8020/x", pollInterval: 5s}}
  mlflow: {{trackingUri: "http://mlflow.invalid:5000", experiment: x, registeredModel: y}}
  trainSetExportUri: "hdfs://namenode.invalid:8020/y"
---
apiVersion: continuum.ml/v1alpha1
kind: ServingDeployment
metadata: {{name: used-cars, namespace: {OVERLAY_NAMESPACE}}}
spec:
  model: {{name: y, alias: champion}}
  mlflow: {{trackingUri: "http://mlflow.invalid:5000"}}
  kafka: {{bootstrapServers: "kafka.invalid:9092", topics: {{requests: r}}}}
  checkpointUri: "hdfs://namenode.invalid:8020/z"
"""


def rendered(namespace: str = "shop") -> dict[str, dict[str, Any]]:
    documents = render(load(OVERLAY_OUTPUT), Names(namespace), ADDRESSES, "shop/used-cars/1")
    return {document["kind"]: document for document in documents}


def test_every_namespaced_object_moves_into_the_demo_namespace() -> None:
    documents = rendered()
    assert documents["Namespace"]["metadata"]["name"] == "shop"
    for kind in ("KopfPeering", "Deployment", "TrainingPipeline", "ServingDeployment"):
        assert documents[kind]["metadata"]["namespace"] == "shop", kind
    assert "namespace" not in documents["ClusterKopfPeering"]["metadata"]


def test_the_operator_watches_only_the_demo_namespace_as_its_own_identity() -> None:
    documents = rendered()
    [container] = documents["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["operator", "--namespace=shop", "--peering=continuum"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env == {"CONTINUUM_WEBHDFS_URL": "http://10.0.2.15:19870", "HOME": "/tmp"}
    binding = documents["ClusterRoleBinding"]
    assert documents["ClusterRole"]["metadata"]["name"] == "continuum-operator-shop"
    assert binding["metadata"]["name"] == binding["roleRef"]["name"] == "continuum-operator-shop"
    assert binding["subjects"][0]["namespace"] == "shop"


SPARK_OPERATOR = f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: spark, namespace: {OVERLAY_NAMESPACE}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: spark}}
subjects:
  - {{kind: ServiceAccount, name: spark, namespace: {OVERLAY_NAMESPACE}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: continuum-spark-operator}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: continuum-spark-operator}}
subjects:
  - {{kind: ServiceAccount, name: spark-operator-controller, namespace: {OVERLAY_NAMESPACE}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: spark-operator-controller, namespace: {OVERLAY_NAMESPACE}}}
spec:
  template:
    spec:
      containers:
        - name: spark-operator-controller
          args: [controller, start, --namespaces={OVERLAY_NAMESPACE}, --leader-election=false]
"""


def test_the_spark_operator_handles_only_the_demo_namespace_as_its_own_identity() -> None:
    documents = render(load(SPARK_OPERATOR), Names("shop"), ADDRESSES, "e")
    role_binding, binding, deployment = documents
    assert role_binding["metadata"]["namespace"] == "shop"
    assert role_binding["subjects"][0]["namespace"] == "shop"
    assert binding["metadata"]["name"] == "continuum-spark-operator-shop"
    assert binding["roleRef"]["name"] == "continuum-spark-operator-shop"
    assert binding["subjects"][0]["namespace"] == "shop"
    assert deployment["metadata"]["namespace"] == "shop"
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"][2:] == ["--namespaces=shop", "--leader-election=false"]


def test_the_samples_use_the_stack_s_services_and_the_demo_s_names() -> None:
    documents = rendered()
    pipeline = documents["TrainingPipeline"]["spec"]
    assert pipeline["data"] == {"uri": "hdfs://10.0.2.15:19000/shop/incoming", "pollInterval": "5s"}
    assert pipeline["trainSetExportUri"] == "hdfs://10.0.2.15:19000/shop/train-sets"
    assert pipeline["mlflow"] == {
        "trackingUri": "http://10.0.2.15:15000",
        "experiment": "shop/used-cars/1",
        "registeredModel": "shop-used-car-price",
    }
    serving = documents["ServingDeployment"]["spec"]
    assert serving["model"] == {"name": "shop-used-car-price", "alias": "champion"}
    assert serving["mlflow"]["trackingUri"] == "http://10.0.2.15:15000"
    assert serving["kafka"]["bootstrapServers"] == "10.0.2.15:19092"
    assert serving["kafka"]["topics"]["requests"] == "shop.requests"
    assert serving["kafka"]["topics"]["deadLetter"] == "shop.dead-letter"
    assert serving["checkpointUri"] == "hdfs://10.0.2.15:19000/shop/checkpoints"


def test_definitions_are_left_as_they_are_and_the_input_untouched() -> None:
    original = load(OVERLAY_OUTPUT)
    before = dump(original)
    documents = render(original, Names("shop"), ADDRESSES, "e")
    assert dump(original) == before
    assert by_kind(documents, "CustomResourceDefinition") == by_kind(
        original, "CustomResourceDefinition"
    )

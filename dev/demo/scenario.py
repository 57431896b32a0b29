"""What the demo plays, decided before anything runs: the batches that land (good ones, whose
prices drift as the market moves, and a bad one), the traffic, and the names of everything the
demo owns in the cluster, HDFS, MLflow and Kafka, all derived from its namespace."""

from __future__ import annotations

from dataclasses import dataclass

from continuum_workloads.dataset.split import batch_name


@dataclass(frozen=True)
class BatchPlan:
    """One batch of listings to land. A good batch's prices are the generated ones times `drift`
    (the market moved); a bad one lost its price column, so its run must fail with a data error
    and leave the serving model alone."""

    number: int
    rows: int
    drift: float = 1.0
    bad: bool = False

    @property
    def name(self) -> str:
        return batch_name(self.number)

    @property
    def seed(self) -> int:
        """Each batch its own listings."""
        return 1000 + self.number


@dataclass(frozen=True)
class Names:
    """Everything the demo creates, named after its namespace, so two demos (the demo and the
    end-to-end test) share a cluster without touching each other's objects."""

    namespace: str

    @property
    def pipeline(self) -> str:
        return "used-cars"

    @property
    def serving(self) -> str:
        return "used-cars"

    @property
    def registered_model(self) -> str:
        return f"{self.namespace}-used-car-price"

    @property
    def hdfs_root(self) -> str:
        """The demo's HDFS directory: incoming batches, train sets, the scorer's checkpoints."""
        return f"/{self.namespace}"

    @property
    def incoming(self) -> str:
        return f"{self.hdfs_root}/incoming"

    @property
    def experiment_prefix(self) -> str:
        return f"{self.namespace}/used-cars/"

    def experiment(self, stamp: str) -> str:
        """One MLflow experiment per demo run: run ids repeat from one run to the next (they are
        derived from the pipeline and its batches), and MLflow keeps deleted experiments' names."""
        return f"{self.experiment_prefix}{stamp}"

    def topic(self, role: str) -> str:
        return f"{self.namespace}.{role}"

    @property
    def topics(self) -> dict[str, str]:
        """The ServingDeployment's topics, by its spec's field names."""
        return {
            role: self.topic(suffix)
            for role, suffix in (
                ("requests", "requests"),
                ("predictions", "predictions"),
                ("deadLetter", "dead-letter"),
                ("feedback", "feedback"),
                ("metrics", "metrics"),
            )
        }

    @property
    def consumer_group(self) -> str:
        """The scorer's consumer group (the ServingDeployment's default): its committed offsets
        must go with the topics, or a new scorer would skip the new topics' first records."""
        return f"continuum-{self.namespace}-{self.serving}"

    @property
    def cluster_role(self) -> str:
        """The operator's ClusterRole and ClusterRoleBinding, one per demo namespace."""
        return f"continuum-operator-{self.namespace}"

    @property
    def spark_operator_role(self) -> str:
        """The spark-operator's ClusterRole and ClusterRoleBinding, one per demo namespace."""
        return f"continuum-spark-operator-{self.namespace}"


@dataclass(frozen=True)
class Scenario:
    """The world the demo plays: batches land one after another, each once the previous one is
    settled (its run finished and, when it promoted a model, the scorer rolled to it) and
    `batch_pause_s` passed; traffic runs from the start until the live metrics of the last
    version arrive (at most `metrics_timeout_s` after its rollout)."""

    namespace: str
    batches: tuple[BatchPlan, ...]
    rate: float
    malformed: float
    feedback_delay_s: float
    batch_pause_s: float
    metrics_timeout_s: float
    seed: int = 7

    def __post_init__(self) -> None:
        if not self.batches:
            raise ValueError("a scenario needs at least one batch")
        if self.batches[0].bad:
            raise ValueError("the first batch must be good: nothing would serve before it")
        numbers = [batch.number for batch in self.batches]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"batches must be numbered 1, 2, ... in order, got {numbers}")
        if self.rate <= 0 or not 0 <= self.malformed <= 1:
            raise ValueError("rate must be above 0 and malformed a share in [0, 1]")

    @property
    def names(self) -> Names:
        return Names(self.namespace)

    @property
    def good_batches(self) -> tuple[BatchPlan, ...]:
        return tuple(batch for batch in self.batches if not batch.bad)

    def drift_after(self, landed: int) -> float:
        """The market's price level once the first `landed` batches have landed: the drift of
        the newest good one (feedback carries it, so live metrics judge versions fairly)."""
        good = [batch.drift for batch in self.batches[:landed] if not batch.bad]
        return good[-1] if good else 1.0


DEMO = Scenario(
    namespace="continuum-demo",
    batches=(
        BatchPlan(1, rows=3000),
        BatchPlan(2, rows=3000, bad=True),
        BatchPlan(3, rows=3000, drift=1.25),
        BatchPlan(4, rows=3000, drift=1.5),
    ),
    rate=20.0,
    malformed=0.03,
    feedback_delay_s=5.0,
    batch_pause_s=20.0,
    metrics_timeout_s=300.0,
)
"""`make demo`: three good batches, the market moving up 25 % twice, a bad batch between."""

E2E = Scenario(
    namespace="continuum-e2e",
    batches=(
        BatchPlan(1, rows=2000),
        BatchPlan(2, rows=500, bad=True),
        BatchPlan(3, rows=2000, drift=1.3),
    ),
    rate=10.0,
    malformed=0.05,
    feedback_delay_s=5.0,
    batch_pause_s=0.0,
    metrics_timeout_s=300.0,
)
"""The end-to-end test: the shortest loop that shows every step, once."""

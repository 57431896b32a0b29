"""One demo run: reset, deploy the operator, apply the pipeline and its scorer, then play the
world (batches land one after another, traffic flows throughout) while the view follows what the
operator does; at the end, the reckoning of every request sent."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from demo import batches, view
from demo.answers import Answers
from demo.cluster import Cluster, DemoError
from demo.reckoning import Reckoning, reckon
from demo.scenario import BatchPlan, Scenario
from demo.traffic import Traffic
from demo.view import Picture, run_of
from localstack.harness import wait_for

OPERATOR_TIMEOUT_S = 300.0
RUN_TIMEOUT_S = 1500.0
ROLLOUT_TIMEOUT_S = 900.0
ANSWERS_TIMEOUT_S = 300.0
FINAL_RUN_STATES = ("Succeeded", "Failed", "Aborted")


@dataclass(frozen=True)
class BatchOutcome:
    plan: BatchPlan
    run: Mapping[str, Any]

    @property
    def state(self) -> str:
        return str(self.run.get("state"))

    @property
    def failure(self) -> str | None:
        return self.run.get("failure")

    @property
    def version(self) -> str | None:
        return self.run.get("modelVersion")

    @property
    def promoted(self) -> bool:
        return (self.run.get("promotion") or {}).get("decision") == "Promoted"


@dataclass(frozen=True)
class Outcome:
    picture: Picture
    batches: tuple[BatchOutcome, ...]
    champions: tuple[str | None, ...]
    """The champion alias after each batch settled, in order."""
    reckoning: Reckoning
    table: str
    peak_memory_mib: float

    @property
    def promoted_versions(self) -> list[str]:
        return [b.version for b in self.batches if b.promoted and b.version]


def settled_run(pipeline: Mapping[str, Any], batch: str) -> Mapping[str, Any] | None:
    """The run of `batch` once nothing more will happen to it: succeeded with its promotion
    decided, or failed for good (a transient failure is retried)."""
    run = run_of(pipeline, batch)
    if run is None or run.get("state") not in FINAL_RUN_STATES:
        return None
    if run.get("state") == "Succeeded" and not (run.get("promotion") or {}).get("decision"):
        return None
    if run.get("state") == "Failed" and run.get("failure") == "Transient":
        return None
    return run


def used_memory_mib() -> float:
    """The machine's memory in use (MemTotal - MemAvailable), all processes together."""
    fields = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = int(value.split()[0])
    return (fields["MemTotal"] - fields["MemAvailable"]) / 1024


class Demo:
    def __init__(
        self,
        scenario: Scenario,
        env: Mapping[str, str],
        console: Console,
        live: bool = True,
    ) -> None:
        self.scenario = scenario
        self.names = scenario.names
        self.env = env
        self.console = console
        self.live = live
        self.cluster = Cluster(self.names, env)
        self.picture = Picture(scenario)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.began = time.monotonic()
        self.landed = 0
        self.traffic = Traffic(
            scenario, self.cluster.addresses.kafka, lambda: scenario.drift_after(self.landed)
        )
        self.answers = Answers(self.names, self.cluster.addresses.kafka)
        self.peak_memory_mib = used_memory_mib()
        self.seen: set[tuple[Any, ...]] = set()

    # --- the view -----------------------------------------------------------------------------

    def say(self, message: str) -> None:
        line = f"{self.elapsed():6.0f} s  {' '.join(message.split())}"
        self.picture.log.append(line)
        if not self.live:
            self.console.print(line, highlight=False)

    def elapsed(self) -> float:
        return time.monotonic() - self.began

    def refresh(self) -> None:
        picture = self.picture
        picture.elapsed_s = self.elapsed()
        picture.pipeline = self.cluster.pipeline()
        picture.serving = self.cluster.serving()
        picture.champion = self.cluster.champion()
        picture.sent, picture.malformed = len(self.traffic.sent), self.traffic.malformed
        picture.sent_rate = self.traffic.rate()
        with self.answers.lock:
            picture.predicted = len(self.answers.prediction_keys)
            picture.by_version = dict(self.answers.by_version)
            picture.dead_letters = dict(self.answers.dead_letter_reasons)
            picture.metrics = dict(self.answers.metrics)
        picture.predicted_rate = self.answers.rate()
        self.peak_memory_mib = max(self.peak_memory_mib, used_memory_mib())
        self._log_changes()

    def _log_changes(self) -> None:
        for run in reversed(self.picture.pipeline.get("runs") or ()):
            decision = (run.get("promotion") or {}).get("decision")
            key = ("run", run["name"], run.get("state"), run.get("failure"), decision)
            if key not in self.seen:
                self.seen.add(key)
                detail = " ".join(
                    part
                    for part in (
                        run.get("failure") or "",
                        f"v{run['modelVersion']}" if run.get("modelVersion") else "",
                        decision or "",
                        " ".join((run.get("message") or "").split())[:200]
                        if run.get("state") == "Failed"
                        else "",
                    )
                    if part
                )
                self.say(f"run {run['name']}: {run.get('state')} {detail}".rstrip())
        for rollout in reversed(self.picture.serving.get("rollouts") or ()):
            key = (
                "rollout",
                rollout.get("toVersion"),
                rollout.get("startTime"),
                rollout.get("result"),
            )
            if key not in self.seen:
                self.seen.add(key)
                source = rollout.get("fromVersion", "nothing")
                self.say(f"rollout {source} → v{rollout.get('toVersion')}: {rollout.get('result')}")

    def renderable(self) -> Any:
        return view.live(self.picture, self.progress)

    def wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        """Refreshes the picture about once a second until `predicate()` is truthy."""

        def refreshed() -> Any:
            self.refresh()
            if self.traffic.error is not None:
                raise DemoError(f"the traffic simulator failed: {self.traffic.error}")
            return predicate()

        return wait_for(refreshed, timeout, what, every=1.0, failure=DemoError)

    def step(self, description: str) -> TaskID:
        return self.progress.add_task(description, total=None)

    def done(self, task: TaskID, description: str | None = None) -> None:
        self.progress.update(task, total=1, completed=1, description=description)
        self.progress.stop_task(task)

    # --- the run ------------------------------------------------------------------------------

    def run(self, keep: bool = False) -> Outcome:
        with (
            Live(
                console=self.console,
                get_renderable=self.renderable,
                refresh_per_second=2,
                transient=True,
            )
            if self.live
            else nullcontext()
        ):
            outcome = self._play()
        if not keep:
            self.cluster.remove_deployment()
        return outcome

    def _play(self) -> Outcome:
        names = self.names
        task = self.step("resetting: namespace, HDFS, registered model, topics")
        self.cluster.reset()
        self.done(task)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        documents = self.cluster.manifests(names.experiment(stamp))
        self.cluster.create_topics()
        task = self.step("deploying the operator and the spark-operator")
        self.cluster.deploy(documents)
        self.wait(self.cluster.operators_ready, OPERATOR_TIMEOUT_S, "the operator pods Ready")
        self.done(task, "operators running")
        self.say(f"operator and spark-operator running, watching namespace {names.namespace}")
        self.cluster.apply_samples(documents)
        self.say("applied TrainingPipeline and ServingDeployment used-cars")
        self.answers.start()
        self.traffic.start()
        self.say(
            f"traffic: {self.scenario.rate:g} requests/s, {self.scenario.malformed:.0%} malformed"
        )
        outcomes, champions = [], []
        try:
            for plan in self.scenario.batches:
                outcomes.append(self._land_and_settle(plan))
                champions.append(self.cluster.champion())
            self._wait_for_last_metrics(outcomes)
        finally:
            task = self.step("stopping traffic, reading every answer")
            self.traffic.stop()
        sent = self.traffic.ids()
        try:
            self.wait(
                lambda: self.answers.answered() >= len(sent),
                ANSWERS_TIMEOUT_S,
                f"an answer to each of the {len(sent)} requests",
            )
        except DemoError as error:
            self.say(str(error))  # the reckoning says which are missing
        time.sleep(3.0)  # one more poll: a duplicate would arrive right behind
        self.refresh()
        self.answers.stop()
        self.done(task)
        with self.answers.lock:
            reckoning = reckon(sent, self.answers.prediction_keys, self.answers.dead_letter_keys)
        return Outcome(
            picture=self.picture,
            batches=tuple(outcomes),
            champions=tuple(champions),
            reckoning=reckoning,
            table=self.cluster.table(),
            peak_memory_mib=self.peak_memory_mib,
        )

    def _land_and_settle(self, plan: BatchPlan) -> BatchOutcome:
        if self.landed and self.scenario.batch_pause_s:
            pause_until = time.monotonic() + self.scenario.batch_pause_s
            self.wait(
                lambda: time.monotonic() >= pause_until, self.scenario.batch_pause_s + 5, "a pause"
            )
        batches.land(plan, self.cluster.store, self.names.incoming)
        self.landed += 1
        self.picture.landed[plan.name] = self.elapsed()
        what = "no price column" if plan.bad else f"prices x{plan.drift:g}"
        self.say(f"landed {plan.name}: {plan.rows:,} listings, {what}")
        task = self.step(f"{plan.name}: waiting for its run to finish")
        run = self.wait(
            lambda: settled_run(self.picture.pipeline, plan.name),
            RUN_TIMEOUT_S,
            f"the run of {plan.name} to finish",
        )
        self.done(task, f"{plan.name}: run {run.get('state')}")
        outcome = BatchOutcome(plan, run)
        if outcome.promoted and outcome.version:
            version = outcome.version
            task = self.step(f"rolling the scorer to v{version}")
            self.wait(
                lambda: (
                    self.picture.serving.get("servingVersion") == version
                    and self.picture.serving.get("phase") == "Serving"
                ),
                ROLLOUT_TIMEOUT_S,
                f"the scorer serving v{version}",
            )
            self.done(task, f"scorer serving v{version}")
        return outcome

    def _wait_for_last_metrics(self, outcomes: list[BatchOutcome]) -> None:
        promoted = [o.version for o in outcomes if o.promoted and o.version]
        if not promoted:
            return
        last = promoted[-1]
        task = self.step(f"waiting for live metrics of v{last}")
        try:
            self.wait(
                lambda: last in self.picture.metrics,
                self.scenario.metrics_timeout_s,
                f"live metrics of v{last}",
            )
        except DemoError as error:  # the summary shows what is missing
            self.say(str(error))
        self.done(task, f"live metrics of v{last}")


def problems(outcome: Outcome) -> list[str]:
    """What the demo promised and did not happen; empty when the loop behaved."""
    found = []
    reckoning = outcome.reckoning
    if not reckoning.exact:
        found.append(
            f"requests: {len(reckoning.lost)} lost, {len(reckoning.duplicated)} duplicated, "
            f"{len(reckoning.unexpected)} unexpected"
        )
    champion = None
    for batch, champion_after in zip(outcome.batches, outcome.champions, strict=True):
        name = batch.plan.name
        if batch.plan.bad:
            if (batch.state, batch.failure) != ("Failed", "DataError"):
                found.append(f"{name} is bad, yet its run ended {batch.state} ({batch.failure})")
            if champion_after != champion:
                found.append(f"{name} is bad, yet the champion moved to {champion_after}")
        elif not batch.promoted:
            found.append(f"{name}: its model was not promoted ({batch.state})")
        champion = champion_after
    promoted = outcome.promoted_versions
    serving = outcome.picture.serving.get("servingVersion")
    if promoted and serving != promoted[-1]:
        found.append(f"the scorer serves v{serving}, not the last promoted v{promoted[-1]}")
    missing = [v for v in promoted if v not in outcome.picture.metrics]
    if missing:
        found.append(f"no live metrics for version(s) {', '.join(missing)}")
    return found

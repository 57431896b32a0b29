"""A stand-in for the Kubeflow spark-operator, for the local stack only.

The local cluster's nodes are simulated by kwok, so no driver pod could ever run there. This
process watches SparkApplications (sparkoperator.k8s.io/v1beta2) in every namespace and runs each
new one with a local `spark-submit`, writing `status.applicationState` the way the spark-operator
does: SUBMITTED → RUNNING → COMPLETED, or FAILED with an `errorMessage`. Application files named
`local:///opt/continuum/...` (paths inside Continuum's image) map to this checkout.

It is not the spark-operator: no pods, no webhook, no retries, no `restartPolicy`, no `valueFrom`
in `env`; one application at a time by default (CONTINUUM_SPARK_STANDIN_PARALLEL), since this
machine has few cores. Namespaces labelled `continuum.ml/spark-standin=skip` are left alone, for
tests that set the states themselves.

    python -m localstack.spark_standin
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import urllib3

from localstack.config import REPO_DIR, StackConfig
from localstack.process import stop_pid

GROUP, VERSION, PLURAL = "sparkoperator.k8s.io", "v1beta2", "sparkapplications"
IMAGE_APP_DIR = "/opt/continuum/"
LOST_DRIVER = "driver lost: the spark-operator stand-in restarted while the application ran"
# Tests that play the spark-operator themselves (patching states) label their namespace so.
SKIP_LABEL = {"continuum.ml/spark-standin": "skip"}

log = logging.getLogger("spark-standin")


def application_path(uri: str, repo_dir: Path = REPO_DIR) -> str:
    """Where spark-submit finds mainApplicationFile: image paths map into this checkout."""
    if uri.startswith(f"local://{IMAGE_APP_DIR}"):
        return str(repo_dir / uri.removeprefix(f"local://{IMAGE_APP_DIR}"))
    if uri.startswith("local://"):
        return uri.removeprefix("local://")
    return uri


def spark_submit_command(
    spec: dict, spark_jars: list[str], python: str = sys.executable
) -> tuple[list[str], dict[str, str]]:
    """The spark-submit command line and extra environment that run one SparkApplication."""
    driver, executor = spec.get("driver", {}), spec.get("executor", {})
    cores = max(int(driver.get("cores", 1)), int(executor.get("cores", 1)))
    conf = {
        "spark.app.name": spec.get("_name", "spark-application"),
        "spark.ui.enabled": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        # Local mode, one process: no locality to wait for (a task held back for the DataNode's
        # host may never be re-offered).
        "spark.locality.wait": "0",
        **spec.get("sparkConf", {}),
    }
    hadoop = {f"spark.hadoop.{k}": v for k, v in spec.get("hadoopConf", {}).items()}
    jars = [*spark_jars, *(application_path(j) for j in spec.get("deps", {}).get("jars", []))]
    command = [
        str(Path(python).parent / "spark-submit"),
        "--master",
        f"local[{cores}]",
        "--driver-memory",
        driver.get("memory", "1g"),
    ]
    if jars:
        command += ["--jars", ",".join(jars)]
    py_files = [application_path(f) for f in spec.get("deps", {}).get("pyFiles", [])]
    if py_files:
        command += ["--py-files", ",".join(py_files)]
    for key, value in {**conf, **hadoop}.items():
        command += ["--conf", f"{key}={value}"]
    command += [application_path(spec["mainApplicationFile"]), *spec.get("arguments", [])]
    env = {e["name"]: e["value"] for e in driver.get("env", []) if "value" in e}
    env.update({"PYSPARK_PYTHON": python, "PYSPARK_DRIVER_PYTHON": python})
    return command, env


# Spark's own console log lines ("26/11/22 04:51:41 INFO ShutdownHookManager: ...") follow the
# application's last words at shutdown; the reason is the last line that is not one of them.
SPARK_LOG_LINE = re.compile(r"^\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} [A-Z]+ ")


def driver_reason(log_file: Path) -> str:
    """The driver's last words: the one-line reason a failed job prints before it exits."""
    lines = [
        line.strip()
        for line in log_file.read_text(errors="replace").splitlines()
        if line.strip() and not SPARK_LOG_LINE.match(line)
    ]
    return lines[-1][:500] if lines else "no output"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StandIn:
    """Watches SparkApplications and runs the new ones; see the module docstring."""

    def __init__(self, config: StackConfig, parallel: int) -> None:
        from kubernetes import client
        from kubernetes import config as kube_config

        api_client = kube_config.new_client_from_config(str(config.kubeconfig))
        self.api = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.jars = [str(p) for p in config.spark_jars]
        self.logs = config.stack_dir / "spark-operator" / "applications"
        self.pool = ThreadPoolExecutor(max_workers=parallel)
        self.claimed: set[str] = set()
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.lock = threading.Lock()

    def patch_state(self, app: dict, state: str, **extra: object) -> None:
        meta = app["metadata"]
        status = {"applicationState": {"state": state, **extra.pop("application", {})}, **extra}
        status.setdefault("driverInfo", {"podName": f"{meta['name']}-driver"})
        self.api.patch_namespaced_custom_object_status(
            GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], {"status": status}
        )

    def handle(self, event_type: str, app: dict) -> None:
        """React to one watch event; a failure is logged and retried on the next event."""
        meta = app["metadata"]
        key = f"{meta['namespace']}/{meta['name']}/{meta['uid']}"
        try:
            self.react(event_type, app, key)
        except Exception:  # one application's trouble must not stop the others
            log.exception("%s: handling a %s event failed", key, event_type)
            with self.lock:
                self.claimed.discard(key)

    def react(self, event_type: str, app: dict, key: str) -> None:
        meta = app["metadata"]
        state = app.get("status", {}).get("applicationState", {}).get("state", "")
        if event_type == "DELETED":
            with self.lock:
                process = self.running.get(key)
            if process is not None:
                log.info("%s deleted while running: stopping its driver", key)
                os.killpg(process.pid, signal.SIGTERM)
            return
        with self.lock:
            if key in self.claimed:
                return
            self.claimed.add(key)
        if self.skipped(meta["namespace"]):
            return
        if state == "":
            self.pool.submit(self.run_application, key, app)
        elif state in ("SUBMITTED", "RUNNING"):
            # Ours would be in `claimed`: this one's driver died with an earlier stand-in.
            self.patch_state(
                app, "FAILED", application={"errorMessage": LOST_DRIVER}, terminationTime=now()
            )

    def skipped(self, namespace: str) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            labels = self.core.read_namespace(namespace).metadata.labels or {}
        except ApiException as error:
            if error.status == 404:  # the namespace is being deleted with its applications
                return True
            raise
        return SKIP_LABEL.items() <= labels.items()

    def run_application(self, key: str, app: dict) -> None:
        meta = app["metadata"]
        log_file = self.logs / meta["namespace"] / f"{meta['name']}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            command, extra_env = spark_submit_command(
                {**app["spec"], "_name": meta["name"]}, self.jars
            )
            self.patch_state(
                app, "SUBMITTED", submissionAttempts=1, lastSubmissionAttemptTime=now()
            )
            with log_file.open("wb") as out:
                process = subprocess.Popen(
                    command,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=REPO_DIR,
                    env={**os.environ, **extra_env},
                    start_new_session=True,
                )
                with self.lock:
                    self.running[key] = process
                self.patch_state(
                    app,
                    "RUNNING",
                    executionAttempts=1,
                    sparkApplicationId=f"local-{meta['uid'][:8]}",
                )
                code = process.wait()
            if code == 0:
                self.patch_state(app, "COMPLETED", terminationTime=now())
            else:
                message = f"driver failed with exit code {code}: {driver_reason(log_file)}"
                self.patch_state(
                    app, "FAILED", application={"errorMessage": message}, terminationTime=now()
                )
            log.info("%s finished with exit code %s (log: %s)", key, code, log_file)
        except Exception as error:  # the application is gone, or its spec cannot run
            log.warning("%s: %s", key, error)
            with contextlib.suppress(Exception):  # deleted meanwhile: nothing left to report on
                self.patch_state(
                    app,
                    "FAILED",
                    application={"errorMessage": str(error)[:500]},
                    terminationTime=now(),
                )
        finally:
            with self.lock:
                self.running.pop(key, None)

    def stop_all(self) -> None:
        """Stop every driver still running: the stand-in leaves no process behind."""
        with self.lock:
            processes = list(self.running.values())
        for process in processes:
            stop_pid(process.pid)

    def watch_forever(self) -> None:
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        while True:
            try:
                listing = self.api.list_cluster_custom_object(GROUP, VERSION, PLURAL)
                for app in listing["items"]:
                    self.handle("ADDED", app)
                for event in watch.Watch().stream(
                    self.api.list_cluster_custom_object,
                    GROUP,
                    VERSION,
                    PLURAL,
                    resource_version=listing["metadata"]["resourceVersion"],
                    timeout_seconds=300,
                ):
                    self.handle(event["type"], event["object"])
            except ApiException as error:
                if error.status != 410:  # 410 Gone only means: list again
                    # The CRD may be absent for a while (tests remove it) or the API restarting.
                    log.warning("watching SparkApplications failed (%s); retrying", error.reason)
                    time.sleep(5)
            except (OSError, urllib3.exceptions.HTTPError) as error:
                log.warning("the API server is unreachable (%s); retrying", error)
                time.sleep(5)


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    parallel = int(os.environ.get("CONTINUUM_SPARK_STANDIN_PARALLEL", "1"))
    standin = StandIn(StackConfig.from_env(), parallel)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("watching SparkApplications in every namespace; %d at a time", parallel)
    try:
        standin.watch_forever()
    finally:
        standin.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())

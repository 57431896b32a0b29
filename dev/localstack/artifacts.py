"""Fetch or build every component into the per-user cache, keyed by version; reuse it after."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from localstack.config import DEV_DIR, SERVING_JVM_DIR, StackConfig
from localstack.errors import StackError

HOW_TO_GET = {
    "java": "install OpenJDK 17 or newer (Debian: apt-get install openjdk-17-jdk-headless)",
    "mvn": "install Apache Maven (Debian: apt-get install maven)",
    "javac": "install a JDK 17 or newer (Debian: apt-get install openjdk-17-jdk-headless)",
    "jar": "install a JDK 17 or newer (Debian: apt-get install openjdk-17-jdk-headless)",
    "go": "install Go 1.24 or newer (https://go.dev/doc/install)",
}

MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"


def require_tools(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            raise StackError(f"missing prerequisite: {tool} not found on PATH; {HOW_TO_GET[tool]}")


def _run_logged(
    command: list[str], log: Path, what: str, env: dict[str, str] | None = None
) -> None:
    """Run a fetch or build step; on failure raise with its last meaningful line and log path."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    if result.returncode != 0:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        errors = [ln for ln in lines if "ERROR" in ln or "error" in ln] or lines or ["no output"]
        raise StackError(f"{what} failed: {errors[0][:300]} (full log: {log})")


def ensure_maven_runtime(
    config: StackConfig,
    artifact: str,
    artifact_version: str,
    properties: dict[str, str],
    only: tuple[str, ...] = (),
) -> Path:
    """Copy the runtime classpath of dev/maven/<artifact>/pom.xml into the cache, once."""
    target = config.maven_dir(artifact, artifact_version)
    if (target / ".complete").exists():
        return target
    require_tools("java", "mvn")
    print(f"fetching {artifact} {artifact_version} jars with Maven", file=sys.stderr, flush=True)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    command = [
        "mvn",
        "-B",
        "-q",
        "-f",
        str(DEV_DIR / "maven" / artifact / "pom.xml"),
        *(f"-D{key}={value}" for key, value in properties.items()),
        MAVEN_DEPENDENCY_PLUGIN,
        "-DincludeScope=runtime",
        f"-DoutputDirectory={partial}",
    ]
    if only:
        command.append(f"-DincludeArtifactIds={','.join(only)}")
    _run_logged(
        command, config.cache_dir / "logs" / f"fetch-{artifact}.log", f"fetching {artifact}"
    )
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    (target / ".complete").touch()
    return target


def ensure_spark_kafka(config: StackConfig) -> Path:
    """Spark's Kafka connector and the dependencies pyspark does not ship already."""
    spark = version("pyspark")
    connector = (
        "spark-sql-kafka-0-10_2.13",
        "spark-token-provider-kafka-0-10_2.13",
        "kafka-clients",
        "commons-pool2",
    )
    return ensure_maven_runtime(
        config, "spark-kafka", spark, {"spark.version": spark}, only=connector
    )


def ensure_serving_jar(config: StackConfig) -> Path:
    """The scorer's JVM code (workloads/jvm: the request validation, a wall clock, the
    transactional writer), compiled against the installed pyspark's own jars and Spark's Kafka
    connector once per version of its sources and of pyspark."""
    sources = sorted(SERVING_JVM_DIR.rglob("*.java"))
    digest = hashlib.sha256(version("pyspark").encode())
    for source in sources:
        name = str(source.relative_to(SERVING_JVM_DIR)).encode()
        digest.update(name + b"\0" + source.read_bytes())
    jar = config.cache_dir / "jvm" / f"continuum-serving-{digest.hexdigest()[:16]}.jar"
    if jar.exists():
        return jar
    require_tools("javac", "jar")
    import pyspark

    spark_jars = Path(pyspark.__file__).parent / "jars"
    classpath = os.pathsep.join((f"{spark_jars}/*", f"{ensure_spark_kafka(config)}/*"))
    with tempfile.TemporaryDirectory() as scratch:
        classes = Path(scratch) / "classes"
        log = config.cache_dir / "logs" / "build-serving-jar.log"
        _run_logged(
            ["javac", "--release", "17", "-Xlint:all,-path", "-Werror", "-cp", classpath,
             "-d", str(classes), *map(str, sources)],
            log,
            "compiling workloads/jvm",
        )  # fmt: skip
        built = Path(scratch) / jar.name
        packing = ["jar", "cf", str(built), "-C", str(classes), "."]
        _run_logged(packing, log, "packaging workloads/jvm")
        jar.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(built, jar)
    return jar


def _built_once(config: StackConfig, bin_dir: Path, last: str, script: str, what: str) -> Path:
    """Runs the Go build `script` into `bin_dir` unless its `last` binary is already there."""
    if (bin_dir / last).exists():
        return bin_dir
    require_tools("go")
    env = {**os.environ, "CONTINUUM_CACHE": str(config.cache_dir)}
    # Streams to the terminal: a cold build runs for many minutes and shows its progress.
    result = subprocess.run(["bash", str(DEV_DIR / script)], env=env, check=False)
    if result.returncode != 0:
        raise StackError(f"building {what} failed (exit {result.returncode})")
    return bin_dir


def ensure_kube_binaries(config: StackConfig) -> Path:
    """Build kube-apiserver & co., kubectl, etcd and kwok from their Go modules, once."""
    return _built_once(
        config, config.kube_bin_dir, "kwokctl", "build-kube.sh", "the Kubernetes binaries"
    )


# Debian packages the real node and the image builds use, by the command each provides.
HOST_PACKAGES = {
    "runc": "runc",
    "/usr/lib/cni/bridge": "containernetworking-plugins",
    "iptables": "iptables",
    "buildah": "buildah",
    "mmdebstrap": "mmdebstrap",
    "/bin/busybox": "busybox-static",  # the node tests' image
}


def missing_host_packages() -> list[str]:
    return sorted(
        {
            package
            for provides, package in HOST_PACKAGES.items()
            if not (Path(provides).exists() if provides.startswith("/") else shutil.which(provides))
        }
    )


def ensure_host_packages(config: StackConfig) -> None:
    """Install the node's Debian packages with apt when missing (as root, once per machine)."""
    missing = missing_host_packages()
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise StackError(
            f"missing prerequisites for the real node: {', '.join(missing)}; install them "
            "(Debian: apt-get install ...) or run a stack of fake nodes only: CONTINUUM_REAL_NODE=0"
        )
    print(f"installing {', '.join(missing)} with apt-get", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log = config.cache_dir / "logs" / "apt.log"
    _run_logged(["apt-get", "update", "-q"], log, "apt-get update", env)
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    _run_logged(install, log, f"installing {', '.join(missing)}", env)


def ensure_node_binaries(config: StackConfig) -> Path:
    """Build kubelet, kube-proxy, containerd (+ shim, ctr) and the pause binary, once."""
    return _built_once(config, config.node_bin_dir, "pause", "build-node.sh", "the node's binaries")


def ensure_spark_operator(config: StackConfig) -> Path:
    """Build the Kubeflow spark-operator's binary (Dockerfile.spark-operator's content), once."""
    return _built_once(
        config,
        config.spark_operator_bin_dir,
        "spark-operator",
        "build-spark-operator.sh",
        "the spark-operator",
    )


def ensure_all(config: StackConfig) -> None:
    """Everything the stack runs, from the cache or freshly fetched and built."""
    require_tools("java")
    v = config.versions
    ensure_maven_runtime(config, "kafka", v["KAFKA_VERSION"], {"kafka.version": v["KAFKA_VERSION"]})
    ensure_maven_runtime(
        config, "hadoop", v["HADOOP_VERSION"], {"hadoop.version": v["HADOOP_VERSION"]}
    )
    ensure_spark_kafka(config)
    ensure_serving_jar(config)
    ensure_kube_binaries(config)
    if config.real_node:
        ensure_host_packages(config)
        ensure_node_binaries(config)
        ensure_spark_operator(config)

"""The stack's components: how each one starts, stops, and proves it is healthy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from localstack.config import DEV_DIR, StackConfig
from localstack.errors import StackError
from localstack.process import pid_of, port_in_use, start_detached, stop_pid_file

FAKE_NODES = 2

# Java 17 closes the JDK internals Hadoop reflects on; this is the list Hadoop itself adds.
HADOOP_ADD_OPENS = [
    f"--add-opens=java.base/{package}=ALL-UNNAMED"
    for package in (
        "java.io",
        "java.lang",
        "java.lang.reflect",
        "java.math",
        "java.net",
        "java.text",
        "java.util",
        "java.util.concurrent",
        "java.util.zip",
        "sun.security.util",
        "sun.security.x509",
    )
]


def http_get(url: str, timeout: float = 3.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Component(ABC):
    """One part of the stack. Every method is safe to call in any state."""

    name: str
    port_names: tuple[str, ...]

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.home = config.stack_dir / self.name

    @abstractmethod
    def running(self) -> bool: ...

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def health(self) -> str | None:
        """None when healthy, otherwise why not."""

    @abstractmethod
    def logs(self) -> list[Path]: ...

    def check_ports_free(self) -> None:
        for port_name in self.port_names:
            port = self.config.ports[port_name]
            if host := port_in_use(port, self.config.service_host):
                raise StackError(
                    f"{self.name}: port {port} on {host} is already in use; stop what holds it or "
                    f"choose another with CONTINUUM_{port_name}_PORT"
                )


@dataclass(frozen=True)
class Daemon:
    """A process the stack starts itself; its pid and log files are named after it."""

    name: str
    command: list[str]
    env: dict[str, str]


class ProcessComponent(Component):
    """A component made of daemons started directly, each with a pid file and a log."""

    @abstractmethod
    def daemons(self) -> list[Daemon]: ...

    def prepare(self) -> None:
        """Write configuration and initialise storage before the first start."""

    def daemon_started(self, daemon: str) -> None:
        """Called once each daemon runs, before the next one starts."""

    def pid_file(self, daemon: str) -> Path:
        return self.home / f"{daemon}.pid"

    def log_file(self, daemon: str) -> Path:
        return self.home / f"{daemon}.log"

    def daemon_names(self) -> list[str]:
        return [self.name]

    def running(self) -> bool:
        return any(pid_of(self.pid_file(d)) for d in self.daemon_names())

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.prepare()
        for daemon in self.daemons():
            if pid_of(self.pid_file(daemon.name)) is None:
                start_detached(
                    daemon.command,
                    self.log_file(daemon.name),
                    self.pid_file(daemon.name),
                    daemon.env,
                    self.home,
                )
            self.daemon_started(daemon.name)

    def stop(self) -> None:
        for daemon in reversed(self.daemon_names()):
            stop_pid_file(self.pid_file(daemon))

    def logs(self) -> list[Path]:
        return [self.log_file(d) for d in self.daemon_names()]


def java_command(heap: str, classpath: list[Path], *rest: str) -> list[str]:
    return [
        "java",
        f"-Xmx{heap}",
        "-XX:+UseSerialGC",
        "-Djava.awt.headless=true",
        "-Djava.net.preferIPv4Stack=true",
        "-cp",
        os.pathsep.join(str(p) for p in classpath),
        *rest,
    ]


class Kafka(ProcessComponent):
    name = "kafka"
    port_names = ("KAFKA", "KAFKA_CONTROLLER")

    @property
    def libs(self) -> Path:
        return self.config.maven_dir("kafka", self.config.versions["KAFKA_VERSION"])

    def prepare(self) -> None:
        broker, controller = self.config.ports["KAFKA"], self.config.ports["KAFKA_CONTROLLER"]
        host, data = self.config.service_host, self.home / "data"
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{host}:{controller}",
            "listeners": f"PLAINTEXT://{host}:{broker},CONTROLLER://{host}:{controller}",
            "advertised.listeners": f"PLAINTEXT://{host}:{broker}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        (self.home / "server.properties").write_text(
            "".join(f"{key}={value}\n" for key, value in settings.items())
        )
        (self.home / "log4j2.properties").write_text(
            "rootLogger.level=INFO\nrootLogger.appenderRef.out.ref=out\n"
            "appender.out.type=Console\nappender.out.name=out\n"
            "appender.out.layout.type=PatternLayout\n"
            "appender.out.layout.pattern=[%d] %p %m (%c)%n\n"
        )
        if not (data / "meta.properties").exists():
            tool = java_command("256m", [self.libs / "*"], "kafka.tools.StorageTool")
            cluster_id = subprocess.run(
                [*tool, "random-uuid"], capture_output=True, text=True, check=True
            ).stdout.strip()
            formatted = subprocess.run(
                [*tool, "format", "-t", cluster_id, "-c", str(self.home / "server.properties")],
                capture_output=True,
                text=True,
                check=False,
            )
            if formatted.returncode != 0:
                raise StackError(f"kafka: formatting {data} failed: {formatted.stderr.strip()}")

    def daemons(self) -> list[Daemon]:
        command = java_command(
            "512m",
            [self.libs / "*"],
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "kafka.Kafka",
            str(self.home / "server.properties"),
        )
        return [Daemon(self.name, command, dict(os.environ))]

    def health(self) -> str | None:
        if not self.running():
            return "not running"
        if not port_in_use(self.config.ports["KAFKA"], self.config.service_host):
            return "the broker does not listen yet"
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.config.kafka_bootstrap, "log_level": 0})
        try:
            metadata = admin.list_topics(timeout=3)
        except Exception as error:  # a broker still starting answers with varied errors
            return f"no metadata from the broker: {error}"
        return None if metadata.brokers else "the broker lists no brokers"


class Hdfs(ProcessComponent):
    name = "hdfs"
    port_names = (
        "HDFS_NAMENODE",
        "HDFS_NAMENODE_HTTP",
        "HDFS_DATANODE",
        "HDFS_DATANODE_HTTP",
        "HDFS_DATANODE_IPC",
    )

    @property
    def libs(self) -> Path:
        return self.config.maven_dir("hadoop", self.config.versions["HADOOP_VERSION"])

    def daemon_names(self) -> list[str]:
        return ["namenode", "datanode"]

    def prepare(self) -> None:
        conf, ports, host = self.home / "conf", self.config.ports, self.config.service_host
        conf.mkdir(parents=True, exist_ok=True)
        core = {"fs.defaultFS": self.config.url("HDFS_NAMENODE", scheme="hdfs")}
        hdfs = {
            "dfs.replication": "1",
            "dfs.namenode.name.dir": f"file://{self.home / 'name'}",
            "dfs.datanode.data.dir": f"file://{self.home / 'data'}",
            "dfs.permissions.enabled": "false",
            "dfs.namenode.http-address": f"{host}:{ports['HDFS_NAMENODE_HTTP']}",
            "dfs.datanode.address": f"{host}:{ports['HDFS_DATANODE']}",
            "dfs.datanode.http.address": f"{host}:{ports['HDFS_DATANODE_HTTP']}",
            "dfs.datanode.ipc.address": f"{host}:{ports['HDFS_DATANODE_IPC']}",
            # What the NameNode hands clients (WebHDFS redirects, block reads) for the DataNode.
            "dfs.datanode.hostname": host,
            "dfs.namenode.datanode.registration.ip-hostname-check": "false",
            "dfs.namenode.safemode.extension": "0",
        }
        (conf / "core-site.xml").write_text(hadoop_xml(core))
        (conf / "hdfs-site.xml").write_text(hadoop_xml(hdfs))
        (conf / "log4j.properties").write_text(
            "log4j.rootLogger=INFO,out\nlog4j.appender.out=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.out.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.out.layout.ConversionPattern=%d %p %c: %m%n\n"
        )
        # The daemons' HTTP servers look up webapps/<name> on the classpath; the Maven jars do not
        # carry them, and WebHDFS itself is registered in code, so empty web apps suffice.
        for webapp in ("hdfs", "datanode", "static"):
            web_inf = conf / "webapps" / webapp / "WEB-INF"
            web_inf.mkdir(parents=True, exist_ok=True)
            (web_inf / "web.xml").write_text(
                '<?xml version="1.0"?>\n<web-app xmlns="http://xmlns.jcp.org/xml/ns/javaee" '
                'version="3.1"/>\n'
            )
        if not (self.home / "name" / "current").exists():
            formatted = subprocess.run(
                self._java(
                    "256m",
                    "org.apache.hadoop.hdfs.server.namenode.NameNode",
                    "-format",
                    "-nonInteractive",
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if formatted.returncode != 0:
                last = (formatted.stderr or formatted.stdout).strip().splitlines()[-1:]
                raise StackError(f"hdfs: formatting the NameNode failed: {' '.join(last)}")

    def _java(self, heap: str, main_class: str, *args: str) -> list[str]:
        return java_command(
            heap, [self.home / "conf", self.libs / "*"], *HADOOP_ADD_OPENS, main_class, *args
        )

    def daemons(self) -> list[Daemon]:
        env = {**os.environ, "HADOOP_USER_NAME": os.environ.get("USER", "root")}
        namenode = "org.apache.hadoop.hdfs.server.namenode.NameNode"
        datanode = "org.apache.hadoop.hdfs.server.datanode.DataNode"
        return [
            Daemon("namenode", self._java("512m", namenode), env),
            Daemon("datanode", self._java("256m", datanode), env),
        ]

    def health(self) -> str | None:
        down = [d for d in self.daemon_names() if pid_of(self.pid_file(d)) is None]
        if down:
            return f"{', '.join(down)} not running"
        query = "Hadoop:service=NameNode,name=FSNamesystemState"
        try:
            status, body = http_get(f"{self.config.url('HDFS_NAMENODE_HTTP')}/jmx?qry={query}")
        except OSError as error:
            return f"NameNode HTTP not answering: {error}"
        if status != 200:
            return f"NameNode HTTP answered {status}"
        beans = json.loads(body).get("beans", [])
        if not beans:
            return "NameNode not initialised yet"
        state = beans[0]
        if state.get("NumLiveDataNodes", 0) < 1:
            return "no live DataNode registered"
        if state.get("FSState") != "Operational":
            return f"NameNode in state {state.get('FSState')} (safe mode)"
        return None


def hadoop_xml(properties: dict[str, str]) -> str:
    rows = "".join(
        f"  <property><name>{key}</name><value>{value}</value></property>\n"
        for key, value in properties.items()
    )
    return f'<?xml version="1.0"?>\n<configuration>\n{rows}</configuration>\n'


class Mlflow(ProcessComponent):
    name = "mlflow"
    port_names = ("MLFLOW",)

    def prepare(self) -> None:
        (self.home / "artifacts").mkdir(parents=True, exist_ok=True)
        key_file = self.home / "webhook-secret-key"
        if not key_file.exists():
            from cryptography.fernet import Fernet

            key_file.write_text(Fernet.generate_key().decode())
            key_file.chmod(0o600)

    def daemons(self) -> list[Daemon]:
        env = {
            **os.environ,
            # Webhooks reach receivers on this machine over plain HTTP; a fixed key keeps
            # stored webhook secrets readable across restarts.
            "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
            "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
            "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": (self.home / "webhook-secret-key").read_text(),
            # The GenAI job runner forks eight worker processes (~1.8 GB) the stack never uses.
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        }
        command = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            self.config.service_host,
            "--port",
            str(self.config.ports["MLFLOW"]),
            # The default (localhost and private ranges) need not cover the node's address.
            "--allowed-hosts",
            f"{self.config.service_host}:{self.config.ports['MLFLOW']},localhost",
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{self.home / 'mlflow.db'}",
            "--serve-artifacts",
            "--artifacts-destination",
            str(self.home / "artifacts"),
        ]
        return [Daemon(self.name, command, env)]

    def health(self) -> str | None:
        if not self.running():
            return "not running"
        try:
            status, _ = http_get(f"{self.config.url('MLFLOW')}/health")
        except OSError as error:
            return f"not answering on /health: {error}"
        return None if status == 200 else f"/health answered {status}"


class SparkOperatorStandIn(ProcessComponent):
    """Installs the spark-operator's CRDs (v2.5.2: SparkApplication, ScheduledSparkApplication,
    SparkConnect; the real spark-operator, a pod of `make demo`, watches all three) and runs the
    spark-operator stand-in (spark_standin.py)."""

    name = "spark-operator"
    port_names = ()
    crd_dir = DEV_DIR / "crds"
    crd_name = "sparkapplications.sparkoperator.k8s.io"

    def prepare(self) -> None:
        kubectl = self.config.kube_bin_dir / "kubectl"
        # Server-side: the CRD is too large for kubectl's last-applied annotation.
        applied = subprocess.run(
            [
                str(kubectl),
                "--kubeconfig",
                str(self.config.kubeconfig),
                "apply",
                "--server-side",
                "--force-conflicts",
                "-f",
                str(self.crd_dir),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if applied.returncode != 0:
            raise StackError(
                f"spark-operator: installing the spark-operator's CRDs failed: "
                f"{applied.stderr.strip()}"
            )

    def daemons(self) -> list[Daemon]:
        env = {
            **os.environ,
            "PYTHONPATH": str(DEV_DIR),
            "CONTINUUM_STACK_DIR": str(self.config.stack_dir),
            "CONTINUUM_CACHE": str(self.config.cache_dir),
            **{f"CONTINUUM_{name}_PORT": str(port) for name, port in self.config.ports.items()},
        }
        return [Daemon(self.name, [sys.executable, "-m", "localstack.spark_standin"], env)]

    def health(self) -> str | None:
        if not self.running():
            return "not running"
        from kubernetes import client, config

        try:
            with config.new_client_from_config(str(self.config.kubeconfig)) as api:
                client.ApiextensionsV1Api(api).read_custom_resource_definition(
                    self.crd_name, _request_timeout=3
                )
        except Exception as error:  # absent CRD (404) or an API server still starting
            return f"SparkApplication CRD not readable: {error}"
        return None

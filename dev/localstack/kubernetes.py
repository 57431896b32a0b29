"""Kubernetes: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok's fake nodes.

kwokctl (binary runtime) writes the certificates and kubeconfig and starts the components from
the binaries built by build-kube.sh; its work directory is <stack>/kubernetes, so data, pki and
logs stay inside the stack directory. kwok manages only its own fake nodes (annotated
kwok.x-k8s.io/node=fake) and makes their pods Ready at once; it never touches the real node's
pods (node.py). With a real node the fake nodes are tainted, so only pods that tolerate
kwok.x-k8s.io/node=fake:NoSchedule land on them: scale tests that need many pods and no processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path

from localstack.components import FAKE_NODES, Component
from localstack.config import CLUSTER_NAME, HOST
from localstack.errors import StackError
from localstack.process import pid_of, stop_pid

# The `kubernetes` Service's ClusterIP (first of the API server's default service range): pods'
# in-cluster clients dial it, so the API server's certificate must name it.
KUBERNETES_SERVICE_IP = "10.0.0.1"
FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node=fake"
FAKE_NODE_TAINT = "kwok.x-k8s.io/node=fake:NoSchedule"
# Annotations that put every pod of a namespace on kwok's fake nodes (Ready at once, nothing
# runs): for tests of what the operator asks of Kubernetes, whose pods' images do not exist.
FAKE_NODES_ONLY = {
    "scheduler.alpha.kubernetes.io/node-selector": "type=kwok",
    "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps(
        [
            {
                "key": "kwok.x-k8s.io/node",
                "operator": "Equal",
                "value": "fake",
                "effect": "NoSchedule",
            }
        ]
    ),
}


class Kubernetes(Component):
    name = "kubernetes"
    port_names = (
        "KUBE_APISERVER",
        "ETCD",
        "ETCD_PEER",
        "KWOK",
        "KUBE_CONTROLLER_MANAGER",
        "KUBE_SCHEDULER",
    )

    @property
    def cluster_dir(self) -> Path:
        return self.home / "clusters" / CLUSTER_NAME

    def _kwokctl(self, *args: str) -> list[str]:
        return [str(self.config.kube_bin_dir / "kwokctl"), "--name", CLUSTER_NAME, *args]

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KWOK_WORKDIR": str(self.home),
            "KUBECONFIG": str(self.config.kubeconfig),
            "PATH": f"{self.config.kube_bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def _run(self, *args: str, what: str) -> None:
        log = self.home / "kwokctl.log"
        with log.open("a") as out:
            result = subprocess.run(
                self._kwokctl(*args),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self._env(),
                check=False,
            )
        if result.returncode != 0:
            raise StackError(f"kubernetes: {what} failed (exit {result.returncode}); see {log}")

    def _pids(self) -> list[int]:
        return [
            pid for f in sorted((self.cluster_dir / "pids").glob("*.pid")) if (pid := pid_of(f))
        ]

    def running(self) -> bool:
        return bool(self._pids())

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        bin_dir, ports = self.config.kube_bin_dir, self.config.ports
        (self.home / "kwok.yaml").write_text(
            "kind: KwokctlConfiguration\n"
            "apiVersion: config.kwok.x-k8s.io/v1alpha1\n"
            "options:\n"
            "  runtime: binary\n"
            f"  bindAddress: {HOST}\n"
            f"  kubeBinaryPrefix: {bin_dir}\n"
            f"  etcdBinary: {bin_dir / 'etcd'}\n"
            f"  etcdctlBinary: {bin_dir / 'etcdctl'}\n"
            f"  kwokControllerBinary: {bin_dir / 'kwok'}\n"
            f"  etcdPeerPort: {ports['ETCD_PEER']}\n"
            f"  kubeApiserverCertSANs: [{KUBERNETES_SERVICE_IP}, {self.config.service_host}]\n"
            + self._components_patches()
        )
        if (self.cluster_dir / "kwok.yaml").exists():
            self._check_certificate_serves_pods()
            self._run(
                "-c",
                str(self.home / "kwok.yaml"),
                "start",
                "cluster",
                "--wait",
                "90s",
                what="starting the cluster",
            )
            return
        self._run(
            "-c",
            str(self.home / "kwok.yaml"),
            "create",
            "cluster",
            "--wait",
            "90s",
            "--kube-apiserver-port",
            str(ports["KUBE_APISERVER"]),
            "--etcd-port",
            str(ports["ETCD"]),
            "--controller-port",
            str(ports["KWOK"]),
            "--kube-controller-manager-port",
            str(ports["KUBE_CONTROLLER_MANAGER"]),
            "--kube-scheduler-port",
            str(ports["KUBE_SCHEDULER"]),
            what="creating the cluster",
        )
        self._run("scale", "node", "--replicas", str(FAKE_NODES), what="adding the fake nodes")
        if self.config.real_node:
            self._taint_fake_nodes()

    def _components_patches(self) -> str:
        pki = self.cluster_dir / "pki"
        apiserver = {
            # `kubectl logs/exec/port-forward` on the real node: the API server reaches kubelet
            # on the node's InternalIP and proves itself with the admin certificate.
            "kubelet-client-certificate": pki / "admin.crt",
            "kubelet-client-key": pki / "admin.key",
            "kubelet-preferred-address-types": "InternalIP",
            # A namespace annotated with FAKE_NODES_ONLY keeps its pods on kwok's nodes.
            "enable-admission-plugins": "PodNodeSelector,PodTolerationRestriction",
        }
        if self.config.real_node:
            # Pods reach the API server through the `kubernetes` Service, whose endpoint is the
            # advertised address: the node's, which the host serves and pods can route to.
            apiserver["bind-address"] = "0.0.0.0"
            apiserver["advertise-address"] = self.config.service_host
        kwok = {
            # By default kwok manages every node, the real one included: it would mark the real
            # node's pods Ready before their probes pass and heartbeat for a dead kubelet.
            "manage-all-nodes": "false",
            "manage-nodes-with-annotation-selector": FAKE_NODE_ANNOTATION,
        }
        lines = ["componentsPatches:\n"]
        for component, args in (("kube-apiserver", apiserver), ("kwok-controller", kwok)):
            lines.append(f"- name: {component}\n  extraArgs:\n")
            lines.extend(f"  - key: {key}\n    value: '{value}'\n" for key, value in args.items())
        return "".join(lines)

    def _check_certificate_serves_pods(self) -> None:
        """A cluster created before pods needed the API server lacks its Service IP: say so."""
        if not self.config.real_node:
            return
        from cryptography import x509

        pem = (self.config.kube_pki_dir / "admin.crt").read_bytes()
        certificate = x509.load_pem_x509_certificate(pem)
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        addresses = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
        missing = {KUBERNETES_SERVICE_IP, self.config.service_host} - addresses
        if missing:
            raise StackError(
                f"kubernetes: the cluster in {self.home} was created without "
                f"{', '.join(sorted(missing))} in its API server certificate, so pods on the real "
                "node cannot reach it; recreate it with `make stack-clean && make stack-up`"
            )

    def _taint_fake_nodes(self) -> None:
        kubectl = str(self.config.kube_bin_dir / "kubectl")
        result = subprocess.run(
            [
                kubectl,
                "taint",
                "nodes",
                "--selector=type=kwok",
                "--overwrite",
                f"{FAKE_NODE_TAINT}",
            ],
            capture_output=True,
            text=True,
            env=self._env(),
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"kubernetes: tainting the fake nodes failed: {result.stderr.strip()}")

    def stop(self) -> None:
        if self.cluster_dir.exists():
            # Whatever kwokctl cannot stop (a crashed component, say) is killed by pid below.
            with contextlib.suppress(StackError):
                self._run("stop", "cluster", what="stopping the cluster")
        for pid in self._pids():
            stop_pid(pid)

    def health(self) -> str | None:
        if not self.running():
            return "not running"
        from kubernetes import client, config

        try:
            api = config.new_client_from_config(str(self.config.kubeconfig))
            with api:
                nodes = client.CoreV1Api(api).list_node(_request_timeout=3).items
        except Exception as error:  # the API server answers with varied errors while starting
            return f"API server not ready: {error}"
        fake_key, _, fake_value = FAKE_NODE_ANNOTATION.partition("=")
        ready_nodes = [
            n
            for n in nodes
            if (n.metadata.annotations or {}).get(fake_key) == fake_value
            and any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
        ]
        if len(ready_nodes) < FAKE_NODES:
            return f"{len(ready_nodes)} of {FAKE_NODES} fake nodes Ready"
        return None

    def logs(self) -> list[Path]:
        return [*sorted((self.cluster_dir / "logs").glob("*.log")), self.home / "kwokctl.log"]

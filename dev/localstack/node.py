"""The real node: containerd + runc, kubelet and kube-proxy joined to the stack's control plane.

Pods scheduled to it really run, from images in its containerd (`make images` loads them), with
CNI bridge networking on one pod CIDR and a locally built pause image. Its own files live under
<stack>/node; what it changes on the host (sysctls kubelet sets, iptables chains, the bridge, a
few fixed paths, mounts) is recorded before the first start and restored after stop (hoststate).
Only one real node can run on a machine: kubelet's device-plugin socket and the CNI cache are at
fixed host paths. CONTINUUM_REAL_NODE=0 gives a stack of kwok's fake nodes only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from localstack import hoststate
from localstack.components import Daemon, ProcessComponent
from localstack.config import HOST, StackConfig, node_ip
from localstack.errors import StackError
from localstack.oci import static_binary_image
from localstack.process import pid_of, stop_pid

NODE_NAME = "continuum-node"
NODE_LABEL = "continuum.ml/node"  # value "real"
POD_CIDR = "10.88.0.0/24"
BRIDGE = "continuum0"
CGROUP_ROOT = "continuum"
CNI_BIN_DIR = Path("/usr/lib/cni")
NAMESPACE = "k8s.io"  # the containerd namespace the CRI plugin keeps images and containers in
STOP_PODS_TIMEOUT_S = 90.0


def pause_image(config: StackConfig) -> str:
    return f"localhost/continuum/pause:{config.versions['KUBE_VERSION']}"


def missing_prerequisites() -> list[str]:
    """What the kernel or host lacks for a real node, each with what to do about it."""
    problems = []
    if os.geteuid() != 0:
        problems.append(
            "the real node needs root (kubelet and containerd manage cgroups and mounts)"
        )
    filesystems = Path("/proc/filesystems").read_text()
    if "overlay" not in filesystems:
        problems.append("the kernel has no overlay filesystem (modprobe overlay)")
    if (
        not Path("/sys/fs/cgroup/memory").is_dir()
        and not Path("/sys/fs/cgroup/cgroup.controllers").exists()
    ):
        problems.append("no cgroup v1 memory hierarchy nor cgroup v2 at /sys/fs/cgroup")
    if not Path("/proc/sys/net/bridge").is_dir():
        problems.append(
            "no bridge netfilter in the kernel (modprobe br_netfilter): Services need it"
        )
    for tool, package in (
        ("runc", "runc"),
        ("iptables", "iptables"),
        ("iptables-save", "iptables"),
        ("ip", "iproute2"),
    ):
        if shutil.which(tool) is None:
            problems.append(
                f"{tool} not found (apt-get install {package}; `make stack-fetch` does)"
            )
    if not (CNI_BIN_DIR / "bridge").exists():
        problems.append(
            f"no CNI bridge plugin in {CNI_BIN_DIR} (apt-get install containernetworking-plugins)"
        )
    return problems


class RealNode(ProcessComponent):
    name = "node"
    port_names = ("KUBELET", "KUBELET_HEALTHZ", "KUBE_PROXY_METRICS", "KUBE_PROXY_HEALTHZ")

    @property
    def bin_dir(self) -> Path:
        return self.config.node_bin_dir

    @property
    def socket(self) -> Path:
        return self.home / "containerd" / "containerd.sock"

    @property
    def host_state_file(self) -> Path:
        return self.home / "host-state.json"

    def daemon_names(self) -> list[str]:
        return ["containerd", "kubelet", "kube-proxy"]

    def ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / "ctr"), "--address", str(self.socket), "-n", NAMESPACE]
        result = subprocess.run([*command, *args], capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise StackError(f"node: ctr {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    # -- start -----------------------------------------------------------------------------

    def prepare(self) -> None:
        if not self.host_state_file.exists():
            # Recorded once, before anything of the node ran; deleted only once restored.
            self.host_state_file.write_text(self.host_snapshot().to_json())
        self._make_cgroup_root()
        ip = node_ip()
        self._write_containerd_config()
        self._write_cni_config()
        self._write_kubelet_config(ip)
        self._write_kube_proxy_config()
        self._node_ip = ip

    def daemon_started(self, daemon: str) -> None:
        # kubelet exits when its runtime does not answer: containerd must be up before it.
        if daemon == "containerd":
            self._wait_for_containerd()
            self._load_pause_image()

    def _make_cgroup_root(self) -> None:
        """kubelet's cgroupRoot must exist in every v1 hierarchy (cpuset copied from its parent)."""
        base = Path("/sys/fs/cgroup")
        if (base / "cgroup.controllers").exists():
            (base / CGROUP_ROOT).mkdir(exist_ok=True)
            return
        for hierarchy in sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink()):
            target = hierarchy / CGROUP_ROOT
            target.mkdir(exist_ok=True)
            if hierarchy.name.startswith("cpuset") or (hierarchy / "cpuset.cpus").exists():
                for knob in ("cpuset.cpus", "cpuset.mems"):
                    if (target / knob).read_text().strip() == "":
                        (target / knob).write_text((hierarchy / knob).read_text())

    def _write_containerd_config(self) -> None:
        home = self.home / "containerd"
        home.mkdir(parents=True, exist_ok=True)
        (home / "runc").mkdir(exist_ok=True)
        # containerd's default spec, with a file limit this host lets runc set whoever starts
        # containerd (the default asks for more than the hard limit some hosts allow root).
        default_spec = subprocess.run(
            [str(self.bin_dir / "ctr"), "oci", "spec"], capture_output=True, text=True, check=True
        ).stdout
        spec = json.loads(default_spec)
        spec["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024}]
        (home / "base-runtime-spec.json").write_text(json.dumps(spec))
        runc = shutil.which("runc")
        (home / "config.toml").write_text(
            f"""version = 4
root = "{home / "root"}"
state = "{home / "state"}"
imports = []

[plugins."io.containerd.server.v1.grpc"]
  address = "{self.socket}"

[plugins."io.containerd.server.v1.ttrpc"]
  address = "{self.socket}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{home / "opt"}"

[plugins."io.containerd.shim.v1.manager"]
  socket_dir = "{self.home / "s"}"

[plugins."io.containerd.nri.v1.nri"]
  disable = true

[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = "{pause_image(self.config)}"

[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true

[plugins."io.containerd.cri.v1.runtime".containerd]
  default_runtime_name = "runc"

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  base_runtime_spec = "{home / "base-runtime-spec.json"}"

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
  BinaryName = "{runc}"
  Root = "{home / "runc"}"
  SystemdCgroup = false

[plugins."io.containerd.cri.v1.runtime".cni]
  bin_dirs = ["{CNI_BIN_DIR}"]
  conf_dir = "{self.home / "cni" / "net.d"}"
  max_conf_num = 1
"""
        )

    def _write_cni_config(self) -> None:
        net_d = self.home / "cni" / "net.d"
        net_d.mkdir(parents=True, exist_ok=True)
        conf = {
            "cniVersion": "1.0.0",
            "name": "continuum",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "ipMasq": True,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_CIDR}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.home / "cni" / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
        (net_d / "10-continuum.conflist").write_text(json.dumps(conf, indent=1))

    def _kubeconfig(self) -> Path:
        # The node uses the stack's admin credentials: this is a one-node development cluster.
        return self.config.kubeconfig

    def _write_kubelet_config(self, ip: str) -> None:
        kubelet = self.home / "kubelet"
        kubelet.mkdir(parents=True, exist_ok=True)
        (self.home / "pod-logs").mkdir(exist_ok=True)
        ports = self.config.ports
        settings = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "cgroupDriver": "cgroupfs",
            "failCgroupV1": False,
            "cgroupRoot": f"/{CGROUP_ROOT}",
            "cgroupsPerQOS": True,
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "address": ip,
            "port": ports["KUBELET"],
            "readOnlyPort": 0,
            "healthzBindAddress": HOST,
            "healthzPort": ports["KUBELET_HEALTHZ"],
            "podLogsDir": str(self.home / "pod-logs"),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(self.config.kube_pki_dir / "ca.crt")},
            },
            "authorization": {"mode": "Webhook"},
            "failSwapOn": False,
            "maxPods": 60,
            "serializeImagePulls": False,
            # Images are loaded, never pulled: nothing may garbage-collect them.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            # A shared development machine runs low on disk and memory at times; evicting the
            # stack's pods for it would only confuse the tests.
            "evictionHard": {
                "memory.available": "50Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
            },
            "protectKernelDefaults": False,
            "resolvConf": "/etc/resolv.conf",
            "shutdownGracePeriod": "0s",
        }
        (kubelet / "config.json").write_text(json.dumps(settings, indent=1))

    def _write_kube_proxy_config(self) -> None:
        proxy = self.home / "kube-proxy"
        proxy.mkdir(parents=True, exist_ok=True)
        ports = self.config.ports
        settings = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "mode": "iptables",
            "clientConnection": {"kubeconfig": str(self._kubeconfig())},
            "hostnameOverride": NODE_NAME,
            "clusterCIDR": POD_CIDR,
            "metricsBindAddress": f"{HOST}:{ports['KUBE_PROXY_METRICS']}",
            "healthzBindAddress": f"{HOST}:{ports['KUBE_PROXY_HEALTHZ']}",
            # Leave the host's conntrack limits and route_localnet as they are.
            "conntrack": {
                "maxPerCore": 0,
                "min": 0,
                "tcpEstablishedTimeout": "0s",
                "tcpCloseWaitTimeout": "0s",
            },
            "iptables": {"localhostNodePorts": False},
        }
        (proxy / "config.json").write_text(json.dumps(settings, indent=1))

    def daemons(self) -> list[Daemon]:
        env = {**os.environ, "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        ip = getattr(self, "_node_ip", None) or node_ip()
        containerd = [
            str(self.bin_dir / "containerd"),
            "--config",
            str(self.home / "containerd" / "config.toml"),
        ]
        kubelet = [
            str(self.bin_dir / "kubelet"),
            f"--config={self.home / 'kubelet' / 'config.json'}",
            f"--kubeconfig={self._kubeconfig()}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={ip}",
            f"--node-labels={NODE_LABEL}=real",
            f"--root-dir={self.home / 'kubelet' / 'root'}",
            f"--cert-dir={self.home / 'kubelet' / 'pki'}",
            "--v=1",
        ]
        proxy = [
            str(self.bin_dir / "kube-proxy"),
            f"--config={self.home / 'kube-proxy' / 'config.json'}",
        ]
        return [
            Daemon("containerd", containerd, env),
            Daemon("kubelet", kubelet, env),
            Daemon("kube-proxy", proxy, env),
        ]

    def _wait_for_containerd(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.ctr("version", check=False).returncode != 0:
            if time.monotonic() > deadline or pid_of(self.pid_file("containerd")) is None:
                raise StackError(
                    f"node: containerd did not answer on {self.socket}; see "
                    f"{self.log_file('containerd')}"
                )
            time.sleep(0.2)

    def _load_pause_image(self) -> None:
        name = pause_image(self.config)
        if name in self.ctr("images", "ls", "-q").stdout.split():
            return
        archive = self.home / "pause.tar"
        archive.write_bytes(static_binary_image(self.bin_dir / "pause", "/pause", name))
        self.ctr("images", "import", "--local", str(archive))

    def load_image(self, archive: Path) -> None:
        """Import an image archive (OCI or docker format) into the node's containerd."""
        self.ctr("images", "import", "--local", str(archive))
        (self.home / "images").mkdir(exist_ok=True)
        (self.home / "images" / archive.name).touch()

    def has_image_archive(self, archive: Path) -> bool:
        """Whether this very archive (its name holds its inputs' digest) was loaded already."""
        return (self.home / "images" / archive.name).exists()

    # -- health ----------------------------------------------------------------------------

    def node(self) -> dict[str, object] | None:
        from kubernetes import client, config

        with config.new_client_from_config(str(self.config.kubeconfig)) as api:
            try:
                return client.CoreV1Api(api).read_node(NODE_NAME, _request_timeout=3).to_dict()
            except client.ApiException as error:
                if error.status == 404:
                    return None
                raise

    def health(self) -> str | None:
        down = [d for d in self.daemon_names() if pid_of(self.pid_file(d)) is None]
        if down:
            return f"{', '.join(down)} not running"
        try:
            node = self.node()
        except Exception as error:  # the API server answers with varied errors while starting
            return f"API server not answering about the node: {error}"
        if node is None:
            return f"node {NODE_NAME} not registered yet"
        conditions = node["status"]["conditions"] or []
        ready = next((c for c in conditions if c["type"] == "Ready"), None)
        if ready is None or ready["status"] != "True":
            return f"node {NODE_NAME} not Ready"
        # A Node left Ready by the previous kubelet (its deletion on stop is best effort) stays
        # Ready for the node controller's grace period: only a heartbeat of this kubelet counts.
        try:
            started = self.pid_file("kubelet").stat().st_mtime
        except OSError:
            return "kubelet not running"
        if ready["last_heartbeat_time"].timestamp() < int(started):
            return f"node {NODE_NAME} Ready only as its previous kubelet left it"
        return None

    def describe(self) -> str:
        """One line for `make stack-status`: the node, its kubelet and its runtime."""
        try:
            node = self.node()
        except Exception:  # status must print something whatever the API server does
            node = None
        if node is None:
            return f"{NODE_NAME}: not registered"
        info = node["status"]["node_info"]
        address = next(
            (a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"), "?"
        )
        return (
            f"{NODE_NAME} {address} kubelet {info['kubelet_version']}, "
            f"{info['container_runtime_version']}, {info['kernel_version']}"
        )

    # -- stop ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Drain the node, stop its daemons, and restore the host as it was before the start."""
        if pid_of(self.pid_file("kubelet")) is not None:
            with contextlib.suppress(Exception):  # without an API server, the tasks are killed
                self._drain()
        if pid_of(self.pid_file("containerd")) is not None:
            self._kill_remaining_tasks()
        for daemon in ("kube-proxy", "kubelet"):
            pid = pid_of(self.pid_file(daemon))
            if pid is not None:
                stop_pid(pid)
            self.pid_file(daemon).unlink(missing_ok=True)
        if (self.bin_dir / "kube-proxy").exists() and self.host_state_file.exists():
            subprocess.run(
                [str(self.bin_dir / "kube-proxy"), "--cleanup"],
                capture_output=True,
                check=False,
            )
        pid = pid_of(self.pid_file("containerd"))
        if pid is not None:
            stop_pid(pid)
        self.pid_file("containerd").unlink(missing_ok=True)
        self._remove_cgroup_root()
        self.restore_host()

    def host_snapshot(self) -> hoststate.HostState:
        """What the node may change on the host, its own mounts under the stack included."""
        return hoststate.snapshot(mount_roots=(str(self.home),))

    def restore_host(self) -> None:
        if not self.host_state_file.exists():
            return
        before = hoststate.HostState.from_json(self.host_state_file.read_text())
        problems = hoststate.restore(before, owned_link_prefixes=(BRIDGE, "veth"))
        if problems:
            raise StackError("node: the host is not as before: " + "; ".join(problems))
        self.host_state_file.unlink()

    def _drain(self) -> None:
        """Delete the node's pods and wait until containerd runs none (so CNI tears down)."""
        from kubernetes import client, config

        with config.new_client_from_config(str(self.config.kubeconfig)) as api:
            core = client.CoreV1Api(api)
            core.patch_node(NODE_NAME, {"spec": {"unschedulable": True}}, _request_timeout=5)
            pods = core.list_pod_for_all_namespaces(
                field_selector=f"spec.nodeName={NODE_NAME}", _request_timeout=10
            ).items
            for pod in pods:
                with contextlib.suppress(client.ApiException):
                    core.delete_namespaced_pod(
                        pod.metadata.name,
                        pod.metadata.namespace,
                        grace_period_seconds=min(
                            pod.spec.termination_grace_period_seconds or 30, 30
                        ),
                    )
            deadline = time.monotonic() + STOP_PODS_TIMEOUT_S
            while self.ctr("tasks", "ls", "-q", check=False).stdout.strip():
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            # The next start registers afresh, schedulable.
            with contextlib.suppress(client.ApiException):
                core.delete_node(NODE_NAME, _request_timeout=5)

    def _kill_remaining_tasks(self) -> None:
        for task in self.ctr("tasks", "ls", "-q", check=False).stdout.split():
            self.ctr("tasks", "kill", "-s", "SIGKILL", task, check=False)

    def _remove_cgroup_root(self) -> None:
        base = Path("/sys/fs/cgroup")
        for root in [*sorted(base.glob(f"*/{CGROUP_ROOT}")), base / CGROUP_ROOT]:
            if root.is_dir():
                # Deepest first: a cgroup directory goes only once its children have.
                for child in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                    if child.is_dir():
                        with contextlib.suppress(OSError):
                            child.rmdir()
                with contextlib.suppress(OSError):
                    root.rmdir()

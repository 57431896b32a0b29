"""The project's images, built without a Docker engine and loaded into the real node.

buildah builds the Dockerfiles as they are; only their base is made here: a Debian bookworm
filesystem with Python 3.11 made by mmdebstrap (from the host's own apt sources), committed as
`localhost/continuum/debian-python:bookworm` and passed as the PYTHON_IMAGE build argument, whose
default is the public image a CI with a registry pulls; the spark-operator's image starts from
the workloads image (its Spark) and adds the operator's binary, built from its Go module.
buildah keeps its storage in the per-user cache. An image is rebuilt only when its inputs change
(the files its Dockerfile copies, the Dockerfile, the base), and loaded into the node's containerd
only when the node lacks it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from localstack.config import REPO_DIR, StackConfig
from localstack.errors import StackError

BASE_IMAGE = "localhost/continuum/debian-python:bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates", "passwd")
LOCAL_CAS = "/usr/local/share/ca-certificates"
SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
# What the Dockerfiles copy; everything else in the checkout leaves an image as it is.
INPUTS = ("pyproject.toml", "operator", "workloads", "images", "build/spark-jars")
SPARK_JARS_CONTEXT = REPO_DIR / "build" / "spark-jars"
SPARK_OPERATOR_CONTEXT = REPO_DIR / "build" / "spark-operator"
IGNORED = ("__pycache__", ".egg-info", ".pyc")


@dataclass(frozen=True)
class Image:
    name: str
    dockerfile: str
    inputs: tuple[str, ...] = INPUTS
    built_on: str | None = None
    """Another of these images, the one this one starts from (its Dockerfile's
    `<NAME>_IMAGE` argument); None: the Python base (PYTHON_IMAGE)."""

    def tag(self, version: str) -> str:
        """The name pods use (manifests/, samples): containerd reads it as docker.io/<tag>."""
        return f"continuum/{self.name}:{version}"


IMAGES = (
    Image("operator", "Dockerfile"),
    Image("workloads", "Dockerfile.workloads"),
    # Built after the workloads image, which it starts from.
    Image(
        "spark-operator",
        "Dockerfile.spark-operator",
        inputs=("build/spark-operator",),
        built_on="workloads",
    ),
)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def project_version() -> str:
    from importlib.metadata import version

    return version("continuum")


def inputs_digest(image: Image, base_id: str, root: Path = REPO_DIR) -> str:
    """A digest of everything that goes into an image: change one byte and it is rebuilt."""
    digest = hashlib.sha256(f"{image.dockerfile}\0{base_id}\0".encode())
    digest.update((root / image.dockerfile).read_bytes())
    for name in image.inputs:
        path = root / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and not any(part in str(file) for part in IGNORED):
                digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def stage_spark_jars(config: StackConfig) -> Path:
    """Copy Spark's Kafka connector jars (fetched by Maven into the cache) and the scorer's own jar
    into the build context, where Dockerfile.workloads copies them from."""
    from localstack.artifacts import ensure_spark_kafka

    ensure_spark_kafka(config)
    shutil.rmtree(SPARK_JARS_CONTEXT, ignore_errors=True)
    SPARK_JARS_CONTEXT.mkdir(parents=True)
    for jar in config.spark_jars:
        shutil.copy2(jar, SPARK_JARS_CONTEXT / jar.name)
    return SPARK_JARS_CONTEXT


def stage_spark_operator(config: StackConfig) -> Path:
    """Copy the spark-operator's binary (built from its Go module into the cache) into the build
    context, where Dockerfile.spark-operator copies it from."""
    from localstack.artifacts import ensure_spark_operator

    binary = ensure_spark_operator(config) / "spark-operator"
    SPARK_OPERATOR_CONTEXT.mkdir(parents=True, exist_ok=True)
    staged = SPARK_OPERATOR_CONTEXT / binary.name
    if not staged.exists() or staged.read_bytes() != binary.read_bytes():
        shutil.copy2(binary, staged)
    return SPARK_OPERATOR_CONTEXT


class Builder:
    """buildah with its storage in the per-user cache, the archives beside it."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.home = config.cache_dir / "images"
        self.archives = self.home / "archives"

    def buildah(self, *args: str, log: Path | None = None) -> str:
        command = [
            "buildah",
            "--root",
            str(self.home / "storage"),
            "--runroot",
            str(self.home / "run"),
            "--storage-driver",
            "overlay",
            *args,
        ]
        if log is None:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            output, errors = result.stdout, result.stderr
        else:
            with log.open("w") as out:
                result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
            output, errors = "", log.read_text(errors="replace")[-2000:]
        if result.returncode != 0:
            where = f" (full log: {log})" if log else ""
            raise StackError(f"buildah {args[0]} failed: {errors.strip()[-600:]}{where}")
        return output.strip()

    def image_id(self, name: str) -> str | None:
        try:
            return self.buildah("inspect", "--type", "image", "--format", "{{.FromImageID}}", name)
        except StackError:
            return None

    def base(self) -> str:
        """The base image's id, made with mmdebstrap the first time."""
        existing = self.image_id(BASE_IMAGE)
        if existing:
            return existing
        sources = next((s for s in SOURCES if s.exists()), None)
        if shutil.which("mmdebstrap") is None or sources is None:
            raise StackError("building the base image needs mmdebstrap and Debian apt sources")
        self.home.mkdir(parents=True, exist_ok=True)
        rootfs = self.home / "debian-python.tar"
        say(f"making the base image {BASE_IMAGE} with mmdebstrap (about 1-3 min)")
        began = time.monotonic()
        log = self.home / "mmdebstrap.log"
        with log.open("w") as out:
            result = subprocess.run(
                [
                    "mmdebstrap",
                    "--variant=minbase",
                    f"--include={','.join(BASE_PACKAGES)}",
                    "--dpkgopt=path-exclude=/usr/share/doc/*",
                    "--dpkgopt=path-exclude=/usr/share/man/*",
                    "--dpkgopt=path-exclude=/usr/share/locale/*",
                    *self._local_ca_hooks(),
                    "bookworm",
                    str(rootfs),
                    str(sources),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if result.returncode != 0:
            raise StackError(f"mmdebstrap failed; see {log}")
        container = self.buildah("from", "scratch")
        try:
            self.buildah("add", container, str(rootfs), "/")
            # pip as Debian ships it reads its own CA list unless told to use the system's.
            self.buildah(
                "config",
                "--cmd",
                "/bin/sh",
                "--env",
                "PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
                container,
            )
            self.buildah("commit", "--rm", container, BASE_IMAGE)
        except StackError:
            self.buildah("rm", container)
            raise
        rootfs.unlink()
        say(f"base image ready in {time.monotonic() - began:.0f} s")
        return self.image_id(BASE_IMAGE) or ""

    @staticmethod
    def _local_ca_hooks() -> list[str]:
        """The host's own certificate authorities (a TLS-inspecting proxy's, say) go into the
        base, so its builds reach the package registries as the host does."""
        if not any(Path(LOCAL_CAS).glob("*.crt")):
            return []
        return [
            f"--customize-hook=sync-in {LOCAL_CAS} {LOCAL_CAS}",
            '--customize-hook=chroot "$1" update-ca-certificates',
        ]

    def build(self, image: Image) -> Path:
        """The image's archive, built only when its inputs changed since the last build."""
        if image.built_on is None:
            base_argument, base = "PYTHON_IMAGE", BASE_IMAGE
            base_id = self.base()
        else:
            base_argument = f"{image.built_on.upper()}_IMAGE"
            base = f"localhost/continuum/{image.built_on}:{project_version()}"
            base_id = self.image_id(base) or ""
            if not base_id:
                raise StackError(f"{image.name} is built on {base}, which is not built")
        digest = inputs_digest(image, base_id)
        archive = self.archives / f"{image.name}-{digest}.tar"
        if archive.exists():
            say(f"{image.name}: up to date ({archive.name})")
            return archive
        tag = image.tag(project_version())
        say(f"building {tag} from {image.dockerfile} (inputs {digest})")
        began = time.monotonic()
        self.archives.mkdir(parents=True, exist_ok=True)
        log = self.home / f"build-{image.name}.log"
        self.buildah(
            "build",
            "--layers",
            "--isolation",
            "chroot",
            "--ulimit",
            "nofile=1024:4096",
            "--build-arg",
            f"{base_argument}={base}",
            "-f",
            str(REPO_DIR / image.dockerfile),
            "-t",
            tag,
            str(REPO_DIR),
            log=log,
        )
        partial = archive.with_suffix(".partial")
        self.buildah("push", tag, f"docker-archive:{partial}:docker.io/{tag}")
        for old in self.archives.glob(f"{image.name}-*.tar"):
            old.unlink()
        partial.rename(archive)
        size = archive.stat().st_size / 2**20
        say(f"{tag} built in {time.monotonic() - began:.0f} s, {size:.0f} MiB")
        return archive


def build_and_load(config: StackConfig, names: list[str] | None = None) -> dict[str, Path]:
    """Build the images (all, or those named) and load them into the node when it runs."""
    from localstack.node import RealNode

    stage_spark_jars(config)
    stage_spark_operator(config)
    builder = Builder(config)
    chosen = [i for i in IMAGES if names is None or i.name in names]
    archives = {image.name: builder.build(image) for image in chosen}
    node = RealNode(config)
    if not config.real_node or node.health() is not None:
        say("the real node is not running: images built, not loaded (`make stack-up` first)")
        return archives
    for name, archive in archives.items():
        if node.has_image_archive(archive):
            continue
        say(f"loading {name} into the node's containerd")
        node.load_image(archive)
    return archives

"""Where split batches go: a local directory or HDFS through WebHDFS.

A batch is staged locally, placed at its destination, and only then gets its completion marker,
so whoever watches the destination never sees a marked batch that is incomplete.
"""

from __future__ import annotations

import getpass
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from hdfs import InsecureClient

MARKER = "_SUCCESS"


class Store(Protocol):
    def exists(self, path: str) -> bool: ...

    def publish(self, staged: Path, path: str) -> None:
        """Puts the staged directory's files at `path`, then writes the marker there."""
        ...


class LocalStore:
    def exists(self, path: str) -> bool:
        return Path(path).exists()

    def publish(self, staged: Path, path: str) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staged, target)
        (target / MARKER).touch()


@dataclass(frozen=True)
class WebHdfsStore:
    client: InsecureClient

    def exists(self, path: str) -> bool:
        return self.client.status(path, strict=False) is not None

    def publish(self, staged: Path, path: str) -> None:
        self.client.upload(path, str(staged))
        self.client.write(f"{path}/{MARKER}", data=b"")


def join(root: str, name: str) -> str:
    return f"{root.rstrip('/')}/{name}"


def open_store(uri: str, webhdfs_url: str | None = None) -> tuple[Store, str]:
    """The store for `uri` and the path inside it.

    `file://` URIs and plain paths are local. `webhdfs://host:port/path` talks to that NameNode's
    HTTP address; `hdfs://` URIs name the RPC address, which WebHDFS cannot use, so they take the
    HTTP address from `webhdfs_url` or the WEBHDFS_URI variable. The HDFS user is
    HADOOP_USER_NAME, else the login name.
    """
    parts = urlsplit(uri)
    if parts.scheme in ("", "file"):
        return LocalStore(), parts.path if parts.scheme else uri
    if parts.scheme == "webhdfs":
        http_url = f"http://{parts.netloc}"
    elif parts.scheme == "hdfs":
        http_url = webhdfs_url or os.environ.get("WEBHDFS_URI", "")
        if not http_url:
            raise ValueError(
                f"{uri}: hdfs:// output goes through WebHDFS; give its address with --webhdfs "
                "or the WEBHDFS_URI variable (e.g. http://namenode:9870)"
            )
    else:
        raise ValueError(
            f"{uri}: unsupported scheme {parts.scheme!r} (use a path, file://, "
            "hdfs:// or webhdfs://)"
        )
    user = os.environ.get("HADOOP_USER_NAME") or getpass.getuser()
    return WebHdfsStore(InsecureClient(http_url, user=user)), parts.path or "/"

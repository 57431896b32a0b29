"""Listing a data directory: `hdfs://` and `webhdfs://` through WebHDFS, `file://` on the
operator's own filesystem.

One call costs one listing of the directory, plus one listing per child the caller asks to probe
(the TrainingPipeline controller: its unprocessed candidate batches), to learn whether the
completion marker is there. Each listing is counted in `continuum_data_listings_total`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from hdfs import InsecureClient

from continuum_operator.adapters import metrics
from continuum_workloads.dataset.batches import ListingEntry

WEBHDFS_DEFAULT_PORT = 9870
"""Hadoop 3's NameNode HTTP port, used when no WebHDFS address is configured for a NameNode."""
_TIMEOUT_SECONDS = 10.0


class DataSourceError(Exception):
    """The data directory could not be listed; `str()` says why, for the condition message."""


def parse_webhdfs_map(text: str) -> dict[str, str]:
    """`namenode:8020=http://namenode:9870,other:8020=https://other:9871` → {authority: URL}.
    A single URL without `=` applies to every `hdfs://` authority (key `*`)."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        authority, separator, url = item.rpartition("=")
        mapping[authority if separator else "*"] = url.rstrip("/")
    return mapping


@dataclass(frozen=True)
class Location:
    webhdfs_url: str | None
    """None for `file://`: the path is local."""
    path: str


def resolve(uri: str, webhdfs_map: Mapping[str, str]) -> Location:
    """Where to list `uri`: `hdfs://host:port/p` via the WebHDFS address configured for
    `host:port` (else `http://host:9870`), `webhdfs://host:port/p` via `http://host:port`."""
    parts = urlsplit(uri)
    path = parts.path or "/"
    if parts.scheme == "file":
        return Location(None, path)
    if parts.scheme == "webhdfs":
        return Location(f"http://{parts.netloc}", path)
    if parts.scheme == "hdfs":
        configured = webhdfs_map.get(parts.netloc) or webhdfs_map.get("*")
        return Location(configured or f"http://{parts.hostname}:{WEBHDFS_DEFAULT_PORT}", path)
    raise DataSourceError(f"unsupported data URI scheme {parts.scheme!r} in {uri}")


Lister = Callable[[str], list[tuple[str, bool, int]]]
"""A directory's children as (name, is_directory, modification time in ms)."""


def _local_lister(path: str) -> list[tuple[str, bool, int]]:
    return [
        (child.name, child.is_dir(), int(child.stat().st_mtime * 1000))
        for child in Path(path).iterdir()
    ]


def _webhdfs_lister(client: InsecureClient) -> Lister:
    def listing(path: str) -> list[tuple[str, bool, int]]:
        return [
            (name, status["type"] == "DIRECTORY", int(status["modificationTime"]))
            for name, status in client.list(path, status=True)
        ]

    return listing


def _counted(lister: Lister, transport: str) -> Lister:
    """`lister`, counting each call in `metrics.DATA_LISTINGS`: what the operator costs the
    NameNode is read from the operator itself, whatever else lists the same directories."""

    def listing(path: str) -> list[tuple[str, bool, int]]:
        try:
            children = lister(path)
        except Exception:
            metrics.DATA_LISTINGS.labels(transport, "error").inc()
            raise
        metrics.DATA_LISTINGS.labels(transport, "ok").inc()
        return children

    return listing


class DataSourceLister:
    """Lists data directories; WebHDFS clients are kept per address so connections are reused."""

    def __init__(self, webhdfs_map: Mapping[str, str], user: str | None = None) -> None:
        self._webhdfs_map = dict(webhdfs_map)
        self._user = user
        self._clients: dict[str, InsecureClient] = {}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> DataSourceLister:
        return cls(
            parse_webhdfs_map(environ.get("CONTINUUM_WEBHDFS_URL", "")),
            environ.get("HADOOP_USER_NAME"),
        )

    def _lister(self, location: Location) -> Lister:
        if location.webhdfs_url is None:
            return _counted(_local_lister, "file")
        client = self._clients.get(location.webhdfs_url)
        if client is None:
            client = InsecureClient(location.webhdfs_url, user=self._user, timeout=_TIMEOUT_SECONDS)
            self._clients[location.webhdfs_url] = client
        return _counted(_webhdfs_lister(client), "webhdfs")

    def entries(
        self, uri: str, completion_marker: str, probe: Callable[[ListingEntry], bool]
    ) -> list[ListingEntry]:
        """The children of the directory `uri`, with `has_marker` filled in for those `probe`
        selects (each costs a listing of its own)."""
        location = resolve(uri, self._webhdfs_map)
        lister = self._lister(location)
        base = location.path.rstrip("/") or "/"
        try:
            children = [ListingEntry(name, is_dir, mtime) for name, is_dir, mtime in lister(base)]
            probed = {
                entry.name: any(
                    child == completion_marker for child, _, _ in lister(f"{base}/{entry.name}")
                )
                for entry in children
                if probe(entry)
            }
        except Exception as error:  # every transport or HTTP error means "unavailable"
            raise DataSourceError(f"cannot list {uri}: {_describe(error)}") from error
        return [replace(entry, has_marker=probed.get(entry.name, False)) for entry in children]


def _describe(error: Exception) -> str:
    # WebHDFS errors carry the NameNode's message; connection errors a long urllib3 chain whose
    # last line is the useful part.
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[-1][:500]

"""The package layout is the architecture: these checks keep the imports to it. The operator and
the workloads meet only in the contract and the batch rules, which import nothing beyond the
standard library (the operator's image holds no Spark); what every kind shares never imports a
kind."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
OPERATOR = REPO / "operator" / "continuum_operator"
WORKLOADS = REPO / "workloads" / "continuum_workloads"
SHARED = {"continuum_workloads.contract", "continuum_workloads.dataset.batches"}


def imported(path: Path) -> Iterator[str]:
    """Every module `path` imports, absolute names (`from x import y` gives x and x.y)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def modules(root: Path) -> list[Path]:
    return sorted(root.rglob("*.py"))


@pytest.mark.parametrize("path", modules(OPERATOR), ids=lambda p: str(p.relative_to(OPERATOR)))
def test_the_operator_uses_the_workloads_only_through_the_shared_modules(path: Path) -> None:
    # `from continuum_workloads import contract` names the package, then the module.
    allowed = {*SHARED, *(parent for name in SHARED for parent in parents(name))}
    beyond = [
        name
        for name in imported(path)
        if name.startswith("continuum_workloads")
        and name not in allowed
        and not name.startswith(tuple(f"{shared}." for shared in SHARED))
    ]
    assert not beyond, f"{path.name} imports {beyond}"


@pytest.mark.parametrize("path", modules(WORKLOADS), ids=lambda p: str(p.relative_to(WORKLOADS)))
def test_the_workloads_never_import_the_operator(path: Path) -> None:
    assert not [name for name in imported(path) if name.startswith("continuum_operator")]


@pytest.mark.parametrize("module", sorted(SHARED))
def test_the_shared_modules_need_only_the_standard_library(module: str) -> None:
    path = REPO / "workloads" / (module.replace(".", "/") + ".py")
    outside = {
        name
        for name in imported(path)
        if name.split(".")[0] not in sys.stdlib_module_names and name not in SHARED
    }
    assert not outside - {"__future__.annotations"}


@pytest.mark.parametrize(
    "path",
    modules(OPERATOR / "core") + modules(OPERATOR / "adapters"),
    ids=lambda p: str(p.relative_to(OPERATOR)),
)
def test_what_every_kind_shares_imports_no_kind(path: Path) -> None:
    kinds = ("continuum_operator.training", "continuum_operator.serving")
    assert not [name for name in imported(path) if name.startswith(kinds)]

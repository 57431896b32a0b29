"""The operator's own environment (.venv-operator, what its image holds) has no Spark or pandas,
and the `continuum` command there says what a data command needs instead of failing on an import.
The operator tests run the operator from this environment, which proves it needs nothing more."""

from __future__ import annotations

import subprocess
from pathlib import Path

from localstack.harness import OPERATOR_PYTHON


def in_operator_environment(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(OPERATOR_PYTHON), *argv], capture_output=True, text=True, timeout=120, check=False
    )


def test_it_holds_neither_spark_nor_pandas() -> None:
    probe = "import importlib.util as u; print([m for m in ('pyspark','pandas') if u.find_spec(m)])"
    assert in_operator_environment("-c", probe).stdout.strip() == "[]"


def test_data_commands_there_name_the_extra_they_need(tmp_path: Path) -> None:
    out = tmp_path / "cars.csv"
    done = in_operator_environment(
        "-m", "continuum_operator.cli", "data", "generate", "--rows", "5", "--out", str(out)
    )
    assert done.returncode == 1
    assert "continuum data generate: needs" in done.stderr
    assert "pip install 'continuum[workloads]'" in done.stderr
    assert not out.exists()

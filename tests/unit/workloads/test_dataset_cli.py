"""`continuum data generate` and `continuum data split`."""

from __future__ import annotations

from pathlib import Path

import pytest

from continuum_operator.cli import main


def test_generate_then_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    source = tmp_path / "listings.csv"
    assert main(["data", "generate", "--rows", "500", "--seed", "4", "--out", str(source)]) == 0
    assert "500 listings (seed 4)" in capsys.readouterr().out

    argv = ["data", "split", "--input", str(source), "--out", str(tmp_path / "in")]
    assert main([*argv, "--batches", "2", "--test-fraction", "0.2"]) == 0
    out = capsys.readouterr()
    assert "train rows in 2 batches" in out.out
    assert "batch-0002" in out.err
    assert (tmp_path / "in" / "batch-0002" / "_SUCCESS").exists()


def test_errors_are_one_line_and_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    argv = ["data", "split", "--input", str(tmp_path / "absent.csv"), "--out", str(tmp_path)]
    assert main([*argv, "--batches", "2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("continuum data split: ") and "absent.csv" in err


def test_bad_numbers_are_usage_errors(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "split", "--input", "x", "--out", "y", "--batches", "0"])
    assert exit_info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err

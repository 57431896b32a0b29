"""The `continuum` command line."""

from __future__ import annotations

import pytest

from continuum_operator.cli import main


def test_without_a_command_it_prints_help_and_fails(capsys: pytest.CaptureFixture[str]):
    assert main([]) == 2
    assert "usage: continuum" in capsys.readouterr().err


def test_version_names_the_installed_distribution(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("continuum 0.1.0")

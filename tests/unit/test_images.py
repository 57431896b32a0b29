"""The images' recipes agree with what runs in them: the operator's default application file is
where the workloads image puts the job, and both images run as a non-root user."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from continuum_operator.training.spec import Training

REPO = Path(__file__).resolve().parents[2]


def final_stage(dockerfile: str) -> str:
    return (REPO / dockerfile).read_text().rsplit("\nFROM ", 1)[1]


def test_the_default_application_file_is_the_job_the_workloads_image_holds() -> None:
    default = Training.model_fields["main_application_file"].default
    image_path = default.removeprefix("local://")
    [(source, target)] = re.findall(
        r"^COPY (workloads/) (\S+)$", final_stage("Dockerfile.workloads"), re.M
    )
    assert image_path.startswith(target)
    assert (REPO / source / image_path.removeprefix(target)).is_file()


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.workloads"])
def test_images_run_as_a_non_root_user(dockerfile: str) -> None:
    [user] = re.findall(r"^USER (\d+):(\d+)$", final_stage(dockerfile), re.M)
    assert all(int(part) > 0 for part in user)

"""What the specs of every kind share: the model base, durations, Secret references, and how a
spec that the CRD schema let through but the operator cannot act on is reported.

The CRD schemas reject most bad input at `kubectl apply`; the typed models are the second line:
they catch what a schema cannot express and name the field, so a controller can report
`Ready=False, reason=InvalidSpec` with a message a user can act on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic.alias_generators import to_camel

_DURATION = re.compile(r"^(?P<value>[0-9]+)(?P<unit>s|m|h)$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_VERSION_LIKE_ALIAS = re.compile(r"^[vV][0-9]+$")


def parse_duration(value: object, *, allow_zero: bool = False) -> timedelta:
    """`30s`, `5m`, `1h` → timedelta; anything else is an error, and so is zero unless allowed."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a duration such as 30s, 5m or 1h")
    seconds = int(match["value"]) * _DURATION_UNITS[match["unit"]]
    if seconds == 0 and not allow_zero:
        raise ValueError("must be longer than zero")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest `s`/`m`/`h` form of a whole number of seconds: 90s, 10m, 1h."""
    seconds = int(value.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _check_alias(alias: str) -> str:
    # MLflow refuses these: `latest` and `v<N>` already mean something in `models:/` URIs.
    if not _ALIAS.match(alias) or alias == "latest" or _VERSION_LIKE_ALIAS.match(alias):
        raise ValueError(f"{alias!r} is not a valid MLflow alias (not 'latest', not 'v<number>')")
    return alias


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Alias = Annotated[str, AfterValidator(_check_alias)]


class SpecModel(BaseModel):
    # Unknown fields are ignored rather than refused: the API server has already pruned them, and a
    # newer CRD must not break an older operator.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class PullPolicy(StrEnum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class SecretRef(SpecModel):
    name: str = Field(min_length=1)


class InvalidSpecError(ValueError):
    """A spec the controller cannot act on; `str()` names every offending field."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{field}: {why}" for field, why in self.problems.items()))


def _field_path(location: tuple[int | str, ...]) -> str:
    path = "spec"
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


Spec = TypeVar("Spec", bound=SpecModel)


def parse_spec(model: type[Spec], spec: Mapping[str, Any]) -> Spec:
    """`spec` as `model`, or an `InvalidSpecError` naming each bad field as `spec.a.b`."""
    try:
        return model.model_validate(spec)
    except ValidationError as error:
        problems: dict[str, str] = {}
        for detail in error.errors(include_url=False):
            message = str(detail["msg"]).removeprefix("Value error, ")
            problems.setdefault(_field_path(detail["loc"]), message)
        raise InvalidSpecError(problems) from None


class MLflowServer(SpecModel):
    """An MLflow tracking server and, by reference, the credentials to call it with."""

    tracking_uri: str = Field(pattern=r"^(https?|file)://\S+$")
    credentials_secret_ref: SecretRef | None = None
    """A Secret whose keys are MLflow's environment variables (MLFLOW_TRACKING_USERNAME and
    MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN)."""

"""What the scorer says about the model it serves, as a plain value (in every prediction, the
metrics and the logs). Pure: no Spark or Kafka here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    version: str

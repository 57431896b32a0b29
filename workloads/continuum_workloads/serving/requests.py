"""A scoring request's bytes → a listing the model can score, or the reason it cannot.

A request is one JSON object: `request_id`, an optional `event_time`, and listing fields named as
the dataset publishes them. Each field may be written in the dataset's own text form ("35.1 in",
"177 hp @ 5,700 RPM", "--" or "" for missing, "True"/"False", zip codes with leading zeros) or as a
plain JSON value (numbers, booleans, a list of option names, null). Valid values are handed to the
model in the text form it was trained on, so serving parses them with the same stages as training.

Pure Python (the patterns are `dataset.parsing`'s, written in the syntax Java and Python share):
every rule here is tested without Spark or Kafka.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from continuum_workloads.dataset.parsing import MISSING_MARKERS, OPTIONS_LIST_PATTERN, UNIT_PATTERNS
from continuum_workloads.dataset.schema import COLUMN_KINDS, TARGET, Kind

REQUEST_ID = "request_id"
EVENT_TIME = "event_time"
MAX_REQUEST_BYTES = 64 * 1024
MAX_REQUEST_ID_CHARS = 200
MAX_TEXT_CHARS = 16 * 1024
# Training learns only from listings with a year and a make (features.rejection_rules); a request
# without them would get a price the model has no basis for.
REQUIRED_FIELDS = ("year", "make_name")
EARLIEST_YEAR = 1900
# The fields a request may carry: every published column but the price it asks for.
LISTING_FIELDS: tuple[str, ...] = tuple(name for name in COLUMN_KINDS if name != TARGET)

# Inclusive bounds of plain numbers; values outside are impossible, not merely unusual.
RANGES: dict[str, tuple[float, float]] = {
    "mileage": (0, 1_500_000),
    "latitude": (-90, 90),
    "longitude": (-180, 180),
    "owner_count": (0, 100),
    "seller_rating": (0, 5),
    "daysonmarket": (0, 100_000),
    "maximum_seating": (1, 100),
}
NON_NEGATIVE_KINDS = {Kind.INCHES, Kind.GALLONS, Kind.SEATS, Kind.POWER, Kind.TORQUE}
# What a plain number of a unit kind means, written as the dataset writes it.
UNIT_SUFFIXES = {
    Kind.INCHES: " in",
    Kind.GALLONS: " gal",
    Kind.SEATS: " seats",
    Kind.POWER: " hp",
    Kind.TORQUE: " lb-ft",
}
EXAMPLES = {
    Kind.INCHES: "35.1 in",
    Kind.GALLONS: "19.5 gal",
    Kind.SEATS: "5 seats",
    Kind.POWER: "177 hp @ 5,700 RPM",
    Kind.TORQUE: "200 lb-ft @ 1,750 RPM",
}
_ALLOWED_KEYS = frozenset(LISTING_FIELDS) | {REQUEST_ID, EVENT_TIME, TARGET}
_FIELD_KINDS = tuple((name, COLUMN_KINDS[name]) for name in LISTING_FIELDS)
_BOUNDS = {
    name: RANGES.get(name, (0.0 if kind in NON_NEGATIVE_KINDS else -math.inf, math.inf))
    for name, kind in _FIELD_KINDS
}
_UNIT_REGEX = {kind: re.compile(pattern) for kind, pattern in UNIT_PATTERNS.items()}
_OPTIONS_REGEX = re.compile(OPTIONS_LIST_PATTERN)
_DATE_REGEX = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class ValidRequest:
    request_id: str
    event_time_ms: int | None
    """When the request happened, if it says so (ms since the epoch)."""
    listing: dict[str, str | None]
    """Every listing field, in the dataset's text form; None where the request leaves it out."""


@dataclass(frozen=True)
class Rejection:
    reason: str
    """A stable, machine-readable word: not_json, not_an_object, too_large, missing_field,
    mistyped, invalid_value, out_of_range, unknown_field."""
    field: str | None
    detail: str
    request_id: str | None = None


class _Invalid(Exception):
    def __init__(self, reason: str, field: str | None, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.field, self.detail = reason, field, detail


def validate(raw: bytes | None, current_year: int | None = None) -> ValidRequest | Rejection:
    """Judges one request's bytes; `current_year` (default: this year, UTC) bounds `year`."""
    if raw is None:
        return Rejection("not_json", None, "the record has no value")
    if len(raw) > MAX_REQUEST_BYTES:
        return Rejection("too_large", None, f"{len(raw)} bytes; at most {MAX_REQUEST_BYTES}")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        return Rejection("not_json", None, f"not UTF-8 JSON: {error}"[:300])
    if not isinstance(document, dict):
        return Rejection("not_an_object", None, f"a JSON {type(document).__name__}, not an object")
    request_id = document.get(REQUEST_ID)
    try:
        request_id = _request_id(request_id)
        event_time = _event_time(document.get(EVENT_TIME))
        latest_year = (current_year or datetime.now(UTC).year) + 1
        listing = _listing(document, latest_year)
    except _Invalid as invalid:
        known_id = request_id if isinstance(request_id, str) and request_id else None
        return Rejection(invalid.reason, invalid.field, invalid.detail, known_id)
    return ValidRequest(request_id, event_time, listing)


def _request_id(value: object) -> str:
    if value is None:
        raise _Invalid("missing_field", REQUEST_ID, "request_id is required")
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("mistyped", REQUEST_ID, "request_id must be a non-empty string")
    if len(value) > MAX_REQUEST_ID_CHARS:
        raise _Invalid("too_large", REQUEST_ID, f"at most {MAX_REQUEST_ID_CHARS} characters")
    return value


def _event_time(value: object) -> int | None:
    """An ISO-8601 timestamp (naive means UTC) or ms since the epoch."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid("mistyped", EVENT_TIME, "an ISO-8601 string or ms since the epoch")
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid("invalid_value", EVENT_TIME, f"not ISO-8601: {value[:40]!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    if not math.isfinite(value) or value < 0:
        raise _Invalid("out_of_range", EVENT_TIME, "ms since the epoch must be >= 0")
    return int(value)


def _listing(document: dict[str, object], latest_year: int) -> dict[str, str | None]:
    if not _ALLOWED_KEYS.issuperset(document):
        unknown = min(set(document) - _ALLOWED_KEYS)
        raise _Invalid("unknown_field", unknown, f"not a listing field: {unknown!r}")
    # Runs for every field of every request: the scorer's busiest Python.
    given = document.get
    listing = {
        name: None if (value := given(name)) is None else _text(name, kind, value)
        for name, kind in _FIELD_KINDS
    }
    for name in REQUIRED_FIELDS:
        if listing[name] is None:
            raise _Invalid("missing_field", name, f"{name} is required")
    year = int(float(listing["year"]))  # type: ignore[arg-type]
    if not EARLIEST_YEAR <= year <= latest_year:
        raise _Invalid("out_of_range", "year", f"{year} is not in {EARLIEST_YEAR}..{latest_year}")
    return listing


def _text(name: str, kind: Kind, value: object) -> str | None:
    """The value in the dataset's text form, None if missing; raises _Invalid otherwise."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) > MAX_TEXT_CHARS:
            raise _Invalid("too_large", name, f"at most {MAX_TEXT_CHARS} characters")
        stripped = value.strip()
        if stripped in MISSING_MARKERS:
            return None
        return value if kind == Kind.TEXT else _checked_text(name, kind, stripped)
    if kind == Kind.FLAG:
        if not isinstance(value, bool):
            raise _Invalid("mistyped", name, 'a flag is true, false, "True" or "False"')
        return "True" if value else "False"
    if kind == Kind.OPTIONS:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise _Invalid("mistyped", name, "options are a list of strings")
        return repr(value)  # the published form is a Python list literal
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind_text = "text" if kind == Kind.TEXT else f"a number or {kind.value} text"
        raise _Invalid("mistyped", name, f"{name} must be {kind_text}")
    if kind in (Kind.TEXT, Kind.DATE):
        # A number would lose what text keeps: a zip code's leading zeros, a date's form.
        raise _Invalid("mistyped", name, f"{name} must be a string")
    return _number_text(name, kind, float(value))


def _checked_text(name: str, kind: Kind, text: str) -> str:
    if kind in (Kind.INTEGER, Kind.DECIMAL):
        try:
            if "_" in text:  # Python reads "1_000", Spark's cast to double does not
                raise ValueError
            number = float(text)
        except ValueError:
            raise _Invalid("invalid_value", name, f"not a number: {text[:40]!r}") from None
        _checked_number(name, kind, number)
        return text
    if kind == Kind.FLAG:
        if text.lower() not in ("true", "false"):
            raise _Invalid("invalid_value", name, f"not True or False: {text[:40]!r}")
        return text
    if kind == Kind.DATE:
        try:
            if not _DATE_REGEX.match(text):
                raise ValueError
            date.fromisoformat(text)
        except ValueError:
            raise _Invalid("invalid_value", name, f"not a yyyy-MM-dd date: {text[:40]!r}") from None
        return text
    if kind == Kind.OPTIONS:
        if not _OPTIONS_REGEX.match(text):
            raise _Invalid("invalid_value", name, "not a list literal like \"['Bluetooth']\"")
        return text
    match = _UNIT_REGEX[kind].match(text)
    if match is None:
        raise _Invalid("invalid_value", name, f"{text[:40]!r} is not like {EXAMPLES[kind]!r}")
    _checked_number(name, kind, float(match.group(1).replace(",", "")))
    return text


def _checked_number(name: str, kind: Kind, number: float) -> bool:
    """Checks a number's range and form; says whether it is whole."""
    if not math.isfinite(number):
        raise _Invalid("invalid_value", name, "not a finite number")
    low, high = _BOUNDS[name]
    if not low <= number <= high:
        raise _Invalid("out_of_range", name, f"{number:g} is not in {low:g}..{high:g}")
    whole = number.is_integer()
    if kind in (Kind.INTEGER, Kind.SEATS) and not whole:
        raise _Invalid("invalid_value", name, f"{number:g} is not a whole number")
    return whole


def _number_text(name: str, kind: Kind, number: float) -> str:
    """Checks a number and writes it as the dataset does."""
    whole = _checked_number(name, kind, number)
    if kind == Kind.INTEGER:
        return str(int(number))
    written = str(int(number)) if whole and kind != Kind.DECIMAL else repr(number)
    return written + UNIT_SUFFIXES.get(kind, "")

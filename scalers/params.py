"""Declared trigger parameters and the one parser that reads them all, with KEDA's rules (§3.0).

A scaler declares its parameters once, as a keyword-only frozen dataclass whose fields use `param`::

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class RedisListParams:
        list_name: str = params.param("listName", doc="the list to measure")
        list_length: int = params.param("listLength", default=5, minimum=1)
        password: str | None = params.param("password", sources=params.CREDENTIAL, default=None, secret=True)

        def validate(self) -> list[base.ParamProblem]:   # optional cross-field rules; must not mutate
            ...

`parse(RedisListParams, inputs)` then looks every parameter up in its sources in order (trigger
metadata, TriggerAuthentication parameters, `<key>FromEnv` naming a variable of the target container),
trims values (an empty value counts as absent), converts by the field's type, checks choices and ranges,
runs `validate()`, and raises `base.ConfigError` with *every* problem; keys nobody declared come back as
warnings. `describe` turns the same declarations into a schema (`ebb scalers --schema`, the docs table).

Conversions follow KEDA: integers and floats use JSON number syntax (`"10.5"` is not an int), booleans
Go's ParseBool set, durations Go duration strings (`"5s"`, `"1m30s"`) or plain milliseconds, maps
`k=v,k=v`, lists comma-separated, integer range lists `1,2,10-20`.

Hostile values are refused as Go would refuse them: an integer outside int64, a float that overflows
to ±Inf (`"1e309"`, Go's ParseFloat range error), a duration beyond Go's ~292 years; an integer range
list may expand to at most `MAX_RANGE_ITEMS` numbers. A value echoed in a message is cut to
`ECHO_LIMIT` characters.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from scalers import base

_KEY = "ebb.param"


class Source(str, enum.Enum):
    """Where a parameter may come from; the names are KEDA's."""

    METADATA = "triggerMetadata"
    AUTH = "authParams"
    ENV = "resolvedEnv"


# Common source orders.
METADATA_ONLY: tuple[Source, ...] = (Source.METADATA,)
AUTH_ONLY: tuple[Source, ...] = (Source.AUTH,)
METADATA_AUTH: tuple[Source, ...] = (Source.METADATA, Source.AUTH)
METADATA_ENV: tuple[Source, ...] = (Source.METADATA, Source.ENV)
METADATA_AUTH_ENV: tuple[Source, ...] = (Source.METADATA, Source.AUTH, Source.ENV)
METADATA_ENV_AUTH: tuple[Source, ...] = (Source.METADATA, Source.ENV, Source.AUTH)
AUTH_ENV: tuple[Source, ...] = (Source.AUTH, Source.ENV)
# Credentials: KEDA reads them from metadata (discouraged), the container env, or the auth parameters.
CREDENTIAL: tuple[Source, ...] = METADATA_ENV_AUTH


class Kind(str, enum.Enum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DURATION = "duration"  # seconds, from "5s"-style strings or plain milliseconds
    MAP = "map"  # k=v,k=v
    LIST = "list"  # a,b,c
    INT_RANGES = "intRanges"  # 1,2,10-20 → [1, 2, 10, …, 20]


class _Missing:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Missing()


@dataclasses.dataclass(frozen=True)
class Param:
    """The declaration of one parameter (kept in the dataclass field's metadata)."""

    key: str
    aliases: tuple[str, ...] = ()
    sources: tuple[Source, ...] = METADATA_ONLY
    default: Any = REQUIRED
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    secret: bool = False
    deprecated: str | None = None  # present ⇒ error with this message (KEDA `deprecated`)
    deprecated_announce: str | None = None  # present ⇒ warning with this message
    kind: Kind | None = None  # None: from the field's type
    doc: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.key, *self.aliases)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def param(
    key: str,
    *,
    aliases: Sequence[str] = (),
    sources: Sequence[Source] = METADATA_ONLY,
    default: Any = REQUIRED,
    choices: Sequence[str] = (),
    minimum: float | None = None,
    maximum: float | None = None,
    secret: bool = False,
    deprecated: str | None = None,
    deprecated_announce: str | None = None,
    kind: Kind | None = None,
    doc: str = "",
) -> Any:
    """Declare one parameter as a dataclass field. No `default` means required."""
    declared = Param(
        key=key,
        aliases=tuple(aliases),
        sources=tuple(sources),
        default=default,
        choices=tuple(choices),
        minimum=minimum,
        maximum=maximum,
        secret=secret,
        deprecated=deprecated,
        deprecated_announce=deprecated_announce,
        kind=kind,
        doc=doc,
    )
    metadata = {_KEY: declared}
    if default is REQUIRED:
        return dataclasses.field(metadata=metadata)
    if isinstance(default, dict | list):
        frozen_default = default

        def factory() -> Any:
            return type(frozen_default)(frozen_default)

        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


P = TypeVar("P")


@dataclasses.dataclass(frozen=True)
class Parsed(Generic[P]):
    value: P
    warnings: tuple[base.ParamProblem, ...] = ()


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    declared: Param
    kind: Kind
    optional: bool


_FIELD_CACHE: dict[type[Any], tuple[_Field, ...]] = {}


def _kind_of(annotation: Any) -> tuple[Kind, bool]:
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(members) != len(typing.get_args(annotation))
        if len(members) != 1:
            raise TypeError(f"unsupported parameter type {annotation!r}")
        annotation = members[0]
        origin = typing.get_origin(annotation)
    if annotation is bool:
        return Kind.BOOL, optional
    if annotation is int:
        return Kind.INT, optional
    if annotation is float:
        return Kind.FLOAT, optional
    if annotation is str:
        return Kind.STRING, optional
    if origin in (dict, Mapping):
        return Kind.MAP, optional
    if origin in (list, tuple, Sequence):
        args = typing.get_args(annotation)
        return (Kind.INT_RANGES if args and args[0] is int else Kind.LIST), optional
    raise TypeError(f"unsupported parameter type {annotation!r}")


def fields_of(cls: type[Any]) -> tuple[_Field, ...]:
    """The declared parameters of a params dataclass (computed once per class)."""
    cached = _FIELD_CACHE.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls)
    result = []
    for f in dataclasses.fields(cls):
        declared = f.metadata.get(_KEY)
        if not isinstance(declared, Param):
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with params.param()")
        kind, optional = _kind_of(hints[f.name])
        result.append(_Field(f.name, declared, declared.kind or kind, optional))
    fields = tuple(result)
    _FIELD_CACHE[cls] = fields
    return fields


# --- conversions -------------------------------------------------------------------------------------

_JSON_INT = re.compile(r"-?(?:0|[1-9]\d*)")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Go's time.Duration is int64 nanoseconds: about 292 years.
MAX_DURATION_SECONDS = INT64_MAX / 1e9
# `partitionLimitation: "0-2000000000"` must not allocate two billion integers.
MAX_RANGE_ITEMS = 10_000
# How much of a value a message quotes.
ECHO_LIMIT = 120


def parse_duration(text: str) -> float:
    """Seconds from a Go duration (`"1m30s"`, `"500ms"`) or a plain integer count of milliseconds."""
    if _JSON_INT.fullmatch(text):
        millis = int(text)
        if millis < 0:
            raise ValueError("must not be negative")
        return millis / 1000.0
    body = text[1:] if text[:1] in "+-" else text
    if text.startswith("-"):
        raise ValueError("must not be negative")
    if body == "0":
        return 0.0
    position, total = 0, 0.0
    while position < len(body):
        match = _DURATION_PART.match(body, position)
        if match is None:
            raise ValueError('expected a duration such as "5s", "1m30s" or a number of milliseconds')
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not body:
        raise ValueError('expected a duration such as "5s", "1m30s" or a number of milliseconds')
    if not total <= MAX_DURATION_SECONDS:  # also catches inf and nan
        raise ValueError("is longer than a Go duration can hold (about 292 years)")
    return total


def _convert(kind: Kind, text: str) -> Any:
    if kind is Kind.STRING:
        return text
    if kind is Kind.INT:
        return _int64(text, "expected an integer")
    if kind is Kind.FLOAT:
        if not _JSON_NUMBER.fullmatch(text):
            raise ValueError("expected a number")
        number = float(text)
        if math.isinf(number):  # Go's ParseFloat: "value out of range"
            raise ValueError("expected a number (this one is out of range)")
        return number
    if kind is Kind.BOOL:
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("expected a boolean (true or false)")
    if kind is Kind.DURATION:
        return parse_duration(text)
    if kind is Kind.MAP:
        result: dict[str, str] = {}
        for item in text.split(","):
            if not item.strip():
                continue
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(
                    f'expected key=value pairs separated by commas ("{_cut(item.strip())}" has no "=")'
                )
            result[key.strip()] = value.strip()
        return result
    if kind is Kind.LIST:
        return [item.strip() for item in text.split(",") if item.strip()]
    if kind is Kind.INT_RANGES:
        numbers: list[int] = []
        for item in (i.strip() for i in text.split(",")):
            if not item:
                continue
            low, dash, high = item.partition("-")
            expected = f'expected integers or ranges like "10-20", got "{_cut(item)}"'
            if dash:
                a, b = _int64(low.strip(), expected), _int64(high.strip(), expected)
                if a > b:
                    raise ValueError(f'range "{_cut(item)}" is reversed')
                if len(numbers) + (b - a + 1) > MAX_RANGE_ITEMS:
                    raise ValueError(f"expands to more than {MAX_RANGE_ITEMS:,} numbers")
                numbers.extend(range(a, b + 1))
            else:
                numbers.append(_int64(item, expected))
                if len(numbers) > MAX_RANGE_ITEMS:
                    raise ValueError(f"expands to more than {MAX_RANGE_ITEMS:,} numbers")
        return numbers
    raise AssertionError(kind)


def _int64(text: str, message: str) -> int:
    """An integer in JSON syntax that fits Go's int64 (checked before converting: no 40 KB `int()`)."""
    if len(text) > 20 or not _JSON_INT.fullmatch(text):
        raise ValueError(message if not _JSON_INT.fullmatch(text) else f"{message} within int64")
    number = int(text)
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError(f"{message} within int64")
    return number


def _cut(text: str) -> str:
    """`text`, or its first `ECHO_LIMIT` characters and how many there were."""
    return text if len(text) <= ECHO_LIMIT else f"{text[:ECHO_LIMIT]}… ({len(text):,} characters)"


# --- lookup ------------------------------------------------------------------------------------------


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _lookup(declared: Param, inputs: base.TriggerInputs) -> tuple[str | None, str]:
    """The first present value in the declared sources, and the field path it came from."""
    for source in declared.sources:
        for name in declared.names:
            if source is Source.METADATA:
                value = _clean(inputs.metadata.get(name))
                if value is not None:
                    return value, f"metadata.{name}"
            elif source is Source.AUTH:
                value = _clean(inputs.auth_params.get(name))
                if value is not None:
                    return value, f"authenticationRef.{name}"
            else:
                variable = _clean(inputs.metadata.get(f"{name}FromEnv"))
                if variable is not None:
                    value = _clean(inputs.resolved_env.get(variable))
                    if value is not None:
                        return value, f"metadata.{name}FromEnv"
    return None, f"metadata.{declared.key}"


def _where(declared: Param) -> str:
    return ", ".join(s.value for s in declared.sources)


def _show(declared: Param, text: str) -> str:
    return "(value hidden)" if declared.secret else f'"{_cut(text)}"'


def parse(cls: type[P], inputs: base.TriggerInputs) -> Parsed[P]:
    """Read, convert and check every declared parameter; raise `base.ConfigError` listing all problems."""
    problems: list[base.ParamProblem] = []
    values: dict[str, Any] = {}
    for f in fields_of(cls):
        declared = f.declared
        text, path = _lookup(declared, inputs)
        if text is None:
            if declared.required:
                problems.append(
                    base.ParamProblem(
                        path, f'missing required parameter "{declared.key}" in [{_where(declared)}]'
                    )
                )
            continue
        if declared.deprecated:
            problems.append(base.ParamProblem(path, declared.deprecated))
            continue
        if declared.deprecated_announce:
            problems.append(base.ParamProblem(path, declared.deprecated_announce, warning=True))
        try:
            value = _convert(f.kind, text)
        except ValueError as error:
            problems.append(base.ParamProblem(path, f"{error}, got {_show(declared, text)}"))
            continue
        if declared.choices:
            # A list parameter's choices constrain each element (`authModes: "basic,tls"`).
            offending = (
                [v for v in value if v not in declared.choices]
                if isinstance(value, list)
                else ([] if value in declared.choices else [value])
            )
            if offending:
                allowed = ", ".join(declared.choices)
                shown = _show(declared, ", ".join(str(v) for v in offending))
                problems.append(base.ParamProblem(path, f"must be one of {allowed}, got {shown}"))
                continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            if declared.minimum is not None and value < declared.minimum:
                problems.append(
                    base.ParamProblem(path, f"must be at least {_fmt(declared.minimum)}, got {value}")
                )
                continue
            if declared.maximum is not None and value > declared.maximum:
                problems.append(
                    base.ParamProblem(path, f"must be at most {_fmt(declared.maximum)}, got {value}")
                )
                continue
        values[f.name] = value
    problems.extend(_unknown_keys(cls, inputs))
    if any(not p.warning for p in problems):
        raise base.ConfigError(problems)
    parsed = cls(**values)
    validate = getattr(parsed, "validate", None)
    if validate is not None:
        problems.extend(validate())
        if any(not p.warning for p in problems):
            raise base.ConfigError(problems)
    return Parsed(parsed, tuple(p for p in problems if p.warning))


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _unknown_keys(cls: type[Any], inputs: base.TriggerInputs) -> list[base.ParamProblem]:
    known: set[str] = set()
    for f in fields_of(cls):
        for name in f.declared.names:
            known.add(name)
            if Source.ENV in f.declared.sources:
                known.add(f"{name}FromEnv")
    return [
        base.ParamProblem(f"metadata.{key}", "unknown parameter; it is ignored", warning=True)
        for key in inputs.metadata
        if key not in known
    ]


# --- schema ------------------------------------------------------------------------------------------


def describe(cls: type[Any]) -> list[dict[str, Any]]:
    """The declared parameters as data: the machine-readable schema and the docs table."""
    described = []
    for f in fields_of(cls):
        d = f.declared
        entry: dict[str, Any] = {
            "name": d.key,
            "type": f.kind.value,
            "required": d.required,
            "sources": [s.value for s in d.sources],
        }
        if d.aliases:
            entry["aliases"] = list(d.aliases)
        if not d.required and d.default is not None:
            entry["default"] = d.default
        if d.choices:
            entry["choices"] = list(d.choices)
        if d.minimum is not None:
            entry["minimum"] = d.minimum
        if d.maximum is not None:
            entry["maximum"] = d.maximum
        if d.secret:
            entry["secret"] = True
        if d.deprecated:
            entry["deprecated"] = d.deprecated
        if d.doc:
            entry["doc"] = d.doc
        described.append(entry)
    return described


def secret_values(cls: type[Any], inputs: base.TriggerInputs) -> list[str]:
    """The values of the declared secret parameters, so callers can mask them in any message."""
    found = []
    for f in fields_of(cls):
        if f.declared.secret:
            text, _ = _lookup(f.declared, inputs)
            if text:
                found.append(text)
    return found

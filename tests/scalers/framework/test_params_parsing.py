"""The shared declared-parameter parser (`scalers.params`): every conversion with KEDA's accept/reject
rules, the source order, aliases, trimming, defaults, choices, ranges, errors collected at once, unknown
keys as warnings, secrets never shown, and the schema the same declarations produce."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from scalers import base, params


@dataclasses.dataclass(frozen=True, kw_only=True)
class Everything:
    name: str = params.param("name", aliases=["queueName"], doc="a string")
    count: int = params.param("count", default=5, minimum=1, maximum=100)
    ratio: float = params.param("ratio", default=0.5)
    enabled: bool = params.param("enabled", default=False)
    wait: float = params.param("wait", default=1.0, kind=params.Kind.DURATION)
    labels: Mapping[str, str] = params.param("labels", default={})
    hosts: Sequence[str] = params.param("hosts", default=[])
    partitions: Sequence[int] = params.param("partitions", default=[])
    mode: str = params.param("mode", default="fast", choices=["fast", "slow"])
    password: str | None = params.param("password", sources=params.CREDENTIAL, default=None, secret=True)
    token: str | None = params.param("token", sources=params.AUTH_ONLY, default=None, secret=True)
    region: str | None = params.param("region", sources=params.METADATA_AUTH_ENV, default=None)
    old: str | None = params.param("old", default=None, deprecated="old is gone; use name")
    legacy: str | None = params.param("legacy", default=None, deprecated_announce="legacy will go away")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CrossChecked:
    low: int = params.param("low", default=0)
    high: int = params.param("high", default=10)

    def validate(self) -> list[base.ParamProblem]:
        if self.low > self.high:
            return [base.ParamProblem("metadata.low", "must not be above high")]
        return []


def trigger(
    metadata: Mapping[str, str], auth: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None
) -> base.TriggerInputs:
    return base.TriggerInputs(
        type="test",
        index=0,
        metadata=dict(metadata),
        auth_params=dict(auth or {}),
        resolved_env=dict(env or {}),
    )


def parse(
    metadata: Mapping[str, str], auth: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None
) -> Any:
    return params.parse(Everything, trigger({"name": "q", **metadata}, auth, env)).value


def errors(
    metadata: Mapping[str, str], auth: Mapping[str, str] | None = None, cls: type[Any] = Everything
) -> list[str]:
    with pytest.raises(base.ConfigError) as caught:
        params.parse(cls, trigger(metadata, auth))
    return [str(p) for p in caught.value.problems]


# --- conversions -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Rejects:
    fragment: str


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        pytest.param("count", "42", 42, id="int"),
        pytest.param("count", "-0", Rejects("at least 1"), id="int-range-low"),
        pytest.param("count", "101", Rejects("at most 100"), id="int-range-high"),
        pytest.param("count", "10.5", Rejects("expected an integer"), id="int-rejects-fraction"),
        pytest.param("count", "1e3", Rejects("expected an integer"), id="int-rejects-exponent"),
        pytest.param("count", "AA", Rejects("expected an integer"), id="int-rejects-text"),
        pytest.param("count", "012", Rejects("expected an integer"), id="int-rejects-leading-zero-json"),
        pytest.param("count", "+5", Rejects("expected an integer"), id="int-rejects-plus-json"),
        pytest.param("ratio", "10.5", 10.5, id="float"),
        pytest.param("ratio", "-1e-3", -0.001, id="float-exponent"),
        pytest.param("ratio", "7", 7.0, id="float-from-int"),
        pytest.param("ratio", ".5", Rejects("expected a number"), id="float-rejects-leading-dot-json"),
        pytest.param("ratio", "NaN", Rejects("expected a number"), id="float-rejects-nan"),
        pytest.param("ratio", "1_0", Rejects("expected a number"), id="float-rejects-underscore"),
        *[pytest.param("enabled", t, True, id=f"bool-{t}") for t in ("1", "t", "T", "TRUE", "true", "True")],
        *[
            pytest.param("enabled", f, False, id=f"bool-{f}")
            for f in ("0", "f", "F", "FALSE", "false", "False")
        ],
        pytest.param("enabled", "yes", Rejects("expected a boolean"), id="bool-rejects-yes"),
        pytest.param("enabled", "tRUE", Rejects("expected a boolean"), id="bool-rejects-mixed-case"),
        pytest.param("wait", "5s", 5.0, id="duration-seconds"),
        pytest.param("wait", "1m30s", 90.0, id="duration-compound"),
        pytest.param("wait", "1.5h", 5400.0, id="duration-fractional-hours"),
        pytest.param("wait", "250ms", 0.25, id="duration-ms-unit"),
        pytest.param("wait", "500", 0.5, id="duration-plain-milliseconds"),
        pytest.param("wait", "0", 0.0, id="duration-zero"),
        pytest.param("wait", "-5", Rejects("must not be negative"), id="duration-negative-ms"),
        pytest.param("wait", "-5s", Rejects("must not be negative"), id="duration-negative"),
        pytest.param("wait", "5 s", Rejects("expected a duration"), id="duration-space"),
        pytest.param("wait", "5d", Rejects("expected a duration"), id="duration-days-unknown"),
        pytest.param("wait", "1.5", Rejects("expected a duration"), id="duration-fractional-ms"),
        pytest.param("labels", "a=1, b = 2 ,c=", {"a": "1", "b": "2", "c": ""}, id="map"),
        pytest.param("labels", "a=1=2", {"a": "1=2"}, id="map-value-with-equals"),
        pytest.param("labels", "a=1,b", Rejects("expected key=value"), id="map-element-without-equals"),
        pytest.param("hosts", " a, b ,,c ", ["a", "b", "c"], id="list-trimmed"),
        pytest.param("partitions", "1, 2,10-12", [1, 2, 10, 11, 12], id="int-ranges"),
        pytest.param("partitions", "5-3", Rejects("is reversed"), id="int-range-reversed"),
        pytest.param("partitions", "1,x", Rejects("expected integers or ranges"), id="int-range-text"),
        pytest.param("mode", "slow", "slow", id="choice"),
        pytest.param("mode", "Slow", Rejects("must be one of fast, slow"), id="choice-is-case-sensitive"),
    ],
)
def test_conversions(key: str, text: str, expected: Any) -> None:
    if isinstance(expected, Rejects):
        found = errors({"name": "q", key: text})
        assert len(found) == 1, found
        assert found[0].startswith(f"metadata.{key}: ")
        assert expected.fragment in found[0]
    else:
        assert getattr(parse({key: text}), key) == expected


# --- sources, aliases, trimming, defaults ------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "auth", "env", "expected"),
    [
        pytest.param({}, {}, {}, None, id="absent"),
        pytest.param({"password": "m"}, {"password": "a"}, {}, "m", id="metadata-first"),
        pytest.param({"passwordFromEnv": "PW"}, {"password": "a"}, {"PW": "e"}, "e", id="env-before-auth"),
        pytest.param({"passwordFromEnv": "PW"}, {"password": "a"}, {}, "a", id="missing-env-falls-through"),
        pytest.param(
            {"passwordFromEnv": "PW"}, {"password": "a"}, {"PW": "  "}, "a", id="blank-env-is-absent"
        ),
        pytest.param({"password": "  "}, {"password": "a"}, {}, "a", id="blank-metadata-is-absent"),
        pytest.param({}, {"password": "  a  "}, {}, "a", id="trimmed"),
    ],
)
def test_credential_source_order(
    metadata: dict[str, str], auth: dict[str, str], env: dict[str, str], expected: str | None
) -> None:
    assert parse(metadata, auth, env).password == expected


def test_metadata_auth_env_order() -> None:
    assert parse({"region": "m"}, {"region": "a"}, {}).region == "m"
    assert parse({"regionFromEnv": "R"}, {"region": "a"}, {"R": "e"}).region == "a"  # auth before env here
    assert parse({"regionFromEnv": "R"}, {}, {"R": "e"}).region == "e"


def test_auth_only_ignores_metadata() -> None:
    assert parse({"token": "from-metadata"}).token is None
    assert parse({}, {"token": "t"}).token == "t"


def test_from_env_only_where_env_is_a_source() -> None:
    # `token` is read from authParams only, so tokenFromEnv is not a known key: a warning, no value.
    parsed = params.parse(Everything, trigger({"name": "q", "tokenFromEnv": "T"}, {}, {"T": "x"}))
    assert parsed.value.token is None
    assert [str(w) for w in parsed.warnings] == ["metadata.tokenFromEnv: unknown parameter; it is ignored"]


def test_aliases() -> None:
    assert params.parse(Everything, trigger({"queueName": "q2"})).value.name == "q2"
    assert (
        params.parse(Everything, trigger({"name": "n", "queueName": "q2"})).value.name == "n"
    )  # the key wins


def test_defaults_are_fresh_per_parse() -> None:
    first, second = parse({}), parse({})
    assert first.labels == {} and first.hosts == []
    assert first.labels is not second.labels


def test_defaults() -> None:
    value = parse({})
    assert (value.count, value.ratio, value.enabled, value.wait, value.mode) == (5, 0.5, False, 1.0, "fast")


# --- errors and warnings -----------------------------------------------------------------------------


def test_every_error_is_collected_at_once() -> None:
    found = errors({"count": "x", "ratio": "y", "enabled": "maybe", "mode": "medium", "old": "1"})
    assert found == [
        'metadata.name: missing required parameter "name" in [triggerMetadata]',
        'metadata.count: expected an integer, got "x"',
        'metadata.ratio: expected a number, got "y"',
        'metadata.enabled: expected a boolean (true or false), got "maybe"',
        'metadata.mode: must be one of fast, slow, got "medium"',
        "metadata.old: old is gone; use name",
    ]


def test_missing_required_names_its_sources() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class NeedsSecret:
        secret_key: str = params.param("secretKey", sources=params.METADATA_ENV_AUTH, secret=True)

    assert errors({}, cls=NeedsSecret) == [
        'metadata.secretKey: missing required parameter "secretKey" in [triggerMetadata, resolvedEnv, authParams]'
    ]


def test_warnings_unknown_keys_and_announced_deprecations() -> None:
    parsed = params.parse(
        Everything, trigger({"name": "q", "nmae": "typo", "legacy": "1", "passwordFromEnv": "X"})
    )
    assert sorted(str(w) for w in parsed.warnings) == [
        "metadata.legacy: legacy will go away",
        "metadata.nmae: unknown parameter; it is ignored",
    ]
    assert parsed.value.legacy == "1"


def test_validate_runs_after_fields_and_reports_its_problems() -> None:
    assert params.parse(CrossChecked, trigger({"low": "3"})).value.low == 3
    assert errors({"low": "30"}, cls=CrossChecked) == ["metadata.low: must not be above high"]
    # Field errors stop before validate (it would see no value).
    assert errors({"low": "x"}, cls=CrossChecked) == ['metadata.low: expected an integer, got "x"']


def test_config_error_carries_warnings_too() -> None:
    with pytest.raises(base.ConfigError) as caught:
        params.parse(Everything, trigger({"unknownKey": "1"}))
    assert [str(p) for p in caught.value.problems] == [
        'metadata.name: missing required parameter "name" in [triggerMetadata]'
    ]
    assert [str(w) for w in caught.value.warnings] == [
        "metadata.unknownKey: unknown parameter; it is ignored"
    ]


@dataclasses.dataclass(frozen=True, kw_only=True)
class SecretNumbers:
    pin: int = params.param("pin", sources=params.CREDENTIAL, secret=True)
    level: str = params.param(
        "level", sources=params.CREDENTIAL, default="a", choices=["a", "b"], secret=True
    )


def test_secret_values_are_never_shown() -> None:
    with pytest.raises(base.ConfigError) as caught:
        params.parse(SecretNumbers, trigger({}, {"pin": "hunter2", "level": "topsecret"}))
    message = str(caught.value)
    assert "hunter2" not in message and "topsecret" not in message
    assert message.count("(value hidden)") == 2


def test_secret_values_lists_them_for_masking() -> None:
    found = params.secret_values(Everything, trigger({"passwordFromEnv": "P"}, {"token": "t0k"}, {"P": "pw"}))
    assert sorted(found) == ["pw", "t0k"]


# --- declarations and the schema ---------------------------------------------------------------------


def test_undeclared_fields_are_a_programming_error() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Careless:
        name: str = "x"

    with pytest.raises(TypeError, match=r"is not declared with params\.param"):
        params.fields_of(Careless)


def test_describe() -> None:
    described = {d["name"]: d for d in params.describe(Everything)}
    assert described["name"] == {
        "name": "name",
        "type": "string",
        "required": True,
        "sources": ["triggerMetadata"],
        "aliases": ["queueName"],
        "doc": "a string",
    }
    assert described["count"] == {
        "name": "count",
        "type": "int",
        "required": False,
        "sources": ["triggerMetadata"],
        "default": 5,
        "minimum": 1,
        "maximum": 100,
    }
    assert described["password"]["secret"] is True
    assert described["password"]["sources"] == ["triggerMetadata", "resolvedEnv", "authParams"]
    assert described["wait"]["type"] == "duration"
    assert described["labels"]["type"] == "map"
    assert described["partitions"]["type"] == "intRanges"
    assert described["mode"]["choices"] == ["fast", "slow"]
    assert described["old"]["deprecated"] == "old is gone; use name"
    assert "default" not in described["region"]  # None is not shown as a default


@dataclasses.dataclass(frozen=True, kw_only=True)
class ListChoices:
    modes: Sequence[str] = params.param("authModes", default=[], choices=["basic", "bearer", "tls"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("basic", ["basic"], id="one-allowed"),
        pytest.param("basic, tls", ["basic", "tls"], id="several-allowed"),
    ],
)
def test_choices_on_a_list_accept_allowed_elements(text: str, expected: list[str]) -> None:
    assert list(params.parse(ListChoices, trigger({"authModes": text})).value.modes) == expected


def test_choices_on_a_list_name_the_offending_elements() -> None:
    assert errors({"authModes": "basic,oauth,kerberos"}, cls=ListChoices) == [
        'metadata.authModes: must be one of basic, bearer, tls, got "oauth, kerberos"'
    ]

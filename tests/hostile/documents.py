"""Hostile documents for the fuzzing tests: valid templates, and hypothesis strategies that mutate them
(wrong types at any field, huge and non-finite numbers, long strings, control characters, deep nesting,
junk bytes) or build whole manifests from them.

Hypothesis profiles (registered by `tests/hostile/conftest.py`, chosen with `EBB_FUZZ_PROFILE`):
`ci` (the default: derandomized, a fixed set of examples, so CI is reproducible) and `long` (10,000
examples, random; run by hand: `EBB_FUZZ_PROFILE=long .venv/bin/pytest tests/hostile -q`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import yaml
from hypothesis import strategies as st

REDIS = "127.0.0.1:6379"


def scaled_object(name: str = "orders", *, target: str = "worker", list_name: str = "jobs") -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "annotations": {"ebb.dev/scaling-mode": "direct"}},
        "spec": {
            "scaleTargetRef": {"name": target},
            "pollingInterval": 1,
            "cooldownPeriod": 5,
            "minReplicaCount": 0,
            "maxReplicaCount": 10,
            "fallback": {"failureThreshold": 3, "replicas": 2},
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60, "policies": [
                        {"type": "Pods", "value": 1, "periodSeconds": 15}]}},
                },
                "scalingModifiers": {"formula": "queue + clock", "target": "5", "activationTarget": "1"},
            },
            "triggers": [
                {"type": "redis", "name": "queue", "authenticationRef": {"name": "redis-auth"},
                 "metadata": {"address": REDIS, "listName": list_name, "listLength": "5"}},
                {"type": "cron", "name": "clock", "metadata": {
                    "timezone": "Europe/Berlin", "start": "0 8 * * *", "end": "0 18 * * *", "desiredReplicas": "2"}},
                {"type": "metrics-api", "name": "api", "metadata": {
                    "url": "http://127.0.0.1:9/value", "valueLocation": "value", "targetValue": "10"}},
            ],
        },
    }


def trigger_authentication() -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": "redis-auth"},
        "spec": {
            "secretTargetRef": [{"parameter": "password", "name": "redis-secret", "key": "password"}],
            "env": [{"parameter": "username", "name": "REDIS_USER", "containerName": "worker"}],
        },
    }


def secret() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "redis-secret"},
        "data": {"password": "aHVudGVyMg=="},
        "stringData": {"other": "plain"},
    }


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "worker"},
        "spec": {"template": {"spec": {"containers": [{
            "name": "worker", "image": "example/worker:1",
            "env": [{"name": "REDIS_USER", "value": "app"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
        }]}}},
    }


TEMPLATES: tuple[Callable[[], dict[str, Any]], ...] = (scaled_object, trigger_authentication, secret, deployment)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indexes) into a JSON-shaped value, the value itself first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(paths(item, (*prefix, index)))
    return found


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = {"a": value} if level % 2 else [value]
    return value


_CONTROL = st.characters(codec="utf-8", categories=("Cc", "Zl", "Zp", "Cf", "Lu", "Nd", "Po"))
HOSTILE_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1e309", "-1e309", "NaN", "Inf", "0x10", "9" * 30, "-0", "", " ", "1e-400", "5.5",
                     "Europe", "__pycache__", "../../etc/passwd", "x" * 300, "0 0 31 2 *", "* * * * * *",
                     "0-2000000000", "a ?? " * 200 + "a", "count(1..900, count(1..900, # > 0) > 0)",
                     "redis://user:pass@host:6379", "é", "\u202eevil", "line\nchecked 0 ScaledObjects"]),
    st.text(_CONTROL, max_size=40),
    st.integers(min_value=1_000, max_value=40_000).map(lambda n: ":" * n),
    st.integers(min_value=1_000, max_value=40_000).map(lambda n: "token" * (n // 5)),
    st.integers(min_value=20, max_value=300).map(_nested),
    st.lists(st.text(max_size=5), max_size=4),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)


@st.composite
def mutated(draw: st.DrawFn, template: Callable[[], dict[str, Any]] | None = None) -> dict[str, Any]:
    """A template with one to three of its fields replaced, deleted, or joined by an unknown field."""
    document = (template or draw(st.sampled_from(TEMPLATES)))()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        candidates = [p for p in paths(document) if p]
        path = draw(st.sampled_from(candidates))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(_CONTROL, min_size=1, max_size=20))] = draw(HOSTILE_VALUES)
        else:
            parent[path[-1]] = copy.deepcopy(draw(HOSTILE_VALUES))
    return document


HOSTILE_STRINGS: st.SearchStrategy[str] = HOSTILE_VALUES.filter(lambda v: isinstance(v, str))


@st.composite
def mutated_strings(draw: st.DrawFn, template: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A template with one to three of its string values replaced by hostile strings: what passes a CRD
    schema (everything is still a string) and reaches the operator."""
    document = template()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        candidates = [p for p in paths(document) if p and isinstance(_at(document, p), str)]
        path = draw(st.sampled_from(candidates))
        _at(document, path[:-1])[path[-1]] = draw(HOSTILE_STRINGS)
    return document


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


def _dump(documents: list[dict[str, Any]], as_json: bool) -> bytes:
    if as_json:
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": documents}, allow_nan=True).encode()
    return yaml.safe_dump_all(documents, allow_unicode=True, width=10**9).encode("utf-8", "surrogatepass")


@st.composite
def manifest_bytes(draw: st.DrawFn) -> bytes:
    """A whole manifest file: mutated and valid documents as YAML or JSON, sometimes with junk bytes
    spliced in or the text cut short."""
    documents = draw(st.lists(st.one_of(mutated(), st.sampled_from(TEMPLATES).map(lambda t: t())),
                              min_size=1, max_size=5))
    data = _dump(documents, draw(st.booleans()))
    edit = draw(st.sampled_from(["none", "none", "none", "junk", "cut"]))
    if edit == "junk":
        at = draw(st.integers(min_value=0, max_value=len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    elif edit == "cut":
        data = data[: draw(st.integers(min_value=0, max_value=len(data)))]
    return data


def worst_case_objects(prefix: str, *, redis_address: str) -> list[dict[str, Any]]:
    """The costliest ScaledObjects the limits let one tenant create (shared by the drift test and
    `bench/hostile_neighbours.py`), each about what it makes the operator do:

    * `-huge`: valid, ~300 KB: a Redis trigger whose metadata fill the per-object limit (4 extra keys
      of 16,000 characters, the per-value limit) and 240 KB of annotations (the API server allows 256 KB),
      full of `:`, `@` and `token` — what the masking and redaction regexes backtracked on;
    * `-too-big`: invalid, ~1.3 MB: 80 such metadata values (the API server's ~1.5 MB is the only bound);
    * `-crons`: valid, 32 cron triggers (the trigger limit, each evaluated on the event loop every tick)
      combined by a scalingModifiers formula;
    * `-long-param`: invalid, a 40 KB `listLength` (issue 9's reproducer);
    * `-zone-dir`: invalid, a cron trigger with `timezone: Europe` (a directory of the zone database);
    * `-inf`: invalid, `targetValue: "1e309"`.

    Each scales a Deployment of its own name (which the caller creates).
    """
    def so(name: str, triggers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
        return {
            "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": f"{prefix}-{name}", "annotations": {"ebb.dev/scaling-mode": "direct"}},
            "spec": {"scaleTargetRef": {"name": f"{prefix}-{name}"}, "pollingInterval": 1, "minReplicaCount": 0,
                     "maxReplicaCount": 10, "triggers": triggers, **spec},
        }

    hostile = (":" * 4000 + "a:b@" * 1000 + "token" * 800 + "://" + "@" * 4000)[:16_000]
    redis = {"address": redis_address, "listName": f"{prefix}-empty", "listLength": "5"}
    cron = {"timezone": "Etc/UTC", "start": "0 0 * * *", "end": "59 23 * * *", "desiredReplicas": "1"}
    return [
        {**so("huge", [{"type": "redis", "metadata": {**redis, **{f"junk{i}": hostile for i in range(4)}}}]),
         "metadata": {"name": f"{prefix}-huge", "annotations": {
             "ebb.dev/scaling-mode": "direct", **{f"example.com/junk{i}": hostile for i in range(15)}}}},
        so("too-big", [{"type": "redis", "metadata": {**redis, **{f"junk{i}": hostile for i in range(80)}}}]),
        so("crons", [{"type": "cron", "name": f"c{i}", "metadata": dict(cron)} for i in range(32)],
           advanced={"scalingModifiers": {"formula": " + ".join(f"c{i}" for i in range(32)), "target": "100"}}),
        so("long-param", [{"type": "redis", "metadata": {**redis, "listLength": ":" * 40_000}}]),
        so("zone-dir", [{"type": "cron", "metadata": {**cron, "timezone": "Europe"}}]),
        so("inf", [{"type": "metrics-api", "metadata": {
            "url": "http://127.0.0.1:9/v", "valueLocation": "v", "targetValue": "1e309"}}]),
    ]

"""The CRDs in `crds/` and the Python spec (`scaler.core.specs`) describe the same objects.

* Every property the ScaledObject CRD declares appears in `FULL` (a ScaledObject that sets every field);
  the CRD keeps all of `FULL` (nothing pruned, nothing invalid) and the Python parser accepts it. A field
  added on one side only makes one of these fail.
* Where the CRD, like KEDA's, leaves a value open (enum values, integer minimums), the CRD stores a bad value
  and the parser rejects it at the same path: Ebb rejects later, as KEDA's webhook does.
* The same for (Cluster)TriggerAuthentication.
"""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml

from kube_sandbox import schemas
from scaler.core import problems, specs

CRDS = pathlib.Path(__file__).resolve().parents[2] / "crds"


def schema_of(file: str) -> Mapping[str, Any]:
    crd = yaml.safe_load((CRDS / file).read_text())
    (version,) = crd["spec"]["versions"]
    schema: Mapping[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def leaf_paths(schema: Mapping[str, Any], path: str = "") -> Iterator[str]:
    """Every property path the schema declares (`spec.triggers[].metadata`); open maps end the walk."""
    properties = schema.get("properties")
    if properties:
        for name, child in properties.items():
            yield from leaf_paths(child, f"{path}.{name}" if path else name)
    elif schema.get("type") == "array" and "items" in schema:
        yield from leaf_paths(schema["items"], f"{path}[]")
    else:
        yield path


def value_paths(value: Any, path: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict) and value:
        for key, child in value.items():
            found |= value_paths(child, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and value:
        for item in value:
            found |= value_paths(item, f"{path}[]")
    else:
        found.add(path)
    return found


FULL: dict[str, Any] = {
    "apiVersion": "keda.sh/v1alpha1",
    "kind": "ScaledObject",
    "metadata": {"name": "everything", "namespace": "default"},
    "spec": {
        "scaleTargetRef": {
            "name": "worker",
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "envSourceContainerName": "app",
        },
        "pollingInterval": 15,
        "cooldownPeriod": 60,
        "initialCooldownPeriod": 30,
        "idleReplicaCount": 0,
        "minReplicaCount": 1,
        "maxReplicaCount": 20,
        "fallback": {"failureThreshold": 3, "replicas": 2, "behavior": "currentReplicasIfHigher"},
        "advanced": {
            "restoreToOriginalReplicaCount": True,
            "horizontalPodAutoscalerConfig": {
                "name": "worker-hpa",
                "behavior": {
                    "scaleUp": {
                        "stabilizationWindowSeconds": 0,
                        "selectPolicy": "Max",
                        "tolerance": "0.05",
                        "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}],
                    },
                    "scaleDown": {
                        "stabilizationWindowSeconds": 300,
                        "selectPolicy": "Min",
                        "tolerance": "0.1",
                        "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
                    },
                },
            },
            "scalingModifiers": {
                "formula": "jobs + 1",
                "target": "10",
                "activationTarget": "1",
                "metricType": "AverageValue",
            },
        },
        "triggers": [
            {
                "type": "redis",
                "name": "jobs",
                "useCachedMetrics": True,
                "metricType": "AverageValue",
                "metadata": {"address": "redis:6379", "listName": "jobs"},
                "authenticationRef": {"name": "redis-auth", "kind": "TriggerAuthentication"},
            }
        ],
    },
}

STATUS_AND_META = {"apiVersion", "kind", "metadata"}


def test_every_scaled_object_crd_field_is_set_in_full() -> None:
    declared = {p for p in leaf_paths(schema_of("scaledobjects.yaml")) if not p.startswith("status")}
    declared -= STATUS_AND_META
    values = value_paths(FULL)
    unset = {d for d in declared if not any(v == d or v.startswith(d + ".") for v in values)}
    assert unset == set(), "CRD fields FULL does not set (add them and parse them)"


def test_the_crd_keeps_and_admits_full() -> None:
    schema = schema_of("scaledobjects.yaml")
    body = copy.deepcopy(FULL)
    assert schemas.prune(body, schema, root=True) == [], "fields the parser reads but the CRD would drop"
    assert body == FULL
    assert [str(e) for e in schemas.validate(body, schema, root=True)] == []


def test_the_parser_accepts_full_without_a_problem() -> None:
    spec, found = specs.check_scaled_object(FULL)
    assert spec is not None, [str(p) for p in found]
    assert [str(p) for p in found if p.severity is problems.Severity.ERROR] == []


def _at(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `body` with `value` at `path` (`spec.triggers.0.metricType`)."""
    changed = copy.deepcopy(body)
    node: Any = changed
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last] = value
    return changed


def _errors_at(body: dict[str, Any], field: str) -> list[str]:
    _, found = specs.check_scaled_object(body)
    return [str(p) for p in found if p.severity is problems.Severity.ERROR and p.field.startswith(field)]


# Like KEDA's, the CRD constrains no enum value (but fallback.behavior's, below) and no integer minimum here (KEDA's webhook and controller
# check them later); the parser is where they are checked. Each row: the path, the values KEDA accepts
# (from the Python enums, which follow KEDA) and a value it does not.
ENUMS = [
    pytest.param(
        "spec.triggers.0.metricType", ["AverageValue", "Value"], "Sideways", id="trigger-metric-type"
    ),
    pytest.param(
        "spec.triggers.0.authenticationRef.kind", [k.value for k in specs.AuthKind], "Secret", id="auth-kind"
    ),
    pytest.param(
        "spec.advanced.scalingModifiers.metricType",
        [specs.MetricType.AVERAGE_VALUE.value, specs.MetricType.VALUE.value],
        "Utilization",
        id="modifiers-metric-type",
    ),
]


def test_fallback_behavior_is_the_one_enum_the_crd_declares_as_keda_does() -> None:
    schema = schema_of("scaledobjects.yaml")
    behavior = schema["properties"]["spec"]["properties"]["fallback"]["properties"]["behavior"]
    assert sorted(behavior["enum"]) == sorted(b.value for b in specs.FallbackBehavior)
    assert behavior["default"] == specs.FallbackBehavior.STATIC.value
    body = _at(FULL, "spec.fallback.behavior", "sometimes")
    assert [e.field for e in schemas.validate(copy.deepcopy(body), schema, root=True)] == ["spec.fallback.behavior"]


@pytest.mark.parametrize(("path", "accepted", "rejected"), ENUMS)
def test_enum_values_are_stored_by_the_crd_and_checked_by_the_parser(
    path: str, accepted: list[str], rejected: str
) -> None:
    schema = schema_of("scaledobjects.yaml")
    field = path.replace(".0.", "[0].")
    for value in accepted:
        body = _at(FULL, path, value)
        assert [str(e) for e in schemas.validate(copy.deepcopy(body), schema, root=True)] == []
        assert _errors_at(body, field) == [], value
    body = _at(FULL, path, rejected)
    assert [str(e) for e in schemas.validate(copy.deepcopy(body), schema, root=True)] == [], (
        "the CRD must store it"
    )
    assert _errors_at(body, field), f"the parser must reject {field} = {rejected!r}"


@pytest.mark.parametrize(
    ("field", "minimum"),
    [
        pytest.param("pollingInterval", 1, id="pollingInterval"),
        pytest.param("cooldownPeriod", 0, id="cooldownPeriod"),
        pytest.param("initialCooldownPeriod", 0, id="initialCooldownPeriod"),
        pytest.param("idleReplicaCount", 0, id="idleReplicaCount"),
        pytest.param("minReplicaCount", 0, id="minReplicaCount"),
        pytest.param("maxReplicaCount", 1, id="maxReplicaCount"),
    ],
)
def test_integer_minimums_are_the_parsers(field: str, minimum: int) -> None:
    schema = schema_of("scaledobjects.yaml")
    body = copy.deepcopy(FULL)
    body["spec"].pop("idleReplicaCount")  # keep idle < min from masking the rule under test
    if field == "maxReplicaCount":
        body["spec"]["minReplicaCount"] = 0
    body["spec"][field] = minimum
    assert _errors_at(body, f"spec.{field}") == []
    body["spec"][field] = minimum - 1
    assert [str(e) for e in schemas.validate(copy.deepcopy(body), schema, root=True)] == [], (
        "the CRD must store it"
    )
    assert _errors_at(body, f"spec.{field}"), f"the parser must reject {field} = {minimum - 1}"


TRIGGER_AUTH_FULL: dict[str, Any] = {
    "apiVersion": "keda.sh/v1alpha1",
    "kind": "TriggerAuthentication",
    "metadata": {"name": "auth", "namespace": "default"},
    "spec": {
        "podIdentity": {"provider": "none"},
        "secretTargetRef": [{"parameter": "password", "name": "s", "key": "k"}],
        "configMapTargetRef": [{"parameter": "host", "name": "c", "key": "k"}],
        "env": [{"parameter": "user", "name": "USER", "containerName": "app"}],
    },
}


@pytest.mark.parametrize(
    ("file", "kind"),
    [
        pytest.param("triggerauthentications.yaml", "TriggerAuthentication", id="namespaced"),
        pytest.param("clustertriggerauthentications.yaml", "ClusterTriggerAuthentication", id="cluster"),
    ],
)
def test_trigger_authentication_crd_and_parser_agree(file: str, kind: str) -> None:
    body = copy.deepcopy(TRIGGER_AUTH_FULL)
    body["kind"] = kind
    if kind == "ClusterTriggerAuthentication":
        body["metadata"].pop("namespace")
    schema = schema_of(file)
    kept = copy.deepcopy(body)
    assert schemas.prune(kept, schema, root=True) == []
    assert [str(e) for e in schemas.validate(kept, schema, root=True)] == []
    _, found = specs.check_trigger_authentication(body)
    assert [str(p) for p in found if p.severity is problems.Severity.ERROR] == []
    # What Ebb resolves is declared by the CRD, and the provider enum includes what the parser allows.
    spec_properties = set(schema["properties"]["spec"]["properties"])
    assert {"secretTargetRef", "configMapTargetRef", "env", "podIdentity"} <= spec_properties

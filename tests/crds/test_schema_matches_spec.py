"""The CRDs in `crds/` and the Python spec (`scaler.core.specs`) describe the same objects.

* Every property the ScaledObject CRD declares appears in `FULL` (a ScaledObject that sets every field);
  the CRD keeps all of `FULL` (nothing pruned, nothing invalid) and the Python parser accepts it. A field
  added on one side only makes one of these fail.
* The enums agree, and each integer minimum the CRD enforces is enforced by the parser at the same path.
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


def enum_at(schema: Mapping[str, Any], path: str) -> set[str]:
    node: Mapping[str, Any] = schema
    for part in path.split("."):
        node = node["items"] if part == "[]" else node["properties"][part]
    return set(node["enum"])


@pytest.mark.parametrize(
    ("path", "python"),
    [
        pytest.param(
            "spec.fallback.behavior", {b.value for b in specs.FallbackBehavior}, id="fallback-behavior"
        ),
        pytest.param(
            "spec.triggers.[].metricType", {m.value for m in specs.MetricType}, id="trigger-metric-type"
        ),
        pytest.param(
            "spec.triggers.[].authenticationRef.kind", {k.value for k in specs.AuthKind}, id="auth-kind"
        ),
        pytest.param(
            "spec.advanced.scalingModifiers.metricType",
            {specs.MetricType.AVERAGE_VALUE.value, specs.MetricType.VALUE.value},
            id="modifiers-metric-type",
        ),
    ],
)
def test_enums_agree(path: str, python: set[str]) -> None:
    assert enum_at(schema_of("scaledobjects.yaml"), path) == python


@pytest.mark.parametrize(
    ("field", "path"),
    [
        pytest.param("pollingInterval", "spec.pollingInterval", id="pollingInterval"),
        pytest.param("cooldownPeriod", "spec.cooldownPeriod", id="cooldownPeriod"),
        pytest.param("initialCooldownPeriod", "spec.initialCooldownPeriod", id="initialCooldownPeriod"),
        pytest.param("idleReplicaCount", "spec.idleReplicaCount", id="idleReplicaCount"),
        pytest.param("minReplicaCount", "spec.minReplicaCount", id="minReplicaCount"),
        pytest.param("maxReplicaCount", "spec.maxReplicaCount", id="maxReplicaCount"),
    ],
)
def test_integer_minimums_agree(field: str, path: str) -> None:
    minimum = schema_of("scaledobjects.yaml")["properties"]["spec"]["properties"][field]["minimum"]
    body = copy.deepcopy(FULL)
    body["spec"].pop("idleReplicaCount")  # keep idle < min from masking the rule under test
    body["spec"][field] = minimum
    if field == "maxReplicaCount":
        body["spec"]["minReplicaCount"] = 0
    _, found = specs.check_scaled_object(body)
    assert [p for p in found if p.field == path and p.severity is problems.Severity.ERROR] == []
    body["spec"][field] = minimum - 1
    _, found = specs.check_scaled_object(body)
    assert [p for p in found if p.field == path and p.severity is problems.Severity.ERROR], (
        f"the CRD rejects {field} = {minimum - 1}; the parser must too"
    )


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

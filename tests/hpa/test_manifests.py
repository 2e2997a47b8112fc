"""The HPA KEDA builds for a ScaledObject: names, labels, owner, bounds, metrics order, behavior."""

from __future__ import annotations

from typing import Any

import pytest

from scaler.core import hpa_manifests, specs

UID = "8d3c3f2e-0000-4000-8000-000000000001"


def scaled_object(spec: dict[str, Any] | None = None, **meta: Any) -> specs.ScaledObjectSpec:
    body: dict[str, Any] = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "orders", "namespace": "shop", **meta},
        "spec": {
            "scaleTargetRef": {"name": "worker"},
            "triggers": [{"type": "redis", "metadata": {"address": "redis:6379", "listName": "jobs"}}],
            **(spec or {}),
        },
    }
    return specs.parse_scaled_object(body)


def build(
    so: specs.ScaledObjectSpec, metrics: Any = (("s0-redis-jobs", "AverageValue", 5),)
) -> dict[str, Any]:
    return hpa_manifests.build_hpa(so, metrics, uid=UID, version="0.1.0")


def test_whole_manifest_for_a_plain_scaled_object() -> None:
    assert build(scaled_object()) == {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": "keda-hpa-orders",
            "namespace": "shop",
            "labels": {
                "app.kubernetes.io/name": "keda-hpa-orders",
                "app.kubernetes.io/version": "0.1.0",
                "app.kubernetes.io/part-of": "orders",
                "app.kubernetes.io/managed-by": "keda-operator",
                "scaledobject.keda.sh/name": "orders",
            },
            "ownerReferences": [
                {
                    "apiVersion": "keda.sh/v1alpha1",
                    "kind": "ScaledObject",
                    "name": "orders",
                    "uid": UID,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "worker"},
            "minReplicas": 1,
            "maxReplicas": 100,
            "metrics": [
                {
                    "type": "External",
                    "external": {
                        "metric": {
                            "name": "s0-redis-jobs",
                            "selector": {"matchLabels": {"scaledobject.keda.sh/name": "orders"}},
                        },
                        "target": {"type": "AverageValue", "averageValue": "5"},
                    },
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("spec", "bounds"),
    [
        pytest.param({}, (1, 100), id="defaults-min-zero-becomes-one"),
        pytest.param({"minReplicaCount": 3, "maxReplicaCount": 7}, (3, 7), id="explicit-bounds"),
    ],
)
def test_bounds(spec: dict[str, Any], bounds: tuple[int, int]) -> None:
    got = build(scaled_object(spec))["spec"]
    assert (got["minReplicas"], got["maxReplicas"]) == bounds


def test_paused_replicas_pin_the_hpa_and_zero_becomes_one() -> None:
    got = build(scaled_object(annotations={specs.PAUSED_REPLICAS: "0"}))["spec"]
    assert (got["minReplicas"], got["maxReplicas"]) == (1, 1)


@pytest.mark.parametrize(
    ("target_type", "target", "expected"),
    [
        pytest.param("AverageValue", 5, {"type": "AverageValue", "averageValue": "5"}, id="integer-average"),
        pytest.param(
            "AverageValue", 0.5, {"type": "AverageValue", "averageValue": "500m"}, id="milli-average"
        ),
        pytest.param("Value", 1500, {"type": "Value", "value": "1500"}, id="value-1500"),
        pytest.param("Value", 2000, {"type": "Value", "value": "2k"}, id="value-canonical-kilo"),
    ],
)
def test_target_quantities(target_type: str, target: float, expected: dict[str, str]) -> None:
    metric = build(scaled_object(), [("s0-redis-jobs", target_type, target)])["spec"]["metrics"][0]
    assert metric["external"]["target"] == expected


def test_metrics_sorted_by_source_type_stably() -> None:
    metrics = [
        hpa_manifests.MetricTarget("s0-redis-b", "AverageValue", 5),
        hpa_manifests.MetricTarget("cpu", "Utilization", 60, source="Resource"),
        hpa_manifests.MetricTarget("s2-redis-a", "AverageValue", 5),
        hpa_manifests.MetricTarget(
            "memory", "AverageValue", 2**20, source="ContainerResource", container="app"
        ),
    ]
    got = build(scaled_object(), metrics)["spec"]["metrics"]
    assert [m["type"] for m in got] == ["ContainerResource", "External", "External", "Resource"]
    assert [m["external"]["metric"]["name"] for m in got if m["type"] == "External"] == [
        "s0-redis-b",
        "s2-redis-a",
    ]
    assert got[3]["resource"] == {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}


def test_duplicate_external_metric_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="metricName s0-redis-jobs defined multiple times"):
        build(scaled_object(), [("s0-redis-jobs", "AverageValue", 5), ("s0-redis-jobs", "AverageValue", 5)])


def test_scaling_modifiers_replace_external_metrics_with_composite() -> None:
    so = scaled_object(
        {
            "triggers": [
                {"type": "redis", "name": "a", "metadata": {"address": "r:6379", "listName": "x"}},
                {"type": "redis", "name": "b", "metadata": {"address": "r:6379", "listName": "y"}},
            ],
            "advanced": {"scalingModifiers": {"formula": "a + b", "target": "2.5", "metricType": "Value"}},
        }
    )
    metrics = [
        ("s0-redis-x", "AverageValue", 5),
        ("s1-redis-y", "AverageValue", 5),
        hpa_manifests.MetricTarget("cpu", "Utilization", 50, source="Resource"),
    ]
    got = build(so, metrics)["spec"]["metrics"]
    assert [m["type"] for m in got] == ["Resource", "External"]
    assert got[1]["external"]["metric"]["name"] == "composite-metric"
    assert got[1]["external"]["target"] == {"type": "Value", "value": "2500m"}


@pytest.mark.parametrize(
    ("annotations", "behavior", "expected"),
    [
        pytest.param({}, None, None, id="no-behavior-stays-nil"),
        pytest.param({}, {"scaleDown": {"stabilizationWindowSeconds": 60}},
                     {"scaleDown": {"stabilizationWindowSeconds": 60}}, id="behavior-copied-verbatim"),
        pytest.param({specs.PAUSED_SCALE_IN: "true"}, None, {"scaleDown": {"selectPolicy": "Disabled"}},
                     id="paused-scale-in-disables-scale-down"),
        pytest.param({specs.PAUSED_SCALE_OUT: "true"}, {"scaleUp": {"stabilizationWindowSeconds": 30}},
                     {"scaleUp": {"stabilizationWindowSeconds": 30, "selectPolicy": "Disabled"}},
                     id="paused-scale-out-disables-scale-up-keeping-the-rest"),
    ],
)  # fmt: skip
def test_behavior(annotations: dict[str, str], behavior: dict[str, Any] | None, expected: Any) -> None:
    spec: dict[str, Any] = {}
    if behavior is not None:
        spec["advanced"] = {"horizontalPodAutoscalerConfig": {"behavior": behavior}}
    got = build(scaled_object(spec, annotations=annotations))
    assert got["spec"].get("behavior") == expected
    if annotations:
        assert got["metadata"]["annotations"] == annotations


def test_labels_copied_minus_excluded_and_custom_name() -> None:
    so = scaled_object(
        {"advanced": {"horizontalPodAutoscalerConfig": {"name": "custom-hpa"}}},
        labels={"team": "shop", "secret-ish": "x"},
        annotations={specs.HPA_EXCLUDED_LABELS: "secret-ish"},
    )
    got = build(so)["metadata"]
    assert got["name"] == "custom-hpa"
    assert got["labels"]["app.kubernetes.io/name"] == "custom-hpa"
    assert got["labels"]["team"] == "shop"
    assert "secret-ish" not in got["labels"]

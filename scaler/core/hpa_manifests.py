"""The `autoscaling/v2` HorizontalPodAutoscaler KEDA builds for a ScaledObject (`controllers/keda/hpa.go`).

`build_hpa(spec, metrics, uid=…, version=…)` returns the manifest as a plain mapping, ready to create or
compare: name `keda-hpa-<name>` (or `advanced.horizontalPodAutoscalerConfig.name`), the ScaledObject as
controlling owner, KEDA's labels plus the ScaledObject's (minus `scaledobject.keda.sh/hpa-excluded-labels`),
its annotations, `minReplicas = max(minReplicaCount, 1)`, `maxReplicas`, one metric per trigger sorted by
metric source type (or the single `composite-metric` with scalingModifiers), and the `behavior` as
written — with `selectPolicy: Disabled` injected for paused-scale-in / paused-scale-out.

Pure: no I/O. The metric names and targets come from the scalers (through the registry, at the edge).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

from scaler.core import quantities, specs

HPA_API_VERSION = "autoscaling/v2"
MANAGED_BY = "keda-operator"
COMPOSITE_METRIC = "composite-metric"
_LABEL_MAX = 63

EXTERNAL = "External"
RESOURCE = "Resource"
CONTAINER_RESOURCE = "ContainerResource"
_SOURCES = (EXTERNAL, RESOURCE, CONTAINER_RESOURCE)
_TARGET_TYPES = ("AverageValue", "Value", "Utilization")


@dataclasses.dataclass(frozen=True)
class MetricTarget:
    """One HPA metric a trigger contributes.

    External metrics (every scaler but cpu/memory): `name` is the external metric name (`s0-redis-jobs`).
    Resource metrics (cpu/memory): `name` is the resource (`cpu`), `container` makes it ContainerResource.
    `target` is in natural units (a percentage for Utilization).
    """

    name: str
    target_type: str
    target: float
    source: str = EXTERNAL
    container: str | None = None

    def __post_init__(self) -> None:
        if self.source not in _SOURCES:
            raise ValueError(
                f"metric {self.name}: source must be one of {', '.join(_SOURCES)}, got {self.source!r}"
            )
        if self.target_type not in _TARGET_TYPES:
            raise ValueError(
                f"metric {self.name}: target type must be one of {', '.join(_TARGET_TYPES)}, got {self.target_type!r}"
            )
        if self.target_type == "Utilization" and self.source == EXTERNAL:
            raise ValueError(f"metric {self.name}: Utilization is only for cpu/memory Resource metrics")


def hpa_min_replicas(spec: specs.ScaledObjectSpec) -> int:
    """KEDA's HPA never has minReplicas 0 (HPAScaleToZero is alpha): `max(minReplicaCount, 1)`."""
    return spec.min_replica_count if spec.min_replica_count > 0 else 1


def _label_value(name: str) -> str:
    if len(name) <= _LABEL_MAX:
        return name
    trimmed = name[:_LABEL_MAX]
    while trimmed and not trimmed[-1].isalnum():  # a label value must end alphanumeric
        trimmed = trimmed[:-1]
    return trimmed


def _quantity(value: float) -> str:
    # KEDA builds targets as NewMilliQuantity(int64(v*1000)) (integer targets print the same way).
    return quantities.format_milli(quantities.milli_truncated(value))


def _target(metric: MetricTarget) -> dict[str, Any]:
    if metric.target_type == "Utilization":
        return {"type": "Utilization", "averageUtilization": int(metric.target)}
    key = "value" if metric.target_type == "Value" else "averageValue"
    return {"type": metric.target_type, key: _quantity(metric.target)}


def _metric_spec(metric: MetricTarget, so_name: str) -> dict[str, Any]:
    if metric.source == RESOURCE:
        return {"type": RESOURCE, "resource": {"name": metric.name, "target": _target(metric)}}
    if metric.source == CONTAINER_RESOURCE:
        body = {"name": metric.name, "container": metric.container or "", "target": _target(metric)}
        return {"type": CONTAINER_RESOURCE, "containerResource": body}
    return {
        "type": EXTERNAL,
        "external": {
            "metric": {
                "name": metric.name,
                "selector": {"matchLabels": {specs.SCALED_OBJECT_NAME_LABEL: so_name}},
            },
            "target": _target(metric),
        },
    }


def _as_target(metric: MetricTarget | tuple[str, str, float]) -> MetricTarget:
    if isinstance(metric, MetricTarget):
        return metric
    name, target_type, target = metric
    return MetricTarget(name, target_type, target)


def metric_specs(
    spec: specs.ScaledObjectSpec, metrics: Sequence[MetricTarget | tuple[str, str, float]]
) -> list[dict[str, Any]]:
    """The HPA's `spec.metrics`: sorted by source type (stable), or Resource metrics + the composite one."""
    targets = [_as_target(m) for m in metrics]
    seen: set[str] = set()
    for target in targets:
        if target.source == EXTERNAL:
            if target.name in seen:
                raise ValueError(
                    f"{spec.ref}: metricName {target.name} defined multiple times in ScaledObject {spec.name}"
                )
            seen.add(target.name)
    # Sorted so the same ScaledObject always gives the same HPA (kedacore/keda#1531).
    ordered = sorted(targets, key=lambda m: m.source)
    built = [_metric_spec(m, spec.name) for m in ordered]
    modifiers = spec.advanced.scaling_modifiers
    if modifiers is not None and modifiers.target > 0:
        composite = MetricTarget(COMPOSITE_METRIC, modifiers.metric_type.value, modifiers.target)
        # KEDA keeps only plain Resource metrics next to the composite one.
        built = [m for m in built if m["type"] == RESOURCE] + [_metric_spec(composite, spec.name)]
    return built


def hpa_behavior(spec: specs.ScaledObjectSpec) -> dict[str, Any] | None:
    """The behavior KEDA writes: as given, with selectPolicy Disabled for paused-scale-in/out."""
    given = spec.advanced.horizontal_pod_autoscaler_config.behavior
    behavior: dict[str, Any] | None = None if given is None else copy.deepcopy(dict(given))
    if spec.pause.paused_scale_in:
        behavior = behavior if behavior is not None else {}
        behavior["scaleDown"] = dict(behavior.get("scaleDown") or {}, selectPolicy="Disabled")
    if spec.pause.paused_scale_out:
        behavior = behavior if behavior is not None else {}
        behavior["scaleUp"] = dict(behavior.get("scaleUp") or {}, selectPolicy="Disabled")
    return behavior


def hpa_labels(spec: specs.ScaledObjectSpec, *, version: str) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/name": _label_value(spec.hpa_name),
        "app.kubernetes.io/version": version,
        "app.kubernetes.io/part-of": spec.name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    excluded = set(spec.annotations.get(specs.HPA_EXCLUDED_LABELS, "").split(","))
    # The operator puts scaledobject.keda.sh/name on the ScaledObject before it builds the HPA.
    so_labels: dict[str, str] = {specs.SCALED_OBJECT_NAME_LABEL: spec.name, **spec.labels}
    for key, value in so_labels.items():
        if key not in excluded:
            labels[key] = value
    return labels


def build_hpa(
    spec: specs.ScaledObjectSpec,
    metrics: Sequence[MetricTarget | tuple[str, str, float]],
    *,
    uid: str,
    version: str,
) -> dict[str, Any]:
    """The HPA manifest for `spec`. `metrics` are (metric name, target type, target) or `MetricTarget`s;
    `uid` is the ScaledObject's metadata.uid (for the owner reference); `version` goes in the version label.
    """
    minimum = hpa_min_replicas(spec)
    maximum = spec.max_replica_count
    if spec.pause.paused_replicas is not None:
        # KEDA pins the HPA at the paused count (an HPA cannot have minReplicas 0).
        minimum = maximum = max(spec.pause.paused_replicas, 1)
    metadata: dict[str, Any] = {
        "name": spec.hpa_name,
        "namespace": spec.namespace,
        "labels": hpa_labels(spec, version=version),
        "ownerReferences": [
            {
                "apiVersion": specs.API_VERSION,
                "kind": "ScaledObject",
                "name": spec.name,
                "uid": uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if spec.annotations:
        metadata["annotations"] = dict(spec.annotations)
    hpa_spec: dict[str, Any] = {
        "scaleTargetRef": {
            "apiVersion": spec.scale_target_ref.api_version,
            "kind": spec.scale_target_ref.kind,
            "name": spec.scale_target_ref.name,
        },
        "minReplicas": minimum,
        "maxReplicas": maximum,
        "metrics": metric_specs(spec, metrics),
    }
    behavior = hpa_behavior(spec)
    if behavior is not None:
        hpa_spec["behavior"] = behavior
    return {
        "apiVersion": HPA_API_VERSION,
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata,
        "spec": hpa_spec,
    }

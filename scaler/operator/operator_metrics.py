"""The operator's Prometheus instruments, named and labelled exactly as KEDA's operator names them, so KEDA's
Grafana dashboard and alerts work on Ebb unchanged; plus Ebb's own (decisions by reason, activation latency).

KEDA's names (`pkg/metricscollector/prommetrics.go`), all with the per-trigger labels
`namespace, metric, scaledObject, scaler, triggerIndex, type` unless noted:

* `keda_scaler_metrics_value` — the value the HPA sees for a trigger's metric (gauge);
* `keda_scaler_metrics_latency_seconds` — how long the last read took (gauge);
* `keda_scaler_active` — 1 when the trigger is active (gauge);
* `keda_scaler_detail_errors_total` — failed reads (counter);
* `keda_scaled_object_errors_total{namespace,scaledObject}` — every error of the object (counter);
* `keda_scaled_object_paused{namespace,scaledObject}` (gauge);
* `keda_internal_scale_loop_latency_seconds{namespace,type,resource}` — how late the tick ran (gauge);
* `keda_trigger_registered_total{type}`, `keda_resource_registered_total{type,namespace}` (gauges);
* `keda_build_info{version,git_commit,goversion,goos,goarch}` — Ebb's version, the Python runtime.

`scaler` is the trigger's `name` when it has one, otherwise the scaler's type as KEDA spells it
(`redisScaler`, `rabbitMQScaler`…); `type` is always `scaledobject`.

Ebb's own: `ebb_scale_decisions_total{namespace,scaledObject,reason}` and the histogram
`ebb_activation_latency_seconds{namespace,scaledObject}` (from work appearing to the target waking up).

Each `OperatorMetrics` has its own registry (no global state); per-object series are dropped by `forget`.
The label sets of each trigger are resolved once and cached, since the scale loops call in every tick.
"""

from __future__ import annotations

import enum
import importlib.metadata
import platform
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

import prometheus_client

PER_TRIGGER_LABELS = ("namespace", "metric", "scaledObject", "scaler", "triggerIndex", "type")
PER_OBJECT_LABELS = ("namespace", "scaledObject")
RESOURCE_TYPE = "scaledobject"

# Seconds from the first sign of work to the target at its first replica: a poll (1–30 s) plus a rollout.
# Every tick's drift, all objects together (KEDA's gauge keeps only each object's latest): fine buckets
# around the 50 ms / 100 ms marks that KEDA's own acceptance tests use.
DRIFT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, float("inf"))
ACTIVATION_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, float("inf"))

# KEDA labels a trigger without a name with its Go type; the ones that differ from `<camelCase>Scaler`.
_KEDA_SCALER_NAMES = {
    "redis-cluster": "redisScaler",
    "redis-sentinel": "redisScaler",
    "redis-cluster-streams": "redisStreamsScaler",
    "redis-sentinel-streams": "redisStreamsScaler",
    "rabbitmq": "rabbitMQScaler",
    "cpu": "cpuMemoryScaler",
    "memory": "cpuMemoryScaler",
    "metrics-api": "metricsAPIScaler",
    "external": "externalScaler",
    "external-push": "externalPushScaler",
}


def keda_scaler_name(scaler_type: str) -> str:
    """The `scaler` label KEDA gives an unnamed trigger of `scaler_type`: `redis-streams` → `redisStreamsScaler`."""
    known = _KEDA_SCALER_NAMES.get(scaler_type)
    if known is not None:
        return known
    words = [w for w in re.split(r"[-_.\s]+", scaler_type) if w]
    if not words:
        return "unknownScaler"
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:]) + "Scaler"


def _text(value: object) -> str:
    # A `str` enum's str() is `Cls.MEMBER` on Python 3.11; the label wants its value.
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def ebb_version() -> str:
    try:
        return importlib.metadata.version("ebb-autoscaler")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class _TriggerSeries:
    """The children of one trigger's label set, resolved once."""

    labels: tuple[str, ...]
    value: prometheus_client.Gauge
    latency: prometheus_client.Gauge
    active: prometheus_client.Gauge
    errors: prometheus_client.Counter


@dataclass
class _ObjectSeries:
    """What one ScaledObject has put in the registry, so that `forget` can take it out again."""

    triggers: dict[tuple[int, str, str, str], _TriggerSeries] = field(default_factory=dict)
    reasons: set[str] = field(default_factory=set)
    trigger_types: tuple[str, ...] = ()
    errors: prometheus_client.Counter | None = None
    paused: bool = False
    loop_drift: bool = False
    activation: bool = False


class OperatorMetrics:
    """The operator's instruments over one registry.

    >>> metrics = OperatorMetrics()
    >>> metrics.paused("default", "orders", True)
    >>> metrics.registry.get_sample_value("keda_scaled_object_paused", {"namespace": "default", "scaledObject": "orders"})
    1.0
    """

    def __init__(self, registry: prometheus_client.CollectorRegistry | None = None, *,
                 version: str | None = None, git_commit: str = "") -> None:
        # KEDA's Go client exposes no `*_created` series; without them /metrics renders a third fewer lines
        # (process-wide in prometheus_client, for metrics made from now on).
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream
        self.registry = registry if registry is not None else prometheus_client.CollectorRegistry()
        reg = self.registry
        self._value = prometheus_client.Gauge(
            "keda_scaler_metrics_value",
            "The current value for each scaler's metric that would be used by the HPA in computing the target average.",
            PER_TRIGGER_LABELS, registry=reg)
        self._latency = prometheus_client.Gauge(
            "keda_scaler_metrics_latency_seconds",
            "The latency of retrieving current metric from each scaler, in seconds.",
            PER_TRIGGER_LABELS, registry=reg)
        self._active = prometheus_client.Gauge(
            "keda_scaler_active", "Indicates whether a scaler is active (1), or not (0).",
            PER_TRIGGER_LABELS, registry=reg)
        self._errors = prometheus_client.Counter(
            "keda_scaler_detail_errors_total", "The total number of errors encountered for each scaler.",
            PER_TRIGGER_LABELS, registry=reg)
        self._object_errors = prometheus_client.Counter(
            "keda_scaled_object_errors_total", "The number of errors that have occurred for each ScaledObject.",
            PER_OBJECT_LABELS, registry=reg)
        self._paused = prometheus_client.Gauge(
            "keda_scaled_object_paused", "Indicates whether a ScaledObject is paused (1), or not (0).",
            PER_OBJECT_LABELS, registry=reg)
        self._loop_latency = prometheus_client.Gauge(
            "keda_internal_scale_loop_latency_seconds",
            "Total deviation (in seconds) between the expected execution time and the actual execution time "
            "for the scaling loop.",
            ("namespace", "type", "resource"), registry=reg)
        self._triggers_registered = prometheus_client.Gauge(
            "keda_trigger_registered_total", "Total number of triggers per trigger type registered.",
            ("type",), registry=reg)
        self._resources_registered = prometheus_client.Gauge(
            "keda_resource_registered_total",
            "Total number of KEDA custom resources per namespace for each custom resource type (CRD) registered.",
            ("type", "namespace"), registry=reg)
        self._build_info = prometheus_client.Gauge(
            "keda_build_info",
            "Info metric, with static information about the build: Ebb's version and the Python runtime.",
            ("version", "git_commit", "goversion", "goos", "goarch"), registry=reg)
        self._decisions = prometheus_client.Counter(
            "ebb_scale_decisions_total", "Decisions the scale loops made, by reason.",
            ("namespace", "scaledObject", "reason"), registry=reg)
        self._drift = prometheus_client.Histogram(
            "ebb_scale_loop_drift_seconds",
            "How late each scale-loop tick started against its schedule, every tick of every ScaledObject.",
            buckets=DRIFT_BUCKETS, registry=reg)
        self._activation = prometheus_client.Histogram(
            "ebb_activation_latency_seconds",
            "Seconds from work appearing for an idle target to the target having its first replica.",
            PER_OBJECT_LABELS, buckets=ACTIVATION_BUCKETS, registry=reg)
        # KEDA fills goversion/goos/goarch from the Go runtime; Ebb reports its Python runtime there.
        self._build_info.labels(
            version or ebb_version(), git_commit,
            f"{platform.python_implementation().lower()}{platform.python_version()}",
            sys.platform, platform.machine().lower() or "unknown",
        ).set(1)
        self._objects: dict[tuple[str, str], _ObjectSeries] = {}
        self._resources: dict[tuple[str, str], set[str]] = {}
        self._trigger_counts: dict[str, int] = {}

    # --- per trigger ---------------------------------------------------------------------------------

    def _object(self, namespace: str, scaled_object: str) -> _ObjectSeries:
        key = (namespace, scaled_object)
        series = self._objects.get(key)
        if series is None:
            series = self._objects[key] = _ObjectSeries()
        return series

    def _object_errors_child(self, obj: _ObjectSeries, namespace: str, scaled_object: str) -> prometheus_client.Counter:
        if obj.errors is None:
            # Created at 0 on first sight, as KEDA does, so `rate()` has a series before the first error.
            obj.errors = self._object_errors.labels(namespace, scaled_object)
        return obj.errors

    def _trigger(self, namespace: str, scaled_object: str, trigger_index: int, trigger_name: str | None,
                 scaler_type: str, metric: str) -> _TriggerSeries:
        obj = self._object(namespace, scaled_object)
        key = (trigger_index, trigger_name or "", _text(scaler_type), metric)
        series = obj.triggers.get(key)
        if series is None:
            scaler = trigger_name or keda_scaler_name(_text(scaler_type))
            labels = (namespace, metric, scaled_object, scaler, str(trigger_index), RESOURCE_TYPE)
            series = obj.triggers[key] = _TriggerSeries(
                labels=labels,
                value=self._value.labels(*labels),
                latency=self._latency.labels(*labels),
                active=self._active.labels(*labels),
                errors=self._errors.labels(*labels),
            )
            self._object_errors_child(obj, namespace, scaled_object)
        return series

    def trigger_observed(self, namespace: str, scaled_object: str, trigger_index: int, trigger_name: str | None,
                         scaler_type: str, metric: str, value: float, active: bool, latency_seconds: float) -> None:
        """A trigger was read: its metric value, whether it is active, how long the read took."""
        series = self._trigger(namespace, scaled_object, trigger_index, trigger_name, scaler_type, metric)
        series.value.set(value)
        series.active.set(1 if active else 0)
        series.latency.set(latency_seconds)

    def trigger_failed(self, namespace: str, scaled_object: str, trigger_index: int, trigger_name: str | None,
                       scaler_type: str, metric: str) -> None:
        """A trigger's read failed: counted for the trigger and for its ScaledObject (as KEDA does), and the
        trigger reported inactive. Do not also call `scaled_object_failed` for the same failure."""
        series = self._trigger(namespace, scaled_object, trigger_index, trigger_name, scaler_type, metric)
        series.errors.inc()
        series.active.set(0)
        self._object_errors_child(self._object(namespace, scaled_object), namespace, scaled_object).inc()

    # --- per ScaledObject ----------------------------------------------------------------------------

    def scaled_object_failed(self, namespace: str, scaled_object: str) -> None:
        """An error of the ScaledObject not tied to one trigger (target missing, a write refused…)."""
        self._object_errors_child(self._object(namespace, scaled_object), namespace, scaled_object).inc()

    def paused(self, namespace: str, scaled_object: str, is_paused: bool) -> None:
        self._object(namespace, scaled_object).paused = True
        self._paused.labels(namespace, scaled_object).set(1 if is_paused else 0)

    def loop_drift(self, namespace: str, scaled_object: str, seconds: float) -> None:
        """How late this tick started against its schedule (KEDA's internal scale-loop latency)."""
        self._object(namespace, scaled_object).loop_drift = True
        self._loop_latency.labels(namespace, RESOURCE_TYPE, scaled_object).set(seconds)
        self._drift.observe(seconds)

    def decided(self, namespace: str, scaled_object: str, reason: str) -> None:
        """One decision of the scale loop, counted by its reason."""
        text = _text(reason)
        self._object(namespace, scaled_object).reasons.add(text)
        self._decisions.labels(namespace, scaled_object, text).inc()

    def activation_latency(self, namespace: str, scaled_object: str, seconds: float) -> None:
        """An idle target woke up `seconds` after work appeared."""
        self._object(namespace, scaled_object).activation = True
        self._activation.labels(namespace, scaled_object).observe(seconds)

    def registered(self, namespace: str, scaled_object: str, trigger_types: Iterable[str]) -> None:
        """The operator handles this ScaledObject with these triggers (idempotent; replaces what was
        registered before). Feeds `keda_resource_registered_total` and `keda_trigger_registered_total`."""
        types = tuple(_text(t) for t in trigger_types)
        obj = self._object(namespace, scaled_object)
        self._count_triggers(obj.trigger_types, -1)
        obj.trigger_types = types
        self._count_triggers(types, +1)
        self.resource_registered("scaled_object", namespace, scaled_object)

    def _count_triggers(self, types: Iterable[str], delta: int) -> None:
        for trigger_type in types:
            count = self._trigger_counts.get(trigger_type, 0) + delta
            self._trigger_counts[trigger_type] = count
            self._triggers_registered.labels(trigger_type).set(count)

    def resource_registered(self, resource_type: str, namespace: str, name: str) -> None:
        """A custom resource (`scaled_object`, `trigger_authentication`, `cluster_trigger_authentication`)
        is handled by the operator (idempotent)."""
        names = self._resources.setdefault((resource_type, namespace), set())
        names.add(name)
        self._resources_registered.labels(resource_type, namespace).set(len(names))

    def resource_forgotten(self, resource_type: str, namespace: str, name: str) -> None:
        names = self._resources.get((resource_type, namespace))
        if names is None or name not in names:
            return
        names.discard(name)
        self._resources_registered.labels(resource_type, namespace).set(len(names))

    def forget(self, namespace: str, scaled_object: str) -> None:
        """Remove every series of this ScaledObject (it was deleted), so no stale value is scraped."""
        obj = self._objects.pop((namespace, scaled_object), None)
        if obj is None:
            return
        for series in obj.triggers.values():
            for metric in (self._value, self._latency, self._active, self._errors):
                metric.remove(*series.labels)
        if obj.errors is not None:
            self._object_errors.remove(namespace, scaled_object)
        if obj.paused:
            self._paused.remove(namespace, scaled_object)
        if obj.loop_drift:
            self._loop_latency.remove(namespace, RESOURCE_TYPE, scaled_object)
        for reason in obj.reasons:
            self._decisions.remove(namespace, scaled_object, reason)
        if obj.activation:
            self._activation.remove(namespace, scaled_object)
        self._count_triggers(obj.trigger_types, -1)
        self.resource_forgotten("scaled_object", namespace, scaled_object)

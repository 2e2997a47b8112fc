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
The values live in plain objects (`metric_series`), each series' label text escaped once, since the scale
loops call in every tick and `/metrics` renders ~10 lines per object: `exposition_slices` is the text
`/metrics` serves, in slices the event loop can interleave with the scale loops; the registry sees the
same series through a collector (`registry.get_sample_value` works as with prometheus_client's metrics).
"""

from __future__ import annotations

import enum
import importlib.metadata
import platform
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import prometheus_client

from scaler.operator import metric_series
from scaler.operator.metric_text import FamilySpec

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


def label_text(value: object) -> str:
    # A `str` enum's str() is `Cls.MEMBER` on Python 3.11; the label wants its value.
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def ebb_version() -> str:
    try:
        return importlib.metadata.version("ebb-autoscaler")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"



# The families, in the order /metrics shows them (the order the prometheus_client instruments were
# registered in before, so the text reads as it did).
VALUE = FamilySpec(
    "keda_scaler_metrics_value",
    "The current value for each scaler's metric that would be used by the HPA in computing the target average.",
    "gauge", PER_TRIGGER_LABELS)
LATENCY = FamilySpec(
    "keda_scaler_metrics_latency_seconds", "The latency of retrieving current metric from each scaler, in seconds.",
    "gauge", PER_TRIGGER_LABELS)
ACTIVE = FamilySpec(
    "keda_scaler_active", "Indicates whether a scaler is active (1), or not (0).", "gauge", PER_TRIGGER_LABELS)
TRIGGER_ERRORS = FamilySpec(
    "keda_scaler_detail_errors", "The total number of errors encountered for each scaler.",
    "counter", PER_TRIGGER_LABELS)
OBJECT_ERRORS = FamilySpec(
    "keda_scaled_object_errors", "The number of errors that have occurred for each ScaledObject.",
    "counter", PER_OBJECT_LABELS)
PAUSED = FamilySpec(
    "keda_scaled_object_paused", "Indicates whether a ScaledObject is paused (1), or not (0).",
    "gauge", PER_OBJECT_LABELS)
LOOP_LATENCY = FamilySpec(
    "keda_internal_scale_loop_latency_seconds",
    "Total deviation (in seconds) between the expected execution time and the actual execution time "
    "for the scaling loop.",
    "gauge", ("namespace", "type", "resource"))
TRIGGERS_REGISTERED = FamilySpec(
    "keda_trigger_registered_total", "Total number of triggers per trigger type registered.", "gauge", ("type",))
RESOURCES_REGISTERED = FamilySpec(
    "keda_resource_registered_total",
    "Total number of KEDA custom resources per namespace for each custom resource type (CRD) registered.",
    "gauge", ("type", "namespace"))
BUILD_INFO = FamilySpec(
    "keda_build_info",
    "Info metric, with static information about the build: Ebb's version and the Python runtime.",
    "gauge", ("version", "git_commit", "goversion", "goos", "goarch"))
DECISIONS = FamilySpec(
    "ebb_scale_decisions", "Decisions the scale loops made, by reason.",
    "counter", ("namespace", "scaledObject", "reason"))
DRIFT = FamilySpec(
    "ebb_scale_loop_drift_seconds",
    "How late each scale-loop tick started against its schedule, every tick of every ScaledObject.",
    "histogram", (), DRIFT_BUCKETS)
ACTIVATION = FamilySpec(
    "ebb_activation_latency_seconds",
    "Seconds from work appearing for an idle target to the target having its first replica.",
    "histogram", PER_OBJECT_LABELS, ACTIVATION_BUCKETS)
FAMILIES = (VALUE, LATENCY, ACTIVE, TRIGGER_ERRORS, OBJECT_ERRORS, PAUSED, LOOP_LATENCY, TRIGGERS_REGISTERED,
            RESOURCES_REGISTERED, BUILD_INFO, DECISIONS, DRIFT, ACTIVATION)


def build_labels(version: str | None = None, git_commit: str = "") -> tuple[str, ...]:
    """`keda_build_info`'s label values: KEDA fills goversion/goos/goarch from the Go runtime; Ebb reports
    its Python runtime there."""
    return (version or ebb_version(), git_commit,
            f"{platform.python_implementation().lower()}{platform.python_version()}",
            sys.platform, platform.machine().lower() or "unknown")


class _Trigger:
    """The four series of one trigger's label set, resolved once."""

    __slots__ = ("active", "errors", "latency", "value")

    def __init__(self, value: metric_series.Cell, latency: metric_series.Cell, active: metric_series.Cell,
                 errors: metric_series.Cell) -> None:
        self.value, self.latency, self.active, self.errors = value, latency, active, errors


@dataclass
class _ObjectSeries:
    """What one ScaledObject has put in the families that `forget` could not find from its name alone."""

    trigger_keys: list[tuple[str, str, int, str | None, str, str]] = field(default_factory=list)
    trigger_labels: set[tuple[str, ...]] = field(default_factory=set)
    reasons: set[str] = field(default_factory=set)
    trigger_types: tuple[str, ...] = ()


class OperatorMetrics:
    """The operator's instruments, shown through one registry.

    The per-call methods are on the scale loops' hot path: after an object's first tick each is a dict
    lookup and a float store (no lock: every caller is on the event loop).

    >>> metrics = OperatorMetrics()
    >>> metrics.paused("default", "orders", True)
    >>> metrics.registry.get_sample_value("keda_scaled_object_paused", {"namespace": "default", "scaledObject": "orders"})
    1.0
    """

    def __init__(self, registry: prometheus_client.CollectorRegistry | None = None, *,
                 version: str | None = None, git_commit: str = "") -> None:
        self._value = metric_series.ScalarFamily(VALUE)
        self._latency = metric_series.ScalarFamily(LATENCY)
        self._active = metric_series.ScalarFamily(ACTIVE)
        self._errors = metric_series.ScalarFamily(TRIGGER_ERRORS)
        self._object_errors = metric_series.ScalarFamily(OBJECT_ERRORS)
        self._paused = metric_series.ScalarFamily(PAUSED)
        self._loop_latency = metric_series.ScalarFamily(LOOP_LATENCY)
        self._triggers_registered = metric_series.ScalarFamily(TRIGGERS_REGISTERED)
        self._resources_registered = metric_series.ScalarFamily(RESOURCES_REGISTERED)
        self._build_info = metric_series.ScalarFamily(BUILD_INFO)
        self._decisions = metric_series.ScalarFamily(DECISIONS)
        self._drift = metric_series.HistogramFamily(DRIFT)
        self._activation = metric_series.HistogramFamily(ACTIVATION)
        self._families: tuple[metric_series.Family, ...] = (
            self._value, self._latency, self._active, self._errors, self._object_errors, self._paused,
            self._loop_latency, self._triggers_registered, self._resources_registered, self._build_info,
            self._decisions, self._drift, self._activation)
        self.registry = registry if registry is not None else prometheus_client.CollectorRegistry()
        # Raises "Duplicated timeseries" when the registry already shows these names.
        self.registry.register(metric_series.FamiliesCollector(self._families))
        self._build_info.cell(build_labels(version, git_commit)).value = 1.0
        # The unlabelled histogram shows its zeros from the start, as prometheus_client's does.
        self._all_drift = self._drift.cell(())
        self._triggers: dict[tuple[str, str, int, str | None, str, str], _Trigger] = {}
        self._objects: dict[tuple[str, str], _ObjectSeries] = {}
        self._resources: dict[tuple[str, str], set[str]] = {}
        self._trigger_counts: dict[str, int] = {}

    # --- the exposition ------------------------------------------------------------------------------

    def exposition_slices(self, lines_per_slice: int = metric_series.LINES_PER_SLICE) -> Iterator[str]:
        """The Prometheus text (format 0.0.4) of every series, in slices of about `lines_per_slice` lines:
        a caller on the event loop can yield between slices (see `http_server.CachedExposition`)."""
        return metric_series.slices(self._families, lines_per_slice)

    def render(self) -> bytes:
        """The whole exposition at once (UTF-8). Encoded slice by slice, as `/metrics` does: one join of
        the whole text and one encoding of it copy twice as much memory."""
        return b"".join([text.encode() for text in self.exposition_slices()])

    # --- per trigger ---------------------------------------------------------------------------------

    def _object(self, namespace: str, scaled_object: str) -> _ObjectSeries:
        key = (namespace, scaled_object)
        series = self._objects.get(key)
        if series is None:
            series = self._objects[key] = _ObjectSeries()
        return series

    def _object_errors_cell(self, namespace: str, scaled_object: str) -> metric_series.Cell:
        cell = self._object_errors.cells.get((namespace, scaled_object))
        if cell is None:
            # Made at 0 on first sight, as KEDA does, so `rate()` has a series before the first error.
            self._object(namespace, scaled_object)
            cell = self._object_errors.cell((namespace, scaled_object))
        return cell

    def _trigger(self, namespace: str, scaled_object: str, trigger_index: int, trigger_name: str | None,
                 scaler_type: str, metric: str) -> _Trigger:
        # A str enum's member hashes by its name, not its value: the key holds the plain text.
        type_text = scaler_type if type(scaler_type) is str else label_text(scaler_type)
        key = (namespace, scaled_object, trigger_index, trigger_name, type_text, metric)
        found = self._triggers.get(key)
        if found is None:
            obj = self._object(namespace, scaled_object)
            scaler = trigger_name or keda_scaler_name(type_text)
            labels = (namespace, metric, scaled_object, scaler, str(trigger_index), RESOURCE_TYPE)
            # The four families share their label names: the labels are escaped once, not four times
            # (a new leader makes 10,000 triggers' series in its first seconds).
            text = self._value.spec.labels_text(labels)
            found = self._triggers[key] = _Trigger(self._value.cell(labels, text), self._latency.cell(labels, text),
                                                   self._active.cell(labels, text), self._errors.cell(labels, text))
            obj.trigger_keys.append(key)
            obj.trigger_labels.add(labels)
            self._object_errors_cell(namespace, scaled_object)
        return found

    def trigger_observed(self, namespace: str, scaled_object: str, trigger_index: int, trigger_name: str | None,
                         scaler_type: str, metric: str, value: float, active: bool, latency_seconds: float) -> None:
        """A trigger was read: its metric value, whether it is active, how long the read took."""
        trigger = self._trigger(namespace, scaled_object, trigger_index, trigger_name, scaler_type, metric)
        trigger.value.value = float(value)
        trigger.active.value = 1.0 if active else 0.0
        trigger.latency.value = float(latency_seconds)

    def trigger_failed(self, namespace: str, scaled_object: str, trigger_index: int, trigger_name: str | None,
                       scaler_type: str, metric: str) -> None:
        """A trigger's read failed: counted for the trigger and for its ScaledObject (as KEDA does), and the
        trigger reported inactive. Do not also call `scaled_object_failed` for the same failure."""
        trigger = self._trigger(namespace, scaled_object, trigger_index, trigger_name, scaler_type, metric)
        trigger.errors.value += 1.0
        trigger.active.value = 0.0
        self._object_errors_cell(namespace, scaled_object).value += 1.0

    # --- per ScaledObject ----------------------------------------------------------------------------

    def scaled_object_failed(self, namespace: str, scaled_object: str) -> None:
        """An error of the ScaledObject not tied to one trigger (target missing, a write refused…)."""
        self._object_errors_cell(namespace, scaled_object).value += 1.0

    def paused(self, namespace: str, scaled_object: str, is_paused: bool) -> None:
        cell = self._paused.cells.get((namespace, scaled_object))
        if cell is None:
            self._object(namespace, scaled_object)
            cell = self._paused.cell((namespace, scaled_object))
        cell.value = 1.0 if is_paused else 0.0

    def loop_drift(self, namespace: str, scaled_object: str, seconds: float) -> None:
        """How late this tick started against its schedule (KEDA's internal scale-loop latency)."""
        cell = self._loop_latency.cells.get((namespace, RESOURCE_TYPE, scaled_object))
        if cell is None:
            self._object(namespace, scaled_object)
            cell = self._loop_latency.cell((namespace, RESOURCE_TYPE, scaled_object))
        cell.value = seconds = float(seconds)
        self._all_drift.observe(seconds)

    def decided(self, namespace: str, scaled_object: str, reason: str) -> None:
        """One decision of the scale loop, counted by its reason."""
        text = reason if type(reason) is str else label_text(reason)
        cell = self._decisions.cells.get((namespace, scaled_object, text))
        if cell is None:
            self._object(namespace, scaled_object).reasons.add(text)
            cell = self._decisions.cell((namespace, scaled_object, text))
        cell.value += 1.0

    def activation_latency(self, namespace: str, scaled_object: str, seconds: float) -> None:
        """An idle target woke up `seconds` after work appeared."""
        self._object(namespace, scaled_object)
        self._activation.cell((namespace, scaled_object)).observe(float(seconds))

    def registered(self, namespace: str, scaled_object: str, trigger_types: Iterable[str]) -> None:
        """The operator handles this ScaledObject with these triggers (idempotent; replaces what was
        registered before). Feeds `keda_resource_registered_total` and `keda_trigger_registered_total`."""
        types = tuple(label_text(t) for t in trigger_types)
        obj = self._object(namespace, scaled_object)
        self._count_triggers(obj.trigger_types, -1)
        obj.trigger_types = types
        self._count_triggers(types, +1)
        self.resource_registered("scaled_object", namespace, scaled_object)

    def _count_triggers(self, types: Iterable[str], delta: int) -> None:
        for trigger_type in types:
            count = self._trigger_counts.get(trigger_type, 0) + delta
            self._trigger_counts[trigger_type] = count
            self._triggers_registered.cell((trigger_type,)).value = float(count)

    def resource_registered(self, resource_type: str, namespace: str, name: str) -> None:
        """A custom resource (`scaled_object`, `trigger_authentication`, `cluster_trigger_authentication`)
        is handled by the operator (idempotent)."""
        names = self._resources.setdefault((resource_type, namespace), set())
        names.add(name)
        self._resources_registered.cell((resource_type, namespace)).value = float(len(names))

    def resource_forgotten(self, resource_type: str, namespace: str, name: str) -> None:
        names = self._resources.get((resource_type, namespace))
        if names is None or name not in names:
            return
        names.discard(name)
        self._resources_registered.cell((resource_type, namespace)).value = float(len(names))

    def forget(self, namespace: str, scaled_object: str) -> None:
        """Remove every series of this ScaledObject (it was deleted), so no stale value is scraped."""
        obj = self._objects.pop((namespace, scaled_object), None)
        if obj is None:
            return
        for key in obj.trigger_keys:
            del self._triggers[key]
        for labels in obj.trigger_labels:
            for family in (self._value, self._latency, self._active, self._errors):
                family.remove(labels)
        per_object = (namespace, scaled_object)
        self._object_errors.remove(per_object)
        self._paused.remove(per_object)
        self._activation.remove(per_object)
        self._loop_latency.remove((namespace, RESOURCE_TYPE, scaled_object))
        for reason in obj.reasons:
            self._decisions.remove((namespace, scaled_object, reason))
        self._count_triggers(obj.trigger_types, -1)
        self.resource_forgotten("scaled_object", namespace, scaled_object)

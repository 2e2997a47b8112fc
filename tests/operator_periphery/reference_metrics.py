"""The operator's metrics as they were before the fast exposition, built on prometheus_client's own
instruments (Gauge, Counter, Histogram children): the oracle the fast text is compared with, in the tests
(`test_metrics_exposition.py`) and in `bench/metrics_exposition.py` ("before").

Same calls as `scaler.operator.operator_metrics.OperatorMetrics`; the names, help texts, buckets and label
rules are the real module's, so only the way the values are kept and rendered differs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import prometheus_client

from scaler.operator import operator_metrics as om
from scaler.operator.metric_text import FamilySpec
from scaler.operator.operator_metrics import RESOURCE_TYPE, keda_scaler_name
from scaler.operator.operator_metrics import label_text as _text


def _gauge(spec: FamilySpec, registry: prometheus_client.CollectorRegistry) -> prometheus_client.Gauge:
    return prometheus_client.Gauge(spec.name, spec.documentation, spec.labelnames, registry=registry)


def _counter(spec: FamilySpec, registry: prometheus_client.CollectorRegistry) -> prometheus_client.Counter:
    return prometheus_client.Counter(spec.name, spec.documentation, spec.labelnames, registry=registry)


def _histogram(spec: FamilySpec, registry: prometheus_client.CollectorRegistry) -> prometheus_client.Histogram:
    return prometheus_client.Histogram(spec.name, spec.documentation, spec.labelnames, buckets=spec.buckets,
                                       registry=registry)


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


class ReferenceMetrics:
    """`OperatorMetrics` as it was, on prometheus_client's own instruments: the oracle."""

    def __init__(self, registry: prometheus_client.CollectorRegistry | None = None, *,
                 version: str | None = None, git_commit: str = "") -> None:
        # KEDA's Go client exposes no `*_created` series; without them /metrics renders a third fewer lines
        # (process-wide in prometheus_client, for metrics made from now on).
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream
        self.registry = registry if registry is not None else prometheus_client.CollectorRegistry()
        reg = self.registry
        self._value = _gauge(om.VALUE, reg)
        self._latency = _gauge(om.LATENCY, reg)
        self._active = _gauge(om.ACTIVE, reg)
        self._errors = _counter(om.TRIGGER_ERRORS, reg)
        self._object_errors = _counter(om.OBJECT_ERRORS, reg)
        self._paused = _gauge(om.PAUSED, reg)
        self._loop_latency = _gauge(om.LOOP_LATENCY, reg)
        self._triggers_registered = _gauge(om.TRIGGERS_REGISTERED, reg)
        self._resources_registered = _gauge(om.RESOURCES_REGISTERED, reg)
        self._build_info = _gauge(om.BUILD_INFO, reg)
        self._decisions = _counter(om.DECISIONS, reg)
        self._drift = _histogram(om.DRIFT, reg)
        self._activation = _histogram(om.ACTIVATION, reg)
        self._build_info.labels(*om.build_labels(version, git_commit)).set(1)
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

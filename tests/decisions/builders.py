"""Small builders for decision tables: a ScaledObjectSpec, trigger readings and a remembered state.

Times are seconds; `NOW` is the tick under test and `CREATED` is long before it, so the initial cooldown
is over unless a test says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scaler.core import decisions, specs

NOW = 1_700_000_000.0
CREATED = NOW - 86_400.0


def redis(index: int = 0, name: str | None = None, metric_type: str = "AverageValue") -> specs.Trigger:
    return specs.Trigger(
        type="redis",
        metadata={"listName": f"list{index}"},
        index=index,
        name=name,
        metric_type=specs.MetricType(metric_type),
    )


def resource(index: int = 0, type: str = "cpu") -> specs.Trigger:
    return specs.Trigger(
        type=type, metadata={"value": "50"}, index=index, metric_type=specs.MetricType.UTILIZATION
    )


def so(
    *triggers: specs.Trigger,
    min: int = 0,
    max: int = 100,
    idle: int | None = None,
    cooldown: int = 300,
    initial_cooldown: int = 0,
    fallback: specs.Fallback | None = None,
    modifiers: specs.ScalingModifiers | None = None,
    pause: specs.Pause | None = None,
) -> specs.ScaledObjectSpec:
    return specs.ScaledObjectSpec(
        name="orders",
        namespace="shop",
        scale_target_ref=specs.ScaleTargetRef(name="worker"),
        triggers=tuple(triggers) or (redis(0),),
        cooldown_period=cooldown,
        initial_cooldown_period=initial_cooldown,
        idle_replica_count=idle,
        min_replica_count=min,
        max_replica_count=max,
        fallback=fallback,
        advanced=specs.Advanced(scaling_modifiers=modifiers),
        pause=pause or specs.Pause(),
    )


def fallback(threshold: int = 3, replicas: int = 6, behavior: str = "static") -> specs.Fallback:
    return specs.Fallback(
        failure_threshold=threshold, replicas=replicas, behavior=specs.FallbackBehavior(behavior)
    )


def modifiers(
    formula: str, target: float = 2.0, activation: float = 0.0, metric_type: str = "AverageValue"
) -> specs.ScalingModifiers:
    return specs.ScalingModifiers(
        formula=formula,
        target=target,
        activation_target=activation,
        metric_type=specs.MetricType(metric_type),
    )


def metric(index: int = 0) -> str:
    return f"s{index}-redis-list{index}"


def ok(
    value: float,
    index: int = 0,
    *,
    activation: float = 0.0,
    target: float | None = 5.0,
    active: bool | None = None,
) -> decisions.TriggerReading:
    return decisions.TriggerReading(
        index=index,
        metric_name=metric(index),
        value=value,
        active=active,
        target=target,
        activation=activation,
    )


def failed(
    index: int = 0, error: str = "dial tcp 10.0.0.7:6379: connection refused", target: float | None = 5.0
) -> decisions.TriggerReading:
    return decisions.TriggerReading(index=index, metric_name=metric(index), error=error, target=target)


def state(
    *,
    active_ago: float | None = None,
    created_ago: float = NOW - CREATED,
    failures: Mapping[str, int] | None = None,
    fallback_engaged: bool = False,
    paused: bool = False,
    active: bool | None = None,
) -> decisions.ScaleState:
    return decisions.ScaleState(
        creation_time=NOW - created_ago,
        last_active_time=None if active_ago is None else NOW - active_ago,
        failures=dict(failures or {}),
        fallback_engaged=fallback_engaged,
        paused=paused,
        active=active,
    )


def decide(
    spec: specs.ScaledObjectSpec,
    readings: Sequence[decisions.TriggerReading],
    current: int,
    st: decisions.ScaleState | None = None,
    *,
    now: float = NOW,
    ready: int | None = None,
) -> decisions.Decision:
    return decisions.decide(
        spec, readings, current, st if st is not None else state(active_ago=3600), now, ready_replicas=ready
    )

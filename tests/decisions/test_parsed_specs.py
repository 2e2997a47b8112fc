"""Decisions on ScaledObjects as written for KEDA (parsed by `specs.parse_scaled_object`)."""

from __future__ import annotations

from typing import Any

from scaler.core import decisions, specs
from tests.decisions.builders import NOW, state

R = decisions.Reason


def manifest(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> specs.ScaledObjectSpec:
    return specs.parse_scaled_object(
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": "orders", "namespace": "shop", "annotations": annotations or {}},
            "spec": {"scaleTargetRef": {"name": "worker"}, **spec},
        }
    )


REDIS = {"type": "redis", "metadata": {"address": "redis:6379", "listName": "orders", "listLength": "5"}}


def reading(
    value: float | None = None, *, index: int = 0, error: str | None = None
) -> decisions.TriggerReading:
    return decisions.TriggerReading(
        index=index, metric_name=f"s{index}-redis-orders", value=value, error=error, target=5.0
    )


def test_defaults_from_the_manifest_drive_the_cooldown() -> None:
    spec = manifest({"triggers": [REDIS]})
    held = decisions.decide(spec, [reading(0)], 4, state(active_ago=299), NOW)
    dropped = decisions.decide(spec, [reading(0)], 4, state(active_ago=301), NOW)
    assert (held.reason, dropped.reason, dropped.replicas) == (R.COOLDOWN, R.SCALED_TO_ZERO, 0)
    assert "cooldownPeriod 300 s" in held.explanation


def test_keda_docs_scaling_modifiers_example() -> None:
    spec = manifest(
        {
            "advanced": {
                "scalingModifiers": {
                    "formula": "(trig_one + trig_two)/2",
                    "target": "2",
                    "activationTarget": "2",
                    "metricType": "AverageValue",
                }
            },
            "triggers": [{**REDIS, "name": "trig_one"}, {**REDIS, "name": "trig_two"}],
        }
    )
    decision = decisions.decide(spec, [reading(1), reading(4, index=1)], 0, state(), NOW)
    assert decision.metric_values == {"composite-metric": 2.5}
    assert (decision.replicas, decision.reason) == (1, R.ACTIVATED_FROM_ZERO)


def test_keda_docs_fallback_example() -> None:
    spec = manifest(
        {"fallback": {"failureThreshold": 3, "replicas": 6}, "minReplicaCount": 1, "triggers": [REDIS]}
    )
    st = state()
    for _ in range(4):
        decision = decisions.decide(spec, [reading(error="timeout")], 2, st, NOW)
        st = decision.state
    assert decision.reason is R.FALLBACK
    assert decision.metric_values == {"s0-redis-orders": 30.0}
    assert st.to_status()["health"] == {"s0-redis-orders": {"numberOfFailures": 4, "status": "Failing"}}


def test_pause_annotations_from_the_manifest() -> None:
    spec = manifest({"triggers": [REDIS]}, {"autoscaling.keda.sh/paused-replicas": "2"})
    decision = decisions.decide(spec, [reading(9)], 5, state(), NOW)
    assert (decision.replicas, decision.reason) == (2, R.PAUSED_REPLICAS)


def test_idle_replica_count_from_the_manifest() -> None:
    spec = manifest({"idleReplicaCount": 0, "minReplicaCount": 2, "triggers": [REDIS]})
    down = decisions.decide(spec, [reading(0)], 3, state(), NOW)
    up = decisions.decide(spec, [reading(1)], 0, down.state, NOW + 1)
    assert (down.replicas, down.reason) == (0, R.SCALED_TO_IDLE)
    assert (up.replicas, up.reason) == (2, R.ACTIVATED_FROM_ZERO)

"""Fallback (keda-semantics §2.4): failures counted per metric, engaged when strictly above the threshold."""

from __future__ import annotations

import pytest

from scaler.core import decisions, specs
from tests.decisions.builders import NOW, decide, failed, fallback, metric, ok, redis, so, state

R = decisions.Reason
M0 = metric(0)


def test_threshold_three_engages_on_the_fourth_consecutive_failure() -> None:
    spec = so(fallback=fallback(threshold=3, replicas=6))
    st = state()
    seen = []
    for tick in range(5):
        decision = decide(spec, [failed()], 2, st, now=NOW + tick)
        seen.append((decision.state.failures[M0], decision.reason, decision.metric_values.get(M0)))
        st = decision.state
    assert seen == [
        (1, R.FALLBACK_PENDING, None),
        (2, R.FALLBACK_PENDING, None),
        (3, R.FALLBACK_PENDING, None),
        (4, R.FALLBACK, 30.0),
        (5, R.FALLBACK, 30.0),
    ]


@pytest.mark.parametrize(
    ("threshold", "previous", "engaged"),
    [
        pytest.param(0, 0, True, id="threshold-0-first-failure"),
        pytest.param(1, 0, False, id="threshold-1-first-failure"),
        pytest.param(1, 1, True, id="threshold-1-second-failure"),
        pytest.param(3, 2, False, id="threshold-3-third-failure"),
        pytest.param(3, 3, True, id="threshold-3-fourth-failure"),
        pytest.param(5, 40, True, id="long-outage"),
    ],
)
def test_engaged_when_failures_strictly_exceed_the_threshold(
    threshold: int, previous: int, engaged: bool
) -> None:
    spec = so(fallback=fallback(threshold=threshold, replicas=4))
    decision = decide(spec, [failed()], 2, state(failures={M0: previous}))
    assert decision.state.failures == {M0: previous + 1}
    assert (M0 in decision.fallback_metrics) is engaged
    assert decision.state.fallback_engaged is engaged
    assert decisions.failures_engage_fallback(spec.fallback, previous + 1) is engaged


@pytest.mark.parametrize(
    ("behavior", "current", "replicas", "expected_r"),
    [
        pytest.param("static", 2, 6, 6, id="static"),
        pytest.param("currentReplicas", 2, 6, 2, id="current-replicas"),
        pytest.param("currentReplicasIfHigher", 2, 6, 6, id="if-higher-current-lower"),
        pytest.param("currentReplicasIfHigher", 8, 6, 8, id="if-higher-current-higher"),
        pytest.param("currentReplicasIfLower", 2, 6, 2, id="if-lower-current-lower"),
        pytest.param("currentReplicasIfLower", 8, 6, 6, id="if-lower-current-higher"),
        pytest.param("currentReplicas", 0, 6, 0, id="current-replicas-at-zero"),
        pytest.param("scalingModifiers", 3, 6, 6, id="scaling-modifiers-without-formula-acts-static"),
    ],
)
def test_fallback_behaviors_choose_the_replica_count(
    behavior: str, current: int, replicas: int, expected_r: int
) -> None:
    fb = fallback(threshold=1, replicas=replicas, behavior=behavior)
    assert decisions.fallback_replicas(fb, current) == expected_r
    decision = decide(so(fallback=fb), [failed(target=5)], current, state(failures={M0: 5}))
    assert decision.metric_values == {M0: 5.0 * expected_r}
    assert f"fallback feeds {5 * expected_r:g} (target 5 × {expected_r} replicas)" in decision.explanation


@pytest.mark.parametrize(
    ("target", "metric_type", "replicas", "ready", "expected"),
    [
        pytest.param(5.0, "AverageValue", 6, 3, 30.0, id="average-value-target-times-r"),
        pytest.param(5.0, "Value", 6, 3, 10.0, id="value-divided-by-ready-pods"),
        pytest.param(2.5, "Value", 3, 2, 3.75, id="value-fraction"),
        pytest.param(1.0, "Value", 1, 3, 0.333, id="value-milli-truncated"),
        pytest.param(0.5, "AverageValue", 3, 0, 1.5, id="average-value-needs-no-ready-pods"),
    ],
)
def test_fallback_value(target: float, metric_type: str, replicas: int, ready: int, expected: float) -> None:
    assert decisions.fallback_value(target, specs.MetricType(metric_type), replicas, ready) == expected


@pytest.mark.parametrize(
    ("target", "ready", "message"),
    [
        pytest.param(5.0, 0, "needs at least one ready pod", id="value-with-no-ready-pod"),
        pytest.param(None, 3, "target is unknown", id="unknown-target"),
    ],
)
def test_fallback_value_impossible(target: float | None, ready: int, message: str) -> None:
    with pytest.raises(decisions.FallbackError, match=message):
        decisions.fallback_value(target, specs.MetricType.VALUE, 4, ready)


def test_value_metric_uses_ready_pods_given_or_current_replicas() -> None:
    spec = so(redis(0, metric_type="Value"), fallback=fallback(threshold=0, replicas=6))
    assert decide(spec, [failed(target=4)], 3, state()).metric_values == {M0: 8.0}
    assert decide(spec, [failed(target=4)], 3, state(), ready=2).metric_values == {M0: 12.0}


def test_value_metric_at_zero_ready_pods_cannot_fall_back() -> None:
    spec = so(redis(0, metric_type="Value"), fallback=fallback(threshold=0, replicas=6))
    decision = decide(spec, [failed(target=4)], 0, state())
    assert decision.reason is R.FALLBACK_PENDING
    assert decision.failing_metrics == (M0,)
    assert "fallback impossible: a Value metric needs at least one ready pod" in decision.explanation


def test_engaged_fallback_wakes_the_target_from_zero() -> None:
    spec = so(fallback=fallback(threshold=3, replicas=6), min=0)
    decision = decide(spec, [failed()], 0, state(failures={M0: 3}))
    assert (decision.replicas, decision.reason) == (1, R.ACTIVATED_FROM_ZERO)
    assert decision.active is True
    assert decision.metric_values == {M0: 30.0}
    assert decision.conditions.fallback == decisions.Condition(
        "Fallback", "True", "FallbackExists", "At least one trigger is falling back on this scaled object"
    )
    assert [e.reason for e in decision.events] == [
        "KEDAScalerFailed",
        "ScaledObjectFallbackActivated",
        "KEDAScaleTargetActivated",
    ]
    assert decision.events[1].message == "ScaledObject fallback is active"
    assert "fallback feeds 30 (target 5 × 6 replicas)" in decision.explanation
    assert decision.error is False


def test_engaged_fallback_refreshes_last_active_time() -> None:
    spec = so(fallback=fallback(threshold=0, replicas=6))
    decision = decide(spec, [failed()], 4, state(active_ago=None))
    assert decision.reason is R.FALLBACK
    assert decision.state.last_active_time == NOW
    assert decision.triggers_activity == {M0: True}


def test_recovery_resets_the_count_and_deactivates_fallback_once() -> None:
    spec = so(fallback=fallback(threshold=1, replicas=6))
    engaged = decide(spec, [failed()], 4, state(failures={M0: 1}))
    assert engaged.state.fallback_engaged is True
    recovered = decide(spec, [ok(9)], 4, engaged.state)
    assert recovered.state.failures == {M0: 0}
    assert recovered.state.fallback_engaged is False
    assert (
        recovered.conditions.fallback is not None
        and recovered.conditions.fallback.reason == "NoFallbackFound"
    )
    assert [(e.reason, e.message) for e in recovered.events] == [
        ("ScaledObjectFallbackDeactivated", "ScaledObject fallback is no longer active")
    ]
    again = decide(spec, [ok(9)], 4, recovered.state)
    assert again.events == ()


def test_fallback_activated_event_is_raised_once() -> None:
    spec = so(fallback=fallback(threshold=0, replicas=6))
    first = decide(spec, [failed()], 4, state())
    second = decide(spec, [failed()], 4, first.state)
    assert "ScaledObjectFallbackActivated" in [e.reason for e in first.events]
    assert "ScaledObjectFallbackActivated" not in [e.reason for e in second.events]


def test_failures_are_counted_per_metric() -> None:
    spec = so(redis(0), redis(1), fallback=fallback(threshold=2, replicas=6))
    decision = decide(spec, [failed(0), ok(1, 1)], 3, state(failures={M0: 2, metric(1): 1}))
    assert decision.state.failures == {M0: 3, metric(1): 0}
    assert decision.fallback_metrics == (M0,)
    assert decision.metric_values == {M0: 30.0, metric(1): 1.0}


def test_fallback_with_one_engaged_and_one_pending_is_partial() -> None:
    spec = so(redis(0), redis(1), fallback=fallback(threshold=2, replicas=6))
    decision = decide(spec, [failed(0), failed(1)], 3, state(failures={M0: 2}))
    assert decision.reason is R.PARTIAL_TRIGGER_ERROR
    assert decision.failing_metrics == (metric(1),)
    assert "s1-redis-list1 failed (1 consecutive failure, failureThreshold 2)" in decision.explanation


def test_engaged_fallback_beside_an_inactive_trigger_is_fallback() -> None:
    spec = so(redis(0), redis(1), fallback=fallback(threshold=0, replicas=6))
    decision = decide(spec, [failed(0), ok(0, 1)], 3, state())
    assert decision.reason is R.FALLBACK
    assert decision.active_triggers == (M0,)


def test_active_trigger_beside_engaged_fallback_is_plain_active() -> None:
    spec = so(redis(0), redis(1), fallback=fallback(threshold=0, replicas=6))
    decision = decide(spec, [failed(0), ok(3, 1)], 3, state())
    assert decision.reason is R.ACTIVE


def test_without_fallback_no_health_is_kept() -> None:
    decision = decide(so(), [failed()], 3, state())
    assert decision.state.failures == {}
    assert decision.conditions.fallback is not None and decision.conditions.fallback.status == "False"


def test_healthy_metrics_are_tracked_when_fallback_is_configured() -> None:
    decision = decide(so(fallback=fallback()), [ok(1)], 3, state())
    assert decision.state.failures == {M0: 0}
    assert decision.state.to_status()["health"] == {M0: {"numberOfFailures": 0, "status": "Happy"}}

"""One whole HPA reconcile: the zero/min/max rules, several metrics, legacy vs behavior, the state kept."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from scaler.core import hpa

NOW = 10_000.0
AVG, VAL = "AverageValue", "Value"


def metric(
    *values: float, target: float = 5, kind: str = AVG, name: str = "s0-redis-jobs"
) -> hpa.MetricReading:
    return hpa.MetricReading(name, kind, target, tuple(values))


def failed(name: str = "s1-kafka-orders", error: str = "connection refused") -> hpa.MetricReading:
    return hpa.MetricReading(name, AVG, 5, None, error)


SEEN = hpa.HpaState(seen=True)


def run(
    metrics: Sequence[hpa.MetricReading],
    current: int,
    *,
    min_r: int = 1,
    max_r: int = 100,
    behavior: dict[str, Any] | None = None,
    state: hpa.HpaState = SEEN,
    ready: int | None = None,
    total: int | None = None,
    now: float = NOW,
) -> hpa.SyncResult:
    return hpa.sync(
        metrics=metrics, spec_replicas=current, status_replicas=current,
        ready_pods=current if ready is None else ready, total_pods=total,
        min_replicas=min_r, max_replicas=max_r, behavior=behavior, state=state, now=now,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "replicas", "reason"),
    [
        pytest.param(dict(metrics=[metric(50)], current=0, min_r=1), 0, "ScalingDisabled",
                     id="zero-replicas-with-min-one-is-disabled"),
        pytest.param(dict(metrics=[metric(12)], current=0, min_r=0), 3, "DesiredWithinRange",
                     id="zero-replicas-with-min-zero-computes"),
        pytest.param(dict(metrics=[metric(500)], current=0, min_r=0), 4, "ScaleUpLimit",
                     id="zero-replicas-with-min-zero-legacy-limit-four"),
        pytest.param(dict(metrics=[metric(0)], current=12, max_r=10), 10, "AboveMaxReplicas",
                     id="above-max-goes-to-max-without-metrics"),
        pytest.param(dict(metrics=[failed()], current=1, min_r=2), 2, "BelowMinReplicas",
                     id="below-min-goes-to-min-without-metrics"),
        pytest.param(dict(metrics=[metric(15), metric(35, name="s1")], current=3), 6, "ScaleUpLimit",
                     id="several-metrics-max-then-legacy-limit"),
        pytest.param(dict(metrics=[metric(15), metric(35, name="s1")], current=4), 7, "DesiredWithinRange",
                     id="several-metrics-max-wins"),
        pytest.param(dict(metrics=[metric(0), metric(0, name="s1")], current=1), 1, "TooFewReplicas",
                     id="all-zero-clamped-to-min"),
        pytest.param(dict(metrics=[failed(), metric(30, name="s1")], current=2), 4, "ScaleUpLimit",
                     id="failed-metric-does-not-block-scale-up"),
        pytest.param(dict(metrics=[failed(), metric(5, name="s1")], current=5), 5, "FailedGetExternalMetric",
                     id="failed-metric-blocks-scale-down"),
        pytest.param(dict(metrics=[failed(), metric(25, name="s1")], current=5), 5, "DesiredWithinRange",
                     id="failed-metric-with-max-equal-current-proceeds"),
        pytest.param(dict(metrics=[failed(), failed("s2")], current=3), 3, "FailedGetExternalMetric",
                     id="all-metrics-failed"),
        pytest.param(dict(metrics=[metric(30, target=10, kind=VAL)], current=2, ready=0), 2, "FailedGetExternalMetric",
                     id="value-without-pods-is-a-failed-metric"),
        pytest.param(dict(metrics=[metric(30, target=10, kind=VAL)], current=2, ready=1, total=2), 3,
                     "DesiredWithinRange", id="value-with-one-ready-pod"),
        pytest.param(dict(metrics=[metric(30, target=10, kind=VAL)], current=2, ready=0, total=2), 1,
                     "TooFewReplicas", id="value-with-no-ready-pod-proposes-zero"),
    ],
)  # fmt: skip
def test_rules(kwargs: dict[str, Any], replicas: int, reason: str) -> None:
    got = run(**kwargs)
    assert (got.replicas, got.reason.value) == (replicas, reason)
    assert got.rescale == (replicas != kwargs["current"])


def test_disabled_sets_scaling_active_false() -> None:
    got = run([metric(50)], 0)
    assert got.conditions == (
        hpa.Condition(
            "ScalingActive", False, "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero",
        ),
    )  # fmt: skip


def test_failed_metric_condition_names_first_error() -> None:
    got = run([metric(1), failed("s1", "boom"), failed("s2", "bang")], 5)
    (condition,) = got.conditions
    assert (condition.type, condition.status, condition.reason) == (
        "ScalingActive",
        False,
        "FailedGetExternalMetric",
    )
    assert "boom" in condition.message
    assert "2 of 3 metrics failed" in got.explanation


def test_proposals_listed_per_metric() -> None:
    got = run([metric(15), failed("s1", "boom"), metric(35, name="s2")], 4)
    assert got.proposals == (
        hpa.Proposal("s0-redis-jobs", 3),
        hpa.Proposal("s1", None, "boom"),
        hpa.Proposal("s2", 7),
    )
    assert got.metric_replicas == 7


class TestInitialRecommendation:
    def test_first_sync_records_current_and_holds_scale_down(self) -> None:
        got = run([metric(5)], 3, state=hpa.HpaState())
        assert (got.replicas, got.reason) == (3, hpa.Reason.SCALE_DOWN_STABILIZED)
        assert got.state.seen
        assert got.state.recommendations == ((NOW, 3), (NOW, 1))

    def test_disabled_sync_also_records(self) -> None:
        got = run([metric(5)], 0, state=hpa.HpaState())
        assert got.state.recommendations == ((NOW, 0),)

    def test_not_recorded_twice(self) -> None:
        first = run([metric(15)], 3, state=hpa.HpaState())
        second = run([metric(15)], 3, state=first.state, now=NOW + 15)
        assert second.state.recommendations == ((NOW, 3), (NOW, 3), (NOW + 15, 3))

    def test_released_after_window(self) -> None:
        first = run([metric(5)], 3, state=hpa.HpaState())
        later = run([metric(5)], 3, state=first.state, now=NOW + 301)
        assert later.replicas == 1

    def test_behavior_path_too(self) -> None:
        got = run([metric(5)], 3, behavior={}, state=hpa.HpaState())
        assert (got.replicas, got.reason) == (3, hpa.Reason.SCALE_DOWN_STABILIZED)


class TestLegacyStabilization:
    def test_recent_higher_recommendation_holds(self) -> None:
        state = hpa.HpaState(recommendations=((NOW - 100, 4),), seen=True)
        got = run([metric(5)], 4, state=state)
        assert (got.replicas, got.reason) == (4, hpa.Reason.SCALE_DOWN_STABILIZED)

    def test_legacy_can_raise_above_current_from_history(self) -> None:
        # Without a behavior the window max is taken as is (then clamped), even above current.
        state = hpa.HpaState(recommendations=((NOW - 100, 5),), seen=True)
        got = run([metric(5)], 3, state=state)
        assert got.replicas == 5

    def test_window_start_is_inclusive(self) -> None:
        state = hpa.HpaState(recommendations=((NOW - 300, 4),), seen=True)
        assert run([metric(5)], 4, state=state).replicas == 4

    def test_last_expired_slot_is_overwritten(self) -> None:
        state = hpa.HpaState(recommendations=((0, 5), (10, 6), (NOW - 10, 3)), seen=True)
        got = run([metric(5)], 3, state=state)
        assert got.state.recommendations == ((0, 5), (NOW, 1), (NOW - 10, 3))

    def test_no_scale_events_without_behavior(self) -> None:
        got = run([metric(50)], 1)
        assert got.rescale
        assert got.state.up_events == () and got.state.down_events == ()


class TestBehavior:
    def test_scale_up_limited_and_event_recorded(self) -> None:
        got = run([metric(50)], 1, behavior={})
        assert (got.replicas, got.reason) == (5, hpa.Reason.SCALE_UP_LIMIT)
        assert got.state.up_events == (hpa.ScaleEvent(NOW, 4),)
        assert got.state_if_write_fails.up_events == ()
        assert got.state_if_write_fails.recommendations == got.state.recommendations

    def test_event_inside_period_holds_next_sync(self) -> None:
        first = run([metric(50)], 1, behavior={})
        second = run([metric(50)], 5, behavior={}, state=first.state, now=NOW + 10)
        assert (second.replicas, second.reason, second.rescale) == (5, hpa.Reason.SCALE_UP_LIMIT, False)

    def test_event_leaves_period_after_fifteen_seconds(self) -> None:
        first = run([metric(50)], 1, behavior={})
        second = run([metric(50)], 5, behavior={}, state=first.state, now=NOW + 15)
        assert second.replicas == 10
        # The first event sits exactly at the cutoff: not inside the period, not yet outdated either.
        assert second.state.up_events == (hpa.ScaleEvent(NOW, 4), hpa.ScaleEvent(NOW + 15, 5))

    def test_default_down_window_holds_five_minutes(self) -> None:
        state = hpa.HpaState(recommendations=((NOW - 100, 4),), seen=True)
        got = run([metric(5)], 4, behavior={}, state=state)
        assert (got.replicas, got.reason) == (4, hpa.Reason.SCALE_DOWN_STABILIZED)

    def test_zero_down_window_scales_down_at_once(self) -> None:
        state = hpa.HpaState(recommendations=((NOW - 100, 4),), seen=True)
        got = run([metric(5)], 4, behavior={"scaleDown": {"stabilizationWindowSeconds": 0}}, state=state)
        assert (got.replicas, got.reason) == (1, hpa.Reason.DESIRED_WITHIN_RANGE)
        assert got.state.down_events == (hpa.ScaleEvent(NOW, 3),)

    def test_up_window_holds_lowest(self) -> None:
        state = hpa.HpaState(recommendations=((NOW - 30, 2),), seen=True)
        got = run([metric(50)], 2, behavior={"scaleUp": {"stabilizationWindowSeconds": 60}}, state=state)
        assert (got.replicas, got.reason) == (2, hpa.Reason.SCALE_UP_STABILIZED)

    def test_behavior_tolerance_per_direction(self) -> None:
        loose = run([metric(14)], 2, behavior={"scaleUp": {"tolerance": "0.5"}})
        default = run([metric(14)], 2, behavior={})
        assert (loose.replicas, default.replicas) == (2, 3)

    def test_global_tolerance_parameter(self) -> None:
        got = hpa.sync(
            metrics=[metric(14)], spec_replicas=2, status_replicas=2, ready_pods=2, min_replicas=1,
            max_replicas=10, behavior=None, state=SEEN, now=NOW, tolerance=0.5,
        )  # fmt: skip
        assert got.replicas == 2

    def test_scale_up_disabled_by_paused_scale_out(self) -> None:
        got = run([metric(50)], 2, behavior={"scaleUp": {"selectPolicy": "Disabled"}})
        assert (got.replicas, got.reason) == (2, hpa.Reason.SCALE_UP_LIMIT)

    def test_above_max_rescale_records_event_with_behavior(self) -> None:
        got = run([metric(0)], 12, max_r=10, behavior={})
        assert got.state.down_events == (hpa.ScaleEvent(NOW, 2),)

    def test_outdated_slot_is_reused(self) -> None:
        state = hpa.HpaState(up_events=(hpa.ScaleEvent(NOW - 100, 2), hpa.ScaleEvent(NOW - 5, 1)), seen=True)
        got = run([metric(50)], 3, behavior={"scaleUp": {"policies": [{"type": "Pods", "value": 2, "periodSeconds": 15}]}},
                  state=state)  # fmt: skip
        # period start = 3 − 1 (the event 5 s ago) = 2 → limit 4
        assert got.replicas == 4
        assert got.state.up_events == (hpa.ScaleEvent(NOW, 1), hpa.ScaleEvent(NOW - 5, 1))

    def test_outdated_down_event_still_counts_for_a_longer_up_period(self) -> None:
        state = hpa.HpaState(down_events=(hpa.ScaleEvent(NOW - 50, 3, outdated=True),), seen=True)
        behavior = {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}]}}
        got = run([metric(50)], 5, behavior=behavior, state=state)
        assert got.replicas == 9  # start 5 + 3 scaled down in the last 120 s, plus 1 pod

    def test_invalid_behavior_raises(self) -> None:
        with pytest.raises(hpa.BehaviorError):
            run([metric(5)], 2, behavior={"scaleDown": {"policies": []}})


def test_explanation_names_metric_and_limit() -> None:
    got = run([metric(50)], 1, behavior={})
    assert "s0-redis-jobs 50 vs average target 5 → 10" in got.explanation
    assert "ScaleUpLimit" in got.explanation


def test_no_metrics_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one metric"):
        run([], 2)

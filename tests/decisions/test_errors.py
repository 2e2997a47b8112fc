"""Scaler errors without fallback (keda-semantics §2.2): what is fed on, Ready, events, lastActiveTime."""

from __future__ import annotations

import pytest

from scaler.core import decisions
from tests.decisions.builders import decide, failed, metric, ok, redis, so, state

R = decisions.Reason
TWO = (redis(0), redis(1))


def test_trigger_error_sets_ready_false_and_records_a_warning() -> None:
    decision = decide(so(), [failed(error="NOAUTH Authentication required")], 3, state())
    assert decision.conditions.ready == decisions.Condition(
        "Ready", "False", "TriggerError", "Triggers defined in ScaledObject are not working correctly"
    )
    assert [(e.type, e.reason, e.message) for e in decision.events] == [
        ("Warning", "KEDAScalerFailed", "NOAUTH Authentication required")
    ]
    assert decision.error is True
    assert decision.metric_values == {}
    assert decision.failing_metrics == ("s0-redis-list0",)


def test_partial_error_keeps_last_active_time_and_sets_ready_unknown() -> None:
    before = state(active_ago=120)
    decision = decide(so(*TWO), [ok(7, 0), failed(1)], 3, before)
    assert decision.reason is R.PARTIAL_TRIGGER_ERROR
    assert decision.state.last_active_time == before.last_active_time
    assert decision.conditions.ready == decisions.Condition(
        "Ready",
        "Unknown",
        "PartialTriggerError",
        "Some triggers defined in ScaledObject are not working correctly",
    )
    assert decision.conditions.active is not None and decision.conditions.active.status == "True"
    assert decision.metric_values == {metric(0): 7.0}
    assert decision.failing_metrics == (metric(1),)
    assert "holding 3 replicas, lastActiveTime not refreshed" in decision.explanation


def test_partial_error_then_cooldown_counts_from_the_older_last_active_time() -> None:
    partial = decide(so(*TWO, cooldown=300), [ok(7, 0), failed(1)], 3, state(active_ago=290))
    after = decide(so(*TWO, cooldown=300), [ok(0, 0), ok(0, 1)], 3, partial.state)
    # 290 s ago plus no refresh: the cooldown is not over yet at NOW, but only 10 s remain.
    assert after.reason is R.COOLDOWN
    assert "inactive for 290 s" in after.explanation


def test_activation_with_an_error_refreshes_last_active_time() -> None:
    decision = decide(so(*TWO), [ok(7, 0), failed(1)], 0, state(active_ago=None))
    assert decision.reason is R.ACTIVATED_FROM_ZERO
    assert decision.state.last_active_time is not None


@pytest.mark.parametrize(
    ("readings", "message"),
    [
        pytest.param([], "s0-redis failed: no reading from the scaler", id="missing-reading"),
        pytest.param(
            [decisions.TriggerReading(index=0, metric_name="s0-redis-list0")],
            "s0-redis-list0 failed: the scaler returned no value",
            id="reading-without-value",
        ),
    ],
)
def test_absent_values_count_as_errors(readings: list[decisions.TriggerReading], message: str) -> None:
    decision = decide(so(), readings, 3, state())
    assert decision.reason is R.TRIGGER_ERROR
    assert message in decision.explanation
    # No scaler error text to report: no KEDAScalerFailed event is invented.
    assert decision.events == ()


def test_force_activation_with_an_error_is_partial() -> None:
    spec = so(pause=decisions.specs.Pause(force_activation=True))
    decision = decide(spec, [failed()], 3, state())
    assert decision.reason is R.PARTIAL_TRIGGER_ERROR


@pytest.mark.parametrize(
    ("readings", "current", "message"),
    [
        pytest.param(
            [ok(1, 3)], 0, "names trigger index 3, which the spec does not have", id="unknown-index"
        ),
        pytest.param([ok(1, 0), ok(2, 0)], 0, r"two readings for spec.triggers\[0\]", id="duplicate-index"),
        pytest.param([ok(1)], -1, "current replicas must be ≥ 0, got -1", id="negative-replicas"),
    ],
)
def test_invalid_inputs_raise_value_error_naming_the_object(
    readings: list[decisions.TriggerReading], current: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as info:
        decide(so(), readings, current, state())
    assert str(info.value).startswith("ScaledObject/shop/orders: ")

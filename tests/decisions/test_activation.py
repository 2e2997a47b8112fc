"""Activation (keda-semantics §1.6): strictly greater than the threshold, OR over triggers, values fed on."""

from __future__ import annotations

import math

import pytest

from scaler.core import decisions
from tests.decisions.builders import NOW, decide, ok, redis, so, state

R = decisions.Reason


@pytest.mark.parametrize(
    ("value", "activation", "active"),
    [
        pytest.param(1, 0, True, id="one-above-default-zero"),
        pytest.param(0, 0, False, id="zero-equals-default-zero"),
        pytest.param(0.001, 0, True, id="one-milli-above-zero"),
        pytest.param(5, 5, False, id="equal-is-not-active"),
        pytest.param(5.001, 5, True, id="just-above-is-active"),
        pytest.param(4.999, 5, False, id="just-below-is-inactive"),
        pytest.param(40, 50, False, id="activation-wins-over-target"),
        pytest.param(-3, 0, False, id="negative-is-inactive"),
        pytest.param(math.nan, 0, False, id="nan-is-inactive"),
        pytest.param(math.inf, 0, True, id="inf-is-active"),
    ],
)
def test_activation_is_strictly_greater(value: float, activation: float, active: bool) -> None:
    decision = decide(so(), [ok(value, activation=activation, target=10)], 0, state())
    assert decision.active is active
    assert decision.replicas == (1 if active else None)
    assert decision.triggers_activity == {"s0-redis-list0": active}


def test_activation_wins_over_target_and_scales_to_zero() -> None:
    # target 10, activation 50, value 40: the HPA would want 4, but the SO is inactive.
    decision = decide(so(), [ok(40, activation=50, target=10)], 4, state(active_ago=600))
    assert (decision.replicas, decision.reason) == (0, R.SCALED_TO_ZERO)
    assert "s0-redis-list0 = 40 ≤ activation 50: inactive" in decision.explanation
    assert decision.metric_values == {"s0-redis-list0": 40.0}


@pytest.mark.parametrize(
    ("value", "reported", "active", "explains"),
    [
        pytest.param(
            0, True, True, "s0-redis-list0 = 0: active (as the scaler reports)", id="scaler-says-active"
        ),
        pytest.param(
            9, False, False, "s0-redis-list0 = 9: inactive (as the scaler reports)", id="scaler-says-inactive"
        ),
        pytest.param(
            9, True, True, "s0-redis-list0 = 9 > activation 0: active", id="scaler-agrees-with-threshold"
        ),
    ],
)
def test_the_scalers_own_activity_verdict_is_used(
    value: float, reported: bool, active: bool, explains: str
) -> None:
    decision = decide(so(), [ok(value, active=reported)], 0, state())
    assert decision.active is active
    assert explains in decision.explanation


@pytest.mark.parametrize(
    ("value", "fed"),
    [
        pytest.param(7, 7.0, id="integer"),
        pytest.param(1.5, 1.5, id="fraction"),
        pytest.param(1.23456, 1.234, id="milli-truncated"),
        pytest.param(-3, 0.0, id="negative-reported-as-zero"),
        pytest.param(math.nan, 0.0, id="nan-reported-as-zero"),
        pytest.param(math.inf, 0.0, id="inf-reported-as-zero"),
    ],
)
def test_metric_values_fed_to_the_hpa(value: float, fed: float) -> None:
    decision = decide(so(), [ok(value)], 3, state())
    assert decision.metric_values == {"s0-redis-list0": fed}
    assert decision.failing_metrics == ()


def test_any_active_trigger_activates_and_all_active_ones_are_named() -> None:
    spec = so(redis(0, name="orders"), redis(1), redis(2, name="refunds"))
    decision = decide(spec, [ok(3, 0), ok(0, 1), ok(9, 2)], 0, state())
    assert decision.active_triggers == ("orders", "refunds")
    assert decision.events[-1].message == (
        "Scaled apps/v1.Deployment shop/worker from 0 to 1, triggered by orders;refunds"
    )
    assert decision.triggers_activity == {
        "s0-redis-list0": True,
        "s1-redis-list1": False,
        "s2-redis-list2": True,
    }
    assert decision.explanation.startswith("s0-redis-list0 = 3 > activation 0: active; s2-redis-list2 = 9")


def test_unnamed_trigger_is_named_by_its_metric_in_the_event() -> None:
    decision = decide(so(), [ok(2)], 0, state())
    assert decision.active_triggers == ("s0-redis-list0",)


def test_activation_and_active_hold_refresh_last_active_time() -> None:
    woke = decide(so(), [ok(2)], 0, state(active_ago=None))
    held = decide(so(), [ok(2)], 4, state(active_ago=50))
    assert woke.state.last_active_time == NOW
    assert held.state.last_active_time == NOW


def test_scale_with_hpa_follows_the_target_replicas() -> None:
    assert decide(so(), [ok(2)], 0, state()).scale_with_hpa is True
    assert decide(so(), [ok(0)], 3, state(active_ago=600)).scale_with_hpa is False
    assert decide(so(), [ok(0)], 0, state()).scale_with_hpa is False
    assert decide(so(min=2), [ok(0)], 2, state()).scale_with_hpa is True


def test_activation_never_goes_beyond_max() -> None:
    decision = decide(so(min=5, max=5), [ok(1000)], 0, state())
    assert decision.replicas == 5

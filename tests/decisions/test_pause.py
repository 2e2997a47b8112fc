"""The pause family and force-activation (keda-semantics §1.2)."""

from __future__ import annotations

import pytest

from scaler.core import decisions, specs
from tests.decisions.builders import NOW, decide, failed, fallback, metric, ok, so, state

R = decisions.Reason


def paused(**flags: bool | int) -> specs.Pause:
    return specs.Pause(**flags)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pause", "readings", "current", "replicas", "reason", "explains"),
    [
        pytest.param(
            paused(paused=True),
            [ok(9)],
            0,
            None,
            R.PAUSED,
            "annotation autoscaling.keda.sh/paused: scale loop stopped, holding 0 replicas",
            id="paused-ignores-activity",
        ),
        pytest.param(
            paused(paused=True),
            [ok(0)],
            5,
            None,
            R.PAUSED,
            "holding 5 replicas",
            id="paused-ignores-inactivity",
        ),
        pytest.param(
            paused(paused=True),
            [failed()],
            5,
            None,
            R.PAUSED,
            "holding 5 replicas",
            id="paused-ignores-errors",
        ),
        pytest.param(
            paused(paused_replicas=4),
            [ok(0)],
            2,
            4,
            R.PAUSED_REPLICAS,
            "annotation autoscaling.keda.sh/paused-replicas 4: scaled 2 → 4",
            id="paused-replicas-scales-up",
        ),
        pytest.param(
            paused(paused_replicas=0),
            [ok(9)],
            3,
            0,
            R.PAUSED_REPLICAS,
            "scaled 3 → 0",
            id="paused-replicas-zero-scales-down-despite-activity",
        ),
        pytest.param(
            paused(paused_replicas=3),
            [ok(9)],
            3,
            None,
            R.PAUSED_REPLICAS,
            "paused-replicas 3: holding 3 replicas",
            id="paused-replicas-reached-holds",
        ),
        pytest.param(
            paused(paused=True, paused_replicas=2),
            [ok(9)],
            5,
            2,
            R.PAUSED_REPLICAS,
            "scaled 5 → 2",
            id="paused-replicas-wins-over-paused",
        ),
        pytest.param(
            paused(paused=True, force_activation=True),
            [ok(0)],
            0,
            None,
            R.PAUSED,
            "paused",
            id="paused-wins-over-force-activation",
        ),
        # --- paused-scale-in: blocks → 0 / idle only ---
        pytest.param(
            paused(paused_scale_in=True),
            [ok(0)],
            3,
            None,
            R.PAUSED_SCALE_IN,
            "annotation autoscaling.keda.sh/paused-scale-in blocks scaling 3 → 0 (minReplicaCount 0)",
            id="paused-scale-in-blocks-scale-to-zero",
        ),
        pytest.param(
            paused(paused_scale_in=True),
            [failed()],
            7,
            None,
            R.TRIGGER_ERROR,
            "holding 7 replicas",
            id="paused-scale-in-error-row-unchanged",
        ),
        pytest.param(
            paused(paused_scale_in=True),
            [ok(7)],
            0,
            1,
            R.ACTIVATED_FROM_ZERO,
            "scaled 0 → 1",
            id="paused-scale-in-allows-activation",
        ),
        pytest.param(
            paused(paused_scale_in=True),
            [ok(0)],
            1,
            None,
            R.PAUSED_SCALE_IN,
            "blocks scaling 1 → 0",
            id="paused-scale-in-at-one",
        ),
        # --- paused-scale-out: blocks 0 → 1 only ---
        pytest.param(
            paused(paused_scale_out=True),
            [ok(7)],
            0,
            None,
            R.PAUSED_SCALE_OUT,
            "s0-redis-list0 = 7 > activation 0: active; annotation autoscaling.keda.sh/paused-scale-out blocks scaling 0 → 1",
            id="paused-scale-out-blocks-activation",
        ),
        pytest.param(
            paused(paused_scale_out=True),
            [ok(0)],
            3,
            0,
            R.SCALED_TO_ZERO,
            "scaled 3 → 0",
            id="paused-scale-out-allows-scale-to-zero",
        ),
        pytest.param(
            paused(paused_scale_out=True),
            [ok(7)],
            3,
            None,
            R.ACTIVE,
            "3 replicas",
            id="paused-scale-out-active-holds",
        ),
        pytest.param(
            paused(paused_scale_in=True, paused_scale_out=True),
            [ok(7)],
            0,
            None,
            R.PAUSED_SCALE_OUT,
            "paused-scale-out",
            id="both-directions-paused-active",
        ),
        pytest.param(
            paused(paused_scale_in=True, paused_scale_out=True),
            [ok(0)],
            2,
            None,
            R.PAUSED_SCALE_IN,
            "paused-scale-in",
            id="both-directions-paused-inactive",
        ),
        # --- force-activation: treated as active ---
        pytest.param(
            paused(force_activation=True),
            [ok(0)],
            0,
            1,
            R.FORCE_ACTIVATED,
            "annotation autoscaling.keda.sh/force-activation: active whatever the triggers say; scaled 0 → 1",
            id="force-activation-wakes-from-zero",
        ),
        pytest.param(
            paused(force_activation=True),
            [ok(0)],
            4,
            None,
            R.FORCE_ACTIVATED,
            "4 replicas, 1↔N left to the HPA",
            id="force-activation-prevents-scale-to-zero",
        ),
        pytest.param(
            paused(force_activation=True),
            [ok(7)],
            0,
            1,
            R.ACTIVATED_FROM_ZERO,
            "s0-redis-list0 = 7",
            id="force-activation-with-active-trigger",
        ),
        pytest.param(
            paused(force_activation=True, paused_scale_out=True),
            [ok(0)],
            0,
            None,
            R.PAUSED_SCALE_OUT,
            "paused-scale-out blocks scaling 0 → 1",
            id="paused-scale-out-wins-over-force-activation",
        ),
    ],
)
def test_pause_row(
    pause: specs.Pause,
    readings: list[decisions.TriggerReading],
    current: int,
    replicas: int | None,
    reason: decisions.Reason,
    explains: str,
) -> None:
    decision = decide(so(pause=pause), readings, current, state(active_ago=3600))
    assert (decision.replicas, decision.reason) == (replicas, reason)
    assert explains in decision.explanation


def test_paused_keeps_the_state_and_feeds_nothing() -> None:
    before = state(active_ago=50, failures={metric(0): 2}, fallback_engaged=True)
    decision = decide(so(pause=paused(paused=True), fallback=fallback()), [failed()], 3, before)
    assert decision.state == decisions.ScaleState(
        creation_time=before.creation_time,
        last_active_time=before.last_active_time,
        failures={metric(0): 2},
        fallback_engaged=True,
        paused=True,
    )
    assert decision.metric_values == {}
    assert decision.scale_with_hpa is False
    assert decision.conditions.paused == decisions.Condition(
        "Paused", "True", "ScaledObjectPaused", "ScaledObject is paused"
    )
    assert decision.conditions.active is None


def test_paused_event_is_raised_once_and_unpause_is_reported() -> None:
    spec = so(pause=paused(paused=True))
    first = decide(spec, [ok(1)], 3, state())
    second = decide(spec, [ok(1)], 3, first.state)
    assert [e.reason for e in first.events] == ["ScaledObjectPaused"]
    assert second.events == ()
    resumed = decide(so(), [ok(1)], 3, second.state)
    assert resumed.conditions.paused == decisions.Condition(
        "Paused", "False", "ScaledObjectUnpaused", "pause annotation removed for ScaledObject"
    )
    assert [e.reason for e in resumed.events] == ["ScaledObjectUnpaused"]
    assert resumed.state.paused is False
    assert decide(so(), [ok(1)], 3, resumed.state).conditions.paused is None


def test_scale_direction_pause_sets_the_paused_condition_and_keeps_running() -> None:
    decision = decide(so(pause=paused(paused_scale_in=True)), [ok(3)], 2, state())
    assert decision.conditions.paused is not None and decision.conditions.paused.status == "True"
    assert decision.metric_values == {metric(0): 3.0}
    assert decision.scale_with_hpa is True
    assert decision.state.paused is True


def test_paused_scale_out_does_not_refresh_last_active_time() -> None:
    decision = decide(so(pause=paused(paused_scale_out=True)), [ok(7)], 0, state(active_ago=None))
    assert decision.state.last_active_time is None
    assert decision.active is True


def test_paused_scale_in_keeps_scaler_not_active() -> None:
    decision = decide(so(pause=paused(paused_scale_in=True)), [ok(0)], 3, state(active_ago=10))
    assert decision.conditions.active is not None and decision.conditions.active.reason == "ScalerNotActive"


def test_force_activation_condition_and_event_name_the_annotation() -> None:
    decision = decide(so(pause=paused(force_activation=True)), [ok(7)], 0, state())
    assert decision.conditions.active == decisions.Condition(
        "Active",
        "True",
        "ScalerActive",
        "Scaling is performed because activation is being forced by annotation",
    )
    assert decision.events[-1].message == (
        "Scaled apps/v1.Deployment shop/worker from 0 to 1, caused by forced activation annotation"
    )
    assert decision.state.last_active_time == NOW

"""The KEDA conditions each row of the table implies (keda-semantics §1.4)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from scaler.core import decisions, specs
from tests.decisions.builders import decide, failed, fallback, ok, redis, so, state

READY = ("True", "ScaledObjectReady", "ScaledObject is defined correctly and is ready for scaling")
PARTIAL = (
    "Unknown",
    "PartialTriggerError",
    "Some triggers defined in ScaledObject are not working correctly",
)
BROKEN = ("False", "TriggerError", "Triggers defined in ScaledObject are not working correctly")
ACTIVE = ("True", "ScalerActive", "Scaling is performed because triggers are active")
NOT_ACTIVE = ("False", "ScalerNotActive", "Scaling is not performed because triggers are not active")
COOLING = ("False", "ScalerCooldown", "Scaler cooling down because triggers are not active")


@pytest.mark.parametrize(
    ("spec", "readings", "current", "st", "ready", "active"),
    [
        pytest.param(so(), [ok(3)], 0, state(), READY, ACTIVE, id="activated"),
        pytest.param(so(), [ok(3)], 2, state(), READY, ACTIVE, id="active"),
        pytest.param(
            so(redis(0), redis(1)), [ok(3, 0), failed(1)], 2, state(), PARTIAL, ACTIVE, id="partial-error"
        ),
        pytest.param(so(), [failed()], 2, state(), BROKEN, NOT_ACTIVE, id="trigger-error"),
        pytest.param(
            so(fallback=fallback()), [failed()], 2, state(), READY, NOT_ACTIVE, id="fallback-pending"
        ),
        pytest.param(so(), [ok(0)], 2, state(active_ago=10), READY, COOLING, id="cooldown"),
        pytest.param(
            so(initial_cooldown=60), [ok(0)], 2, state(created_ago=10), READY, COOLING, id="initial-cooldown"
        ),
        pytest.param(so(), [ok(0)], 2, state(active_ago=900), READY, NOT_ACTIVE, id="scaled-to-zero"),
        pytest.param(so(min=2), [ok(0)], 1, state(), READY, NOT_ACTIVE, id="below-min"),
        pytest.param(so(), [ok(0)], 0, state(), READY, NOT_ACTIVE, id="no-change"),
    ],
)
def test_conditions_per_row(
    spec: specs.ScaledObjectSpec,
    readings: Sequence[decisions.TriggerReading],
    current: int,
    st: decisions.ScaleState,
    ready: tuple[str, str, str],
    active: tuple[str, str, str],
) -> None:
    conditions = decide(spec, readings, current, st).conditions
    assert conditions.ready == decisions.Condition("Ready", *ready)
    assert conditions.active == decisions.Condition("Active", *active)
    assert conditions.fallback == decisions.Condition(
        "Fallback", "False", "NoFallbackFound", "No fallbacks are active on this scaled object"
    )
    assert conditions.paused is None
    assert [c.type for c in conditions.set()] == ["Ready", "Active", "Fallback"]


def test_condition_as_dict() -> None:
    condition = decisions.Condition("Ready", "True", "ScaledObjectReady", "ok")
    assert condition.as_dict() == {
        "type": "Ready",
        "status": "True",
        "reason": "ScaledObjectReady",
        "message": "ok",
    }


def test_every_reason_is_reachable() -> None:
    R = decisions.Reason
    cases = {
        R.PAUSED: (so(pause=specs.Pause(paused=True)), [ok(1)], 2, state()),
        R.PAUSED_REPLICAS: (so(pause=specs.Pause(paused_replicas=1)), [ok(1)], 2, state()),
        R.ACTIVATED_FROM_ZERO: (so(), [ok(1)], 0, state()),
        R.ACTIVATED_FROM_IDLE: (so(idle=0, min=2), [ok(1)], 1, state()),
        R.FORCE_ACTIVATED: (so(pause=specs.Pause(force_activation=True)), [ok(0)], 0, state()),
        R.PAUSED_SCALE_OUT: (so(pause=specs.Pause(paused_scale_out=True)), [ok(1)], 0, state()),
        R.ACTIVE: (so(), [ok(1)], 2, state()),
        R.FALLBACK: (so(fallback=fallback(threshold=0)), [failed()], 2, state()),
        R.PARTIAL_TRIGGER_ERROR: (so(redis(0), redis(1)), [ok(1, 0), failed(1)], 2, state()),
        R.FALLBACK_PENDING: (so(fallback=fallback()), [failed()], 2, state()),
        R.TRIGGER_ERROR: (so(), [failed()], 2, state()),
        R.INITIAL_COOLDOWN: (so(initial_cooldown=60), [ok(0)], 2, state(created_ago=1)),
        R.COOLDOWN: (so(), [ok(0)], 2, state(active_ago=1)),
        R.SCALED_TO_ZERO: (so(), [ok(0)], 2, state()),
        R.SCALED_TO_IDLE: (so(idle=0, min=1), [ok(0)], 2, state()),
        R.PAUSED_SCALE_IN: (so(pause=specs.Pause(paused_scale_in=True)), [ok(0)], 2, state()),
        R.BELOW_MIN: (so(min=3), [ok(0)], 2, state()),
        R.NO_CHANGE: (so(), [ok(0)], 0, state()),
    }
    assert set(cases) == set(R)
    for reason, (spec, readings, current, st) in cases.items():
        assert decide(spec, readings, current, st).reason is reason


# --- HPAActive, mirrored from the owned HPA's ScalingActive -------------------------------------------


@pytest.mark.parametrize(("hpa_conditions", "expected"), [
    pytest.param(
        [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "m"},
         {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound",
          "message": "the HPA was able to successfully calculate a replica count from external metric s0-redis-jobs"}],
        ("True", "HPAActive",
         "the HPA was able to successfully calculate a replica count from external metric s0-redis-jobs"),
        id="computing"),
    pytest.param(
        [{"type": "ScalingActive", "status": "False", "reason": "ScalingDisabled",
          "message": "scaling is disabled since the replica count of the target is zero"}],
        ("True", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero"),
        id="idle-at-zero"),
    pytest.param(
        [{"type": "ScalingActive", "status": "False", "reason": "FailedGetExternalMetric",
          "message": "unable to get external metric default/s0-redis-jobs"}],
        ("False", "FailedGetExternalMetric", "unable to get external metric default/s0-redis-jobs"),
        id="metric-failing"),
    pytest.param(
        [{"type": "ScalingActive", "status": "Unknown"}],
        ("False", "HPAMetricsUnavailable", "the HPA has not reported whether it can compute replicas"),
        id="unknown"),
    pytest.param(
        [{"type": "ScalingActive", "status": "False"}],
        ("False", "HPAMetricsUnavailable", "the HPA cannot compute replicas"),
        id="false-without-reason"),
])
def test_hpa_active_mirrors_scaling_active(
    hpa_conditions: list[dict[str, str]], expected: tuple[str, str, str]
) -> None:
    condition = decisions.hpa_active_condition(hpa_conditions)
    assert condition is not None
    assert condition.type == "HPAActive"
    assert (condition.status, condition.reason, condition.message) == expected


@pytest.mark.parametrize("hpa_conditions", [
    pytest.param(None, id="no-status-yet"),
    pytest.param([], id="no-conditions"),
    pytest.param([{"type": "AbleToScale", "status": "True"}], id="no-scaling-active"),
    pytest.param("ScalingActive", id="not-a-list"),
    pytest.param([["ScalingActive", "True"]], id="malformed-item"),
])
def test_no_hpa_active_until_the_hpa_reports_scaling_active(hpa_conditions: object) -> None:
    assert decisions.hpa_active_condition(hpa_conditions) is None

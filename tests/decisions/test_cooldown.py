"""cooldownPeriod and initialCooldownPeriod: KEDA scales in only when the time is strictly past."""

from __future__ import annotations

import pytest

from scaler.core import decisions
from tests.decisions.builders import NOW, decide, ok, so, state

R = decisions.Reason


@pytest.mark.parametrize(
    ("cooldown", "inactive_for", "replicas", "reason"),
    [
        pytest.param(300, 0, None, R.COOLDOWN, id="just-went-inactive"),
        pytest.param(300, 299.999, None, R.COOLDOWN, id="just-before-the-end"),
        pytest.param(300, 300, None, R.COOLDOWN, id="exactly-at-the-end-still-cools"),
        pytest.param(300, 300.001, 0, R.SCALED_TO_ZERO, id="just-after-the-end"),
        pytest.param(0, 0, None, R.COOLDOWN, id="zero-cooldown-same-instant"),
        pytest.param(0, 0.001, 0, R.SCALED_TO_ZERO, id="zero-cooldown-next-instant"),
        pytest.param(30, 31, 0, R.SCALED_TO_ZERO, id="short-cooldown"),
        pytest.param(3600, 1800, None, R.COOLDOWN, id="long-cooldown"),
    ],
)
def test_cooldown_is_strictly_past(
    cooldown: int, inactive_for: float, replicas: int | None, reason: decisions.Reason
) -> None:
    decision = decide(so(cooldown=cooldown), [ok(0)], 4, state(active_ago=inactive_for))
    assert (decision.replicas, decision.reason) == (replicas, reason)


@pytest.mark.parametrize(
    ("initial", "created_ago", "replicas", "reason"),
    [
        pytest.param(60, 0, None, R.INITIAL_COOLDOWN, id="just-created"),
        pytest.param(60, 60, None, R.INITIAL_COOLDOWN, id="exactly-at-the-end"),
        pytest.param(60, 60.5, 0, R.SCALED_TO_ZERO, id="just-after"),
        pytest.param(0, 0, None, R.INITIAL_COOLDOWN, id="zero-initial-same-instant"),
        pytest.param(0, 1, 0, R.SCALED_TO_ZERO, id="zero-initial-ignores-cooldown-period"),
    ],
)
def test_initial_cooldown_applies_while_never_active(
    initial: int, created_ago: float, replicas: int | None, reason: decisions.Reason
) -> None:
    decision = decide(so(initial_cooldown=initial, cooldown=300), [ok(0)], 2, state(created_ago=created_ago))
    assert (decision.replicas, decision.reason) == (replicas, reason)


def test_initial_cooldown_is_ignored_once_active_before() -> None:
    # lastActiveTime is set: cooldownPeriod counts, initialCooldownPeriod does not.
    decision = decide(
        so(initial_cooldown=3600, cooldown=10), [ok(0)], 2, state(active_ago=11, created_ago=20)
    )
    assert (decision.replicas, decision.reason) == (0, R.SCALED_TO_ZERO)


def test_cooldown_counts_from_the_last_active_tick() -> None:
    spec = so(cooldown=300)
    first = decide(spec, [ok(5)], 3, state(active_ago=None), now=NOW)
    assert first.reason is R.ACTIVE
    second = decide(spec, [ok(0)], 3, first.state, now=NOW + 100)
    assert second.reason is R.COOLDOWN
    assert "inactive for 100 s of cooldownPeriod 300 s" in second.explanation
    third = decide(spec, [ok(0)], 3, second.state, now=NOW + 300)
    assert third.reason is R.COOLDOWN
    fourth = decide(spec, [ok(0)], 3, third.state, now=NOW + 301)
    assert (fourth.replicas, fourth.reason) == (0, R.SCALED_TO_ZERO)
    assert fourth.state.last_active_time == NOW


def test_cooldown_sets_the_scaler_cooldown_condition() -> None:
    cooling = decide(so(), [ok(0)], 3, state(active_ago=10))
    initial = decide(so(initial_cooldown=60), [ok(0)], 3, state(created_ago=10))
    done = decide(so(), [ok(0)], 3, state(active_ago=400))
    assert cooling.conditions.active is not None and cooling.conditions.active.reason == "ScalerCooldown"
    assert initial.conditions.active is not None and initial.conditions.active.reason == "ScalerCooldown"
    assert done.conditions.active is not None and done.conditions.active.reason == "ScalerNotActive"


def test_scale_in_emits_the_deactivated_event() -> None:
    decision = decide(so(idle=1, min=2), [ok(0)], 6, state(active_ago=400))
    assert [(e.type, e.reason, e.message) for e in decision.events] == [
        ("Normal", "KEDAScaleTargetDeactivated", "Deactivated apps/v1.Deployment shop/worker from 6 to 1")
    ]


def test_fractional_durations_are_explained_briefly() -> None:
    decision = decide(so(), [ok(0)], 3, state(active_ago=12.3456))
    assert "inactive for 12.346 s of cooldownPeriod 300 s" in decision.explanation

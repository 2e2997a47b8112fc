"""scalingModifiers: one composite metric from a formula over trigger values, its own activation target."""

from __future__ import annotations

import pytest

from scaler.core import decisions
from tests.decisions.builders import (
    NOW,
    decide,
    failed,
    fallback,
    metric,
    modifiers,
    ok,
    redis,
    resource,
    so,
    state,
)

R = decisions.Reason
C = decisions.COMPOSITE_METRIC
AB = (redis(0, name="a"), redis(1, name="b"))


@pytest.mark.parametrize(
    ("formula", "activation", "values", "composite", "active"),
    [
        pytest.param("(a + b)/2", 0, (3, 6), 4.5, True, id="average-active"),
        pytest.param("(a + b)/2", 4.5, (3, 6), 4.5, False, id="equal-to-activation-target-is-inactive"),
        pytest.param("(a + b)/2", 4.4, (3, 6), 4.5, True, id="just-above-activation-target"),
        pytest.param("a > 2 ? a + b : 1", 0, (3, 6), 9.0, True, id="ternary"),
        pytest.param("a > 2 ? a + b : 0", 0, (1, 6), 0.0, False, id="ternary-to-zero-is-inactive"),
        pytest.param("min(a, b)", 0, (0, 6), 0.0, False, id="min-zero-inactive-though-b-active"),
        pytest.param("max(a, b)", 5, (0, 6), 6.0, True, id="max-above-target"),
        pytest.param("a - b", 0, (1, 6), -5.0, False, id="negative-composite-is-inactive"),
        pytest.param("a / 3", 0, (1, 0), 0.333, True, id="composite-milli-truncated"),
        pytest.param("count([a, b], {# > 1})", 1, (3, 6), 2.0, True, id="count"),
    ],
)
def test_composite_metric_and_activation(
    formula: str, activation: float, values: tuple[float, float], composite: float, active: bool
) -> None:
    spec = so(*AB, modifiers=modifiers(formula, target=2, activation=activation))
    decision = decide(spec, [ok(values[0], 0), ok(values[1], 1)], 0, state())
    assert decision.metric_values == {C: composite}
    assert decision.active is active
    assert decision.replicas == (1 if active else None)
    relation = ">" if active else "≤"
    assert f"{relation} activationTarget" in decision.explanation
    assert f"from formula `{formula}` (a = " in decision.explanation


def test_composite_activation_names_the_modifiers_trigger() -> None:
    spec = so(*AB, modifiers=modifiers("a + b"))
    decision = decide(spec, [ok(1, 0), ok(0, 1)], 0, state())
    assert decision.active_triggers == ("ModifiersTrigger",)
    assert decision.events[-1].message.endswith("triggered by ModifiersTrigger")
    # Per-trigger activity is still reported as the scalers saw it.
    assert decision.triggers_activity == {metric(0): True, metric(1): False}


def test_composite_inactive_scales_to_zero_even_with_an_active_trigger() -> None:
    spec = so(*AB, modifiers=modifiers("a - b", activation=0))
    decision = decide(spec, [ok(5, 0), ok(5, 1)], 3, state(active_ago=600))
    assert (decision.replicas, decision.reason) == (0, R.SCALED_TO_ZERO)
    assert (
        "composite-metric = 0 from formula `a - b` (a = 5, b = 5) ≤ activationTarget 0: inactive"
        in decision.explanation
    )


def test_cpu_triggers_are_not_formula_variables() -> None:
    spec = so(redis(0, name="a"), resource(1), modifiers=modifiers("a * 2"))
    decision = decide(spec, [ok(2, 0)], 1, state())
    assert decision.metric_values == {C: 4.0}
    assert decision.reason is R.ACTIVE


def test_a_failing_source_without_fallback_is_a_trigger_error() -> None:
    spec = so(*AB, modifiers=modifiers("(a + b)/2"))
    decision = decide(spec, [ok(9, 0), failed(1)], 3, state())
    assert decision.reason is R.TRIGGER_ERROR
    assert decision.active is False
    assert decision.metric_values == {}
    assert decision.failing_metrics == (metric(1), C)
    assert [(e.type, e.reason) for e in decision.events] == [("Warning", "KEDAMetricSourceFailed")]
    assert "composite-metric not computed, a source failed (s1-redis-list1 failed" in decision.explanation


def test_formula_failing_at_runtime_is_a_trigger_error() -> None:
    spec = so(*AB, modifiers=modifiers("a / b"))
    decision = decide(spec, [ok(1, 0), ok(0, 1)], 3, state())
    assert decision.reason is R.TRIGGER_ERROR
    assert decision.failing_metrics == (C,)
    assert "the result is not a finite number" in decision.explanation


def test_formula_that_does_not_compile_is_a_trigger_error_not_a_crash() -> None:
    spec = so(*AB, modifiers=modifiers("a +"))
    decision = decide(spec, [ok(1, 0), ok(0, 1)], 3, state())
    assert decision.reason is R.TRIGGER_ERROR
    assert "does not compile" in decision.explanation


# --- fallback with behavior scalingModifiers: failing triggers enter the formula as nil ---


def sm_fallback(threshold: int = 1, replicas: int = 7) -> decisions.specs.Fallback:
    return fallback(threshold=threshold, replicas=replicas, behavior="scalingModifiers")


@pytest.mark.parametrize(
    ("formula", "readings", "failures", "composite", "reason"),
    [
        pytest.param(
            "a ?? b ?? 8", [failed(0), ok(3, 1)], {metric(0): 1}, 3.0, R.ACTIVE, id="nil-a-falls-to-b"
        ),
        pytest.param(
            "a ?? b ?? 8",
            [failed(0), failed(1)],
            {metric(0): 1, metric(1): 1},
            8.0,
            R.ACTIVE,
            id="both-nil-fall-to-literal",
        ),
        pytest.param(
            "a ?? b",
            [failed(0), failed(1)],
            {metric(0): 1, metric(1): 1},
            14.0,
            R.FALLBACK,
            id="formula-nil-feeds-fallback-replicas-times-target",
        ),
        pytest.param("a ?? b ?? 8", [ok(5, 0), ok(3, 1)], {}, 5.0, R.ACTIVE, id="healthy-uses-a"),
    ],
)
def test_scaling_modifiers_fallback_behavior(
    formula: str,
    readings: list[decisions.TriggerReading],
    failures: dict[str, int],
    composite: float,
    reason: decisions.Reason,
) -> None:
    spec = so(*AB, modifiers=modifiers(formula, target=2), fallback=sm_fallback(threshold=1, replicas=7))
    decision = decide(spec, readings, 3, state(failures=failures))
    assert decision.metric_values == {C: composite}
    assert decision.reason is reason
    assert decision.error is False


def test_nil_formula_result_explains_the_fallback() -> None:
    spec = so(*AB, modifiers=modifiers("a ?? b", target=2), fallback=sm_fallback(threshold=0, replicas=7))
    decision = decide(spec, [failed(0), failed(1)], 0, state())
    assert (decision.replicas, decision.reason) == (1, R.ACTIVATED_FROM_ZERO)
    assert (
        "formula `a ?? b` returned nil (a = nil, b = nil): composite-metric = 14 (fallback.replicas 7 × target 2)"
        in (decision.explanation)
    )


def test_scaling_modifiers_behavior_before_the_threshold_is_an_error() -> None:
    spec = so(*AB, modifiers=modifiers("a ?? b ?? 8"), fallback=sm_fallback(threshold=3))
    decision = decide(spec, [failed(0), ok(3, 1)], 3, state())
    assert decision.reason is R.FALLBACK_PENDING
    assert decision.metric_values == {}


def test_nil_result_without_scaling_modifiers_fallback_is_an_error() -> None:
    spec = so(*AB, modifiers=modifiers("a > 0 ? nil : a"))
    decision = decide(spec, [ok(3, 0), ok(3, 1)], 3, state())
    assert decision.reason is R.TRIGGER_ERROR
    assert "returned nil" in decision.explanation


# --- other fallback behaviors with a formula: the composite is the fallback metric ---


@pytest.mark.parametrize(
    ("behavior", "current", "composite"),
    [
        pytest.param("static", 3, 12.0, id="static-target-times-replicas"),
        pytest.param("currentReplicas", 3, 6.0, id="current-replicas"),
        pytest.param("currentReplicasIfHigher", 9, 18.0, id="if-higher"),
    ],
)
def test_static_fallback_with_a_formula_feeds_target_times_r(
    behavior: str, current: int, composite: float
) -> None:
    spec = so(
        *AB,
        modifiers=modifiers("max(a, b)", target=2),
        fallback=fallback(threshold=0, replicas=6, behavior=behavior),
    )
    decision = decide(spec, [failed(0), ok(100, 1)], current, state())
    assert decision.metric_values == {C: composite}
    assert decision.reason is R.FALLBACK
    assert decision.state.last_active_time == NOW


def test_static_fallback_with_a_formula_wakes_from_zero() -> None:
    spec = so(*AB, modifiers=modifiers("max(a, b)", target=2), fallback=fallback(threshold=0, replicas=6))
    decision = decide(spec, [failed(0), failed(1)], 0, state())
    assert (decision.replicas, decision.reason) == (1, R.ACTIVATED_FROM_ZERO)
    assert decision.metric_values == {C: 12.0}


def test_value_composite_fallback_is_spread_over_ready_pods() -> None:
    spec = so(
        *AB,
        modifiers=modifiers("max(a, b)", target=2, metric_type="Value"),
        fallback=fallback(threshold=0, replicas=6),
    )
    decision = decide(spec, [failed(0), ok(1, 1)], 4, state(), ready=3)
    assert decision.metric_values == {C: 4.0}

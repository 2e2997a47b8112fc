"""API defaulting and validation of an HPA `behavior` mapping."""

from __future__ import annotations

from typing import Any

import pytest

from scaler.core import hpa

PODS, PERCENT = hpa.PolicyType.PODS, hpa.PolicyType.PERCENT
DEFAULT_UP = hpa.ScalingRules(
    0, hpa.SelectPolicy.MAX, (hpa.Policy(PODS, 4, 15), hpa.Policy(PERCENT, 100, 15))
)
DEFAULT_DOWN = hpa.ScalingRules(300, hpa.SelectPolicy.MAX, (hpa.Policy(PERCENT, 100, 15),))


@pytest.mark.parametrize(
    ("behavior", "expected"),
    [
        pytest.param({}, hpa.Behavior(DEFAULT_UP, DEFAULT_DOWN), id="empty-is-all-defaults"),
        pytest.param(
            {"scaleDown": {"stabilizationWindowSeconds": 60}},
            hpa.Behavior(DEFAULT_UP, hpa.ScalingRules(60, hpa.SelectPolicy.MAX, DEFAULT_DOWN.policies)),
            id="window-only-keeps-default-policies",
        ),
        pytest.param(
            {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}},
            hpa.Behavior(hpa.ScalingRules(0, hpa.SelectPolicy.MAX, (hpa.Policy(PODS, 1, 60),)), DEFAULT_DOWN),
            id="user-policies-replace-defaults-as-a-whole",
        ),
        pytest.param(
            {"scaleUp": {"selectPolicy": "Disabled"}},
            hpa.Behavior(hpa.ScalingRules(0, hpa.SelectPolicy.DISABLED, DEFAULT_UP.policies), DEFAULT_DOWN),
            id="select-policy-only",
        ),
        pytest.param(
            {"scaleUp": {"tolerance": "0.05"}, "scaleDown": {"tolerance": "50m"}},
            hpa.Behavior(
                hpa.ScalingRules(0, hpa.SelectPolicy.MAX, DEFAULT_UP.policies, 0.05),
                hpa.ScalingRules(300, hpa.SelectPolicy.MAX, DEFAULT_DOWN.policies, 0.05),
            ),
            id="tolerance-quantities",
        ),
        pytest.param(
            {"scaleUp": None, "scaleDown": {"stabilizationWindowSeconds": 0}},
            hpa.Behavior(DEFAULT_UP, hpa.ScalingRules(0, hpa.SelectPolicy.MAX, DEFAULT_DOWN.policies)),
            id="explicit-zero-down-window",
        ),
    ],
)
def test_defaults(behavior: dict[str, Any], expected: hpa.Behavior) -> None:
    assert hpa.behavior_with_defaults(behavior) == expected


def test_controller_downscale_window_fills_unset_window() -> None:
    got = hpa.behavior_with_defaults({}, downscale_stabilization=120)
    assert got.scale_down.stabilization_window == 120
    assert got.scale_up.stabilization_window == 0


@pytest.mark.parametrize(
    ("behavior", "path", "text"),
    [
        pytest.param({"scaleDown": {"stabilizationWindowSeconds": 3601}}, "scaleDown.stabilizationWindowSeconds",
                     "0–3600", id="window-too-long"),
        pytest.param({"scaleUp": {"stabilizationWindowSeconds": -1}}, "scaleUp.stabilizationWindowSeconds",
                     "0–3600", id="window-negative"),
        pytest.param({"scaleUp": {"stabilizationWindowSeconds": "60"}}, "scaleUp.stabilizationWindowSeconds",
                     "integer", id="window-string"),
        pytest.param({"scaleUp": {"selectPolicy": "Maximum"}}, "scaleUp.selectPolicy", "Max, Min or Disabled",
                     id="select-policy-unknown"),
        pytest.param({"scaleUp": {"policies": []}}, "scaleUp.policies", "non-empty", id="policies-empty"),
        pytest.param({"scaleUp": {"policies": [{"type": "Replicas", "value": 1, "periodSeconds": 15}]}},
                     "scaleUp.policies[0].type", "Pods or Percent", id="policy-type-unknown"),
        pytest.param({"scaleDown": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 15}]}},
                     "scaleDown.policies[0].value", "positive", id="policy-value-zero"),
        pytest.param({"scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 0}]}},
                     "scaleDown.policies[0].periodSeconds", "1–1800", id="policy-period-zero"),
        pytest.param({"scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 1801}]}},
                     "scaleDown.policies[0].periodSeconds", "1–1800", id="policy-period-too-long"),
        pytest.param({"scaleUp": {"tolerance": "-0.1"}}, "scaleUp.tolerance", "non-negative", id="tolerance-negative"),
        pytest.param({"scaleUp": {"tolerance": "lots"}}, "scaleUp.tolerance", "quantity", id="tolerance-not-quantity"),
        pytest.param({"scaleSideways": {}}, "scaleSideways", "scaleUp or scaleDown", id="unknown-direction"),
        pytest.param({"scaleUp": {"window": 5}}, "scaleUp.window", "unknown field", id="unknown-rules-field"),
    ],
)  # fmt: skip
def test_problems_name_the_field(behavior: dict[str, Any], path: str, text: str) -> None:
    problems = hpa.behavior_problems(behavior)
    assert any(p == path and text in message for p, message in problems), problems
    with pytest.raises(hpa.BehaviorError, match=path.replace("[", r"\[").replace("]", r"\]")):
        hpa.behavior_with_defaults(behavior)


def test_every_problem_is_collected() -> None:
    problems = hpa.behavior_problems(
        {"scaleUp": {"selectPolicy": "x", "stabilizationWindowSeconds": -1}, "scaleDown": {"policies": []}}
    )
    assert [p for p, _ in problems] == [
        "scaleUp.stabilizationWindowSeconds",
        "scaleUp.selectPolicy",
        "scaleDown.policies",
    ]

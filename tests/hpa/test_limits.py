"""Stabilization windows, behavior rate limits (policies, periods, selectPolicy) and the legacy clamp."""

from __future__ import annotations

from typing import Any

import pytest

from scaler.core import hpa

NOW = 1000.0


@pytest.mark.parametrize(
    ("current", "desired", "recommendations", "up_window", "down_window", "expected"),
    [
        pytest.param(3, 5, [], 0, 300, 5, id="up-without-history"),
        pytest.param(5, 3, [], 0, 300, 3, id="down-without-history"),
        pytest.param(5, 2, [(900, 4), (950, 3)], 0, 300, 4, id="down-window-holds-highest-recent"),
        pytest.param(5, 2, [(600, 4)], 0, 300, 2, id="down-window-forgets-older-records"),
        pytest.param(5, 2, [(700, 4)], 0, 300, 2, id="down-window-start-is-exclusive"),
        pytest.param(5, 2, [(700.5, 4)], 0, 300, 4, id="down-window-just-inside"),
        pytest.param(5, 2, [(900, 9)], 0, 300, 5, id="down-window-never-raises-above-current"),
        pytest.param(2, 6, [(990, 3), (995, 4)], 60, 300, 3, id="up-window-holds-lowest-recent"),
        pytest.param(2, 6, [(999.9, 3)], 0, 300, 6, id="zero-up-window-ignores-history"),
        pytest.param(4, 6, [(990, 3)], 60, 300, 4, id="up-window-keeps-current-above-lowest"),
        pytest.param(2, 6, [(930, 3)], 60, 300, 6, id="up-window-expired"),
        pytest.param(4, 4, [(990, 8)], 0, 300, 4, id="equal-stays"),
        pytest.param(5, 1, [(950, 2), (980, 7)], 60, 120, 5, id="both-windows-hold-current"),
        pytest.param(5, 1, [(850, 7), (990, 2)], 60, 120, 2, id="down-window-older-high-expired"),
    ],
)
def test_stabilize(
    current: int,
    desired: int,
    recommendations: list[tuple[float, int]],
    up_window: float,
    down_window: float,
    expected: int,
) -> None:
    got = hpa.stabilize(
        current,
        desired,
        recommendations=recommendations,
        up_window=up_window,
        down_window=down_window,
        now=NOW,
    )
    assert got == expected


def pods(value: int, period: int) -> dict[str, Any]:
    return {"type": "Pods", "value": value, "periodSeconds": period}


def percent(value: int, period: int) -> dict[str, Any]:
    return {"type": "Percent", "value": value, "periodSeconds": period}


E = list[tuple[float, int]]


@pytest.mark.parametrize(
    ("current", "desired", "min_r", "max_r", "behavior", "up", "down", "expected"),
    [
        # scale up with the API defaults: max(4 pods, 100 %) per 15 s
        pytest.param(1, 10, 1, 100, {}, [], [], (5, "ScaleUpLimit"), id="up-default-four-pods-beat-doubling"),
        pytest.param(10, 50, 1, 100, {}, [], [], (20, "ScaleUpLimit"), id="up-default-doubling-beats-four-pods"),
        pytest.param(10, 15, 1, 100, {}, [], [], (15, "DesiredWithinRange"), id="up-within-limit"),
        pytest.param(10, 50, 1, 15, {}, [], [], (15, "TooManyReplicas"), id="up-max-below-rate-limit"),
        pytest.param(10, 50, 1, 20, {}, [], [], (20, "TooManyReplicas"), id="up-max-equal-to-rate-limit"),
        pytest.param(5, 20, 1, 100, {}, [(990, 3)], [], (6, "ScaleUpLimit"), id="up-events-in-period-lower-start"),
        pytest.param(5, 20, 1, 100, {}, [(985, 3)], [], (10, "ScaleUpLimit"), id="up-event-at-period-start-is-outside"),
        pytest.param(5, 20, 1, 100, {}, [(985.5, 3)], [], (6, "ScaleUpLimit"), id="up-event-just-inside-period"),
        pytest.param(3, 20, 1, 100, {}, [], [(995, 2)], (10, "ScaleUpLimit"), id="down-events-raise-up-period-start"),
        pytest.param(5, 8, 1, 100, {"scaleUp": {"policies": [pods(2, 60)]}}, [(995, 10)], [], (5, "ScaleUpLimit"),
                     id="up-limit-below-current-is-raised-to-current"),
        pytest.param(10, 50, 1, 100, {"scaleUp": {"selectPolicy": "Min"}}, [], [], (14, "ScaleUpLimit"),
                     id="up-select-min-takes-smaller-change"),
        pytest.param(3, 10, 1, 100, {"scaleUp": {"selectPolicy": "Disabled"}}, [], [], (3, "ScaleUpLimit"),
                     id="up-disabled-holds-current"),
        pytest.param(10, 20, 1, 100, {"scaleUp": {"policies": [percent(10, 60)]}}, [], [], (11, "ScaleUpLimit"),
                     id="up-percent-exact-product"),
        pytest.param(50, 80, 1, 100, {"scaleUp": {"policies": [percent(10, 60)]}}, [], [], (56, "ScaleUpLimit"),
                     id="up-percent-float-product-55.00000000000001-rounds-up-like-go"),
        pytest.param(3, 20, 1, 100, {"scaleUp": {"policies": [percent(50, 60)]}}, [], [], (5, "ScaleUpLimit"),
                     id="up-percent-ceil-of-half"),
        pytest.param(1, 20, 1, 100, {"scaleUp": {"policies": [percent(10, 60)]}}, [], [], (2, "ScaleUpLimit"),
                     id="up-percent-of-one-still-adds-a-pod"),
        pytest.param(8, 20, 1, 100, {"scaleUp": {"policies": [pods(2, 60), pods(6, 15)]}}, [(970, 4)], [],
                     (14, "ScaleUpLimit"), id="up-each-policy-uses-its-own-period-max"),
        pytest.param(8, 20, 1, 100, {"scaleUp": {"selectPolicy": "Min", "policies": [pods(2, 60), pods(6, 15)]}},
                     [(970, 4)], [], (8, "ScaleUpLimit"), id="up-each-policy-uses-its-own-period-min"),
        pytest.param(2, 3, 1, 100, {"scaleUp": {"policies": [pods(1, 30)]}}, [], [], (3, "DesiredWithinRange"),
                     id="up-one-pod-policy-allows-one"),
        # scale down
        pytest.param(10, 1, 1, 100, {}, [], [], (1, "DesiredWithinRange"), id="down-default-allows-everything"),
        pytest.param(10, 0, 2, 100, {}, [], [], (2, "TooFewReplicas"), id="down-below-min"),
        pytest.param(10, 3, 1, 100, {"scaleDown": {"policies": [pods(2, 60)]}}, [], [], (8, "ScaleDownLimit"),
                     id="down-pods-policy"),
        pytest.param(5, 1, 1, 100, {"scaleDown": {"policies": [percent(50, 60)]}}, [], [], (2, "ScaleDownLimit"),
                     id="down-percent-truncates"),
        pytest.param(10, 1, 1, 100, {"scaleDown": {"policies": [percent(10, 60)]}}, [], [], (9, "ScaleDownLimit"),
                     id="down-percent-ten-of-ten"),
        pytest.param(10, 1, 1, 100, {"scaleDown": {"policies": [pods(2, 60), percent(50, 60)]}}, [], [],
                     (5, "ScaleDownLimit"), id="down-select-max-takes-largest-change"),
        pytest.param(10, 1, 1, 100,
                     {"scaleDown": {"selectPolicy": "Min", "policies": [pods(2, 60), percent(50, 60)]}}, [], [],
                     (8, "ScaleDownLimit"), id="down-select-min-takes-smallest-change"),
        pytest.param(10, 2, 1, 100, {"scaleDown": {"selectPolicy": "Disabled"}}, [], [], (10, "ScaleDownLimit"),
                     id="down-disabled-holds-current"),
        pytest.param(6, 2, 1, 100, {"scaleDown": {"policies": [pods(2, 60)]}}, [], [(990, 4)], (6, "ScaleDownLimit"),
                     id="down-limit-above-current-is-lowered-to-current"),
        pytest.param(10, 1, 1, 100, {"scaleDown": {"policies": [percent(50, 60)]}}, [(990, 4)], [],
                     (3, "ScaleDownLimit"), id="up-events-lower-down-period-start"),
        pytest.param(10, 1, 4, 100, {"scaleDown": {"policies": [percent(90, 60)]}}, [], [], (4, "TooFewReplicas"),
                     id="down-min-above-rate-limit"),
        pytest.param(10, 5, 1, 100, {"scaleDown": {"policies": [pods(3, 60)]}}, [], [(900, 3)], (7, "ScaleDownLimit"),
                     id="down-event-outside-period-ignored"),
        # unchanged
        pytest.param(5, 5, 1, 3, {}, [], [], (5, "DesiredWithinRange"), id="equal-is-not-clamped"),
    ],
)  # fmt: skip
def test_rate_limit(
    current: int, desired: int, min_r: int, max_r: int, behavior: dict[str, Any], up: E, down: E,
    expected: tuple[int, str],
) -> None:  # fmt: skip
    got = hpa.rate_limit(
        current, desired, min_replicas=min_r, max_replicas=max_r, behavior=behavior,
        up_events=up, down_events=down, now=NOW,
    )  # fmt: skip
    assert got == expected


def test_rate_limit_rejects_invalid_behavior() -> None:
    with pytest.raises(hpa.BehaviorError, match=r"scaleUp\.selectPolicy: expected Max, Min or Disabled"):
        hpa.rate_limit(
            1, 5, min_replicas=1, max_replicas=10, behavior={"scaleUp": {"selectPolicy": "Fastest"}},
            up_events=[], down_events=[], now=NOW,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("current", "desired", "min_r", "max_r", "expected"),
    [
        pytest.param(4, 6, 1, 10, (6, "DesiredWithinRange"), id="within-double"),
        pytest.param(4, 20, 1, 100, (8, "ScaleUpLimit"), id="at-most-double"),
        pytest.param(1, 10, 1, 100, (4, "ScaleUpLimit"), id="at-least-four"),
        pytest.param(0, 10, 0, 100, (4, "ScaleUpLimit"), id="from-zero-four"),
        pytest.param(10, 30, 1, 15, (15, "TooManyReplicas"), id="max-below-double"),
        pytest.param(10, 30, 1, 20, (20, "TooManyReplicas"), id="max-equal-to-double"),
        pytest.param(5, 0, 2, 10, (2, "TooFewReplicas"), id="below-min"),
        pytest.param(10, 1, 1, 20, (1, "DesiredWithinRange"), id="scale-down-is-unlimited"),
        pytest.param(3, 3, 1, 10, (3, "DesiredWithinRange"), id="equal"),
        pytest.param(3, 4, 1, 4, (4, "DesiredWithinRange"), id="up-to-max-exactly"),
    ],
)
def test_legacy_limit(current: int, desired: int, min_r: int, max_r: int, expected: tuple[int, str]) -> None:
    assert hpa.legacy_limit(current, desired, min_replicas=min_r, max_replicas=max_r) == expected

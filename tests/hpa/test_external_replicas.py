"""One External metric's proposal: milli rounding, Value and AverageValue formulas, the tolerance band."""

from __future__ import annotations

import pytest

from scaler.core import hpa

AVG = "AverageValue"
VAL = "Value"


@pytest.mark.parametrize(
    ("values", "target_type", "target", "spec", "status", "ready", "expected"),
    [
        pytest.param([10], AVG, 5, 2, 2, 2, 2, id="average-exactly-on-target-keeps-status-replicas"),
        pytest.param([11], AVG, 5, 2, 2, 2, 2, id="average-upper-tolerance-edge-is-inside"),
        pytest.param([11.001], AVG, 5, 2, 2, 2, 3, id="average-just-above-upper-edge-scales-up"),
        pytest.param([9], AVG, 5, 2, 2, 2, 2, id="average-lower-tolerance-edge-is-inside"),
        pytest.param([8.999], AVG, 5, 3, 3, 3, 2, id="average-below-lower-edge-scales-down"),
        pytest.param([8], AVG, 5, 3, 3, 3, 2, id="average-far-below-scales-down-to-ceil-sum-over-target"),
        pytest.param([3, 4, 5.5], AVG, 2, 1, 1, 1, 7, id="average-sums-all-items"),
        pytest.param([0.0004] * 3, AVG, 0.001, 1, 1, 1, 3, id="average-each-item-rounds-up-to-a-milli"),
        pytest.param([10], AVG, 5, 0, 0, 0, 2, id="average-zero-status-replicas-is-infinite-ratio"),
        pytest.param([0], AVG, 5, 0, 0, 0, 0, id="average-zero-usage-zero-status-is-nan-ratio-gives-0"),
        pytest.param([40], AVG, 5, 4, 2, 4, 8, id="average-uses-status-not-spec-replicas"),
        pytest.param([20], AVG, 5, 4, 4, 0, 4, id="average-ignores-ready-pods"),
        pytest.param([1000], AVG, 1, 1, 1, 1, 1000, id="average-large-scale-up-is-unbounded-here"),
        pytest.param([0], AVG, 5, 3, 3, 3, 0, id="average-zero-usage-proposes-zero"),
        pytest.param([10], VAL, 10, 3, 3, 3, 3, id="value-on-target-keeps-spec-replicas"),
        pytest.param([11], VAL, 10, 3, 3, 3, 3, id="value-upper-tolerance-edge-is-inside"),
        pytest.param([9], VAL, 10, 3, 3, 3, 3, id="value-lower-tolerance-edge-is-inside"),
        pytest.param([12], VAL, 10, 3, 3, 3, 4, id="value-above-multiplies-ready-pods"),
        pytest.param([12], VAL, 10, 3, 3, 1, 2, id="value-unready-pods-shrink-the-multiplier"),
        pytest.param([5], VAL, 10, 4, 4, 4, 2, id="value-below-scales-down"),
        pytest.param([25], VAL, 10, 0, 0, 0, 3, id="value-from-zero-is-ceil-ratio"),
        pytest.param([10.5], VAL, 10, 0, 0, 0, 2, id="value-from-zero-skips-tolerance"),
        pytest.param([0], VAL, 10, 0, 0, 0, 0, id="value-from-zero-with-zero-metric-stays-zero"),
        pytest.param([10], VAL, 10, 2, 2, 0, 2, id="value-within-band-needs-no-pods"),
        pytest.param([1], VAL, 3, 3, 3, 3, 1, id="value-third-of-target-on-three-pods"),
        pytest.param(
            [2.3], VAL, 1.15, 1, 1, 1, 2, id="value-decimal-input-is-not-rounded-up-by-binary-noise"
        ),
        pytest.param([8.6], AVG, 4.3, 1, 1, 1, 2, id="average-8.6-is-8600m"),
        pytest.param([6, 6], VAL, 10, 1, 1, 1, 2, id="value-sums-items-before-the-ratio"),
    ],
)
def test_proposal(
    values: list[float], target_type: str, target: float, spec: int, status: int, ready: int, expected: int
) -> None:
    got = hpa.external_replicas(
        values, target_type, target, spec_replicas=spec, status_replicas=status, ready_pods=ready
    )
    assert got == expected


@pytest.mark.parametrize(
    ("values", "target_type", "target", "down", "up", "expected"),
    [
        pytest.param([10.5], AVG, 5, 0.1, 0.01, 3, id="narrow-up-tolerance-scales-up-at-5-percent"),
        pytest.param([10.5], AVG, 5, 0.1, 0.1, 2, id="default-tolerance-holds-at-5-percent"),
        pytest.param([6], AVG, 5, 0.5, 0.1, 2, id="wide-down-tolerance-holds-at-minus-40-percent"),
        pytest.param([6], AVG, 5, 0.1, 0.5, 2, id="up-tolerance-does-not-widen-the-down-side"),
        pytest.param([10], AVG, 5, 0.0, 0.0, 2, id="zero-tolerance-still-includes-exact-target"),
        pytest.param([10.001], AVG, 5, 0.0, 0.0, 3, id="zero-tolerance-scales-on-any-excess"),
        pytest.param([14], VAL, 10, 0.1, 0.5, 2, id="value-up-tolerance-from-behavior"),
    ],
)
def test_per_direction_tolerance(
    values: list[float], target_type: str, target: float, down: float, up: float, expected: int
) -> None:
    got = hpa.external_replicas(
        values, target_type, target, spec_replicas=2, status_replicas=2, ready_pods=2,
        tolerance_down=down, tolerance_up=up,
    )  # fmt: skip
    assert got == expected


def test_value_with_pods_but_none_ready_proposes_zero() -> None:
    got = hpa.external_replicas([20], VAL, 10, spec_replicas=2, status_replicas=2, ready_pods=0, total_pods=2)
    assert got == 0


@pytest.mark.parametrize(
    ("values", "target_type", "target", "error", "text"),
    [
        pytest.param([20], VAL, 10, hpa.NoPodsError, "no pods returned by selector", id="value-without-pods"),
        pytest.param([], AVG, 10, hpa.NoMetricsError, "no metrics returned", id="empty-metric-list"),
        pytest.param([1], AVG, 0, hpa.InvalidTargetError, "must be positive", id="zero-target"),
        pytest.param([1], AVG, -2, hpa.InvalidTargetError, "must be positive", id="negative-target"),
        pytest.param(
            [1], "Utilization", 50, hpa.InvalidTargetError, "Value or AverageValue", id="utilization"
        ),
    ],
)
def test_errors(
    values: list[float], target_type: str, target: float, error: type[Exception], text: str
) -> None:
    with pytest.raises(error, match=text):
        hpa.external_replicas(values, target_type, target, spec_replicas=2, status_replicas=2, ready_pods=0)


@pytest.mark.parametrize(
    ("value", "milli"),
    [
        pytest.param(1, 1000, id="integer"),
        pytest.param(8.6, 8600, id="decimal-as-written"),
        pytest.param(2.3, 2300, id="no-binary-round-up"),
        pytest.param(0.0001, 1, id="sub-milli-rounds-up"),
        pytest.param(1.0001, 1001, id="fraction-of-milli-rounds-up"),
        pytest.param(0.0, 0, id="zero"),
        pytest.param(-1.5, -1500, id="negative-exact"),
    ],
)
def test_milli_value(value: float, milli: int) -> None:
    assert hpa.milli_value(value) == milli


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("0.05", 0.05, id="decimal-string"),
        pytest.param("50m", 0.05, id="milli-suffix"),
        pytest.param(1, 1.0, id="integer"),
        pytest.param("1k", 1000.0, id="kilo"),
        pytest.param("1Ki", 1024.0, id="kibi"),
        pytest.param("1e-1", 0.1, id="exponent"),
    ],
)
def test_parse_quantity(raw: object, expected: float) -> None:
    assert hpa.parse_quantity(raw) == pytest.approx(expected)


@pytest.mark.parametrize(
    "raw", [pytest.param("abc", id="word"), pytest.param(True, id="bool"), pytest.param([], id="list")]
)
def test_parse_quantity_rejects(raw: object) -> None:
    with pytest.raises(ValueError, match="expected"):
        hpa.parse_quantity(raw)

"""Metric values as KEDA reports them: milli-truncated, printed in Go's canonical DecimalSI form."""

import math

import pytest

from scaler.core import quantities


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(1.5, "1500m", id="fraction-is-milli"),
        pytest.param(0.25, "250m", id="quarter"),
        pytest.param(2, "2", id="integer-is-plain"),
        pytest.param(2.0, "2", id="integral-float-is-plain"),
        pytest.param(0, "0", id="zero"),
        pytest.param(0.0, "0", id="float-zero"),
        pytest.param(1000, "1k", id="thousand-is-k"),
        pytest.param(1500, "1500", id="1500-stays-plain"),
        pytest.param(10**6, "1M", id="million-is-M"),
        pytest.param(2.5e9, "2500M", id="2.5-billion"),
        pytest.param(1e12, "1T", id="tera"),
        pytest.param(0.001, "1m", id="one-milli"),
        pytest.param(0.0001, "0", id="below-milli-truncates-to-zero"),
        pytest.param(0.3, "300m", id="0.3-is-exactly-300m-not-299m"),
        pytest.param(123.4567, "123456m", id="truncated-not-rounded"),
        pytest.param(0.9999, "999m", id="truncation-keeps-999m"),
        pytest.param(-1.5, "-1500m", id="negative-keeps-sign"),
        pytest.param(-0.0009, "0", id="negative-below-milli-truncates-toward-zero"),
        pytest.param(7.1, "7100m", id="one-decimal"),
        pytest.param(12000, "12k", id="twelve-thousand"),
        pytest.param(100, "100", id="hundred"),
    ],
)
def test_format_value_matches_go_canonical_milli_quantity(value: float, expected: str) -> None:
    assert quantities.format_value(value) == expected


@pytest.mark.parametrize(
    ("milli", "expected"),
    [
        pytest.param(1, "1m", id="1m"),
        pytest.param(10, "10m", id="10m"),
        pytest.param(1000, "1", id="1"),
        pytest.param(10_000, "10", id="10"),
        pytest.param(1_000_000_000, "1M", id="1M"),
        pytest.param(10**21, "1E", id="exa"),
        pytest.param(2**63 - 1, "9223372036854775807m", id="max-int64"),
    ],
)
def test_format_milli(milli: int, expected: str) -> None:
    assert quantities.format_milli(milli) == expected


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan], ids=["inf", "-inf", "nan"])
def test_non_finite_values_are_refused_with_a_clear_error(value: float) -> None:
    with pytest.raises(quantities.QuantityError, match="finite"):
        quantities.format_value(value)


def test_huge_values_saturate_instead_of_wrapping() -> None:
    assert quantities.milli_truncated(1e300) == 2**63 - 1
    assert quantities.milli_truncated(-1e300) == -(2**63)


@pytest.mark.parametrize("value", [0, 0.001, 0.25, 1.5, 2, 7.1, 1000, 1500, 123.456, 1e6, 3.3e9])
def test_formatted_value_parses_back_to_the_truncated_value(value: float) -> None:
    text = quantities.format_value(value)
    assert quantities.milli_value(text) == quantities.milli_truncated(value)

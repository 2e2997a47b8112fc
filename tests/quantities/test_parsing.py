"""Any valid Kubernetes quantity string parses; MilliValue() rounds a fractional milli-unit up."""

import pytest

from scaler.core import quantities


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1500m", 1.5, id="milli"),
        pytest.param("1.5", 1.5, id="plain-decimal"),
        pytest.param("2", 2.0, id="plain-integer"),
        pytest.param("2k", 2000.0, id="kilo"),
        pytest.param("3M", 3e6, id="mega"),
        pytest.param("1G", 1e9, id="giga"),
        pytest.param("1T", 1e12, id="tera"),
        pytest.param("1P", 1e15, id="peta"),
        pytest.param("1E", 1e18, id="bare-E-is-exa"),
        pytest.param("1Ki", 1024.0, id="kibi"),
        pytest.param("1Mi", 1048576.0, id="mebi"),
        pytest.param("1.5Gi", 1.5 * 2**30, id="fractional-gibi"),
        pytest.param("1Ti", float(2**40), id="tebi"),
        pytest.param("1e3", 1000.0, id="lower-e-exponent"),
        pytest.param("1E3", 1000.0, id="upper-E-with-digits-is-exponent"),
        pytest.param("25e-3", 0.025, id="negative-exponent"),
        pytest.param("1500u", 0.0015, id="micro"),
        pytest.param("500n", 5e-7, id="nano"),
        pytest.param(".5", 0.5, id="leading-dot"),
        pytest.param("5.", 5.0, id="trailing-dot"),
        pytest.param("+2", 2.0, id="plus-sign"),
        pytest.param("-1.5m", -0.0015, id="negative-milli"),
        pytest.param("0", 0.0, id="zero"),
    ],
)
def test_parse(text: str, expected: float) -> None:
    assert quantities.parse(text) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "expected a number", id="empty"),
        pytest.param("abc", "expected a number", id="letters"),
        pytest.param(".", "expected a number", id="lone-dot"),
        pytest.param(" 1", "expected a number", id="leading-space"),
        pytest.param("1 k", "unknown suffix ' k'", id="space-before-suffix"),
        pytest.param("1x", "unknown suffix 'x'", id="unknown-suffix"),
        pytest.param("1ki", "unknown suffix 'ki'", id="lowercase-ki"),
        pytest.param("1e", "unknown suffix 'e'", id="exponent-without-digits"),
        pytest.param("1e1.5", "unknown suffix", id="fractional-exponent"),
        pytest.param("1mm", "unknown suffix 'mm'", id="double-suffix"),
    ],
)
def test_invalid_strings_say_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(quantities.QuantityError, match=message) as info:
        quantities.parse(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("quantity", "milli"),
    [
        pytest.param("1500u", 2, id="fractional-milli-rounds-up"),
        pytest.param("1500m", 1500, id="exact-milli"),
        pytest.param("1.5", 1500, id="plain"),
        pytest.param("1n", 1, id="one-nano-rounds-up-to-1m"),
        pytest.param("0", 0, id="zero"),
        pytest.param("2k", 2_000_000, id="kilo"),
        pytest.param(0.3, 300, id="float-0.3-is-300-not-301"),
        pytest.param(1.0005, 1001, id="float-half-milli-rounds-up"),
        pytest.param(8.6, 8600, id="float-8.6"),
        pytest.param(2, 2000, id="int"),
    ],
)
def test_milli_value_rounds_up_like_the_hpa(quantity: str | float, milli: int) -> None:
    assert quantities.milli_value(quantity) == milli

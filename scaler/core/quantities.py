"""Kubernetes quantities: formatting metric values the way Go does, parsing any valid quantity string.

KEDA hands metric values to the HPA as milli quantities: `resource.NewMilliQuantity(int64(value*1000),
DecimalSI)`, so the value is truncated toward zero to a whole number of milli-units and then printed in
Go's canonical DecimalSI form — an integer mantissa with the largest exponent that is a multiple of 3,
and an SI suffix: 1.5 → "1500m", 0.25 → "250m", 2 → "2", 1000 → "1k", 1500 → "1500", 10^6 → "1M",
0 → "0". The HPA reads a quantity back with `MilliValue()`, which rounds a fractional milli-unit *up*
("1500u" → 2m). `kubernetes.utils.quantity` does not canonicalize (it would print 2 as "2000m"), hence
this module.

Pure: exact decimal arithmetic only, no I/O.
"""

from __future__ import annotations

import decimal
import math
import re

# Decimal SI suffixes by power of ten (Go's decimalSI suffixer); "" is 10^0.
_DECIMAL_SUFFIXES: dict[str, int] = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_SUFFIX_BY_EXPONENT = {exponent: suffix for suffix, exponent in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIXES: dict[str, int] = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}

# <sign>?<digits>[.<digits>] or .<digits>, then the suffix (checked separately, as Go does).
_QUANTITY = re.compile(r"(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))(?P<suffix>.*)", re.DOTALL)
_EXPONENT_SUFFIX = re.compile(r"[eE](?P<exponent>[+-]?\d+)")

# Enough precision for any int64 milli-value times any suffix, so parsing never rounds.
_CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN)

MAX_INT64 = 2**63 - 1


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity (the message says what was expected)."""


def milli_truncated(value: float) -> int:
    """`int64(value * 1000)` as Go computes it for a finite value: truncated toward zero.

    The product is formed from the shortest decimal that round-trips `value` (so 0.3 → 300, not the
    299 a binary float product would truncate to). Values beyond int64 saturate, as Ebb never wants a
    wrapped sign.
    """
    if not math.isfinite(value):
        raise QuantityError(f"cannot express {value!r} as a quantity: expected a finite number")
    if float(value).is_integer() and -(2**53) <= value <= 2**53:
        # Whole numbers (most queue lengths and lags) are exact as floats: no decimal arithmetic needed.
        return int(value) * 1000
    milli = int(_CONTEXT.multiply(decimal.Decimal(repr(value)), decimal.Decimal(1000)))
    return max(-MAX_INT64 - 1, min(MAX_INT64, milli))


def format_milli(milli: int) -> str:
    """Go's canonical DecimalSI string of `NewMilliQuantity(milli, DecimalSI)`."""
    if milli == 0:
        return "0"
    sign = "-" if milli < 0 else ""
    mantissa, exponent = abs(milli), -3
    # Strip every factor of ten, then step back down to an exponent that is a multiple of 3.
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3  # Python's % is non-negative, so this is how far above a multiple of 3.
    mantissa *= 10**shift
    exponent -= shift
    suffix = _SUFFIX_BY_EXPONENT.get(exponent)
    if suffix is None:  # beyond "E": Go falls back to the decimal-exponent notation
        return f"{sign}{mantissa}e{exponent}"
    return f"{sign}{mantissa}{suffix}"


def format_value(value: float) -> str:
    """The quantity string KEDA reports for a metric value: milli-truncated, canonical DecimalSI."""
    return format_milli(milli_truncated(value))


def parse_decimal(text: str) -> decimal.Decimal:
    """Parse a quantity string exactly ("1500m", "1.5", "2k", "1Mi", "1e3", "-.5E-2")."""
    if not isinstance(text, str):
        raise QuantityError(f"expected a quantity string such as '1500m' or '2', got {type(text).__name__}")
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise QuantityError(
            f"{text!r} is not a quantity: expected a number with an optional suffix, e.g. '1500m', '2k', '1Mi'"
        )
    number = decimal.Decimal(match["number"])
    suffix = match["suffix"]
    if suffix in _DECIMAL_SUFFIXES:
        return _CONTEXT.scaleb(number, _DECIMAL_SUFFIXES[suffix])
    if suffix in _BINARY_SUFFIXES:
        return _CONTEXT.multiply(number, decimal.Decimal(2) ** _BINARY_SUFFIXES[suffix])
    exponent = _EXPONENT_SUFFIX.fullmatch(suffix)
    if exponent is not None:
        power = int(exponent["exponent"])
        if abs(power) > 1000:
            raise QuantityError(f"{text!r} is not a quantity: exponent {power} is out of range")
        return _CONTEXT.scaleb(number, power)
    raise QuantityError(
        f"{text!r} is not a quantity: unknown suffix {suffix!r}, expected one of "
        "n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or e<exponent>"
    )


def parse(text: str) -> float:
    """Parse a quantity string to a float ("1500m" → 1.5, "1Mi" → 1048576.0)."""
    return float(parse_decimal(text))


def milli_value(quantity: str | float) -> int:
    """The HPA's `Quantity.MilliValue()`: the value in milli-units, a fractional milli-unit rounded up.

    Accepts a quantity string or a number (a float is taken at its shortest round-tripping decimal,
    so 0.3 → 300, not 301).
    """
    if isinstance(quantity, str):
        exact = parse_decimal(quantity)
    else:
        if not math.isfinite(quantity):
            raise QuantityError(f"cannot express {quantity!r} as a quantity: expected a finite number")
        exact = decimal.Decimal(repr(float(quantity)))
    milli = _CONTEXT.multiply(exact, decimal.Decimal(1000))
    return int(milli.to_integral_value(rounding=decimal.ROUND_CEILING))

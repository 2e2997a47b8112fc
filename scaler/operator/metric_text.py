"""The Prometheus text exposition format 0.0.4, written by hand for the operator's `/metrics`.

What belongs here: the pure text pieces, byte-for-byte as `prometheus_client.generate_latest` writes them
(label values escaped, label names sorted, floats as Go formats them, HELP/TYPE headers) and the frozen
description of a metric family (`FamilySpec`). Nothing here keeps values; `metric_series` does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import utils

KINDS = ("gauge", "counter", "histogram")

# Below this every finite float prints as Python's `repr` prints it; from 7 digits before the dot
# prometheus_client (which the tests compare with) switches to Go's exponent form.
_REPR_BELOW = 1e6


def go_float(value: float) -> str:
    """`value` as prometheus_client writes a sample value or an `le`: `repr` for the common case, `+Inf`,
    `-Inf`, `NaN`, and `1.5e+06`-style exponents for large positive values.

    >>> go_float(7.0), go_float(0.004), go_float(float("inf")), go_float(2_500_000.0)
    ('7.0', '0.004', '+Inf', '2.5e+06')
    """
    if -math.inf < value < _REPR_BELOW:
        return repr(value)
    text: str = utils.floatToGoString(value)  # type: ignore[no-untyped-call]  # untyped upstream
    return text


def sample_lines(prefixes: list[str], values: list[float]) -> str:
    """Sample lines, `prefixes[i] + go_float(values[i]) + "\\n"` each, in one join.

    The common case (every value finite and below 1e6) is one C-level `repr` pass: a finite sum proves no
    NaN or infinity is among the values (a sum that merely overflows only takes the exact path).

    >>> sample_lines(["a ", 'b{x="1"} '], [1.0, float("nan")])
    'a 1.0\\nb{x="1"} NaN\\n'
    """
    total = sum(values)
    if -math.inf < total < math.inf and max(values, default=0.0) < _REPR_BELOW:
        texts = list(map(repr, values))
    else:
        texts = list(map(go_float, values))
    # Slice assignment into a list of newlines: cheaper than concatenating each line or zipping.
    parts = ["\n"] * (3 * len(texts))
    parts[0::3] = prefixes
    parts[1::3] = texts
    return "".join(parts)


def escape_label_value(value: str) -> str:
    r"""Backslash, newline and double quote escaped, as the text format requires.

    >>> escape_label_value('a"b\\c\nd')
    'a\\"b\\\\c\\nd'
    """
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def label_set(pairs: Iterable[tuple[str, str]]) -> str:
    """`{name="value",…}` with the names sorted (as prometheus_client writes them); empty without labels.

    >>> label_set([("namespace", "default"), ("le", "0.5")])
    '{le="0.5",namespace="default"}'
    """
    text = ",".join(f'{name}="{escape_label_value(value)}"' for name, value in sorted(pairs))
    return f"{{{text}}}" if text else ""


@dataclass(frozen=True)
class FamilySpec:
    """One metric family: its name (a counter's without `_total`, as prometheus_client names families),
    help text, kind (`gauge`, `counter`, `histogram`), label names and, for a histogram, its buckets."""

    name: str
    documentation: str
    kind: str
    labelnames: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"metric kind: expected one of {KINDS}, got {self.kind!r}")
        if self.kind == "counter" and self.name.endswith("_total"):
            raise ValueError(f"counter {self.name!r}: name the family without `_total`")
        if (self.kind == "histogram") != bool(self.buckets):
            raise ValueError(f"{self.name!r}: buckets are for histograms, and every histogram needs some")
        if self.buckets and (list(self.buckets) != sorted(self.buckets) or self.buckets[-1] != math.inf):
            raise ValueError(f"{self.name!r}: buckets must be sorted and end with +Inf, got {self.buckets!r}")

    @property
    def sample_name(self) -> str:
        """The name of a gauge's or counter's samples (a counter's carries `_total`)."""
        return self.name + "_total" if self.kind == "counter" else self.name

    @property
    def header(self) -> str:
        """The `# HELP` and `# TYPE` lines that open the family in the exposition."""
        help_text = self.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        return f"# HELP {self.sample_name} {help_text}\n# TYPE {self.sample_name} {self.kind}\n"

    def prefix(self, labels: tuple[str, ...], sample_name: str | None = None,
               extra: tuple[tuple[str, str], ...] = ()) -> str:
        """The text of a sample line up to its value: `name{labels} ` (the labels escaped, once)."""
        pairs = (*zip(self.labelnames, labels, strict=True), *extra)
        return f"{sample_name or self.sample_name}{label_set(pairs)} "

    def labels_text(self, labels: tuple[str, ...]) -> str:
        """`{labels}` as `prefix` writes them: families with the same label names can share it."""
        return label_set(zip(self.labelnames, labels, strict=True))

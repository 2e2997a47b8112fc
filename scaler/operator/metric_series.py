"""Metric series kept as plain Python objects, rendered as Prometheus text in slices.

What belongs here: the storage and rendering of series, independent of what they mean (the operator's
names and calls are `operator_metrics`'). A `Cell` is one gauge or counter series, a `HistogramCell` one
histogram series; a family (`ScalarFamily`, `HistogramFamily`) maps label values to its cells. Each cell
carries its sample lines' text up to the value, escaped once when the series is made (a series' labels
never change), so rendering is a string concatenation and a `repr` per line, joined in big slices.

Why not prometheus_client's own children: at 10,000 ScaledObjects `generate_latest` builds ~100,000
`Sample` tuples and label dicts and escapes every label each time, holding the GIL for seconds; and every
`set`/`inc`/`observe` on the scale loops' hot path takes a lock. Here a write is an attribute store, and
`FamiliesCollector` still shows every series to prometheus_client (`registry.get_sample_value`,
`generate_latest`), built on demand from the same cells.

The cells are written from the event loop only. A rendering takes a snapshot of each family's cells when it
reaches the family (as prometheus_client copies its children), so a series made or forgotten during a
sliced rendering is at most missing from, or still in, that one scrape; a snapshot is a single C-level
copy, so a rendering or `collect` from another thread never sees a dict change size under it.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator
from typing import TypeAlias

from prometheus_client import metrics_core, utils

from scaler.operator.metric_text import FamilySpec, sample_lines

Labels: TypeAlias = tuple[str, ...]

# Sample lines per slice of a rendering: ~0.5-1 ms of CPU each (~250 kB), so the scale loops sharing the
# event loop wait at most that; 4,000 measured up to twice as long a hold for no less CPU in total.
LINES_PER_SLICE = 2000


class Cell:
    """One gauge or counter series: `value` is written directly by the caller (a float, always)."""

    __slots__ = ("labels", "prefix", "value")

    def __init__(self, labels: Labels, prefix: str) -> None:
        self.labels = labels
        self.prefix = prefix
        self.value = 0.0


class HistogramCell:
    """One histogram series: per-bucket counts (not cumulative, summed up when rendered) and the sum."""

    __slots__ = ("bounds", "counts", "labels", "prefixes", "sum")

    def __init__(self, labels: Labels, bounds: tuple[float, ...], prefixes: tuple[str, ...]) -> None:
        self.labels = labels
        self.bounds = bounds
        # One per bucket, then `_count`'s and `_sum`'s.
        self.prefixes = prefixes
        self.counts = [0.0] * len(bounds)
        self.sum = 0.0

    def observe(self, amount: float) -> None:
        # The first bucket whose bound is >= amount, as prometheus_client's `observe`; NaN fits no bucket.
        if amount == amount:
            self.counts[bisect.bisect_left(self.bounds, amount)] += 1.0
        self.sum += amount

    def values(self) -> list[float]:
        """The sample values in `prefixes`' order: cumulative buckets, count, sum."""
        out = list(itertools.accumulate(self.counts))
        out.append(out[-1])
        out.append(self.sum)
        return out


class ScalarFamily:
    """A gauge or counter family: label values → `Cell`."""

    def __init__(self, spec: FamilySpec) -> None:
        if spec.kind == "histogram":
            raise ValueError(f"{spec.name!r}: a histogram is a HistogramFamily")
        self.spec = spec
        self.cells: dict[Labels, Cell] = {}

    def cell(self, labels: Labels, labels_text: str | None = None) -> Cell:
        """The series of these label values, made (at 0) on first use. `labels_text`: their escaped text
        (`FamilySpec.labels_text`) when already made for a family with the same label names."""
        found = self.cells.get(labels)
        if found is None:
            prefix = self.spec.prefix(labels) if labels_text is None else f"{self.spec.sample_name}{labels_text} "
            found = self.cells[labels] = Cell(labels, prefix)
        return found

    def remove(self, labels: Labels) -> None:
        self.cells.pop(labels, None)

    def slices(self, lines_per_slice: int) -> Iterator[tuple[str, int]]:
        """The family's text (header first) in slices of at most `lines_per_slice` sample lines, each with
        its number of sample lines."""
        cells = list(self.cells.values())
        header = self.spec.header
        if not cells:
            yield header, 0
            return
        for start in range(0, len(cells), lines_per_slice):
            part = cells[start:start + lines_per_slice]
            text = sample_lines([c.prefix for c in part], [c.value for c in part])
            yield (header + text if start == 0 else text), len(part)

    def metric(self) -> metrics_core.Metric:
        """The family as prometheus_client's collectors report it (for `get_sample_value` and the like)."""
        spec = self.spec
        metric = metrics_core.Metric(spec.name, spec.documentation, spec.kind)
        for cell in list(self.cells.values()):
            metric.add_sample(spec.sample_name, dict(zip(spec.labelnames, cell.labels, strict=True)), cell.value)
        return metric


class HistogramFamily:
    """A histogram family: label values → `HistogramCell`."""

    def __init__(self, spec: FamilySpec) -> None:
        if spec.kind != "histogram":
            raise ValueError(f"{spec.name!r}: a {spec.kind} is a ScalarFamily")
        self.spec = spec
        self.cells: dict[Labels, HistogramCell] = {}
        self._les = tuple(utils.floatToGoString(b) for b in spec.buckets)  # type: ignore[no-untyped-call]

    def cell(self, labels: Labels) -> HistogramCell:
        found = self.cells.get(labels)
        if found is None:
            spec = self.spec
            found = self.cells[labels] = HistogramCell(labels, spec.buckets, (
                *(spec.prefix(labels, spec.name + "_bucket", (("le", le),)) for le in self._les),
                spec.prefix(labels, spec.name + "_count"), spec.prefix(labels, spec.name + "_sum")))
        return found

    def remove(self, labels: Labels) -> None:
        self.cells.pop(labels, None)

    def slices(self, lines_per_slice: int) -> Iterator[tuple[str, int]]:
        cells = list(self.cells.values())
        header = self.spec.header
        if not cells:
            yield header, 0
            return
        per_slice = max(1, lines_per_slice // (len(self._les) + 2))
        for start in range(0, len(cells), per_slice):
            prefixes: list[str] = []
            values: list[float] = []
            for cell in cells[start:start + per_slice]:
                prefixes.extend(cell.prefixes)
                values.extend(cell.values())
            text = sample_lines(prefixes, values)
            yield (header + text if start == 0 else text), len(values)

    def metric(self) -> metrics_core.Metric:
        spec = self.spec
        metric = metrics_core.Metric(spec.name, spec.documentation, spec.kind)
        for cell in list(self.cells.values()):
            labels = dict(zip(spec.labelnames, cell.labels, strict=True))
            values = cell.values()
            for le, count in zip(self._les, values, strict=False):
                metric.add_sample(spec.name + "_bucket", labels | {"le": le}, count)
            metric.add_sample(spec.name + "_count", labels, values[-2])
            metric.add_sample(spec.name + "_sum", labels, values[-1])
        return metric


Family: TypeAlias = ScalarFamily | HistogramFamily


def slices(families: Iterable[Family], lines_per_slice: int = LINES_PER_SLICE) -> Iterator[str]:
    """The exposition of `families`, in order, as text slices of at most ~`lines_per_slice` lines each
    (small families are merged into one slice, so a rendering yields about lines / `lines_per_slice`)."""
    pending: list[str] = []
    pending_lines = 0
    for family in families:
        for text, lines in family.slices(lines_per_slice):
            pending.append(text)
            pending_lines += lines
            if pending_lines >= lines_per_slice:
                yield "".join(pending)
                pending, pending_lines = [], 0
    if pending:
        yield "".join(pending)


class FamiliesCollector:
    """A prometheus_client collector over families: `registry.register(FamiliesCollector(...))` shows
    their series to `get_sample_value`, `generate_latest` and any other reader of the registry."""

    def __init__(self, families: Iterable[Family]) -> None:
        self._families = tuple(families)

    def describe(self) -> Iterator[metrics_core.Metric]:
        # Lets the registry refuse a second collector with the same names ("Duplicated timeseries").
        for family in self._families:
            yield metrics_core.Metric(family.spec.name, family.spec.documentation, family.spec.kind)

    def collect(self) -> Iterator[metrics_core.Metric]:
        for family in self._families:
            yield family.metric()

"""The fast `/metrics` text against prometheus_client's own: the same calls made on `OperatorMetrics` and on
the prometheus_client-instrument oracle (`reference_metrics.ReferenceMetrics`) give the same exposition,
byte for byte and as parsed families, for hostile label values and random call sequences; slices join
to the whole; `forget` leaves nothing of the object; the text pieces match prometheus_client's."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from typing import Any, TypeAlias

import prometheus_client
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import parser, utils
from prometheus_client.openmetrics import exposition as openmetrics

from scaler.operator import metric_series, metric_text, operator_metrics
from tests.operator_periphery.reference_metrics import ReferenceMetrics

Metrics: TypeAlias = operator_metrics.OperatorMetrics | ReferenceMetrics
Call: TypeAlias = Callable[[Metrics], None]


class ScalerType(str, enum.Enum):
    RABBITMQ = "rabbitmq"


class Reason(str, enum.Enum):
    SCALE_UP = "scale-up"


# Label values that need escaping or that a naive renderer would trip on.
HOSTILE = ["default", "", 'quo"te', "back\\slash", "new\nline", "\\n literal", 'end\\', "ünïcødé ☃",
           "a,b=c", "{x}", " spaced ", "\t\r", '"\\\n"']
VALUES = [0.0, 1.0, -1.0, 7, 0.004, 1e-9, 123456.789, 999999.9999, 1e6, 2.5e6, 1e22, -3e7,
          math.inf, -math.inf, math.nan]


def parsed(text: str) -> list[tuple[str, str, str, list[tuple[str, tuple[tuple[str, str], ...], str]]]]:
    """The families as the Prometheus text parser reads them, samples in a canonical order (values as
    text, so NaN equals NaN)."""
    out = []
    for family in parser.text_string_to_metric_families(text):
        samples = sorted((s.name, tuple(sorted(s.labels.items())), repr(s.value)) for s in family.samples)
        out.append((family.name, family.type, family.documentation, samples))
    return sorted(out)


def both(calls: list[Call]) -> tuple[operator_metrics.OperatorMetrics, ReferenceMetrics]:
    fast, reference = operator_metrics.OperatorMetrics(version="1.2.3"), ReferenceMetrics(version="1.2.3")
    for call in calls:
        call(fast)
        call(reference)
    return fast, reference


def assert_same_exposition(fast: operator_metrics.OperatorMetrics, reference: ReferenceMetrics) -> None:
    expected = prometheus_client.generate_latest(reference.registry)
    rendered = fast.render()
    assert parsed(rendered.decode()) == parsed(expected.decode())
    # Same family order, series order, label order and float spelling: the very same bytes.
    assert rendered == expected
    # And the registry (through the collector) shows the same to prometheus_client's own renderer.
    assert prometheus_client.generate_latest(fast.registry) == expected


# --- calls, drawn ---------------------------------------------------------------------------------------

names = st.sampled_from(HOSTILE)
values = st.sampled_from(VALUES) | st.floats(allow_nan=True, allow_infinity=True)
seconds = st.sampled_from([0.0, 0.0005, 0.001, 0.05, 0.07, 0.1, 2.0, 300.0, 1e9, math.inf]) | st.floats(0, 1e4)
scaler_types = st.sampled_from(["redis", "kafka", "my-plugin_queue", ScalerType.RABBITMQ, ""])
trigger_names = st.none() | st.sampled_from(["", "orders-backlog", 'na"me'])
reasons = st.sampled_from(["scale-up", "cooldown", Reason.SCALE_UP, 'r\\e"a\nson'])


def _trigger_args(draw: st.DrawFn) -> tuple[Any, ...]:
    return (draw(names), draw(names), draw(st.integers(0, 2)), draw(trigger_names), draw(scaler_types),
            draw(names))


@st.composite
def calls(draw: st.DrawFn) -> Call:
    kind = draw(st.sampled_from(["observed", "observed", "failed", "object_failed", "paused", "drift",
                                 "decided", "activation", "registered", "resource", "forget"]))
    if kind == "observed":
        args = _trigger_args(draw)
        value, active, latency = draw(values), draw(st.booleans()), draw(seconds)
        return lambda m: m.trigger_observed(*args, value, active, latency)
    if kind == "failed":
        args = _trigger_args(draw)
        return lambda m: m.trigger_failed(*args)
    ns, so = draw(names), draw(names)
    if kind == "object_failed":
        return lambda m: m.scaled_object_failed(ns, so)
    if kind == "paused":
        flag = draw(st.booleans())
        return lambda m: m.paused(ns, so, flag)
    if kind == "drift":
        drift = draw(seconds | st.floats(-1, 0))
        return lambda m: m.loop_drift(ns, so, drift)
    if kind == "decided":
        reason = draw(reasons)
        return lambda m: m.decided(ns, so, reason)
    if kind == "activation":
        latency = draw(seconds)
        return lambda m: m.activation_latency(ns, so, latency)
    if kind == "registered":
        types = draw(st.lists(scaler_types, max_size=3))
        return lambda m: m.registered(ns, so, types)
    if kind == "resource":
        resource, forgotten = draw(st.sampled_from(["trigger_authentication", "scaled_object"])), draw(st.booleans())
        if forgotten:
            return lambda m: m.resource_forgotten(resource, ns, so)
        return lambda m: m.resource_registered(resource, ns, so)
    return lambda m: m.forget(ns, so)


@settings(derandomize=True, max_examples=200, deadline=None, database=None)
@given(st.lists(calls(), max_size=40))
def test_any_call_sequence_renders_as_prometheus_client_renders_it(sequence: list[Call]) -> None:
    assert_same_exposition(*both(sequence))


@settings(derandomize=True, max_examples=100, deadline=None, database=None)
@given(st.lists(calls(), max_size=40), st.integers(1, 50))
def test_slices_of_any_size_join_to_the_whole(sequence: list[Call], lines_per_slice: int) -> None:
    fast, _ = both(sequence)
    pieces = list(fast.exposition_slices(lines_per_slice))
    assert "".join(pieces).encode() == fast.render()
    # Small families are merged until a slice reaches the mark: below it, plus one family slice (at most
    # the mark, or one whole histogram series when that is longer).
    longest_series = len(operator_metrics.DRIFT_BUCKETS) + 2
    for piece in pieces:
        samples = [line for line in piece.split("\n") if line and not line.startswith("#")]
        assert len(samples) <= lines_per_slice - 1 + max(lines_per_slice, longest_series)


# --- many objects, a realistic mix ----------------------------------------------------------------------


def fleet(count: int) -> list[Call]:
    out: list[Call] = []
    for i in range(count):
        ns, so = f"team-{i % 7}", f'orders-{i}{HOSTILE[i % len(HOSTILE)]}'
        metric = f"s0-redis-{so}"

        def tick(m: Metrics, ns: str = ns, so: str = so, metric: str = metric, i: int = i) -> None:
            m.registered(ns, so, ["redis"])
            m.paused(ns, so, False)
            m.trigger_observed(ns, so, 0, None, "redis", metric, float(i), i % 2 == 0, 0.002)
            m.loop_drift(ns, so, (i % 40) / 1000)
            m.decided(ns, so, "steady")
            if i % 10 == 0:
                m.decided(ns, so, "scale-up")
                m.decided(ns, so, "cooldown")
                m.activation_latency(ns, so, 0.3 * (i % 50))
                m.trigger_failed(ns, so, 0, None, "redis", metric)

        out.append(tick)
    return out


def test_a_fleet_with_hostile_names_renders_as_prometheus_client_renders_it() -> None:
    fast, reference = both(fleet(300))
    assert_same_exposition(fast, reference)
    samples = sum(len(f.samples) for f in parser.text_string_to_metric_families(fast.render().decode()))
    assert samples > 300 * 8


def test_forget_removes_every_series_of_each_object() -> None:
    sequence = fleet(60)
    fast, reference = both(sequence)
    names = [(f"team-{i % 7}", f'orders-{i}{HOSTILE[i % len(HOSTILE)]}') for i in range(60)]
    for ns, so in names[::2]:
        fast.forget(ns, so)
        reference.forget(ns, so)
    assert_same_exposition(fast, reference)
    for ns, so in names[1::2]:
        fast.forget(ns, so)
        reference.forget(ns, so)
    assert_same_exposition(fast, reference)
    left = {s.name for f in parser.text_string_to_metric_families(fast.render().decode()) for s in f.samples
            if "scaledObject" in s.labels or "resource" in s.labels}
    assert left == set()


# --- a rendering in slices while the scale loops write ----------------------------------------------------


def test_series_made_and_forgotten_between_slices_do_not_break_a_rendering() -> None:
    fast, _ = both(fleet(200))
    pieces = []
    for n, piece in enumerate(fast.exposition_slices(50)):
        pieces.append(piece)
        # What the scale loops may do while /metrics yields to them.
        fast.forget("team-0", "orders-0default")
        fast.trigger_observed("late", f"new-{n}", 0, None, "redis", "m", 1.0, True, 0.001)
        fast.decided("late", f"new-{n}", "scale-up")
        fast.activation_latency("late", f"new-{n}", 1.0)
    families = {f.name: f for f in parser.text_string_to_metric_families("".join(pieces))}
    assert "keda_scaler_metrics_value" in families
    assert "ebb_activation_latency_seconds" in families


# --- the text pieces -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [*VALUES, 5e-324, 1.7976931348623157e308, -0.0, 999999.0, 1000000.5,
                                   12345678.9, 0.1 + 0.2, True, 3])
def test_floats_are_written_as_prometheus_client_writes_them(value: float) -> None:
    assert metric_text.go_float(float(value)) == utils.floatToGoString(value)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("value", HOSTILE)
def test_label_values_are_escaped_as_prometheus_client_escapes_them(value: str) -> None:
    assert metric_text.escape_label_value(value) == openmetrics._escape(value, openmetrics.ALLOWUTF8, False)


@pytest.mark.parametrize(("spec", "error"), [
    (("x", "h", "summary"), "metric kind"),
    (("x_total", "h", "counter"), "without `_total`"),
    (("x", "h", "histogram"), "every histogram needs some"),
    (("x", "h", "gauge", (), (1.0, math.inf)), "buckets are for histograms"),
    (("x", "h", "histogram", (), (2.0, 1.0, math.inf)), "must be sorted and end with \\+Inf"),
    (("x", "h", "histogram", (), (1.0, 2.0)), "must be sorted and end with \\+Inf"),
], ids=["kind", "counter-total", "histogram-without-buckets", "gauge-with-buckets", "unsorted", "no-inf"])
def test_a_malformed_family_is_refused(spec: tuple[Any, ...], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        metric_text.FamilySpec(*spec)


@pytest.mark.parametrize(("family", "spec"), [
    (metric_series.ScalarFamily, operator_metrics.DRIFT),
    (metric_series.HistogramFamily, operator_metrics.PAUSED),
], ids=["histogram-as-scalar", "gauge-as-histogram"])
def test_a_family_of_the_wrong_kind_is_refused(family: Callable[[metric_text.FamilySpec], object],
                                               spec: metric_text.FamilySpec) -> None:
    with pytest.raises(ValueError, match="is a"):
        family(spec)

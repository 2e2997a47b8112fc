"""The adapter's answers as data: selectors read as KEDA reads them, readings rendered as the Go framework
writes an ExternalMetricValueList (canonical quantities, second-precision UTC timestamps), and the readings
store's single-flight re-reads."""

from __future__ import annotations

import asyncio

import pytest

from metrics_adapter import answers
from scaler.operator import readings

SELECTORS = [
    ("scaledobject.keda.sh/name=orders", "orders"),
    ("scaledobject.keda.sh/name==orders", "orders"),
    ("app=x, scaledobject.keda.sh/name = orders", "orders"),
]


@pytest.mark.parametrize(("raw", "name"), SELECTORS)
def test_the_selector_names_the_scaled_object(raw: str, name: str) -> None:
    assert answers.select_scaled_object(raw) == name


@pytest.mark.parametrize(("raw", "code", "message"), [
    (None, 500, "scaledObject name is not specified"),
    ("", 500, "scaledObject name is not specified"),
    ("app=x", 500, "scaledObject name is not specified"),
    ("scaledobject.keda.sh/name in (a,b)", 400, "labelSelector: unable to parse requirement"),
    ("scaledobject.keda.sh/name!=a", 400, "labelSelector: unable to parse requirement"),
])
def test_selectors_keda_cannot_use(raw: str | None, code: int, message: str) -> None:
    with pytest.raises(answers.Failure) as caught:
        answers.select_scaled_object(raw)
    assert caught.value.code == code and caught.value.message.startswith(message)


def reading(**values: float) -> readings.Reading:
    return readings.Reading(
        namespace="default", name="orders", taken_at=1_700_000_000.75, polling_interval=5.0,
        values=values, errors={"s1-Broken": "s1-Broken: connection refused"}, metrics=(*values, "s1-Broken"),
    )


@pytest.mark.parametrize(("value", "quantity"), [
    (0.0, "0"), (2.0, "2"), (1.5, "1500m"), (0.25, "250m"), (1000.0, "1k"), (1500.0, "1500"), (1e6, "1M"),
    (12.5, "12500m"), (0.0001, "0"),
])
def test_values_are_go_canonical_quantities(value: float, quantity: str) -> None:
    body = answers.metric_list(reading(**{"s0-Redis-Jobs": value}), "s0-redis-jobs")
    assert body == {
        "kind": "ExternalMetricValueList",
        "apiVersion": "external.metrics.k8s.io/v1beta1",
        "metadata": {},
        "items": [{"metricName": "s0-redis-jobs", "metricLabels": None, "timestamp": "2023-11-14T22:13:20Z",
                   "value": quantity}],
    }


def test_a_failing_metric_is_an_error_never_an_empty_list() -> None:
    with pytest.raises(answers.Failure) as caught:
        answers.metric_list(reading(**{"s0-redis-jobs": 1.0}), "s1-broken")
    assert caught.value.body() == answers.status(
        500, answers.Reason.UNKNOWN,
        "error getting metric s1-Broken of ScaledObject default/orders: s1-Broken: connection refused",
    )
    assert "reason" not in caught.value.body()  # Go's StatusReasonUnknown is omitted


async def test_a_stale_reading_is_read_once_however_many_ask() -> None:
    now = [1000.0]
    store = readings.Readings(lambda: now[0])
    store.put(reading(**{"s0-redis-jobs": 1.0}))
    release = asyncio.Event()
    calls = 0

    async def refresh() -> readings.Reading:
        nonlocal calls
        calls += 1
        await release.wait()
        return readings.Reading("default", "orders", now[0], 5.0, {"s0-redis-jobs": 2.0}, {}, ("s0-redis-jobs",))

    now[0] = 1_700_000_000.75 + 2 * 5.0 + 1.0  # within 2 × pollingInterval 5 s + 1 s: fresh, no read
    assert (await store.fresh("default", "orders", refresh)).values == {"s0-redis-jobs": 1.0}
    assert calls == 0
    now[0] += 0.01  # stale: 100 concurrent askers, one read
    waiting = [asyncio.create_task(store.fresh("default", "orders", refresh)) for _ in range(100)]
    await asyncio.sleep(0)
    release.set()
    got = await asyncio.gather(*waiting)
    assert calls == 1 and store.refreshes == 1
    assert {r.values["s0-redis-jobs"] for r in got if r is not None} == {2.0}
    assert store.get("default", "orders") is got[0]


def test_readings_round_trip_through_json_and_bad_fields_are_named() -> None:
    original = reading(**{"s0-redis-jobs": 3.0})
    assert readings.Reading.from_json(original.to_json()) == original
    broken = original.to_json() | {"values": {"s0-redis-jobs": "3"}}
    with pytest.raises(ValueError, match=r"reading: values\['s0-redis-jobs'\] must be a number, got str"):
        readings.Reading.from_json(broken)

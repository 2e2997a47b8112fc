"""The operator's HTTP server, started on a free loopback port and asked over real HTTP: `/metrics`,
`/healthz`, `/readyz` and the decision log as JSON."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import prometheus_client
import prometheus_client.parser
import pytest

from scaler.operator import decision_log, http_server, metric_series, operator_metrics

SECRET = "hunter2-do-not-leak"


@dataclass
class Served:
    metrics: operator_metrics.OperatorMetrics
    decisions: decision_log.DecisionLog
    health: http_server.HealthState
    http: aiohttp.ClientSession
    port: int


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    metrics, decisions, health = operator_metrics.OperatorMetrics(), decision_log.DecisionLog(), http_server.HealthState()
    runner = await http_server.serve(http_server.make_app(metrics=metrics, decisions=decisions, health=health),
                                     "127.0.0.1", 0)
    port = http_server.bound_port(runner)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            yield Served(metrics, decisions, health, http, port)
    finally:
        await http_server.stop(runner)


async def get_json(served: Served, path: str, status: int = 200) -> Any:
    async with served.http.get(path) as response:
        assert response.status == status, await response.text()
        assert response.content_type == "application/json"
        return await response.json()


def decision(n: int, **extra: Any) -> dict[str, Any]:
    return {"time": f"2026-01-01T00:00:{n:02d}Z", "action": "scale", "reason": "scale-up", "replicas": n,
            "explanation": f"queue depth {n * 10} over target 10"} | extra


# --- metrics ------------------------------------------------------------------------------------------------


async def test_metrics_are_served_in_the_prometheus_text_format(served: Served) -> None:
    served.metrics.trigger_observed("default", "orders", 0, None, "redis", "s0-redis-orders", 17, True, 0.002)
    served.metrics.decided("default", "orders", "scale-up")
    async with served.http.get("/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = await response.text()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in prometheus_client.parser.text_string_to_metric_families(text) for s in family.samples}
    labels = (("metric", "s0-redis-orders"), ("namespace", "default"), ("scaledObject", "orders"),
              ("scaler", "redisScaler"), ("triggerIndex", "0"), ("type", "scaledobject"))
    assert samples[("keda_scaler_metrics_value", labels)] == 17
    assert samples[("ebb_scale_decisions_total", (("namespace", "default"), ("reason", "scale-up"),
                                                  ("scaledObject", "orders")))] == 1


async def test_a_large_exposition_is_served_whole_in_its_slices(served: Served) -> None:
    for i in range(1500):
        served.metrics.trigger_observed("default", f"orders-{i}", 0, None, "redis", f"m-{i}", i, True, 0.002)
        served.metrics.loop_drift("default", f"orders-{i}", 0.003)
    expected = served.metrics.render()
    assert len(list(served.metrics.exposition_slices())) > 1
    async with served.http.get("/metrics") as response:
        assert response.status == 200
        assert response.content_length == len(expected)
        assert await response.read() == expected
    async with served.http.head("/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert response.content_length == len(expected)
        assert await response.read() == b""


async def test_metrics_follow_the_registry_between_scrapes(served: Served) -> None:
    served.metrics.paused("default", "orders", True)
    async with served.http.get("/metrics") as response:
        assert 'keda_scaled_object_paused{namespace="default",scaledObject="orders"} 1.0' in await response.text()
    served.metrics.forget("default", "orders")
    async with served.http.get("/metrics") as response:
        assert 'scaledObject="orders"' not in await response.text()


# --- health -------------------------------------------------------------------------------------------------


async def test_healthz_answers_while_the_process_runs(served: Served) -> None:
    served.health.stopping = True  # liveness does not depend on readiness
    async with served.http.get("/healthz") as response:
        assert response.status == 200
        assert await response.text() == "ok\n"


@pytest.mark.parametrize(("state", "ready", "reason"), [
    pytest.param({}, False, "starting", id="starting"),
    pytest.param({"leading": True}, False, "waiting for the initial sync", id="leading-not-synced"),
    pytest.param({"leading": True, "synced": True}, True, "leading", id="leading-and-synced"),
    pytest.param({"standby": True}, True, "standby", id="standby"),
    pytest.param({"leading": True, "synced": True, "stopping": True}, False, "shutting down", id="stopping"),
])
async def test_readyz_follows_the_health_state(served: Served, state: dict[str, bool], ready: bool, reason: str) -> None:
    for key, value in state.items():
        setattr(served.health, key, value)
    body = await get_json(served, "/readyz", status=200 if ready else 503)
    assert body["ready"] is ready
    assert reason in body["reason"]


# --- the decision log ---------------------------------------------------------------------------------------


async def test_decisions_of_one_object_oldest_first(served: Served) -> None:
    for n in range(3):
        served.decisions.record("default", "orders", decision(n))
    served.decisions.record("default", "payments", decision(9))
    body = await get_json(served, "/api/v1/scaledobjects/default/orders/decisions")
    assert body == {"scaledObject": "default/orders", "decisions": [decision(0), decision(1), decision(2)]}


async def test_a_limit_returns_the_newest_decisions(served: Served) -> None:
    for n in range(5):
        served.decisions.record("default", "orders", decision(n))
    body = await get_json(served, "/api/v1/scaledobjects/default/orders/decisions?limit=2")
    assert [d["replicas"] for d in body["decisions"]] == [3, 4]


@pytest.mark.parametrize("limit", [pytest.param("-1", id="negative"), pytest.param("ten", id="not-a-number")])
async def test_a_bad_limit_is_a_400_naming_the_parameter(served: Served, limit: str) -> None:
    served.decisions.record("default", "orders", decision(1))
    body = await get_json(served, f"/api/v1/scaledobjects/default/orders/decisions?limit={limit}", status=400)
    assert "limit" in body["error"] and limit in body["error"]


async def test_an_unknown_object_is_a_json_404(served: Served) -> None:
    served.decisions.record("default", "orders", decision(1))
    body = await get_json(served, "/api/v1/scaledobjects/default/nope/decisions", status=404)
    assert body["scaledObject"] == "default/nope"
    assert "default/nope" in body["error"]


async def test_a_forgotten_object_is_gone(served: Served) -> None:
    served.decisions.record("default", "orders", decision(1))
    served.decisions.forget("default", "orders")
    await get_json(served, "/api/v1/scaledobjects/default/orders/decisions", status=404)


async def test_the_list_shows_each_object_with_its_last_decision(served: Served) -> None:
    served.decisions.record("default", "orders", decision(1))
    served.decisions.record("default", "orders", decision(2))
    served.decisions.record("team-b", "queue", decision(5))
    body = await get_json(served, "/api/v1/scaledobjects")
    assert body == {"scaledObjects": [
        {"namespace": "default", "name": "orders", "decisions": 2, "lastDecision": decision(2),
         "href": "/api/v1/scaledobjects/default/orders/decisions"},
        {"namespace": "team-b", "name": "queue", "decisions": 1, "lastDecision": decision(5),
         "href": "/api/v1/scaledobjects/team-b/queue/decisions"},
    ]}
    only = await get_json(served, "/api/v1/scaledobjects?namespace=team-b")
    assert [o["name"] for o in only["scaledObjects"]] == ["queue"]
    assert await get_json(served, "/api/v1/scaledobjects?namespace=empty") == {"scaledObjects": []}


async def test_no_credential_reaches_any_endpoint(served: Served) -> None:
    url = f"redis://app:{SECRET}@redis.default.svc:6379/0"
    served.decisions.record("default", "orders", decision(
        1, reason="failing", explanation=f"reading {url} failed: connection refused",
        inputs=[{"trigger": 0, "error": f"dial {url}", "auth": {"password": SECRET}}]))
    served.metrics.trigger_failed("default", "orders", 0, None, "redis", "s0-redis-orders")
    for path in ("/api/v1/scaledobjects", "/api/v1/scaledobjects/default/orders/decisions", "/metrics", "/readyz"):
        async with served.http.get(path) as response:
            assert SECRET not in await response.text(), path
    body = await get_json(served, "/api/v1/scaledobjects/default/orders/decisions")
    assert body["decisions"][0]["explanation"] == "reading redis://***:***@redis.default.svc:6379/0 failed: connection refused"


async def test_an_unknown_path_is_a_404(served: Served) -> None:
    async with served.http.get("/api/v1/nothing") as response:
        assert response.status == 404


async def test_stop_frees_the_port() -> None:
    app = http_server.make_app(metrics=operator_metrics.OperatorMetrics(), decisions=decision_log.DecisionLog(),
                               health=http_server.HealthState())
    runner = await http_server.serve(app, "127.0.0.1", 0)
    port = http_server.bound_port(runner)
    await http_server.stop(runner)
    again = await http_server.serve(http_server.make_app(metrics=operator_metrics.OperatorMetrics(),
                                                         decisions=decision_log.DecisionLog(),
                                                         health=http_server.HealthState()), "127.0.0.1", port)
    try:
        assert http_server.bound_port(again) == port
    finally:
        await http_server.stop(again)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"http://127.0.0.1:{port}/healthz")


# --- /metrics rendered at most once per scrape window --------------------------------------------------------


def _counted(output: bytes) -> float:
    for family in prometheus_client.parser.text_string_to_metric_families(output.decode()):
        for sample in family.samples:
            if sample.name == "ebb_test_ticks_total":
                return sample.value
    raise AssertionError(f"ebb_test_ticks_total: expected in the exposition, got {output.decode()!r}")


@pytest.mark.parametrize(("max_age", "scrapes_at", "renderings", "last_seen"), [
    # No cache: each scrape renders and sees every increment made before it.
    (0.0, [0.0, 0.5, 1.0], 3, 3.0),
    # Within the window: one rendering, later scrapes get its bytes (the first increment only).
    (2.0, [0.0, 0.5, 1.9], 1, 1.0),
    # The window elapsed at 2.0: rendered again, fresh from then on.
    (2.0, [0.0, 1.0, 2.0, 2.5], 2, 3.0),
], ids=["no-cache", "within-window", "window-elapsed"])
async def test_metrics_are_rendered_at_most_once_per_window(max_age: float, scrapes_at: list[float],
                                                           renderings: int, last_seen: float) -> None:
    registry = prometheus_client.CollectorRegistry()
    ticks = prometheus_client.Counter("ebb_test_ticks", "ticks", registry=registry)
    now = [0.0]
    exposition = http_server.CachedExposition(registry, max_age=max_age, clock=lambda: now[0])
    seen = 0.0
    for at in scrapes_at:
        now[0] = at
        ticks.inc()
        seen = _counted(await exposition.get())
    assert exposition.renderings == renderings
    assert seen == last_seen


@pytest.mark.parametrize("max_age", [0.0, 5.0], ids=["no-cache", "cached"])
async def test_concurrent_scrapes_share_one_rendering(max_age: float) -> None:
    registry = prometheus_client.CollectorRegistry()
    prometheus_client.Counter("ebb_test_ticks", "ticks", registry=registry).inc(7)
    exposition = http_server.CachedExposition(registry, max_age=max_age)
    outputs = await asyncio.gather(*(exposition.get() for _ in range(5)))
    assert exposition.renderings == 1
    assert {_counted(output) for output in outputs} == {7.0}


@pytest.mark.parametrize("max_age", [0.0, 5.0], ids=["no-cache", "cached"])
async def test_a_sliced_rendering_yields_to_the_loop_and_is_shared(max_age: float, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_server, "RENDER_SLICE_SECONDS", 0.0)  # a yield after every slice
    metrics = operator_metrics.OperatorMetrics()
    for i in range(2 * metric_series.LINES_PER_SLICE):
        metrics.paused("default", f"orders-{i}", False)
    exposition = http_server.CachedExposition(metrics, max_age=max_age)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    outputs = await asyncio.gather(*(exposition.get() for _ in range(3)))
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert exposition.renderings == 1
    assert set(outputs) == {metrics.render()}
    # The other task ran between the slices, not just before and after the rendering.
    slices = len(list(metrics.exposition_slices()))
    assert slices > 1
    assert ticks >= slices


@pytest.mark.parametrize("max_age", [-1.0, -0.001])
def test_a_negative_metrics_window_is_refused(max_age: float) -> None:
    with pytest.raises(ValueError, match="metrics cache max_age: expected seconds >= 0"):
        http_server.CachedExposition(prometheus_client.CollectorRegistry(), max_age=max_age)


@pytest.mark.parametrize(("turn_seconds", "yields"), [
    # Each slice takes 1 ms: a yield after every 2 ms of rendering, 40 slices → 20 yields.
    pytest.param(0.0, 20, id="a-calm-loop"),
    # A turn of the loop takes 400 ms (a takeover's first ticks): 5 % of that, 20 ms, between yields.
    pytest.param(0.4, 2, id="behind-a-burst-of-ticks"),
])
async def test_a_rendering_behind_a_burst_of_ready_tasks_yields_less_often(turn_seconds: float, yields: int) -> None:
    """Each yield waits for every task already ready; behind a burst the rendering runs for
    `RENDER_SHARE` of that wait between yields, so a scrape answers in a few turns, not dozens."""
    now = [0.0]

    class Slices:
        def exposition_slices(self) -> Iterator[str]:
            for n in range(40):
                now[0] += 0.001  # the slice's rendering
                yield f"line {n}\n"

    async def others() -> None:
        while True:
            now[0] += turn_seconds  # everything else that was ready
            await asyncio.sleep(0)

    task = asyncio.create_task(others())
    exposition = http_server.CachedExposition(Slices(), timer=lambda: now[0])
    try:
        assert await exposition.get() == "".join(f"line {n}\n" for n in range(40)).encode()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert exposition.yields == yields

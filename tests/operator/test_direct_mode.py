"""Direct mode end to end (`ebb.dev/scaling-mode: direct`): no HPA; the operator computes 1↔N with the
HPA algorithm (`scaler.core.hpa`) on the Redis list's length, and remembers the HPA's memory (recommendations,
scale events) in `status.ebb.hpa`, so a restarted operator does not forget a rate limit."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from scaler.core import hpa, specs
from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures

DIRECT = {specs.SCALING_MODE: "direct"}


async def _replicas_are(api: cluster.Api, name: str, expected: int) -> bool:
    return await api.replicas(name) == expected


async def test_scales_to_the_hpa_count_within_the_legacy_limit_and_back_to_zero(
    api: cluster.Api, redis: aioredis.Redis, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    so = cluster.scaled_object(
        "orders",
        target="worker",
        redis_address=f"{redis_server.host}:{redis_server.port}",
        list_name=list_name,
        annotations=DIRECT,
    )
    await api.create(cluster.SO_BASE.format(ns="default"), so)
    running = await start_operator()
    await cluster.until(lambda: _ready(api, "orders"), what="Ready=True")

    await redis.rpush(list_name, *[f"job-{i}" for i in range(23)])
    # What the Kubernetes HPA would do with 23 items at listLength 5 and no behavior: 0 → 1 is the
    # operator's activation, then ceil(23 / 5) = 5, reached through the legacy scale-up limit.
    desired = hpa.external_replicas([23.0], "AverageValue", 5.0, spec_replicas=1, status_replicas=1, ready_pods=1)
    first, reason = hpa.legacy_limit(1, desired, min_replicas=1, max_replicas=10)
    second, _ = hpa.legacy_limit(first, desired, min_replicas=1, max_replicas=10)
    assert (desired, first, reason, second) == (5, 4, "ScaleUpLimit", 5)
    await cluster.until(lambda: _replicas_are(api, "worker", second), what=f"worker at {second} replicas")

    async def scaled_messages() -> list[str]:
        return [e["message"] for e in await api.events("orders") if e["reason"] in ("KEDAScaleTargetActivated", "EbbScaled")]

    messages = await cluster.until(lambda: _at_least(scaled_messages(), 3), what="three scaling Events")
    assert messages == [
        f"Scaled apps/v1.Deployment default/worker from 0 to 1, triggered by s0-redis-{list_name}",
        f"Scaled Deployment default/worker from 1 to {first} (direct mode)",
        f"Scaled Deployment default/worker from {first} to {second} (direct mode)",
    ]
    code, _ = await api.hpa("keda-hpa-orders")
    assert code == 404  # direct mode builds no HPA

    async def persisted() -> Any:
        status = (await api.scaled_object("orders")).get("status") or {}
        return (status.get("ebb") or {}).get("hpa")

    memory = await cluster.until(persisted, what="status.ebb.hpa")
    assert [r for _, r in memory["recommendations"]][-1] == second

    # The decision log says what direct mode's own HPA calculation did, not that the HPA will do it.
    computed = [e for e in running.operator.decisions.entries("default", "orders") if "hpa" in e]
    assert computed
    for entry in computed:
        assert "1↔N in direct mode: " in entry["explanation"], entry["explanation"]
        assert entry["hpa"]["explanation"] in entry["explanation"]
        assert "left to the HPA" not in entry["explanation"]

    await redis.delete(list_name)
    await cluster.until(lambda: _replicas_are(api, "worker", 0), what="worker back at 0", within=20)
    deactivated = await api.events_with("orders", "KEDAScaleTargetDeactivated")
    assert deactivated[0]["message"] == f"Deactivated apps/v1.Deployment default/worker from {second} to 0"


async def test_a_restarted_operator_keeps_the_scale_up_rate_limit(
    api: cluster.Api, redis: aioredis.Redis, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any
) -> None:
    behavior = {"scaleUp": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 2, "periodSeconds": 600}]}}
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    so = cluster.scaled_object(
        "orders",
        target="worker",
        redis_address=f"{redis_server.host}:{redis_server.port}",
        list_name=list_name,
        annotations=DIRECT,
        advanced={"horizontalPodAutoscalerConfig": {"behavior": behavior}},
    )
    await api.create(cluster.SO_BASE.format(ns="default"), so)
    await redis.rpush(list_name, *[f"job-{i}" for i in range(40)])
    first = await start_operator()
    # 0 → 1 (activation), then at most 2 pods per 600 s: 1 → 3, and there it must stay.
    await cluster.until(lambda: _replicas_are(api, "worker", 3), what="worker at 3 replicas")

    async def event_persisted() -> bool:
        status = (await api.scaled_object("orders")).get("status") or {}
        events = ((status.get("ebb") or {}).get("hpa") or {}).get("scaleUpEvents") or []
        return [change for _, change, _ in events] == [2]

    await cluster.until(event_persisted, what="the scale-up event in status.ebb.hpa")
    shutdown = await first.stop()
    assert shutdown < 10.0

    second = await start_operator()
    loop = second.operator.loops
    assert loop is not None

    async def polled_twice() -> bool:
        running = loop.get(("default", "orders"))
        return running is not None and running.ticks >= 3

    await cluster.until(polled_twice, what="three polls by the restarted operator")
    assert await api.replicas("worker") == 3  # a forgetful operator would have gone to 5 at once
    last = loop.get(("default", "orders"))
    assert last is not None and last.last is not None and last.last.hpa_result is not None
    assert last.last.hpa_result.reason is hpa.Reason.SCALE_UP_LIMIT


async def _at_least(found: Any, count: int) -> Any:
    items = await found
    return items if len(items) >= count else None


async def _ready(api: cluster.Api, name: str) -> bool:
    return (await api.condition(name, "Ready")).get("status") == "True"

"""A broker stopped mid-run: after failureThreshold consecutive failures the fallback replicas are used
(direct mode computes them with the HPA maths from KEDA's synthetic metric), the health and Fallback
condition say so; when the broker is back the fallback ends and the ScaledObject scales on its data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from scaler.core import specs
from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures


async def test_fallback_replicas_while_the_broker_is_down_and_recovery_after(
    api: cluster.Api,
    redis_server_factory: Callable[[], redis_fixtures.RedisServer],
    list_name: str,
    start_operator: Any,
) -> None:
    broker = redis_server_factory()
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    so = cluster.scaled_object(
        "orders", target="worker", redis_address=f"{broker.host}:{broker.port}", list_name=list_name,
        annotations={specs.SCALING_MODE: "direct"}, fallback={"failureThreshold": 2, "replicas": 3},
    )
    await api.create(cluster.SO_BASE.format(ns="default"), so)
    client = aioredis.Redis(host=broker.host, port=broker.port)
    try:
        await client.rpush(list_name, "a", "b")
    finally:
        await client.aclose()
    await start_operator()
    await cluster.until(lambda: _replicas_are(api, 1), what="worker at 1 (2 items, listLength 5)")

    broker.stop()
    # Failures 1 and 2 hold; the 3rd exceeds failureThreshold 2: the HPA maths on target 5 × 3 replicas.
    await cluster.until(lambda: _replicas_are(api, 3), what="worker at the fallback 3 replicas")
    fallback = await cluster.until(lambda: _condition_if(api, "Fallback", "True"), what="Fallback=True")
    assert fallback["reason"] == "FallbackExists"
    health = (await api.scaled_object("orders"))["status"]["health"][f"s0-redis-{list_name}"]
    assert health["status"] == "Failing" and health["numberOfFailures"] > 2
    await api.events_with("orders", "ScaledObjectFallbackActivated")
    assert (await api.events_with("orders", "KEDAScalerFailed"))[0]["type"] == "Warning"

    broker.start()  # back, empty: nothing to do, so after the cooldown it goes to 0
    await cluster.until(lambda: _condition_if(api, "Fallback", "False"), what="Fallback=False")
    await api.events_with("orders", "ScaledObjectFallbackDeactivated")
    await cluster.until(lambda: _replicas_are(api, 0), what="worker at 0 after the cooldown", within=20)
    health = (await api.scaled_object("orders"))["status"]["health"][f"s0-redis-{list_name}"]
    assert health == {"numberOfFailures": 0, "status": "Happy"}


async def _replicas_are(api: cluster.Api, expected: int) -> bool:
    return await api.replicas("worker") == expected


async def _condition_if(api: cluster.Api, kind: str, status: str) -> dict[str, Any] | None:
    condition = await api.condition("orders", kind)
    return condition if condition.get("status") == status else None

"""Every pause annotation against the running operator: paused, paused-replicas, paused-scale-in,
paused-scale-out and force-activation, each set and then removed. cooldownPeriod is 1 s here so that
"it did not scale in" is shown by holding past the cooldown, not by a long wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from scaler.core import decisions, specs
from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures

SO_PATH = f"{cluster.SO_BASE.format(ns='default')}/orders"
HOLD = 3.0  # seconds a "nothing happens" claim is checked for: three times the cooldown


async def _holds(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert await check(), f"{what} stopped holding"
        await asyncio.sleep(0.1)


async def _annotate(api: cluster.Api, key: str, value: str | None) -> None:
    await api.patch(SO_PATH, {"metadata": {"annotations": {key: value}}})


def _replicas_are(api: cluster.Api, expected: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await api.replicas("worker") == expected

    return check


def _condition_is(api: cluster.Api, kind: str, status: str, reason: str | None = None) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        condition = await api.condition("orders", kind)
        return condition.get("status") == status and (reason is None or condition.get("reason") == reason)

    return check


async def _setup(
    api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any, *, replicas: int = 0
) -> Any:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker", replicas=replicas))
    so = cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        cooldown_period=1,
    )
    await api.create(cluster.SO_BASE.format(ns="default"), so)
    running = await start_operator()
    await cluster.until(_condition_is(api, "Ready", "True"), what="Ready=True")
    return running


async def test_paused_stops_the_loop_deletes_the_hpa_and_holds_replicas(
    api: cluster.Api, redis: aioredis.Redis, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any
) -> None:
    await _setup(api, redis_server, list_name, start_operator)
    await redis.rpush(list_name, "job")
    await cluster.until(_replicas_are(api, 1), what="worker at 1")

    await _annotate(api, specs.PAUSED, "true")
    await cluster.until(_condition_is(api, "Paused", "True", "ScaledObjectPaused"), what="Paused=True")
    await cluster.until(lambda: _hpa_gone(api), what="the HPA deleted")
    await api.events_with("orders", "ScaledObjectPaused")
    await redis.delete(list_name)
    await _holds(_replicas_are(api, 1), HOLD, "1 replica while paused")

    await _annotate(api, specs.PAUSED, "false")
    await cluster.until(_condition_is(api, "Paused", "False", "ScaledObjectUnpaused"), what="Paused=False")
    await cluster.until(_replicas_are(api, 0), what="worker back at 0 once unpaused")
    await api.events_with("orders", "ScaledObjectUnpaused")
    code, _ = await api.hpa("keda-hpa-orders")
    assert code == 200


async def test_paused_replicas_scales_to_the_count_and_releases_it(
    api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any
) -> None:
    await _setup(api, redis_server, list_name, start_operator)
    await _annotate(api, specs.PAUSED_REPLICAS, "3")
    await cluster.until(_replicas_are(api, 3), what="worker at the paused 3 replicas")
    await cluster.until(_condition_is(api, "Paused", "True"), what="Paused=True")
    assert (await api.scaled_object("orders"))["status"]["pausedReplicaCount"] == 3
    await cluster.until(lambda: _hpa_gone(api), what="the HPA deleted")
    await _holds(_replicas_are(api, 3), HOLD, "3 replicas while paused (the list is empty)")

    await _annotate(api, specs.PAUSED_REPLICAS, None)
    await cluster.until(_replicas_are(api, 0), what="worker back at 0 (nothing to do) once released")
    status = (await api.scaled_object("orders"))["status"]
    assert "pausedReplicaCount" not in status
    assert (await api.condition("orders", "Paused"))["status"] == "False"


async def test_paused_scale_in_blocks_going_to_zero(
    api: cluster.Api,
    redis: aioredis.Redis,
    redis_server: redis_fixtures.RedisServer,
    list_name: str,
    start_operator: Any,
) -> None:
    running = await _setup(api, redis_server, list_name, start_operator)
    await redis.rpush(list_name, "job")
    await cluster.until(_replicas_are(api, 1), what="worker at 1")
    await _annotate(api, specs.PAUSED_SCALE_IN, "true")
    await cluster.until(_condition_is(api, "Paused", "True", "ScaledObjectPaused"), what="Paused=True")
    await cluster.until(lambda: _hpa_select_policy(api, "scaleDown", "Disabled"), what="HPA scaleDown Disabled")
    await redis.delete(list_name)
    await _holds(_replicas_are(api, 1), HOLD, "1 replica while scale-in is paused")
    reasons = {e["reason"] for e in running.operator.decisions.entries("default", "orders")}
    assert decisions.Reason.PAUSED_SCALE_IN.value in reasons

    await _annotate(api, specs.PAUSED_SCALE_IN, None)
    await cluster.until(_replicas_are(api, 0), what="worker back at 0 once scale-in is allowed")
    await cluster.until(_condition_is(api, "Paused", "False"), what="Paused=False")


async def test_paused_scale_out_blocks_waking_up(
    api: cluster.Api, redis: aioredis.Redis, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any
) -> None:
    running = await _setup(api, redis_server, list_name, start_operator)
    await _annotate(api, specs.PAUSED_SCALE_OUT, "true")
    await cluster.until(_condition_is(api, "Paused", "True"), what="Paused=True")
    await cluster.until(lambda: _hpa_select_policy(api, "scaleUp", "Disabled"), what="HPA scaleUp Disabled")
    await redis.rpush(list_name, "job")
    await _holds(_replicas_are(api, 0), HOLD, "0 replicas while scale-out is paused")
    reasons = {e["reason"] for e in running.operator.decisions.entries("default", "orders")}
    assert decisions.Reason.PAUSED_SCALE_OUT.value in reasons

    await _annotate(api, specs.PAUSED_SCALE_OUT, None)
    await cluster.until(_replicas_are(api, 1), what="worker at 1 once scale-out is allowed")


async def test_force_activation_wakes_without_work(
    api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any
) -> None:
    await _setup(api, redis_server, list_name, start_operator)
    await _annotate(api, specs.FORCE_ACTIVATION, "true")
    await cluster.until(_replicas_are(api, 1), what="worker at 1 with an empty list")
    async def forced() -> dict[str, Any] | None:
        active = await api.condition("orders", "Active")
        return active if active.get("status") == "True" else None

    active = await cluster.until(forced, what="Active=True")
    assert active["message"] == "Scaling is performed because activation is being forced by annotation"
    messages = [e["message"] for e in await api.events_with("orders", "KEDAScaleTargetActivated")]
    assert messages == ["Scaled apps/v1.Deployment default/worker from 0 to 1, caused by forced activation annotation"]

    await _annotate(api, specs.FORCE_ACTIVATION, None)
    await cluster.until(_replicas_are(api, 0), what="worker back at 0 after the cooldown")


async def _hpa_gone(api: cluster.Api) -> bool:
    code, _ = await api.hpa("keda-hpa-orders")
    return code == 404


async def _hpa_select_policy(api: cluster.Api, direction: str, policy: str) -> bool:
    code, body = await api.hpa("keda-hpa-orders")
    return code == 200 and ((body["spec"].get("behavior") or {}).get(direction) or {}).get("selectPolicy") == policy

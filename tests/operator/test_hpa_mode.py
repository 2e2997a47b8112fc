"""HPA mode end to end: the sandbox, the operator in-process, a real Redis list. The operator wakes a
Deployment from 0 to 1, builds the HPA exactly as KEDA does, and returns the Deployment to 0 after the
cooldown, saying why in Events and conditions."""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as aioredis

from scaler.core import hpa_manifests, specs
from scaler.operator import reconciling
from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures


async def test_wakes_from_zero_builds_the_hpa_and_returns_to_zero_after_cooldown(
    api: cluster.Api, redis: aioredis.Redis, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    so = cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name
    )
    await api.create(cluster.SO_BASE.format(ns="default"), so)
    await start_operator()

    async def ready() -> bool:
        return (await api.condition("orders", "Ready")).get("status") == "True"

    await cluster.until(ready, what="Ready=True")
    body = await api.scaled_object("orders")
    assert body["metadata"]["labels"][specs.SCALED_OBJECT_NAME_LABEL] == "orders"
    assert "finalizer.keda.sh" in body["metadata"]["finalizers"]
    status = body["status"]
    assert status["externalMetricNames"] == [f"s0-redis-{list_name}"]
    assert status["scaleTargetKind"] == "apps/v1.Deployment"
    assert status["originalReplicaCount"] == 0
    assert status["hpaName"] == "keda-hpa-orders"
    assert status["triggersTypes"] == "redis"

    # The HPA is exactly what KEDA builds for this ScaledObject.
    code, hpa_body = await api.hpa("keda-hpa-orders")
    assert code == 200
    spec = specs.parse_scaled_object(body)
    wanted = hpa_manifests.build_hpa(
        spec, [(f"s0-redis-{list_name}", "AverageValue", 5.0)], uid=body["metadata"]["uid"], version=reconciling.EBB_VERSION
    )
    for key in ("labels", "annotations", "ownerReferences"):
        assert hpa_body["metadata"].get(key) == wanted["metadata"].get(key), key
    assert hpa_body["spec"] == wanted["spec"]
    assert await api.replicas("worker") == 0

    # Work arrives: 0 → 1.
    await redis.rpush(list_name, *[f"job-{i}" for i in range(3)])
    await cluster.until(lambda: _equals(api.replicas("worker"), 1), what="worker at 1 replica")
    async def active() -> bool:
        return (await api.condition("orders", "Active")).get("status") == "True"

    await cluster.until(active, what="Active=True")
    assert (await api.condition("orders", "Active")) == {
        "type": "Active",
        "status": "True",
        "reason": "ScalerActive",
        "message": "Scaling is performed because triggers are active",
    }
    activated = await api.events_with("orders", "KEDAScaleTargetActivated")
    assert len(activated) == 1
    assert activated[0]["message"] == (
        f"Scaled apps/v1.Deployment default/worker from 0 to 1, triggered by s0-redis-{list_name}"
    )
    assert (await api.scaled_object("orders"))["status"]["lastActiveTime"]

    # Drained: inactive, cooling down for 5 s, then 1 → 0.
    await redis.delete(list_name)
    drained = time.monotonic()

    async def cooling() -> bool:
        return (await api.condition("orders", "Active")).get("reason") == "ScalerCooldown"

    await cluster.until(cooling, what="Active=False ScalerCooldown")
    await cluster.until(lambda: _equals(api.replicas("worker"), 0), what="worker back at 0", within=20)
    assert time.monotonic() - drained >= 4.0  # cooldownPeriod 5 s, counted from the last active poll
    deactivated = await api.events_with("orders", "KEDAScaleTargetDeactivated")
    assert [e["message"] for e in deactivated] == ["Deactivated apps/v1.Deployment default/worker from 1 to 0"]

    # The status write follows the scale write and its Event within the same tick.
    async def not_active() -> dict[str, Any]:
        found = await api.condition("orders", "Active")
        return found if found.get("reason") != "ScalerCooldown" else {}

    active = await cluster.until(not_active, what="Active past ScalerCooldown", within=5)
    assert active["status"] == "False" and active["reason"] == "ScalerNotActive"


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_hpa_active_follows_the_hpas_scaling_active_condition(
    api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name
    ))
    await start_operator()
    await cluster.until(lambda: _equals(_hpa_code(api), 200), what="the HPA")
    assert await api.condition("orders", "HPAActive") == {}  # the HPA has not reported yet

    hpa_status = f"{cluster.HPA_BASE.format(ns='default')}/keda-hpa-orders/status"
    for scaling_active, expected in (
        ({"status": "False", "reason": "ScalingDisabled",
          "message": "scaling is disabled since the replica count of the target is zero"},
         {"status": "True", "reason": "ScalingDisabled",
          "message": "scaling is disabled since the replica count of the target is zero"}),
        ({"status": "False", "reason": "FailedGetExternalMetric",
          "message": "unable to get external metric default/s0-redis/selector"},
         {"status": "False", "reason": "FailedGetExternalMetric",
          "message": "unable to get external metric default/s0-redis/selector"}),
    ):
        # What the HPA controller writes (the sandbox runs none).
        await api.patch(hpa_status, {"status": {
            "currentReplicas": 0, "desiredReplicas": 0,
            "conditions": [{"type": "ScalingActive", "lastTransitionTime": "2026-01-01T00:00:00Z", **scaling_active}],
        }})

        async def mirrored(wanted: dict[str, str] = expected) -> bool:
            found = await api.condition("orders", "HPAActive")
            return {k: found.get(k) for k in ("status", "reason", "message")} == wanted

        await cluster.until(mirrored, what=f"HPAActive {expected}", within=10)


async def _hpa_code(api: cluster.Api) -> int:
    code, _ = await api.hpa("keda-hpa-orders")
    return code

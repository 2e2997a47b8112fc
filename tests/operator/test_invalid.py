"""An invalid ScaledObject next to a valid one: the invalid one gets Ready=False naming the field, and a
Warning Event; the valid one keeps scaling."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures


def _bad_parameter(body: dict[str, Any]) -> None:
    body["spec"]["triggers"][0]["metadata"]["listLength"] = "five"


def _same_workload(body: dict[str, Any]) -> None:
    body["spec"]["scaleTargetRef"]["name"] = "worker"


def _missing_authentication(body: dict[str, Any]) -> None:
    body["spec"]["triggers"][0]["authenticationRef"] = {"name": "nowhere"}


def _idle_not_below_min(body: dict[str, Any]) -> None:
    body["spec"]["minReplicaCount"] = 1
    body["spec"]["idleReplicaCount"] = 2


def _unknown_trigger_type(body: dict[str, Any]) -> None:
    body["spec"]["triggers"][0]["type"] = "no-such-scaler"


@pytest.mark.parametrize(
    ("break_it", "field"),
    [
        pytest.param(_bad_parameter, "spec.triggers[0].metadata.listLength", id="bad-trigger-parameter"),
        pytest.param(_same_workload, "spec.scaleTargetRef.name", id="same-workload-as-another"),
        pytest.param(_missing_authentication, "spec.triggers[0].authenticationRef.name", id="missing-authentication"),
        pytest.param(_idle_not_below_min, "spec.idleReplicaCount", id="idle-not-below-min"),
        pytest.param(_unknown_trigger_type, "spec.triggers[0].type", id="unknown-trigger-type"),
    ],
)
async def test_an_invalid_scaled_object_is_reported_and_the_valid_one_keeps_scaling(
    api: cluster.Api,
    redis: aioredis.Redis,
    redis_server: redis_fixtures.RedisServer,
    list_name: str,
    start_operator: Any,
    break_it: Any,
    field: str,
) -> None:
    address = f"{redis_server.host}:{redis_server.port}"
    for name in ("worker", "other"):
        await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment(name))
    await api.create(
        cluster.SO_BASE.format(ns="default"),
        cluster.scaled_object("orders", target="worker", redis_address=address, list_name=list_name),
    )
    broken = cluster.scaled_object("broken", target="other", redis_address=address, list_name=f"{list_name}-b")
    break_it(broken)
    await start_operator()
    await cluster.until(lambda: _ready_is(api, "orders", "True"), what="orders Ready=True")
    await api.create(cluster.SO_BASE.format(ns="default"), broken)

    ready = await cluster.until(lambda: _ready_is(api, "broken", "False"), what="broken Ready=False")
    assert ready["reason"] == "ScaledObjectCheckFailed"
    assert f"{field}:" in ready["message"]
    async def warned() -> list[dict[str, Any]]:
        return [e for e in await api.events("broken") if e["type"] == "Warning"]

    warnings = await cluster.until(warned, what="a Warning Event on broken")
    assert [e["reason"] for e in warnings][:1] == ["ScaledObjectCheckFailed"]
    assert f"{field}:" in warnings[0]["message"]
    code, _ = await api.hpa("keda-hpa-broken")
    assert code == 404

    # The valid one is undisturbed: it still wakes its workload.
    await redis.rpush(list_name, "job")
    await cluster.until(lambda: _replicas_are(api, "worker", 1), what="worker at 1")
    assert await api.replicas("other") == 0
    assert (await api.condition("orders", "Ready"))["status"] == "True"


async def test_fixing_the_scaled_object_makes_it_ready(
    api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    broken = cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name
    )
    _bad_parameter(broken)
    await api.create(cluster.SO_BASE.format(ns="default"), broken)
    await start_operator()
    await cluster.until(lambda: _ready_is(api, "orders", "False"), what="Ready=False")
    await api.patch(f"{cluster.SO_BASE.format(ns='default')}/orders", {"spec": {"triggers": [
        {"type": "redis", "metadata": {**broken["spec"]["triggers"][0]["metadata"], "listLength": "5"}}
    ]}})
    await cluster.until(lambda: _ready_is(api, "orders", "True"), what="Ready=True after the fix")
    code, _ = await api.hpa("keda-hpa-orders")
    assert code == 200


async def _ready_is(api: cluster.Api, name: str, status: str) -> dict[str, Any] | None:
    condition = await api.condition(name, "Ready")
    return condition if condition.get("status") == status else None


async def _replicas_are(api: cluster.Api, name: str, expected: int) -> bool:
    return await api.replicas(name) == expected

"""The API server failing under the operator: 409, 429 (with Retry-After) and 500 on `/scale` reads and
writes and on status writes. No decision is lost (the target reaches the replicas the HPA maths asks
for) and, as seen on a watch of the Deployment, no write ever leaves 0..maxReplicaCount."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from kube_sandbox import faults, testing
from scaler.core import hpa, specs
from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures

MAX = 4
SCALE_WRITE = faults.Rule(faults.Action.ERROR, verbs=frozenset({"update"}), resources=frozenset({"deployments/scale"}))
SCALE_READ = faults.Rule(faults.Action.ERROR, verbs=frozenset({"get"}), resources=frozenset({"deployments/scale"}))
STATUS_WRITE = faults.Rule(
    faults.Action.ERROR, verbs=frozenset({"patch"}), resources=frozenset({"scaledobjects.keda.sh/status"})
)


def _with(rule: faults.Rule, **changes: Any) -> faults.Rule:
    import dataclasses

    return dataclasses.replace(rule, **changes)


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param([_with(SCALE_WRITE, code=500, count=3)], id="500-on-scale-write"),
        pytest.param([_with(SCALE_WRITE, code=429, retry_after=1, count=2)], id="429-retry-after-on-scale-write"),
        pytest.param([_with(SCALE_WRITE, action=faults.Action.CONFLICT, count=3)], id="409-on-scale-write"),
        pytest.param([_with(SCALE_READ, code=500, count=3)], id="500-on-scale-read"),
        pytest.param(
            [_with(STATUS_WRITE, code=500, count=3), _with(STATUS_WRITE, action=faults.Action.CONFLICT, count=3)],
            id="500-and-409-on-status-write",
        ),
        pytest.param(
            [_with(SCALE_WRITE, code=500, rate=0.5), _with(SCALE_WRITE, action=faults.Action.CONFLICT, rate=0.3),
             _with(STATUS_WRITE, code=503, rate=0.3)],
            id="random-mix",
        ),
    ],
)
async def test_no_decision_is_lost_and_bounds_hold_under_api_faults(
    sandbox: testing.Sandbox,
    api: cluster.Api,
    redis: aioredis.Redis,
    redis_server: redis_fixtures.RedisServer,
    list_name: str,
    start_operator: Any,
    rules: list[faults.Rule],
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    so = cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        annotations={specs.SCALING_MODE: "direct"}, max_replicas=MAX,
    )
    await api.create(cluster.SO_BASE.format(ns="default"), so)
    seen: list[int] = []
    watcher = asyncio.create_task(_watch_replicas(sandbox.base_url, "worker", seen))
    try:
        await start_operator()

        async def ready() -> bool:
            return (await api.condition("orders", "Ready")).get("status") == "True"

        await cluster.until(ready, what="Ready=True")
        for rule in rules:
            sandbox.faults.add(rule)
        await redis.rpush(list_name, *[f"job-{i}" for i in range(23)])
        # ceil(23 / 5) = 5 replicas, capped at maxReplicaCount.
        wanted = min(hpa.external_replicas([23.0], "AverageValue", 5.0, spec_replicas=1, status_replicas=1, ready_pods=1), MAX)
        await cluster.until(lambda: _replicas_are(api, wanted), what=f"worker at {wanted}", within=30)

        async def active() -> bool:
            return (await api.condition("orders", "Active")).get("status") == "True"

        await cluster.until(active, what="Active=True written despite the faults", within=30)
        # Every counted fault was served (a rule is dropped once its count is used up).
        left = [r for r in sandbox.faults.describe() if r.get("count") is not None]
        sandbox.faults.clear()
        assert left == [], left
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    assert seen, "the watch saw the Deployment"
    assert all(0 <= r <= MAX for r in seen), seen
    assert seen[-1] == wanted


async def _watch_replicas(base_url: str, name: str, seen: list[int]) -> None:
    path = f"/apis/apps/v1/namespaces/default/deployments?watch=1&fieldSelector=metadata.name%3D{name}"
    async with aiohttp.ClientSession(base_url=base_url, headers={"Authorization": "Bearer sandbox"}) as http:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(path, timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as reply:
                    async for line in reply.content:
                        if line.strip():
                            event = json.loads(line)
                            replicas = int(event["object"]["spec"].get("replicas") or 0)
                            if not seen or seen[-1] != replicas:
                                seen.append(replicas)


async def _replicas_are(api: cluster.Api, expected: int) -> bool:
    return await api.replicas("worker") == expected

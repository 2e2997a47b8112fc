"""A new ScaledObject costs the API server two writes: KEDA's finalizer and label in one, then one status
write that carries both the reconcile's fields and `Ready=True` and the first tick's `Active`, trigger
activity and state (the reconcile hands its status to the loop it starts). An existing loop's reconcile
still writes its own status at once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from kube_sandbox import testing
from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures


async def _watch(sandbox: testing.Sandbox, name: str, seen: list[dict[str, Any]], listening: asyncio.Event) -> None:
    path = f"{cluster.SO_BASE.format(ns='default')}?watch=true&fieldSelector=metadata.name%3D{name}"
    headers = {"Authorization": f"Bearer {sandbox.admin_token}"}
    async with aiohttp.ClientSession(sandbox.base_url) as http, http.get(path, headers=headers) as reply:
        assert reply.status == 200, await reply.text()
        listening.set()
        async for line in reply.content:
            if line.strip():
                seen.append(json.loads(line))


def _conditions(body: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in (body.get("status") or {}).get("conditions") or []}


async def test_a_new_scaled_object_gets_one_status_write_with_ready_and_the_first_ticks_fields(
    api: cluster.Api, redis: aioredis.Redis, redis_server: redis_fixtures.RedisServer, list_name: str,
    start_operator: Any, sandbox: testing.Sandbox,
) -> None:
    await redis.rpush(list_name, *range(7))
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        polling_interval=30,  # one tick in this test's time
    ))
    seen: list[dict[str, Any]] = []
    listening = asyncio.Event()
    watching = asyncio.create_task(_watch(sandbox, "orders", seen, listening))
    try:
        await asyncio.wait_for(listening.wait(), 10)
        await start_operator()

        async def settled() -> bool:
            body = await api.scaled_object("orders")
            return _conditions(body).get("Active") == "True" and await api.replicas("worker") > 0

        await cluster.until(settled, what="Active=True and the worker scaled")
        await asyncio.sleep(1.0)  # any later write would show up meanwhile
    finally:
        watching.cancel()
    modified = [e["object"] for e in seen if e["type"] == "MODIFIED"]
    statuses = [m.get("status") for m in modified]
    changes = [b for a, b in zip([None, *statuses], statuses, strict=False) if a != b]
    assert len(changes) == 1, json.dumps(changes, indent=1)
    status = changes[0]
    assert _conditions(modified[-1]) == {"Ready": "True", "Active": "True", "Fallback": "False", "Paused": "False"}
    for field in ("scaleTargetKind", "scaleTargetGVKR", "externalMetricNames", "triggersTypes", "originalReplicaCount",
                  "triggersActivity", "lastActiveTime"):
        assert field in status, (field, status)
    assert len(modified) == 2, "one write for the finalizer and label, one for the status"

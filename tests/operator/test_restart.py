"""The operator stopped and started again in the middle of a cooldown: the new one remembers
lastActiveTime from the status, so the Deployment goes to 0 when the original cooldown ends — not at
once (a forgetful operator) and not a whole cooldown after the restart — and never flaps."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import redis.asyncio as aioredis

from kube_sandbox import testing
from tests.operator import cluster, test_faults
from tests.servers import redis_server as redis_fixtures

DOWNTIME = 2.5  # how long no operator runs: the scenario itself, not a wait for a result


async def test_a_restart_mid_cooldown_keeps_the_cooldown_and_does_not_flap(
    sandbox: testing.Sandbox,
    api: cluster.Api,
    redis: aioredis.Redis,
    redis_server: redis_fixtures.RedisServer,
    list_name: str,
    start_operator: Any,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
    ))
    seen: list[int] = []
    watcher = asyncio.create_task(test_faults._watch_replicas(sandbox.base_url, "worker", seen))
    try:
        first = await start_operator()
        await redis.rpush(list_name, "job")
        await cluster.until(lambda: _replicas_are(api, 1), what="worker at 1")
        await redis.delete(list_name)
        drained = time.monotonic()

        async def cooling() -> bool:
            return (await api.condition("orders", "Active")).get("reason") == "ScalerCooldown"

        await cluster.until(cooling, what="Active=False ScalerCooldown")
        await first.stop()
        assert await api.replicas("worker") == 1
        await asyncio.sleep(DOWNTIME)

        second = await start_operator()
        await cluster.until(lambda: _replicas_are(api, 0), what="worker at 0", within=20)
        zero_after = time.monotonic() - drained
        loop = second.operator.loops
        assert loop is not None and loop.starts == 1
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    # cooldownPeriod 5 s from the last active poll (at most 1 s before the drain), plus one poll.
    assert 4.0 <= zero_after <= 7.5, f"went to 0 {zero_after:.1f} s after the drain"
    assert seen == [0, 1, 0], seen


async def _replicas_are(api: cluster.Api, expected: int) -> bool:
    return await api.replicas("worker") == expected

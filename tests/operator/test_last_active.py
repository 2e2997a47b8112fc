"""`status.lastActiveTime` while a ScaledObject stays active: KEDA rewrites it every poll (one status
write per active object per second at pollingInterval 1); Ebb refreshes it every quarter cooldown (at
least one poll, at most 15 s), writes the exact time when the object deactivates, and after a restart
reads a value saved while active as possibly that much later, so a restart never shortens the cooldown."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis

from scaler.core import decisions
from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures


async def _active_is(api: cluster.Api, status: str) -> bool:
    return (await api.condition("orders", "Active")).get("status") == status


async def test_refreshed_every_quarter_cooldown_while_active_and_exact_on_deactivation(
    api: cluster.Api, redis: aioredis.Redis, redis_server: redis_fixtures.RedisServer, list_name: str,
    start_operator: Any,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        cooldown_period=20,  # refreshed every 5 s
    ))
    await start_operator()
    await redis.rpush(list_name, "job")
    await cluster.until(lambda: _active_is(api, "True"), what="Active=True")

    seen: set[str] = set()
    sampled_until = time.monotonic() + 7.0
    while time.monotonic() < sampled_until:
        seen.add((await api.scaled_object("orders"))["status"]["lastActiveTime"])
        await asyncio.sleep(0.2)
    # Seven seconds of 1-second polls: KEDA would show about seven values; a 5-second refresh two or three.
    assert 2 <= len(seen) <= 3, sorted(seen)

    await redis.delete(list_name)
    drained = time.time()
    await cluster.until(lambda: _active_is(api, "False"), what="Active=False")
    last_active = decisions.parse_time((await api.scaled_object("orders"))["status"]["lastActiveTime"])
    # The last active poll came at most one poll before the drain; the time has second precision.
    assert drained - 2.5 <= last_active <= drained + 0.5, (drained, last_active)


async def test_a_restart_while_active_does_not_shorten_the_cooldown(
    api: cluster.Api, redis: aioredis.Redis, redis_server: redis_fixtures.RedisServer, list_name: str,
    start_operator: Any,
) -> None:
    cooldown = 8  # refreshed every 2 s
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        cooldown_period=cooldown,
    ))
    first = await start_operator()
    await redis.rpush(list_name, "job")
    await cluster.until(lambda: _active_is(api, "True"), what="Active=True")
    await asyncio.sleep(3.5)  # past one refresh, so the saved time may trail the last active poll
    await first.stop()
    stopped = time.monotonic()  # the last active poll was at most one poll before this
    await redis.delete(list_name)
    assert await _active_is(api, "True")
    saved = decisions.parse_time((await api.scaled_object("orders"))["status"]["lastActiveTime"])

    before_start = time.time()
    second = await start_operator()
    loops = second.operator.loops
    assert loops is not None

    async def started() -> Any:
        return loops.get(("default", "orders"))

    loop = await cluster.until(started, what="the new scale loop")
    assert loop.state.last_active_time is not None
    # Read as possibly one refresh period (2 s) later than saved, but never later than the restart.
    assert loop.state.last_active_time >= min(before_start, saved + 2) - 0.01, (saved, loop.state.last_active_time)
    assert loop.state.last_active_time <= time.time()

    async def at_zero() -> bool:
        return await api.replicas("worker") == 0

    await cluster.until(at_zero, what="worker at 0", within=cooldown + 10)
    zero_after = time.monotonic() - stopped
    # Never before the cooldown has run from the last active poll (one poll and the second precision of
    # the saved time allowed for), and not a whole refresh period plus a cooldown after it.
    assert cooldown - 1.5 <= zero_after <= cooldown + 2 + 3, zero_after

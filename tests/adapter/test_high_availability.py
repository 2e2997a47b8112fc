"""Two `ebb operator --leader-election` processes and the adapter, found through the cluster with no
flag: the adapter serves the leader's values; when the leader is SIGKILLed the HPA keeps getting answers
(the last reading, with its own timestamp) and gets the new leader's values within one lease duration."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import time
from typing import Any

import redis.asyncio as aioredis

from kube_sandbox import testing
from scaler.operator import readings
from tests.adapter.conftest import Pki
from tests.operator import cluster
from tests.operator.test_leader_election import SHORT_LEASE, _leader_and_standby, _start
from tests.servers import redis_server as redis_fixtures

LEASE_DURATION = 6.0


async def test_values_survive_a_killed_leader(
    sandbox: testing.Sandbox, api: cluster.Api, kubeconfig: pathlib.Path, published_pki: Pki, redis: aioredis.Redis,
    redis_server: redis_fixtures.RedisServer, list_name: str, tmp_path: pathlib.Path, start_adapter: Any,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker", replicas=1))
    await redis.rpush(list_name, *[f"job-{i}" for i in range(4)])
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        min_replicas=1,
    ))
    replicas = [await _start(kubeconfig, tmp_path / f"operator-{i}.log", *SHORT_LEASE) for i in range(2)]
    answers_seen: list[tuple[float, int, str | None]] = []
    asking: asyncio.Task[None] | None = None
    try:
        leader, standby = await _leader_and_standby(api, replicas)
        adapter = await start_adapter()
        metric = f"s0-redis-{list_name}"

        async def value() -> str | None:
            status, body = await adapter.metric(metric, "orders", cert=published_pki.masters)
            return body["items"][0]["value"] if status == 200 else None

        async def four() -> bool:
            return await value() == "4"

        await cluster.until(four, what="the adapter serving the leader's 4")
        lease = await api.get(f"/apis/coordination.k8s.io/v1/namespaces/default/leases/{readings.ADVERTISEMENT_LEASE}")
        assert lease["spec"]["holderIdentity"] == leader.identity

        async def ask_every_half_second() -> None:
            while True:
                status, body = await adapter.metric(metric, "orders", cert=published_pki.masters)
                answers_seen.append((time.monotonic(), status, body["items"][0]["value"] if status == 200 else None))
                await asyncio.sleep(0.5)

        asking = asyncio.create_task(ask_every_half_second())
        leader.child.kill()
        await leader.child.wait()
        killed = time.monotonic()
        await redis.rpush(list_name, *[f"job-{i}" for i in range(8)])

        async def twelve() -> bool:
            return any(v == "12" for _, _, v in answers_seen)

        await cluster.until(twelve, what="the new leader's 12 through the adapter", within=30)
        first = next(t for t, _, v in answers_seen if v == "12")
        # One lease duration for the takeover, plus one pollingInterval and the staleness grace.
        assert first - killed <= LEASE_DURATION + 1 + 2 + 1, f"new values {first - killed:.1f} s after the kill"
        assert all(status == 200 for _, status, _ in answers_seen), answers_seen
        lease = await api.get(f"/apis/coordination.k8s.io/v1/namespaces/default/leases/{readings.ADVERTISEMENT_LEASE}")
        assert lease["spec"]["holderIdentity"] == standby.identity
    finally:
        if asking is not None:
            asking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asking
        for replica in replicas:
            with contextlib.suppress(Exception):
                await replica.stop()
            await replica.http.close()

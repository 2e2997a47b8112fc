"""Two `ebb operator --leader-election` processes on one Lease: exactly one holds it and acts (scales the
target, records decisions), the other stands by; when the leader gets SIGTERM it releases the Lease, the
standby takes it and keeps scaling where the first left off, without a double write or a flap."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from kube_sandbox import testing
from scaler.core import specs
from tests.operator import cluster, test_faults
from tests.servers import ports
from tests.servers import redis_server as redis_fixtures

LEASE = "ebb-operator-test"
LEASE_PATH = f"/apis/coordination.k8s.io/v1/namespaces/default/leases/{LEASE}"
# The Lease timings given on the command line (client-go's defaults are 15 s / 10 s / 2 s).
SHORT_LEASE = ("--lease-duration", "6s", "--renew-deadline", "4s", "--retry-period", "1s")
DECISIONS = "/api/v1/scaledobjects/default/orders/decisions"
DIRECT = {specs.SCALING_MODE: "direct"}


@dataclasses.dataclass
class Replica:
    """One `ebb operator` process and its HTTP face."""

    child: asyncio.subprocess.Process
    http: aiohttp.ClientSession
    log_path: pathlib.Path

    @property
    def identity(self) -> str:
        # The operator's default identity: hostname-pid.
        return f"{socket.gethostname()}-{self.child.pid}"

    async def get(self, path: str) -> tuple[int, Any]:
        try:
            async with self.http.get(path) as reply:
                return reply.status, await reply.json(content_type=None)
        except aiohttp.ClientError:
            if self.child.returncode is not None:
                raise AssertionError(f"the operator exited early:\n{self.log_path.read_text()}") from None
            return 0, None

    async def stop(self) -> tuple[int, float]:
        """SIGTERM; the exit code and the seconds it took."""
        began = time.monotonic()
        if self.child.returncode is None:
            self.child.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.child.wait(), 15)
        except TimeoutError:
            self.child.kill()
            await self.child.wait()
            raise
        return code, time.monotonic() - began


async def _start(kubeconfig: pathlib.Path, log_path: pathlib.Path, *extra: str) -> Replica:
    port = ports.free_port()
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    with log_path.open("wb") as log:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scaler", "operator", "--kubeconfig", str(kubeconfig),
            "--leader-election", "--lease-name", LEASE, "--lease-namespace", "default",
            "--http-address", f"127.0.0.1:{port}", *extra,
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    return Replica(child, aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}"), log_path)


async def _readiness(replica: Replica) -> str | None:
    status, body = await replica.get("/readyz")
    return body["reason"] if status == 200 else None


async def _holder(api: cluster.Api) -> str:
    status, body = await api.call("GET", LEASE_PATH)
    return str((body.get("spec") or {}).get("holderIdentity") or "") if status == 200 else ""


async def _leader_and_standby(api: cluster.Api, replicas: list[Replica]) -> tuple[Replica, Replica]:
    """Once both are ready, one leading and one standing by: (the Lease's holder, the other), with the
    ScaledObject Ready=True."""

    async def both_ready() -> list[str] | None:
        reasons = [await _readiness(r) for r in replicas]
        found = [r for r in reasons if r]
        return sorted(found) if len(found) == len(reasons) and "leading" in found else None

    reasons = await cluster.until(both_ready, what="both replicas ready, one leading", within=30)
    assert reasons == ["leading", "standby: another replica holds the lease"]
    by_identity = {r.identity: r for r in replicas}
    holder = await cluster.until(lambda: _holder(api), what="the Lease's holderIdentity")
    assert holder in by_identity, (holder, list(by_identity))
    leader = by_identity[holder]
    assert await _readiness(leader) == "leading"

    async def ready() -> bool:
        return (await api.condition("orders", "Ready")).get("status") == "True"

    await cluster.until(ready, what="the ScaledObject Ready=True")
    return leader, next(r for r in replicas if r is not leader)


async def test_one_replica_acts_and_the_other_takes_over_on_sigterm(
    sandbox: testing.Sandbox, api: cluster.Api, kubeconfig: pathlib.Path, redis: aioredis.Redis,
    redis_server: redis_fixtures.RedisServer, list_name: str, tmp_path: pathlib.Path,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        annotations=DIRECT,
    ))
    seen: list[int] = []
    watcher = asyncio.create_task(test_faults._watch_replicas(sandbox.base_url, "worker", seen))
    replicas = [await _start(kubeconfig, tmp_path / f"operator-{i}.log") for i in range(2)]
    try:
        leader, standby = await _leader_and_standby(api, replicas)

        # Work arrives: only the leader decides and scales: 0 → 1 (activation), then ceil(12 / 5) = 3.
        await redis.rpush(list_name, *[f"job-{i}" for i in range(12)])
        await cluster.until(lambda: _replicas_are(api, 3), what="worker at 3")
        status, body = await leader.get(DECISIONS)
        assert status == 200 and body["decisions"], (status, body)
        assert await standby.get(DECISIONS) == (404, {
            "error": "no decisions recorded for ScaledObject default/orders", "scaledObject": "default/orders",
        })
        assert await standby.get("/api/v1/scaledobjects") == (200, {"scaledObjects": []})
        assert await _holder(api) == leader.identity  # still: renewals kept it, the standby never took it

        # The leader stops: it releases the Lease and the standby takes over well within the lease duration.
        code, took = await leader.stop()
        stopped = time.monotonic()
        assert code == 0, leader.log_path.read_text()
        assert took < 10.0, f"shutdown took {took:.1f} s"
        await cluster.until(lambda: _is(_holder(api), standby.identity), what="the standby holding the Lease",
                            within=15)
        await cluster.until(lambda: _is(_readiness(standby), "leading"), what="the standby leading", within=15)
        took_over = time.monotonic() - stopped
        assert took_over < 15.0, f"took over after {took_over:.1f} s"

        # The new leader picks up the ScaledObject: it decides (keeping 3 with 12 items), then, drained,
        # returns the worker to 0 after the cooldown.
        await cluster.until(lambda: _decided(standby), what="decisions by the new leader")
        assert await api.replicas("worker") == 3
        await redis.delete(list_name)
        await cluster.until(lambda: _replicas_are(api, 0), what="worker back at 0", within=20)
        deactivated = await api.events_with("orders", "KEDAScaleTargetDeactivated")
        assert [e["message"] for e in deactivated] == ["Deactivated apps/v1.Deployment default/worker from 3 to 0"]
        activated = await api.events_with("orders", "KEDAScaleTargetActivated")
        assert len(activated) == 1, activated
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        outcomes = [await r.stop() for r in replicas]
        for r in replicas:
            await r.http.close()
    # Every write to the Deployment, in order: no double write, no flap across the failover.
    assert seen == [0, 1, 3, 0], seen
    for (code, took), r in zip(outcomes, replicas, strict=True):
        output = r.log_path.read_text()
        assert code == 0 and took < 10.0, output
        assert "Traceback" not in output, output


async def _replicas_are(api: cluster.Api, expected: int) -> bool:
    return await api.replicas("worker") == expected


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_a_killed_leader_is_replaced_once_its_lease_expires_and_not_before(
    sandbox: testing.Sandbox, api: cluster.Api, kubeconfig: pathlib.Path, redis: aioredis.Redis,
    redis_server: redis_fixtures.RedisServer, list_name: str, tmp_path: pathlib.Path,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        annotations=DIRECT,
    ))
    seen: list[int] = []
    watcher = asyncio.create_task(test_faults._watch_replicas(sandbox.base_url, "worker", seen))
    replicas = [
        await _start(kubeconfig, tmp_path / f"operator-{i}.log", *SHORT_LEASE) for i in range(2)
    ]
    try:
        leader, standby = await _leader_and_standby(api, replicas)
        await cluster.until(lambda: _decided(leader), what="decisions by the leader")

        # SIGKILL: no release, so the standby must wait for the Lease to expire (6 s without a renewal,
        # on its own clock), and meanwhile nobody scales, work or not.
        leader.child.kill()
        await leader.child.wait()
        killed = time.monotonic()
        await redis.rpush(list_name, *[f"job-{i}" for i in range(12)])

        async def taken_over() -> bool:
            # Replicas first, then the holder: a write seen while the dead leader still holds the Lease
            # was made by a replica that was not leading.
            replicas_now = await api.replicas("worker")
            holder = await _holder(api)
            if holder == standby.identity:
                return True
            assert replicas_now == 0, f"the worker was scaled to {replicas_now} while {holder!r} held the Lease"
            return False

        await cluster.until(taken_over, what="the standby holding the Lease", within=30)
        took_over = time.monotonic() - killed
        # The last renewal was at most one retry period (1 s) before the kill; the standby looks every 1 s.
        assert 4.5 <= took_over <= 11.0, f"took over {took_over:.1f} s after the kill"
        await cluster.until(lambda: _is(_readiness(standby), "leading"), what="the standby leading", within=15)
        await cluster.until(lambda: _replicas_are(api, 3), what="worker at 3, scaled by the new leader")
        assert await _decided(standby)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        outcomes = [await r.stop() for r in replicas]
        for r in replicas:
            await r.http.close()
    assert seen == [0, 1, 3], seen
    code, took = outcomes[replicas.index(standby)]
    output = standby.log_path.read_text()
    assert code == 0 and took < 10.0, output
    assert "Traceback" not in output, output


async def _decided(replica: Replica) -> Any:
    status, body = await replica.get(DECISIONS)
    return body["decisions"] if status == 200 and body["decisions"] else None

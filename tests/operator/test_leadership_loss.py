"""Losing the Lease: a replica that no longer holds it writes nothing more (the write fence is checked
before each request, so a write being retried through 503s stops at once), stops acting within the
margin the election leaves, stands by warm (its watch cache and idle loops kept, so that it can tick at
once if it takes the Lease again), and still exits promptly on SIGTERM afterwards."""

from __future__ import annotations

import asyncio
import datetime
import pathlib
import time
from typing import Any

import redis.asyncio as aioredis

from kube_sandbox import faults, testing
from scaler.core import specs
from scaler.operator import kube, leader_election
from tests.operator import cluster, test_leader_election
from tests.servers import redis_server as redis_fixtures

LEASE = "ebb-fence-test"
LEASE_PATH = f"/apis/coordination.k8s.io/v1/namespaces/default/leases/{LEASE}"
SCALE_WRITE_FAILS = faults.Rule(
    faults.Action.ERROR, verbs=frozenset({"update"}), resources=frozenset({"deployments/scale"}), code=503
)
# Counts (delay 0) every other write the scale loop and the reconciler make.
OTHER_WRITES = faults.Rule(
    faults.Action.LATENCY,
    verbs=frozenset({"create", "update", "patch", "delete"}),
    resources=frozenset({"scaledobjects.keda.sh/status", "scaledobjects.keda.sh", "events", "horizontalpodautoscalers"}),
    delay=0.0,
)


def _fired(sandbox: testing.Sandbox, rule: faults.Rule) -> int:
    rendered = faults.render_rule(rule)
    return sum(r["fired"] for r in sandbox.faults.describe() if {k: r[k] for k in rendered} == rendered)


async def steal_lease(api: cluster.Api, path: str = LEASE_PATH, *, holder: str = "another-replica",
                      seconds: int = 60) -> None:
    """Another replica takes the Lease over (as after a partition)."""
    lease = await api.get(path)
    now = leader_election.format_micro_time(datetime.datetime.now(datetime.UTC))
    lease["spec"] = {**lease["spec"], "holderIdentity": holder, "renewTime": now, "acquireTime": now,
                     "leaseDurationSeconds": seconds}
    status, body = await api.call("PUT", path, lease)
    assert status == 200, (status, body)


async def test_no_write_after_the_lease_is_lost_during_a_slow_write(
    sandbox: testing.Sandbox, api: cluster.Api, redis: aioredis.Redis, redis_server: redis_fixtures.RedisServer,
    list_name: str, start_operator: Any,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        annotations={specs.SCALING_MODE: "direct"},
    ))
    running = await start_operator(
        leader_election=True, lease_name=LEASE, lease_namespace="default",
        lease_duration=3.0, renew_deadline=2.0, retry_period=0.5,
    )
    operator = running.operator

    async def ready() -> bool:
        return (await api.condition("orders", "Ready")).get("status") == "True"

    await cluster.until(ready, what="Ready=True")
    assert operator.elector is not None and operator.elector.is_leader
    sandbox.faults.add(SCALE_WRITE_FAILS)
    sandbox.faults.add(OTHER_WRITES)
    await redis.rpush(list_name, "job-1")  # activation: the loop writes /scale, which answers 503 for now

    async def failing() -> bool:
        return _fired(sandbox, SCALE_WRITE_FAILS) > 0

    await cluster.until(failing, what="the scale write retried through 503")
    await steal_lease(api)
    loss_began = time.monotonic()
    await asyncio.wait_for(operator.elector.lost.wait(), 10)
    lost_after = time.monotonic() - loss_began
    scale_writes, other_writes = _fired(sandbox, SCALE_WRITE_FAILS), _fired(sandbox, OTHER_WRITES)

    # The term's end is handled within the election's margin (lease_duration - renew_deadline = 1 s).
    async def standby() -> bool:
        return operator.health.readiness() == (True, "standby: another replica holds the lease")

    await cluster.until(standby, what="the former leader standing by", within=1.5)
    # Long past the write deadline (5 s) the old retry loop would have used: nothing more was sent.
    await asyncio.sleep(6.0)
    assert _fired(sandbox, SCALE_WRITE_FAILS) == scale_writes, "a /scale write was sent after the Lease was lost"
    assert _fired(sandbox, OTHER_WRITES) == other_writes, "a status, Event or HPA write was sent after the loss"
    assert operator.fenced is not None and operator.fenced.refused >= 1, "the fence refused the retried write"
    assert await api.replicas("worker") == 0
    assert lost_after < 2.5, f"the loss was noticed {lost_after:.1f} s after the Lease was taken"
    # Warm: the standby still watches (issue 15), and its loop does not tick.
    assert operator.watched.get(kube.SCALED_OBJECT, "default", "orders") is not None, "the standby's cache is cold"
    loop = operator.loops.get(("default", "orders")) if operator.loops is not None else None
    assert loop is not None, "the standby dropped its prepared scale loop"
    ticks = loop.ticks
    await asyncio.sleep(2.5)
    assert loop.ticks == ticks, "a standby's scale loop ticked"


async def test_sigterm_ends_a_replica_that_lost_the_lease(
    sandbox: testing.Sandbox, api: cluster.Api, kubeconfig: pathlib.Path, tmp_path: pathlib.Path,
) -> None:
    replica = await test_leader_election._start(
        kubeconfig, tmp_path / "operator.log", *test_leader_election.SHORT_LEASE
    )
    try:
        async def leading() -> bool:
            return await test_leader_election._readiness(replica) == "leading"

        await cluster.until(leading, what="the replica leading", within=30)
        await steal_lease(api, test_leader_election.LEASE_PATH)

        async def standing_by() -> bool:
            return await test_leader_election._readiness(replica) == "standby: another replica holds the lease"

        await cluster.until(standing_by, what="the replica standing by after losing the Lease", within=15)
        code, took = await replica.stop()
    finally:
        if replica.child.returncode is None:
            replica.child.kill()
            await replica.child.wait()
        await replica.http.close()
    output = replica.log_path.read_text()
    assert code == 0, output
    assert took < 5.0, f"SIGTERM took {took:.1f} s to end a former leader\n{output}"
    assert "Traceback" not in output, output


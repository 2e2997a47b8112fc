"""One writer per ScaledObject: `Loops.ensure` and `Loops.stop` of one key never interleave, so two
reconciles racing (the ScaledObject's own and the HPA watch's) cannot leave an orphan loop writing
`/scale`, and a reconcile already under way cannot bring a deleted ScaledObject's loop back.

The races are provoked deterministically: the running loop's tick is held inside a `/scale` read of a
fake `Kube` port until the test lets it go, and the competing calls are started at chosen points
(`_settle` only lets already-runnable tasks run; nothing waits on the clock)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest

from scaler.core import specs
from scaler.operator import kube, scale_loop
from scalers import connections, registry

KEY = ("default", "orders")


def _body(generation: int, *, uid: str = "uid-1") -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "orders", "namespace": "default", "generation": generation, "uid": uid,
                     "resourceVersion": f"initial-{generation}"},
        "spec": {
            # Not a kind the watches deliver: the tick reads the target's replicas from `/scale`.
            "scaleTargetRef": {"apiVersion": "example.com/v1", "kind": "Widget", "name": "worker"},
            "pollingInterval": 1,
            "minReplicaCount": 1,
            "maxReplicaCount": 5,
            "triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}}],
        },
    }


def _spec(body: Mapping[str, Any]) -> specs.ScaledObjectSpec:
    spec, _ = specs.check_scaled_object(body, default_namespace="default")
    assert spec is not None
    return spec


class HeldKube:
    """A `Kube` port whose first `/scale` read waits for `release`; every write is recorded."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.reads = 0
        self.writes: list[str] = []

    async def resource_of(self, target: kube.Target) -> str:
        return "widgets"

    async def read_scale(self, target: kube.Target) -> kube.Scale:
        self.reads += 1
        if self.reads == 1:
            self.entered.set()
            await self.release.wait()
        return kube.Scale(replicas=1, status_replicas=1, selector="", resource_version="7")

    async def write_scale(self, target: kube.Target, scale: kube.Scale, replicas: int) -> kube.Scale:
        self.writes.append(f"scale {replicas}")
        return dataclasses.replace(scale, replicas=replicas)

    async def get_scaled_object(self, namespace: str, name: str) -> dict[str, Any]:
        return _body(1)

    async def patch_scaled_object(
        self, namespace: str, name: str, patch: Mapping[str, Any], *, resource_version: str | None = None
    ) -> dict[str, Any]:
        self.writes.append("patch")
        return _body(1)

    async def patch_scaled_object_status(
        self, namespace: str, name: str, status: Mapping[str, Any], *, resource_version: str | None = None
    ) -> dict[str, Any]:
        self.writes.append("status")
        return {**_body(1), "status": dict(status)}

    async def post_event(self, about: kube.ObjectRef, type_: str, reason: str, message: str) -> None:
        self.writes.append(f"event {reason}")

    async def get_hpa(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    async def create_hpa(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        raise AssertionError("no HPA is written by a scale loop")

    async def replace_hpa(self, namespace: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        raise AssertionError("no HPA is written by a scale loop")

    async def delete_hpa(self, namespace: str, name: str) -> None:
        raise AssertionError("no HPA is written by a scale loop")


def _loop_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "scale-loop default/orders" and not t.done()]


async def _settle() -> None:
    """Let every task that can run, run (no clock involved)."""
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.fixture
async def held() -> Any:
    port = HeldKube()
    ctx = scale_loop.LoopContext(
        api=port, watched=kube.Watched(), scalers=registry.default(), clients=connections.SharedClients()
    )
    loops = scale_loop.Loops(ctx, stop_timeout=60)
    yield port, loops
    port.release.set()
    await loops.stop_all()
    assert _loop_tasks() == []


Race = Callable[[scale_loop.Loops], Awaitable[Any]]


async def _restart(loops: scale_loop.Loops, generation: int) -> bool:
    body = _body(generation)
    return await loops.ensure(_spec(body), body)


@pytest.mark.parametrize(
    ("second", "loops_after"),
    [
        # The HPA watch's reconcile asks for the same object while the first restart waits for the tick.
        pytest.param(lambda loops: _restart(loops, 3), 1, id="two-restarts-one-loop"),
        # The ScaledObject is deleted (finalize) while a restart waits: the restart must not win.
        pytest.param(lambda loops: loops.stop(KEY, retire="uid-1"), 0, id="restart-then-delete"),
    ],
)
async def test_racing_calls_for_one_key_leave_one_writer(held: Any, second: Race, loops_after: int) -> None:
    port, loops = held
    await _restart(loops, 1)
    await port.entered.wait()  # the loop's first tick is inside its /scale read
    first = asyncio.create_task(_restart(loops, 2))  # a new generation: stop the old loop, start one
    await _settle()
    assert KEY not in loops, "the first restart has taken the old loop out and waits for its tick"
    other = asyncio.create_task(second(loops))
    await _settle()
    port.release.set()
    await asyncio.gather(first, other)
    await _settle()
    assert len(_loop_tasks()) == loops_after, [t.get_name() for t in _loop_tasks()]
    await loops.stop(KEY)
    assert _loop_tasks() == [], "no loop keeps running for the ScaledObject once it is stopped"


async def test_a_reconcile_under_way_cannot_restart_a_deleted_scaled_objects_loop(held: Any) -> None:
    port, loops = held
    await _restart(loops, 1)
    await port.entered.wait()
    deleting = asyncio.create_task(loops.stop(KEY, retire="uid-1"))
    await _settle()
    late = asyncio.create_task(_restart(loops, 1))  # the HPA watch's reconcile, from before the deletion
    await _settle()
    port.release.set()
    await deleting
    assert await late is False
    assert _loop_tasks() == []
    # A new object of the same name (another uid) gets its loop.
    body = _body(1, uid="uid-2")
    assert await loops.ensure(_spec(body), body) is True
    assert len(_loop_tasks()) == 1


async def test_the_loop_prefers_its_own_write_until_the_watch_delivers_a_different_version(held: Any) -> None:
    """resourceVersions are opaque: only equality is used. The watch still showing the version our status
    write replaced must not win over the body that write returned, whatever the strings look like."""
    _port, loops = held
    watched = loops.ctx.watched
    body = _body(1)
    loop = scale_loop.ScaleLoop(_spec(body), body, loops.ctx)
    for before, after, later in (("b-17", "a-9", "c-2"), ("99", "100", "101"), ("10", "9", "8")):
        replaced = {**body, "metadata": {**body["metadata"], "resourceVersion": before}}
        written = {**body, "metadata": {**body["metadata"], "resourceVersion": after}}
        watched.put(kube.SCALED_OBJECT, replaced)
        loop._wrote(replaced, written)
        assert loop.latest_body()["metadata"]["resourceVersion"] == after, (before, after)
        newer = {**body, "metadata": {**body["metadata"], "resourceVersion": later}}
        watched.put(kube.SCALED_OBJECT, newer)
        assert loop.latest_body()["metadata"]["resourceVersion"] == later, (after, later)

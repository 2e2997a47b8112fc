"""What the operator watched stays true to the cluster through broken watches (sandbox fault injection):

* a dropped watch resumes from its resourceVersion and replays what it missed, without listing again;
* a watch whose resourceVersion has left the server's history (410 Gone) lists again, and the list
  *replaces* the cache: an HPA deleted meanwhile, of which no DELETED event will ever come, is forgotten,
  and the ScaledObject it blocked is re-checked and becomes Ready;
* nothing is reconciled, and `/readyz` does not answer ready, before every watched resource has been
  listed once: a slow HPA listing cannot let a ScaledObject onto a workload another HPA owns.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from kube_sandbox import faults, testing
from scaler.operator import kube
from tests.operator import cluster, conftest, test_healing
from tests.servers import redis_server as redis_fixtures

HISTORY = 30  # events the sandbox keeps for watches to resume from
HPA_WATCHES_DROPPED = faults.Rule(
    faults.Action.DROP_WATCH, verbs=frozenset({"watch"}), resources=frozenset({"horizontalpodautoscalers"}),
    after_events=0,
)
SLOW_HPA_LIST = faults.Rule(
    faults.Action.LATENCY, verbs=frozenset({"list"}), resources=frozenset({"horizontalpodautoscalers"}), delay=3.0,
    count=1,
)


@pytest.fixture
def sandbox() -> Iterator[testing.Sandbox]:
    with testing.Sandbox(ready_delay=0.05, crds=conftest.crds(), history_size=HISTORY) as running:
        yield running


@pytest.fixture
def kubeconfig(sandbox: testing.Sandbox, tmp_path: pathlib.Path) -> pathlib.Path:
    return sandbox.write_kubeconfig(tmp_path / "kubeconfig")


async def _churn(api: cluster.Api, count: int) -> None:
    """`count` unrelated writes: they push older events out of the sandbox's history."""
    for i in range(count):
        await api.create(
            "/api/v1/namespaces/default/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"churn-{i}"}, "data": {"i": str(i)}},
        )


def _hpa_reflector(operator: Any) -> kube.Reflector:
    runtime = operator._runtime
    assert runtime is not None and runtime.informers is not None
    found = [r for r in runtime.informers.reflectors if r.resource.kind == kube.HPA]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("churn", "lists"),
    [
        # The missed DELETED is still in the history: the resumed watch replays it; no second list.
        pytest.param(0, 1, id="dropped-watch-resumes"),
        # The history moved on: the resume answers 410, the reflector lists again and the list replaces.
        pytest.param(HISTORY * 2, 2, id="410-gone-lists-again"),
    ],
)
async def test_an_hpa_deleted_while_the_watch_was_down_is_forgotten(
    sandbox: testing.Sandbox, api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str,
    start_operator: Any, churn: int, lists: int,
) -> None:
    address = f"{redis_server.host}:{redis_server.port}"
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await api.create(cluster.HPA_BASE.format(ns="default"), test_healing._foreign_hpa("worker"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=address, list_name=list_name,
    ))
    running = await start_operator(retry_delay=test_healing.SLOW_RETRY)
    operator = running.operator

    async def ready_is(status: str) -> dict[str, Any] | None:
        condition = await api.condition("orders", "Ready")
        return condition if condition.get("status") == status else None

    blocked = await cluster.until(lambda: ready_is("False"), what="orders Ready=False (the HPA legacy owns worker)")
    assert "the HPA 'legacy'" in blocked["message"], blocked

    rule = sandbox.faults.add(HPA_WATCHES_DROPPED)
    assert sandbox.faults.drop_watches() >= 1
    assert await api.delete(f"{cluster.HPA_BASE.format(ns='default')}/legacy") == 200
    await _churn(api, churn)
    if not churn:  # (after churn the resume may already have met the 410 and listed again)
        assert operator.watched.get(kube.HPA, "default", "legacy") is not None, "the watch was down: not seen yet"
    sandbox.faults.remove(rule)

    async def forgotten() -> bool:
        return operator.watched.get(kube.HPA, "default", "legacy") is None

    await cluster.until(forgotten, what="the deleted HPA gone from the operator's cache", within=15)
    await cluster.until(lambda: ready_is("True"), what="orders Ready=True once the HPA is gone", within=10)
    code, hpa = await api.hpa("keda-hpa-orders")
    assert code == 200, hpa
    assert _hpa_reflector(operator).lists == lists


async def test_nothing_is_reconciled_before_every_watched_resource_is_listed(
    sandbox: testing.Sandbox, api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str,
    start_operator: Any,
) -> None:
    address = f"{redis_server.host}:{redis_server.port}"
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await api.create(cluster.HPA_BASE.format(ns="default"), test_healing._foreign_hpa("worker"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=address, list_name=list_name,
    ))
    sandbox.faults.add(SLOW_HPA_LIST)
    running = await start_operator()
    health = running.operator.health
    assert health.readiness() == (False, "leading, waiting for every watched resource to be listed")

    async def ready() -> bool:
        return health.readiness() == (True, "leading")

    await cluster.until(ready, what="/readyz ready once everything is listed", within=10)
    condition = await cluster.until(lambda: api.condition("orders", "Ready"), what="a Ready condition")
    assert condition.get("status") != "True", condition
    failed = await cluster.until(
        lambda: _ready_false(api), what="orders Ready=False: the HPA legacy already manages worker"
    )
    assert "the HPA 'legacy'" in failed["message"], failed
    code, _ = await api.hpa("keda-hpa-orders")
    assert code == 404, "no second HPA was put on the workload"


async def _ready_false(api: cluster.Api) -> dict[str, Any] | None:
    condition = await api.condition("orders", "Ready")
    return condition if condition.get("status") == "False" else None

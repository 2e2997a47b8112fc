"""An invalid ScaledObject heals when what it depends on changes, without touching its own spec: the
ScaledObject it conflicted with is deleted, its TriggerAuthentication is fixed, the foreign HPA on its
workload goes away. The re-check comes from the change itself (the retry backoff is set to a minute
here, so it cannot be what heals it); the backoff, for what no watch reports, doubles up to a cap."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from scaler.operator import handlers
from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures

SLOW_RETRY = 60.0  # no backoff retry can happen within a test's wait
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "redis-auth"}, "stringData": {"password": "pw"}}


def _auth(parameter: str) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication", "metadata": {"name": "redis-auth"},
        "spec": {"secretTargetRef": [{"parameter": parameter, "name": "redis-auth", "key": "password"}]},
    }


def _foreign_hpa(target: str) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "legacy"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                 "minReplicas": 1, "maxReplicas": 3,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                         "averageUtilization": 80}}}]},
    }


Step = Callable[[cluster.Api, str], Awaitable[Any]]


async def _other_scaled_object(api: cluster.Api, address: str) -> None:
    await api.create(cluster.SO_BASE.format(ns="default"),
                     cluster.scaled_object("first", target="worker", redis_address=address, list_name="first"))

    async def first_ready() -> bool:
        return (await api.condition("first", "Ready")).get("status") == "True"

    await cluster.until(first_ready, what="the first ScaledObject Ready=True")


async def _delete_other_scaled_object(api: cluster.Api, address: str) -> None:
    assert await api.delete(f"{cluster.SO_BASE.format(ns='default')}/first") in (200, 202)  # 202: finalizing


async def _incomplete_authentication(api: cluster.Api, address: str) -> None:
    await api.create(cluster.SECRET_BASE.format(ns="default"), SECRET)
    await api.create(cluster.TA_BASE.format(ns="default"), _auth(""))  # secretTargetRef[0].parameter is empty


async def _fix_authentication(api: cluster.Api, address: str) -> None:
    await api.patch(f"{cluster.TA_BASE.format(ns='default')}/redis-auth", {"spec": _auth("password")["spec"]})


async def _hpa_on_the_workload(api: cluster.Api, address: str) -> None:
    await api.create(cluster.HPA_BASE.format(ns="default"), _foreign_hpa("worker"))


async def _delete_the_hpa(api: cluster.Api, address: str) -> None:
    assert await api.delete(f"{cluster.HPA_BASE.format(ns='default')}/legacy") == 200


@pytest.mark.parametrize(
    ("break_it", "auth", "field", "heal"),
    [
        pytest.param(_other_scaled_object, None, "spec.scaleTargetRef.name", _delete_other_scaled_object,
                     id="conflicting-scaled-object-deleted"),
        pytest.param(_incomplete_authentication, "redis-auth", "spec.triggers[0].authenticationRef.name",
                     _fix_authentication, id="trigger-authentication-fixed"),
        pytest.param(_hpa_on_the_workload, None, "spec.scaleTargetRef.name", _delete_the_hpa,
                     id="foreign-hpa-deleted"),
    ],
)
async def test_an_invalid_scaled_object_heals_when_what_it_depends_on_changes(
    api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any,
    break_it: Step, auth: str | None, field: str, heal: Step,
) -> None:
    address = f"{redis_server.host}:{redis_server.port}"
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await start_operator(retry_delay=SLOW_RETRY)
    await break_it(api, address)
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=address, list_name=list_name, auth=auth,
    ))

    async def ready_is(status: str) -> dict[str, Any] | None:
        condition = await api.condition("orders", "Ready")
        return condition if condition.get("status") == status else None

    failed = await cluster.until(lambda: ready_is("False"), what="orders Ready=False")
    assert f"{field}:" in failed["message"], failed
    await heal(api, address)
    await cluster.until(lambda: ready_is("True"), what="orders Ready=True once the cause is gone", within=10)
    code, hpa = await api.hpa("keda-hpa-orders")
    assert code == 200, hpa


@pytest.mark.parametrize(
    ("first", "cap", "expected"),
    [
        pytest.param(5.0, 300.0, [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0], id="defaults"),
        pytest.param(1.0, 4.0, [1.0, 2.0, 4.0, 4.0], id="small-cap"),
    ],
)
async def test_the_retry_of_an_invalid_scaled_object_backs_off_to_a_cap(
    first: float, cap: float, expected: list[float]
) -> None:
    runtime: Any = None
    requeue = handlers.Reconciler(runtime, first_delay=first, max_delay=cap)
    delays = [requeue.backoff(("default", "orders")) for _ in expected]
    await requeue.stop()
    assert delays == expected
    requeue.settled(("default", "orders"))
    again = handlers.Reconciler(runtime, first_delay=first, max_delay=cap)
    assert again.backoff(("default", "orders")) == first
    await again.stop()

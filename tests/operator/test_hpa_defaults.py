"""The sandbox defaults an HPA's `behavior` as the API server does (SetDefaults_HorizontalPodAutoscalerBehavior:
every unset field of scaleUp and scaleDown, scaleDown's stabilization window excepted), and the operator,
knowing those defaults, does not PUT its HPA again on a reconcile that changes nothing in it."""

from __future__ import annotations

from typing import Any

import pytest

from kube_sandbox import faults, testing
from tests.operator import cluster, test_healing
from tests.servers import redis_server as redis_fixtures

SCALE_UP = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}],
}
SCALE_DOWN = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
ONE_POD = [{"type": "Pods", "value": 1, "periodSeconds": 60}]


@pytest.mark.parametrize(
    ("behavior", "stored"),
    [
        pytest.param(None, None, id="no-behavior-stays-unset"),
        pytest.param({}, {"scaleUp": SCALE_UP, "scaleDown": SCALE_DOWN}, id="empty-behavior-filled"),
        pytest.param(
            {"scaleDown": {"stabilizationWindowSeconds": 60}},
            {"scaleUp": SCALE_UP, "scaleDown": {**SCALE_DOWN, "stabilizationWindowSeconds": 60}},
            id="scale-down-window-kept",
        ),
        pytest.param(
            {"scaleUp": {"policies": ONE_POD, "selectPolicy": "Min"}},
            {"scaleUp": {**SCALE_UP, "policies": ONE_POD, "selectPolicy": "Min"}, "scaleDown": SCALE_DOWN},
            id="given-fields-win",
        ),
    ],
)
async def test_the_sandbox_defaults_hpa_behavior_as_the_api_server(
    api: cluster.Api, behavior: dict[str, Any] | None, stored: dict[str, Any] | None
) -> None:
    body = test_healing._foreign_hpa("worker")
    if behavior is not None:
        body["spec"]["behavior"] = behavior
    created = await api.create(cluster.HPA_BASE.format(ns="default"), body)
    assert created["spec"].get("behavior") == stored
    assert created["spec"]["minReplicas"] == 1
    read = await api.get(f"{cluster.HPA_BASE.format(ns='default')}/legacy")
    assert read["spec"].get("behavior") == stored


async def test_an_unchanged_reconcile_does_not_write_the_hpa(
    sandbox: testing.Sandbox, api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str,
    start_operator: Any,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        advanced={"horizontalPodAutoscalerConfig": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 30}}}},
    ))
    await start_operator()
    await api.events_with("orders", "KEDAScalersStarted")
    code, hpa = await api.hpa("keda-hpa-orders")
    assert code == 200, hpa
    assert hpa["spec"]["behavior"]["scaleUp"] == SCALE_UP, "the stored HPA carries the API server's defaults"
    writes = faults.Rule(faults.Action.LATENCY, verbs=frozenset({"update", "patch"}),
                         resources=frozenset({"horizontalpodautoscalers"}), delay=0.0)
    sandbox.faults.add(writes)
    # A change that restarts the scale loop (a new generation) and leaves the HPA as it is.
    await api.patch(f"{cluster.SO_BASE.format(ns='default')}/orders", {"spec": {"cooldownPeriod": 6}})

    async def restarted() -> bool:
        events = await api.events_with("orders", "KEDAScalersStarted")
        return sum(int(e.get("count") or 1) for e in events) >= 2  # the same Event again counts up

    await cluster.until(restarted, what="the scale loop restarted on the new generation")
    fired = [r["fired"] for r in sandbox.faults.describe() if r["action"] == "latency"]
    assert fired == [0], "the owned HPA was written on a reconcile that changed nothing in it"
    code, after = await api.hpa("keda-hpa-orders")
    assert after["metadata"]["resourceVersion"] == hpa["metadata"]["resourceVersion"]

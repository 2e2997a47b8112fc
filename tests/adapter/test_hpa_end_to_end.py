"""HPA mode end to end, through the path a real cluster uses: the sandbox with RBAC, API aggregation and
its HPA controller (sync period 1 s), `ebb operator` and `ebb adapter` (in-process, through a kubeconfig),
a real Redis list. The operator wakes the Deployment 0 → 1; the HPA controller reads the list length from
the adapter through kube-apiserver's aggregation layer (front-proxy certificate, SubjectAccessReview of
the controller's ServiceAccount) and scales 1 → N = ceil(length / listLength); the list shrinks and the
HPA returns to 1; the list empties and the operator returns to 0 after the cooldown, where the HPA leaves
the target alone. The HPA's status and the ScaledObject's HPAActive condition say what a cluster says."""

from __future__ import annotations

import math
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from kube_sandbox import testing
from metrics_adapter import answers
from scaler.core import quantities
from tests.operator import cluster
from tests.operator.conftest import crds
from tests.servers import redis_server as redis_fixtures

APISERVICE = f"/apis/apiregistration.k8s.io/v1/apiservices/{answers.API_SERVICE_NAME}"
LIST_LENGTH = 5


@pytest.fixture
def sandbox() -> Iterator[testing.Sandbox]:
    """The sandbox as a cluster that runs HPAs (overrides the operator tests' plain one)."""
    with testing.Sandbox(
        rbac=True, hpa_controller=True, hpa_sync_period=1.0, aggregation_recheck=0.2, ready_delay=0.05, crds=crds()
    ) as running:
        yield running


@pytest.fixture
def kubeconfig(sandbox: testing.Sandbox, tmp_path: pathlib.Path) -> pathlib.Path:
    return sandbox.write_kubeconfig(tmp_path / "kubeconfig")


async def register(api: cluster.Api, adapter: Any) -> None:
    """The Service, Endpoints (the adapter on loopback) and APIService, as a chart would install them."""
    assert adapter.runner.ca_pem is not None and adapter.runner.port is not None
    for obj in testing.apiservice_manifests(
        answers.GROUP, answers.VERSION, namespace="default", service="ebb-metrics-apiserver",
        port=adapter.runner.port, ca_bundle_pem=adapter.runner.ca_pem.decode(),
    ):
        plural = {"Service": "/api/v1/namespaces/default/services", "Endpoints": "/api/v1/namespaces/default/endpoints",
                  "APIService": "/apis/apiregistration.k8s.io/v1/apiservices"}[obj["kind"]]
        await api.create(plural, obj)


def condition(body: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [c for c in (body.get("status") or {}).get("conditions") or [] if c.get("type") == kind]
    return found[0] if found else {}


async def test_zero_to_one_to_n_to_one_to_zero(
    sandbox: testing.Sandbox, redis: aioredis.Redis, redis_server: redis_fixtures.RedisServer, list_name: str,
    start_operator: Any, start_adapter: Any, api: cluster.Api,
) -> None:
    if True:  # one block: the steps read in order
        adapter = await start_adapter()
        await register(api, adapter)

        async def available() -> bool:
            return condition(await api.get(APISERVICE), "Available").get("status") == "True"

        await cluster.until(available, what="the APIService Available")
        # kubectl get --raw through the aggregation layer reaches the adapter.
        discovery = await api.get(f"/apis/{answers.GROUP_VERSION}")
        assert [r["name"] for r in discovery["resources"]] == [answers.PLACEHOLDER_RESOURCE]

        await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
        so = cluster.scaled_object(
            "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
            list_length=str(LIST_LENGTH), cooldown_period=5,
            advanced={"horizontalPodAutoscalerConfig": {"behavior": {
                "scaleDown": {"stabilizationWindowSeconds": 1},
                "scaleUp": {"stabilizationWindowSeconds": 0},
            }}},
        )
        await api.create(cluster.SO_BASE.format(ns="default"), so)
        await start_operator()
        metric = f"s0-redis-{list_name}"

        async def ready() -> bool:
            return (await api.condition("orders", "Ready")).get("status") == "True"

        await cluster.until(ready, what="Ready=True")
        assert await api.replicas("worker") == 0

        # 0 → 1 by the operator, then 1 → N by the HPA controller through the adapter.
        length = 23
        await redis.rpush(list_name, *[f"job-{i}" for i in range(length)])
        n = math.ceil(length / LIST_LENGTH)

        async def at(replicas: int) -> bool:
            return await api.replicas("worker") == replicas

        await cluster.until(lambda: at(n), what=f"worker at {n} replicas (HPA)", within=30)
        rescaled = await api.events_with("keda-hpa-orders", "SuccessfulRescale")
        assert rescaled[-1]["message"].startswith(f"New size: {n}; reason: ")
        assert rescaled[-1]["message"].endswith("above target")

        async def hpa_status(replicas: int) -> dict[str, Any] | None:
            code, body = await api.hpa("keda-hpa-orders")
            status = body.get("status") or {}
            return body if code == 200 and status.get("currentReplicas") == replicas and status.get("desiredReplicas") == replicas else None

        body = await cluster.until(lambda: hpa_status(n), what=f"the HPA status at {n}")
        [current] = body["status"]["currentMetrics"]
        assert current["type"] == "External"
        assert current["external"]["metric"]["name"] == metric
        # The HPA's per-pod average of the value the adapter served.
        assert quantities.parse(current["external"]["current"]["averageValue"]) == pytest.approx(length / n, abs=0.001)
        assert condition(body, "ScalingActive")["status"] == "True"
        assert condition(body, "AbleToScale")["status"] == "True"
        assert body["status"]["lastScaleTime"]

        async def hpa_active(status: str, reason: str) -> dict[str, Any] | None:
            found = await api.condition("orders", "HPAActive")
            return found if (found.get("status"), found.get("reason")) == (status, reason) else None

        await cluster.until(lambda: hpa_active("True", "HPAActive"), what="HPAActive=True on the ScaledObject")

        # N → 1: the list shrinks below one replica's worth.
        await redis.ltrim(list_name, 0, 1)
        await cluster.until(lambda: at(1), what="worker back at 1 replica (HPA)", within=30)

        # 1 → 0 by the operator after the cooldown; the HPA leaves a target at 0 alone.
        await redis.delete(list_name)
        await cluster.until(lambda: at(0), what="worker at 0 after the cooldown", within=30)

        async def disabled() -> dict[str, Any] | None:
            _, body = await api.hpa("keda-hpa-orders")
            found = condition(body, "ScalingActive")
            return found if found.get("reason") == "ScalingDisabled" else None

        found = await cluster.until(disabled, what="the HPA's ScalingActive=False ScalingDisabled")
        assert found["status"] == "False"
        assert found["message"] == "scaling is disabled since the replica count of the target is zero"
        await cluster.until(lambda: hpa_active("True", "ScalingDisabled"), what="HPAActive=True ScalingDisabled")

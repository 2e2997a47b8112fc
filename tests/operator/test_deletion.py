"""Deleting a ScaledObject and adopting an HPA: `advanced.restoreToOriginalReplicaCount` puts the workload
back to the replicas it had before the ScaledObject (else it stays where the operator left it), the
finalizer goes and so does the HPA; an existing HPA on the workload is adopted only with
`scaledobject.keda.sh/transfer-hpa-ownership: "true"` and its name in
`advanced.horizontalPodAutoscalerConfig.name`, otherwise the ScaledObject is Ready=False saying why."""

from __future__ import annotations

from typing import Any

import pytest

from scaler.core import specs
from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures

LEGACY_HPA = "worker-hpa"


def _legacy_hpa() -> dict[str, Any]:
    """An HPA someone made by hand before Ebb came: CPU-based, on the same Deployment."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": LEGACY_HPA, "labels": {"team": "orders"}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "worker"},
            "minReplicas": 1,
            "maxReplicas": 4,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80},
            }}],
        },
    }


async def _replicas_are(api: cluster.Api, expected: int) -> bool:
    return await api.replicas("worker") == expected


async def _gone(api: cluster.Api, path: str) -> bool:
    status, _ = await api.call("GET", path)
    return status == 404


@pytest.mark.parametrize(("restore", "after_delete"), [
    pytest.param(True, 3, id="restore-to-original-3"),
    pytest.param(False, 0, id="no-restore-stays-at-0"),
])
async def test_deleting_the_scaled_object_restores_the_original_replicas_when_asked(
    api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any,
    restore: bool, after_delete: int,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker", replicas=3))
    so_path = f"{cluster.SO_BASE.format(ns='default')}/orders"
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        advanced={"restoreToOriginalReplicaCount": restore},
    ))
    await start_operator()

    # The list is empty: idle, so the operator takes the worker to 0 and remembers the 3 it had.
    await cluster.until(lambda: _replicas_are(api, 0), what="worker at 0 (idle)", within=20)
    body = await api.scaled_object("orders")
    assert body["status"]["originalReplicaCount"] == 3
    assert body["metadata"]["finalizers"] == ["finalizer.keda.sh"]
    hpa_code, _ = await api.hpa("keda-hpa-orders")
    assert hpa_code == 200

    # 202: deletion pending on the finalizer, as the API server answers.
    assert await api.delete(so_path) == 202
    # The finalizer holds the object until the operator has cleaned up; then it is gone.
    await cluster.until(lambda: _gone(api, so_path), what="the ScaledObject gone (finalizer removed)")
    assert await api.replicas("worker") == after_delete
    assert await _gone(api, f"{cluster.HPA_BASE.format(ns='default')}/keda-hpa-orders")
    deleted = await api.events_with("orders", "ScaledObjectDeleted")
    assert [e["message"] for e in deleted] == ["ScaledObject was deleted"]


async def test_an_existing_hpa_is_adopted_with_transfer_hpa_ownership(
    api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker", replicas=1))
    legacy = await api.create(cluster.HPA_BASE.format(ns="default"), _legacy_hpa())
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        min_replicas=1, max_replicas=6,
        annotations={specs.TRANSFER_HPA_OWNERSHIP: "true"},
        advanced={"horizontalPodAutoscalerConfig": {"name": LEGACY_HPA}},
    ))
    await start_operator()

    async def ready() -> bool:
        return (await api.condition("orders", "Ready")).get("status") == "True"

    await cluster.until(ready, what="Ready=True")
    body = await api.scaled_object("orders")
    assert body["status"]["hpaName"] == LEGACY_HPA
    code, hpa_body = await api.hpa(LEGACY_HPA)
    assert code == 200
    # Now ours: owned by the ScaledObject, on the Redis metric, with the ScaledObject's bounds.
    assert hpa_body["metadata"]["uid"] == legacy["metadata"]["uid"]  # replaced in place, not recreated
    owners = hpa_body["metadata"]["ownerReferences"]
    assert [(o["kind"], o["name"], o["uid"], o.get("controller")) for o in owners] == [
        ("ScaledObject", "orders", body["metadata"]["uid"], True),
    ]
    assert hpa_body["spec"]["minReplicas"] == 1 and hpa_body["spec"]["maxReplicas"] == 6
    assert [m["external"]["metric"]["name"] for m in hpa_body["spec"]["metrics"]] == [f"s0-redis-{list_name}"]
    assert hpa_body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "keda-operator"
    assert (await api.hpa("keda-hpa-orders"))[0] == 404

    # Adopted means owned: deleting the ScaledObject deletes the HPA too.
    assert await api.delete(f"{cluster.SO_BASE.format(ns='default')}/orders") == 202
    await cluster.until(lambda: _gone(api, f"{cluster.HPA_BASE.format(ns='default')}/{LEGACY_HPA}"),
                        what="the adopted HPA deleted with the ScaledObject")


@pytest.mark.parametrize(("annotations", "advanced", "message"), [
    pytest.param(
        {}, {"horizontalPodAutoscalerConfig": {"name": LEGACY_HPA}},
        "ScaledObject default/orders is invalid: spec.scaleTargetRef.name: the workload 'worker' of type "
        f"apps/v1.Deployment is already managed by the HPA '{LEGACY_HPA}'; to adopt it, annotate the ScaledObject "
        f"{specs.TRANSFER_HPA_OWNERSHIP}: \"true\" and set spec.advanced.horizontalPodAutoscalerConfig.name",
        id="no-annotation-other-hpa",
    ),
    pytest.param(
        {specs.TRANSFER_HPA_OWNERSHIP: "true"}, None,
        "ScaledObject default/orders is invalid: spec.advanced.horizontalPodAutoscalerConfig.name: must be "
        f"'{LEGACY_HPA}' to take over the existing HPA '{LEGACY_HPA}' with {specs.TRANSFER_HPA_OWNERSHIP}",
        id="annotation-without-hpa-name",
    ),
])
async def test_an_existing_hpa_is_not_taken_without_the_transfer(
    api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any,
    annotations: dict[str, str], advanced: dict[str, Any] | None, message: str,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker", replicas=2))
    legacy = await api.create(cluster.HPA_BASE.format(ns="default"), _legacy_hpa())
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        annotations=annotations, advanced=advanced,
    ))
    await start_operator()

    async def refused() -> dict[str, Any]:
        ready = await api.condition("orders", "Ready")
        return ready if ready.get("status") == "False" else {}

    ready = await cluster.until(refused, what="Ready=False")
    assert ready == {"type": "Ready", "status": "False", "reason": "ScaledObjectCheckFailed", "message": message}
    failed = await api.events_with("orders", "ScaledObjectCheckFailed")
    assert [(e["type"], e["message"]) for e in failed] == [("Warning", message)]
    # Nothing else disturbed: the hand-made HPA untouched, no HPA of ours, the worker left at 2.
    code, hpa_body = await api.hpa(LEGACY_HPA)
    assert code == 200
    assert hpa_body["metadata"]["resourceVersion"] == legacy["metadata"]["resourceVersion"]
    assert (await api.hpa("keda-hpa-orders"))[0] == 404
    assert await api.replicas("worker") == 2


async def test_an_hpa_opted_out_of_the_ownership_check_does_not_block(
    api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any,
) -> None:
    hand_made = _legacy_hpa()
    hand_made["metadata"]["annotations"] = {specs.HPA_OWNERSHIP_VALIDATION: "false"}
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker", replicas=1))
    legacy = await api.create(cluster.HPA_BASE.format(ns="default"), hand_made)
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
    ))
    await start_operator()

    async def ready() -> bool:
        return (await api.condition("orders", "Ready")).get("status") == "True"

    await cluster.until(ready, what="Ready=True")
    # Ours is built beside it; the opted-out HPA is left alone.
    assert (await api.hpa("keda-hpa-orders"))[0] == 200
    code, hpa_body = await api.hpa(LEGACY_HPA)
    assert code == 200
    assert hpa_body["metadata"]["resourceVersion"] == legacy["metadata"]["resourceVersion"]


async def test_deleting_after_the_target_is_gone_still_removes_the_finalizer(
    api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker", replicas=3))
    so_path = f"{cluster.SO_BASE.format(ns='default')}/orders"
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        advanced={"restoreToOriginalReplicaCount": True},
    ))
    await start_operator()
    await cluster.until(lambda: _replicas_are(api, 0), what="worker at 0 (idle)", within=20)
    assert await api.delete(f"{cluster.DEPLOYMENT_BASE.format(ns='default')}/worker") == 200
    await cluster.until(lambda: _gone(api, f"{cluster.DEPLOYMENT_BASE.format(ns='default')}/worker"),
                        what="the Deployment gone")

    assert await api.delete(so_path) == 202
    # Nothing to restore: the finalizer is removed all the same, and the HPA deleted.
    await cluster.until(lambda: _gone(api, so_path), what="the ScaledObject gone (finalizer removed)")
    assert await _gone(api, f"{cluster.HPA_BASE.format(ns='default')}/keda-hpa-orders")

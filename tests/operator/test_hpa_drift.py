"""An HPA a ScaledObject owns is put back when someone edits or deletes it, as KEDA does. Which changes
count (spec, labels, annotations — not the status a real HPA controller writes every sync) and which HPAs
are owned is table-tested on the pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from scaler.operator import reconciling
from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures

HPA_PATH = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/keda-hpa-orders"


async def test_an_edited_or_deleted_hpa_is_put_back(
    api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    so = cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name
    )
    await api.create(cluster.SO_BASE.format(ns="default"), so)
    await start_operator()

    async def built() -> dict[str, Any] | None:
        code, body = await api.hpa("keda-hpa-orders")
        return body if code == 200 else None

    original = await cluster.until(built, what="the HPA")
    wanted_spec = original["spec"]

    # Status only: the HPA controller's own writes are left alone.
    code, _ = await api.call(
        "PATCH", HPA_PATH + "/status", {"status": {"currentReplicas": 0, "desiredReplicas": 0}},
        content_type="application/merge-patch+json",
    )  # fmt: skip
    assert code == 200
    after_status = await api.get(HPA_PATH)

    # Someone edits the spec and a label: both come back.
    await api.patch(HPA_PATH, {"metadata": {"labels": {"team": "x"}}, "spec": {"maxReplicas": 99}})

    async def restored() -> dict[str, Any] | None:
        body = await built()
        if body and body["spec"] == wanted_spec and "team" not in body["metadata"].get("labels", {}):
            return body
        return None

    put_back = await cluster.until(restored, what="the edited HPA put back")
    assert put_back["metadata"]["uid"] == original["metadata"]["uid"]
    assert int(put_back["metadata"]["resourceVersion"]) > int(after_status["metadata"]["resourceVersion"])

    # Someone deletes it: it is created again.
    assert await api.delete(HPA_PATH) in (200, 202)

    async def recreated() -> dict[str, Any] | None:
        body = await built()
        return body if body and body["metadata"]["uid"] != original["metadata"]["uid"] else None

    again = await cluster.until(recreated, what="the deleted HPA created again")
    assert again["spec"] == wanted_spec


BASE: dict[str, Any] = {
    "metadata": {"name": "keda-hpa-orders", "labels": {"a": "1"}, "annotations": {"b": "2"}},
    "spec": {"minReplicas": 1, "maxReplicas": 10},
    "status": {"currentReplicas": 1},
}


@pytest.mark.parametrize(
    ("change", "drifted"),
    [
        pytest.param({"status": {"currentReplicas": 4}}, False, id="status-only"),
        pytest.param({"metadata": {**BASE["metadata"], "resourceVersion": "9"}}, False, id="resource-version"),
        pytest.param({"spec": {"minReplicas": 1, "maxReplicas": 99}}, True, id="spec"),
        pytest.param({"metadata": {**BASE["metadata"], "labels": {}}}, True, id="labels"),
        pytest.param({"metadata": {**BASE["metadata"], "annotations": {"b": "3"}}}, True, id="annotations"),
    ],
)
def test_what_counts_as_drift(change: dict[str, Any], drifted: bool) -> None:
    assert reconciling.hpa_drifted(BASE, {**BASE, **change}) is drifted


@pytest.mark.parametrize(
    ("owners", "expected"),
    [
        pytest.param([{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "orders", "controller": True}],
                     "orders", id="controlled-by-a-scaled-object"),
        pytest.param([{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "orders"}], None,
                     id="owner-but-not-controller"),
        pytest.param([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "x", "controller": True}], None,
                     id="other-kind"),
        pytest.param([], None, id="no-owner"),
    ],
)  # fmt: skip
def test_which_scaled_object_owns_an_hpa(owners: list[dict[str, Any]], expected: str | None) -> None:
    assert reconciling.owning_scaled_object({"metadata": {"ownerReferences": owners}}) == expected

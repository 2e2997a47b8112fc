"""`kube.Watched`, the operator's cache of watched objects: bodies kept without managedFields, and the
per-namespace stamps that tell a scale loop whether what its triggers are built from changed."""

from __future__ import annotations

from typing import Any

import pytest

from scaler.operator import kube


def body(name: str, namespace: str = "apps", **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": "1"}, **extra}


def deployment(name: str, *, image: str = "worker:1", replicas: int = 0, ready: int = 0) -> dict[str, Any]:
    return body(name, spec={"replicas": replicas, "template": {"spec": {"containers": [{"name": "w", "image": image}]}}},
                status={"readyReplicas": ready})


def test_bodies_are_kept_without_managed_fields_and_the_callers_dict_is_left_alone() -> None:
    watched = kube.Watched()
    given = body("orders")
    given["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    watched.put(kube.SCALED_OBJECT, given)
    kept = watched.get(kube.SCALED_OBJECT, "apps", "orders")
    assert kept is not None
    assert "managedFields" not in kept["metadata"]
    assert kept["metadata"]["resourceVersion"] == "1"
    assert "managedFields" in given["metadata"]


def test_a_body_without_managed_fields_is_kept_as_given() -> None:
    watched = kube.Watched()
    given = body("orders")
    watched.put(kube.SCALED_OBJECT, given)
    assert watched.get(kube.SCALED_OBJECT, "apps", "orders") is given


@pytest.mark.parametrize(("kind", "namespace", "changes"), [
    pytest.param(kube.SECRET, "apps", {"apps"}, id="secret-in-own-namespace"),
    pytest.param(kube.CONFIG_MAP, "apps", {"apps"}, id="configmap-in-own-namespace"),
    pytest.param(kube.TRIGGER_AUTHENTICATION, "apps", {"apps"}, id="trigger-authentication"),
    pytest.param(kube.CONFIG_MAP, "kube-system", set(), id="configmap-elsewhere"),
    pytest.param(kube.SECRET, "keda", {"apps", "billing"}, id="secret-where-cluster-auths-read"),
    pytest.param(kube.CLUSTER_TRIGGER_AUTHENTICATION, "", {"apps", "billing"}, id="cluster-trigger-authentication"),
])
def test_input_changes_stamp_only_the_namespaces_that_can_read_them(
    kind: str, namespace: str, changes: set[str]
) -> None:
    watched = kube.Watched()
    before = {ns: watched.inputs_stamp(ns, "keda") for ns in ("apps", "billing")}
    watched.put(kind, body("creds", namespace))
    after = {ns: watched.inputs_stamp(ns, "keda") for ns in ("apps", "billing")}
    assert {ns for ns in before if before[ns] != after[ns]} == changes
    global_before = watched.inputs_version
    watched.delete(kind, body("creds", namespace))
    assert watched.inputs_version == global_before + 1
    assert {ns for ns in after if after[ns] != watched.inputs_stamp(ns, "keda")} == changes


@pytest.mark.parametrize(("update", "changed"), [
    pytest.param({"replicas": 3, "ready": 2}, False, id="replicas-and-status"),
    pytest.param({"image": "worker:2"}, True, id="pod-template"),
])
def test_a_workload_changes_the_inputs_only_when_its_pod_template_does(update: dict[str, Any], changed: bool) -> None:
    watched = kube.Watched()
    watched.put(kube.DEPLOYMENT, deployment("worker"))
    stamp = watched.inputs_stamp("apps", "keda")
    watched.put(kube.DEPLOYMENT, deployment("worker", **update))
    assert (watched.inputs_stamp("apps", "keda") != stamp) is changed


def test_scaled_objects_and_hpas_are_not_trigger_inputs() -> None:
    watched = kube.Watched()
    stamp = watched.inputs_stamp("apps", "keda")
    watched.put(kube.SCALED_OBJECT, body("orders"))
    watched.put(kube.HPA, body("keda-hpa-orders"))
    assert watched.inputs_stamp("apps", "keda") == stamp
    assert watched.inputs_version == 0

"""`helm install`, `helm upgrade` and `helm uninstall` of the chart against the API sandbox, with the real
helm binary talking to it as to a cluster (helm's release records are Secrets its typed client writes as
protobuf, which the sandbox decodes as kube-apiserver does)."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from kube_sandbox import testing
from tests.chart import helm
from tests.sandbox import rawhttp


@pytest.fixture
def sandbox() -> Iterator[testing.Sandbox]:
    with testing.Sandbox(ready_delay=0.05, seed=11) as running:
        yield running


@pytest.fixture
def kubeconfig(sandbox: testing.Sandbox, tmp_path: pathlib.Path) -> pathlib.Path:
    return sandbox.write_kubeconfig(tmp_path / "kubeconfig")


_PLURALS = {
    "ServiceAccount": "serviceaccounts", "Secret": "secrets", "Service": "services", "Deployment": "deployments",
    "ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings", "Role": "roles",
    "RoleBinding": "rolebindings", "APIService": "apiservices", "CustomResourceDefinition": "customresourcedefinitions",
}  # fmt: skip


def _path_of(doc: dict[str, Any]) -> str:
    api_version, meta = doc["apiVersion"], doc["metadata"]
    base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
    where = f"/namespaces/{meta['namespace']}" if "namespace" in meta else ""
    return f"{base}{where}/{_PLURALS[doc['kind']]}/{meta['name']}"


def _helm(home: pathlib.Path, kubeconfig: pathlib.Path, *args: str) -> str:
    done = helm.run([*args, "--kubeconfig", str(kubeconfig)], home, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_install_upgrade_and_uninstall_keep_the_certificate_the_crds_and_the_users_scaled_objects(
    sandbox: testing.Sandbox, kubeconfig: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    api = rawhttp.Api(sandbox.base_url)
    installed = _helm(tmp_path, kubeconfig, "install", "ebb", str(helm.CHART), "-n", "ebb", "--create-namespace")
    assert "STATUS: deployed" in installed
    rendered = helm.template(tmp_path, namespace="ebb")
    for doc in rendered.documents:
        if doc["kind"] == "Pod":
            continue  # the helm test hook: created by `helm test` only
        path = _path_of(doc)
        status = api.get(path).status
        assert status == 200, f"{doc['kind']}/{doc['metadata']['name']} was not created ({path}: {status})"

    secret = api.get("/api/v1/namespaces/ebb/secrets/ebb-certs").body
    api_service = api.get("/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io").body
    assert api_service["spec"]["caBundle"] == secret["data"]["ca.crt"]

    # A user's ScaledObject, stored through the installed CRD.
    reply = api.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    assert reply.status == 201, reply.body
    scaled_object = {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "orders", "namespace": "shop"},
        "spec": {"scaleTargetRef": {"name": "orders"},
                 "triggers": [{"type": "redis", "metadata": {"address": "redis:6379", "listName": "orders"}}]},
    }  # fmt: skip
    reply = api.post("/apis/keda.sh/v1alpha1/namespaces/shop/scaledobjects", scaled_object)
    assert reply.status == 201, reply.body

    upgraded = _helm(tmp_path, kubeconfig, "upgrade", "ebb", str(helm.CHART), "-n", "ebb", "--set", "logLevel=DEBUG")
    assert "STATUS: deployed" in upgraded and "REVISION: 2" in upgraded
    secret_after = api.get("/api/v1/namespaces/ebb/secrets/ebb-certs").body
    assert secret_after["data"] == secret["data"], "helm upgrade must keep the serving certificate"
    api_service_after = api.get("/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io").body
    assert api_service_after["spec"]["caBundle"] == secret["data"]["ca.crt"]
    deployment = api.get("/apis/apps/v1/namespaces/ebb/deployments/ebb-operator").body
    assert "--log-level=DEBUG" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]

    uninstalled = helm.run(["uninstall", "ebb", "-n", "ebb", "--kubeconfig", str(kubeconfig)], tmp_path, check=False)
    assert uninstalled.returncode == 0, uninstalled.stderr
    assert "kept due to the resource policy" in uninstalled.stdout
    for crd in ("scaledobjects.keda.sh", "triggerauthentications.keda.sh", "clustertriggerauthentications.keda.sh"):
        status = api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}").status
        assert status == 200, f"{crd} was deleted by helm uninstall"
    kept = api.get("/apis/keda.sh/v1alpha1/namespaces/shop/scaledobjects/orders")
    assert kept.status == 200 and kept.body["spec"]["scaleTargetRef"] == {"name": "orders"}
    for path in ("/apis/apps/v1/namespaces/ebb/deployments/ebb-operator", "/api/v1/namespaces/ebb/secrets/ebb-certs",
                 "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io"):  # fmt: skip
        status = api.get(path).status
        assert status == 404, f"{path} outlived helm uninstall"

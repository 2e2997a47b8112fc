"""API aggregation: an APIService makes the sandbox proxy its group/version to a real TLS server on loopback,
with the front-proxy client certificate and the caller's identity in X-Remote-* headers; availability checks,
503 while unavailable, discovery of the aggregated group, and kubectl reading a metric through it."""

from __future__ import annotations

import base64
import http.client
import json
import pathlib
import subprocess
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from kube_sandbox import testing
from tests.sandbox import aggregated, rawhttp

METRIC_PATH = "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/s0-queue"
APISERVICE = "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io"


@pytest.fixture
def rbac_sandbox() -> Iterator[testing.Sandbox]:
    with testing.Sandbox(rbac=True, ready_delay=0.05, seed=7, aggregation_recheck=0.2) as running:
        yield running


@pytest.fixture
def admin(rbac_sandbox: testing.Sandbox) -> rawhttp.Api:
    return rawhttp.Api(rbac_sandbox.base_url, token=rbac_sandbox.admin_token)


@pytest.fixture
def adapter(admin: rawhttp.Api) -> Iterator[aggregated.AggregatedServer]:
    with aggregated.AggregatedServer(admin) as server:
        server.set_value("s0-queue", "2500m")
        yield server


def register(api: rawhttp.Api, server: aggregated.AggregatedServer, *, ca_pem: str | None = None,
             skip: tuple[str, ...] = ()) -> None:
    for obj in testing.apiservice_manifests("external.metrics.k8s.io", "v1beta1", namespace="default",
                                            service=server.service_name, port=server.port,
                                            ca_bundle_pem=server.ca_pem if ca_pem is None else ca_pem):
        if obj["kind"] in skip:
            continue
        plural = {"Service": "/api/v1/namespaces/default/services", "Endpoints": "/api/v1/namespaces/default/endpoints",
                  "APIService": "/apis/apiregistration.k8s.io/v1/apiservices"}[obj["kind"]]
        reply = api.post(plural, obj)
        assert reply.status == 201, reply.body


def available(api: rawhttp.Api) -> dict[str, Any]:
    def condition() -> dict[str, Any] | None:
        body = api.get(APISERVICE).body
        found = [c for c in (body.get("status") or {}).get("conditions") or [] if c["type"] == "Available"]
        return found[0] if found else None
    found = rawhttp.eventually(condition)
    return found


def settle(api: rawhttp.Api, status: str, reason: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        condition = available(api)
        return condition if (condition["status"], condition["reason"]) == (status, reason) else None
    return rawhttp.eventually(check)


# --- proxying ------------------------------------------------------------------------------------------


def test_requests_are_proxied_with_the_front_proxy_certificate_and_the_callers_identity(
        rbac_sandbox: testing.Sandbox, admin: rawhttp.Api, adapter: aggregated.AggregatedServer) -> None:
    register(admin, adapter)
    assert settle(admin, "True", "Passed")["message"] == "all checks passed"
    token = rbac_sandbox.service_account_token("default", "reader")
    admin.post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        "metadata": {"name": "reader-metrics"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "metrics-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": "default"}]})
    admin.post("/apis/rbac.authorization.k8s.io/v1/clusterroles", {
        "metadata": {"name": "metrics-reader"},
        "rules": [{"apiGroups": ["external.metrics.k8s.io"], "resources": ["*"], "verbs": ["get", "list"]}]})
    reader = rawhttp.Api(rbac_sandbox.base_url, token=token)
    reader_uid = admin.get("/api/v1/namespaces/default/serviceaccounts/reader").body["metadata"]["uid"]
    conn_headers = {"X-Remote-User": "system:admin", "X-Remote-Group": "system:masters"}  # forged: dropped
    reply = reader.request("GET", METRIC_PATH + "?labelSelector=scaledobject.keda.sh%2Fname%3Dworker",
                           accept="application/json")
    assert reply.status == 200, reply.body
    assert reply.body["items"][0]["value"] == "2500m"
    forged = _get_with_headers(rbac_sandbox.base_url, METRIC_PATH, token, conn_headers)
    assert forged == 200
    seen = [s for s in adapter.requests() if s.path.endswith("/s0-queue")]
    assert len(seen) == 2
    for request in seen:
        assert (request.peer_cn, request.trusted) == ("front-proxy-client", True)
        assert request.header("X-Remote-User") == ["system:serviceaccount:default:reader"]
        assert request.header("X-Remote-Group") == ["system:serviceaccounts", "system:serviceaccounts:default",
                                                    "system:authenticated"]
        assert request.header("Authorization") == []
        assert request.header("X-Remote-Uid") == [reader_uid]
        [credential] = request.header("X-Remote-Extra-authentication.kubernetes.io%2Fcredential-id")
        assert credential.startswith("JTI=")
    assert seen[0].query == "labelSelector=scaledobject.keda.sh%2Fname%3Dworker"
    probes = [s for s in adapter.requests() if s.path == "/apis/external.metrics.k8s.io/v1beta1"]
    assert probes and probes[0].header("X-Remote-User") == ["system:kube-aggregator"]
    assert probes[0].header("X-Remote-Group") == ["system:masters"]


def _get_with_headers(base_url: str, path: str, token: str, extra: dict[str, str]) -> int:
    parsed = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port or 80, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}", **extra})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_the_caller_is_authorized_before_anything_is_proxied(
        rbac_sandbox: testing.Sandbox, admin: rawhttp.Api, adapter: aggregated.AggregatedServer) -> None:
    register(admin, adapter)
    settle(admin, "True", "Passed")
    before = len(adapter.requests())
    stranger = rawhttp.Api(rbac_sandbox.base_url, token=rbac_sandbox.service_account_token("default", "stranger"))
    reply = stranger.get(METRIC_PATH)
    assert reply.status == 403
    assert reply.body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 's0-queue.external.metrics.k8s.io is forbidden: User "system:serviceaccount:default:stranger" '
                   'cannot list resource "s0-queue" in API group "external.metrics.k8s.io" in the namespace "default"',
        "reason": "Forbidden", "details": {"group": "external.metrics.k8s.io", "kind": "s0-queue"}, "code": 403}
    assert len([s for s in adapter.requests()[before:] if s.path.endswith("/s0-queue")]) == 0


def test_built_in_group_versions_are_local_apiservices(admin: rawhttp.Api) -> None:
    def local() -> dict[str, tuple[str, str]] | None:
        items = admin.get("/apis/apiregistration.k8s.io/v1/apiservices").body["items"]
        found = {i["metadata"]["name"]: next(((c["status"], c["reason"]) for c in (i.get("status") or {}).get(
            "conditions") or []), ("", "")) for i in items}
        return found if all(v != ("", "") for v in found.values()) else None
    found = rawhttp.eventually(local)
    assert {"v1.", "v1.apps", "v2.autoscaling", "v1.apiregistration.k8s.io"} <= set(found)
    assert set(found.values()) == {("True", "Local")}


def test_discovery_lists_the_aggregated_group(admin: rawhttp.Api, adapter: aggregated.AggregatedServer) -> None:
    register(admin, adapter)
    settle(admin, "True", "Passed")
    groups = {g["name"]: g for g in admin.get("/apis").body["groups"]}
    version = {"groupVersion": "external.metrics.k8s.io/v1beta1", "version": "v1beta1"}
    assert groups["external.metrics.k8s.io"] == {"name": "external.metrics.k8s.io", "versions": [version],
                                                 "preferredVersion": version}
    assert admin.get("/apis/external.metrics.k8s.io").body == {
        "kind": "APIGroup", "apiVersion": "v1", "name": "external.metrics.k8s.io", "versions": [version],
        "preferredVersion": version}
    resources = admin.get("/apis/external.metrics.k8s.io/v1beta1").body
    assert resources["groupVersion"] == "external.metrics.k8s.io/v1beta1"
    assert [r["name"] for r in resources["resources"]] == ["externalmetrics"]


def test_kubectl_get_raw_reads_a_metric_through_the_sandbox(tmp_path: pathlib.Path) -> None:
    # kubectl (client-go) sends no bearer token to a plain-HTTP server, so this runs on a sandbox without RBAC,
    # where an anonymous caller is the admin.
    with testing.Sandbox(aggregation_recheck=0.2) as open_sandbox:
        api = rawhttp.Api(open_sandbox.base_url)
        with aggregated.AggregatedServer(api) as server:
            server.set_value("s0-queue", "7", "500m")
            register(api, server)
            settle(api, "True", "Passed")
            kubeconfig = open_sandbox.write_kubeconfig(tmp_path / "kubeconfig")
            done = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "get", "--raw", METRIC_PATH],
                                  capture_output=True, text=True, timeout=60, check=False)
            assert done.returncode == 0, done.stderr
            assert [item["value"] for item in json.loads(done.stdout)["items"]] == ["7", "500m"]
            [seen] = [s for s in server.requests() if s.path.endswith("/s0-queue")]
            assert seen.header("X-Remote-User") == ["system:admin"]
            assert seen.header("User-Agent")[0].startswith("kubectl/")


# --- availability --------------------------------------------------------------------------------------


def test_503_while_the_server_is_unreachable_and_the_condition_says_why(
        admin: rawhttp.Api, adapter: aggregated.AggregatedServer) -> None:
    register(admin, adapter)
    settle(admin, "True", "Passed")
    adapter.stop()
    reply = admin.get(METRIC_PATH)
    assert reply.status == 503
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    condition = settle(admin, "False", "FailedDiscoveryCheck")
    url = f"https://127.0.0.1:{adapter.port}/apis/external.metrics.k8s.io/v1beta1"
    assert condition["message"].startswith(f"failing or missing response from {url}: ")
    reply = admin.get(METRIC_PATH)
    assert (reply.status, reply.body) == (503, "service unavailable\n")


@pytest.mark.parametrize(("skip", "wrong_ca", "reason", "message"), [
    pytest.param(("Service",), False, "ServiceNotFound", 'service/metrics in "default" is not present', id="no-service"),
    pytest.param(("Endpoints",), False, "EndpointsNotFound", 'cannot find endpoints for service/metrics in "default"',
                 id="no-endpoints"),
    pytest.param((), True, "FailedDiscoveryCheck", "certificate verify failed", id="untrusted-serving-certificate"),
])
def test_an_apiservice_that_cannot_be_reached_is_unavailable(
        admin: rawhttp.Api, adapter: aggregated.AggregatedServer, skip: tuple[str, ...], wrong_ca: bool,
        reason: str, message: str) -> None:
    register(admin, adapter, skip=skip, ca_pem=trustme.CA().cert_pem.bytes().decode() if wrong_ca else None)
    condition = settle(admin, "False", reason)
    assert message in condition["message"]
    reply = admin.get(METRIC_PATH)
    assert (reply.status, reply.body) == (503, "service unavailable\n")
    assert not [s for s in adapter.requests() if s.path.endswith("/s0-queue")]


@pytest.mark.parametrize(("spec", "field", "expected"), [
    pytest.param({"group": "external.metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                  "versionPriority": 100, "insecureSkipTLSVerify": True,
                  "caBundle": base64.b64encode(b"x").decode(),
                  "service": {"namespace": "default", "name": "m"}},
                 "spec.insecureSkipTLSVerify", "may not be true if caBundle is present", id="insecure-and-bundle"),
    pytest.param({"group": "external.metrics.k8s.io", "version": "v1", "groupPriorityMinimum": 100,
                  "versionPriority": 100, "service": {"namespace": "default", "name": "m"}},
                 "metadata.name", 'must be `spec.version+"."+spec.group`', id="name-mismatch"),
    pytest.param({"group": "external.metrics.k8s.io", "version": "v1beta1", "versionPriority": 100,
                  "service": {"namespace": "default", "name": "m"}},
                 "spec.groupPriorityMinimum", "must be positive", id="no-group-priority"),
])
def test_invalid_apiservices_are_422_naming_the_field(admin: rawhttp.Api, spec: dict[str, Any], field: str,
                                                      expected: str) -> None:
    reply = admin.post("/apis/apiregistration.k8s.io/v1/apiservices",
                       {"metadata": {"name": "v1beta1.external.metrics.k8s.io"}, "spec": spec})
    assert reply.status == 422
    [cause] = reply.body["details"]["causes"]
    assert cause["field"] == field
    assert expected in cause["message"]


def test_an_endpointslice_leads_to_the_server_too(admin: rawhttp.Api, adapter: aggregated.AggregatedServer) -> None:
    register(admin, adapter, skip=("Endpoints",))
    settle(admin, "False", "EndpointsNotFound")
    reply = admin.post("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", {
        "metadata": {"name": "metrics-x1", "labels": {"kubernetes.io/service-name": "metrics"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": adapter.port, "protocol": "TCP"}]})
    assert reply.status == 201
    settle(admin, "True", "Passed")
    assert admin.get(METRIC_PATH).body["items"][0]["value"] == "2500m"


def test_only_loopback_endpoints_are_dialled(admin: rawhttp.Api, adapter: aggregated.AggregatedServer) -> None:
    register(admin, adapter, skip=("Endpoints",))
    admin.post("/api/v1/namespaces/default/endpoints", {
        "metadata": {"name": "metrics"},
        "subsets": [{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"name": "https", "port": adapter.port}]}]})
    condition = settle(admin, "False", "MissingEndpoints")
    assert condition["message"] == 'endpoints for service/metrics in "default" have no addresses with port name "https"'

"""Identities and RBAC: ServiceAccount tokens (TokenRequest), TokenReview and SubjectAccessReview backed by them,
401 and 403 exactly as kube-apiserver answers, roles and bindings, aggregated ClusterRoles, the bootstrap policy
and the extension-apiserver-authentication ConfigMap."""

from __future__ import annotations

import base64
import json
import pathlib
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509

from kube_sandbox import testing
from tests.chart import helm
from tests.sandbox import objects, rawhttp

RBAC = "/apis/rbac.authorization.k8s.io/v1"


@pytest.fixture
def rbac_sandbox() -> Iterator[testing.Sandbox]:
    with testing.Sandbox(rbac=True, ready_delay=0.05, seed=7) as running:
        yield running


@pytest.fixture
def admin(rbac_sandbox: testing.Sandbox) -> rawhttp.Api:
    return rawhttp.Api(rbac_sandbox.base_url, token=rbac_sandbox.admin_token)


def as_account(sandbox: testing.Sandbox, name: str, namespace: str = "default") -> rawhttp.Api:
    return rawhttp.Api(sandbox.base_url, token=sandbox.service_account_token(namespace, name))


def bind(admin: rawhttp.Api, *, kind: str, name: str, role_kind: str, role: str, subjects: list[dict[str, Any]],
         namespace: str = "default") -> None:
    path = f"{RBAC}/clusterrolebindings" if kind == "ClusterRoleBinding" else f"{RBAC}/namespaces/{namespace}/rolebindings"
    reply = admin.post(path, {"metadata": {"name": name}, "subjects": subjects,
                              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role}})
    assert reply.status == 201, reply.body


def account(name: str, namespace: str = "default") -> dict[str, Any]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


# --- 401 and 403 -------------------------------------------------------------------------------------


def forbidden(message: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": "Forbidden", "details": details, "code": 403}


USER = "system:serviceaccount:default:app"


@pytest.mark.parametrize(("method", "path", "body", "expected"), [
    pytest.param("GET", "/apis/apps/v1/namespaces/default/deployments/web", None, forbidden(
        f'deployments.apps "web" is forbidden: User "{USER}" cannot get resource "deployments" in API group "apps" '
        'in the namespace "default"', {"name": "web", "group": "apps", "kind": "deployments"}), id="get-named"),
    pytest.param("GET", "/api/v1/namespaces/default/pods", None, forbidden(
        f'pods is forbidden: User "{USER}" cannot list resource "pods" in API group "" in the namespace "default"',
        {"kind": "pods"}), id="list-core"),
    pytest.param("GET", "/api/v1/namespaces?watch=true", None, forbidden(
        f'namespaces is forbidden: User "{USER}" cannot watch resource "namespaces" in API group "" at the cluster scope',
        {"kind": "namespaces"}), id="watch-cluster-scope"),
    pytest.param("PUT", "/apis/apps/v1/namespaces/default/deployments/web/scale", {"spec": {"replicas": 3}}, forbidden(
        f'deployments.apps "web" is forbidden: User "{USER}" cannot update resource "deployments/scale" in API group '
        '"apps" in the namespace "default"', {"name": "web", "group": "apps", "kind": "deployments"}), id="subresource"),
    pytest.param("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {"spec": {}}, forbidden(
        f'subjectaccessreviews.authorization.k8s.io is forbidden: User "{USER}" cannot create resource '
        '"subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope',
        {"group": "authorization.k8s.io", "kind": "subjectaccessreviews"}), id="create-review"),
    pytest.param("GET", "/metrics", None, forbidden(f'forbidden: User "{USER}" cannot get path "/metrics"', {}),
                 id="non-resource-path"),
])
def test_denied_requests_get_kube_apiservers_403(rbac_sandbox: testing.Sandbox, method: str, path: str,
                                                 body: Any, expected: dict[str, Any]) -> None:
    reply = as_account(rbac_sandbox, "app").request(method, path, body)
    assert (reply.status, reply.body) == (403, expected)


@pytest.mark.parametrize(("token", "path", "status"), [
    pytest.param(None, "/version", 200, id="anonymous-public-info"),
    pytest.param(None, "/apis", 403, id="anonymous-discovery"),
    pytest.param("not-a-token", "/api/v1/namespaces", 401, id="unknown-token"),
    pytest.param("eyJhbGciOiJIUzI1NiJ9.e30.c2ln", "/api/v1/namespaces", 401, id="foreign-jwt"),
])
def test_who_is_calling(rbac_sandbox: testing.Sandbox, token: str | None, path: str, status: int) -> None:
    reply = rawhttp.Api(rbac_sandbox.base_url, token=token).get(path)
    assert reply.status == status
    if status == 401:
        assert reply.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                              "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def test_an_authenticated_account_may_discover(rbac_sandbox: testing.Sandbox) -> None:
    app = as_account(rbac_sandbox, "app")
    assert app.get("/apis").status == 200
    assert app.get("/api/v1").status == 200


def test_without_rbac_every_caller_stays_allowed(sandbox: testing.Sandbox) -> None:
    assert rawhttp.Api(sandbox.base_url).get("/api/v1/namespaces").status == 200
    token = sandbox.service_account_token("default", "app")
    assert rawhttp.Api(sandbox.base_url, token=token).post(objects.DEPLOYMENTS, objects.deployment("web")).status == 201


# --- roles and bindings ----------------------------------------------------------------------------------


def test_a_role_binding_allows_in_its_namespace_only(rbac_sandbox: testing.Sandbox, admin: rawhttp.Api) -> None:
    admin.post("/api/v1/namespaces", {"metadata": {"name": "other"}})
    admin.post(f"{RBAC}/namespaces/default/roles", {"metadata": {"name": "scaler"}, "rules": [
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "create"]},
        {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["update"], "resourceNames": ["web"]}]})
    bind(admin, kind="RoleBinding", name="app-scaler", role_kind="Role", role="scaler", subjects=[account("app")])
    app = as_account(rbac_sandbox, "app")
    assert app.post(objects.DEPLOYMENTS, objects.deployment("web")).status == 201
    assert app.post(objects.DEPLOYMENTS, objects.deployment("api")).status == 201
    scale = app.get("/apis/apps/v1/namespaces/default/deployments/web/scale")
    assert scale.status == 403  # get on deployments/scale is not granted, update is
    assert app.put("/apis/apps/v1/namespaces/default/deployments/web/scale",
                   {"metadata": {"name": "web"}, "spec": {"replicas": 2}}).status == 200
    assert app.put("/apis/apps/v1/namespaces/default/deployments/api/scale",
                   {"metadata": {"name": "api"}, "spec": {"replicas": 2}}).status == 403
    assert app.get("/apis/apps/v1/namespaces/other/deployments").status == 403


def test_a_binding_to_a_missing_role_says_so_in_the_403(rbac_sandbox: testing.Sandbox, admin: rawhttp.Api) -> None:
    bind(admin, kind="ClusterRoleBinding", name="app-ghost", role_kind="ClusterRole", role="ghost",
         subjects=[account("app")])
    reply = as_account(rbac_sandbox, "app").get("/api/v1/namespaces/default/pods")
    assert reply.status == 403
    assert reply.body["message"] == (f'pods is forbidden: User "{USER}" cannot list resource "pods" in API group "" in '
                                     'the namespace "default": RBAC: clusterrole.rbac.authorization.k8s.io "ghost" '
                                     "not found")


def test_aggregated_cluster_roles_pick_up_labelled_roles(rbac_sandbox: testing.Sandbox, admin: rawhttp.Api) -> None:
    # What a Helm chart does: a ClusterRole labelled to extend "view" (and so "edit" and "admin").
    rule = {"apiGroups": ["keda.sh"], "resources": ["scaledobjects"], "verbs": ["get", "list", "watch"]}
    reply = admin.post(f"{RBAC}/clusterroles", {"metadata": {
        "name": "ebb-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}, "rules": [rule]})
    assert reply.status == 201
    for role in ("view", "edit", "admin"):
        rawhttp.eventually(lambda role=role: rule in admin.get(f"{RBAC}/clusterroles/{role}").body["rules"])
    bind(admin, kind="RoleBinding", name="app-view", role_kind="ClusterRole", role="view", subjects=[account("app")])
    app = as_account(rbac_sandbox, "app")
    assert app.get("/api/v1/namespaces/default/pods").status == 200
    assert app.post(objects.DEPLOYMENTS, objects.deployment("web")).status == 403


@pytest.mark.parametrize(("path", "body", "field"), [
    pytest.param("clusterrolebindings", {"metadata": {"name": "b"}, "subjects": [],
                                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}},
                 "roleRef.kind", id="cluster-binding-to-role"),
    pytest.param("clusterrolebindings", {"metadata": {"name": "b"}, "subjects": [{"kind": "Robot", "name": "x"}],
                                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                     "name": "view"}},
                 "subjects[0].kind", id="unknown-subject-kind"),
    pytest.param("clusterroles", {"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}]},
                 "rules[0].verbs", id="rule-without-verbs"),
])
def test_invalid_rbac_objects_are_422_naming_the_field(admin: rawhttp.Api, path: str, body: dict[str, Any],
                                                       field: str) -> None:
    reply = admin.post(f"{RBAC}/{path}", body)
    assert reply.status == 422
    assert [c["field"] for c in reply.body["details"]["causes"]] == [field]


# --- TokenRequest and TokenReview ---------------------------------------------------------------------------


def test_token_request_issues_a_token_that_authenticates_as_the_account(admin: rawhttp.Api) -> None:
    assert admin.post("/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "app"}}).status == 201
    reply = admin.post("/api/v1/namespaces/default/serviceaccounts/app/token",
                       {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                        "spec": {"expirationSeconds": 600}})
    assert reply.status == 201
    assert reply.body["kind"] == "TokenRequest"
    assert reply.body["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    token = reply.body["status"]["token"]
    review = admin.post("/apis/authentication.k8s.io/v1/tokenreviews", {"spec": {"token": token}})
    assert review.status == 201
    status = review.body["status"]
    assert status["authenticated"] is True
    assert status["user"]["username"] == USER
    assert status["user"]["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default",
                                        "system:authenticated"]
    assert token not in json.dumps(review.body)
    too_short = admin.post("/api/v1/namespaces/default/serviceaccounts/app/token", {"spec": {"expirationSeconds": 60}})
    assert too_short.status == 422
    assert too_short.body["details"]["causes"][0]["field"] == "spec.expirationSeconds"


def test_token_review_rejects_expired_foreign_and_orphaned_tokens(rbac_sandbox: testing.Sandbox,
                                                                  admin: rawhttp.Api) -> None:
    def review(token: str, audiences: list[str] | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {"token": token}
        if audiences is not None:
            spec["audiences"] = audiences
        reply = admin.post("/apis/authentication.k8s.io/v1/tokenreviews", {"spec": spec})
        assert reply.status == 201
        return dict(reply.body["status"])

    expired = rbac_sandbox.service_account_token("default", "old", seconds=-60)
    assert review(expired) == {"authenticated": False, "user": {},
                               "error": "invalid bearer token, service account token has expired"}
    adapter_only = rbac_sandbox.service_account_token("default", "app", audiences=["ebb-adapter"])
    assert review(adapter_only)["authenticated"] is False
    assert review(adapter_only, ["ebb-adapter"])["audiences"] == ["ebb-adapter"]
    orphan = rbac_sandbox.service_account_token("default", "gone")
    assert admin.delete("/api/v1/namespaces/default/serviceaccounts/gone").status == 200
    assert review(orphan) == {"authenticated": False, "user": {},
                              "error": 'invalid bearer token, serviceaccounts "gone" not found'}
    assert review(rbac_sandbox.admin_token)["user"]["groups"] == ["system:masters", "system:authenticated"]


# --- SubjectAccessReview ----------------------------------------------------------------------------------


def test_subject_access_reviews_answer_from_rbac(rbac_sandbox: testing.Sandbox, admin: rawhttp.Api) -> None:
    bind(admin, kind="ClusterRoleBinding", name="adapter-auth", role_kind="ClusterRole", role="system:auth-delegator",
         subjects=[account("adapter")])
    adapter = as_account(rbac_sandbox, "adapter")

    def sar(spec: dict[str, Any]) -> dict[str, Any]:
        reply = adapter.post("/apis/authorization.k8s.io/v1/subjectaccessreviews",
                             {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec})
        assert reply.status == 201, reply.body
        return dict(reply.body["status"])

    metric = {"group": "external.metrics.k8s.io", "resource": "s0-queue", "namespace": "default", "verb": "list"}
    hpa = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"
    assert sar({"user": hpa, "groups": ["system:serviceaccounts"], "resourceAttributes": metric}) == {
        "allowed": True,
        "reason": 'RBAC: allowed by ClusterRoleBinding "system:controller:horizontal-pod-autoscaler" of ClusterRole '
                  '"system:controller:horizontal-pod-autoscaler" to ServiceAccount "horizontal-pod-autoscaler/kube-system"'}
    assert sar({"user": USER, "groups": ["system:authenticated"], "resourceAttributes": metric}) == {"allowed": False}
    assert sar({"user": "someone", "groups": ["system:masters"], "resourceAttributes": metric}) == {
        "allowed": True, "reason": 'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" '
                                   'to Group "system:masters"'}
    assert sar({"user": USER, "groups": ["system:authenticated"],
                "nonResourceAttributes": {"path": "/apis/external.metrics.k8s.io/v1beta1", "verb": "get"}}) == {
        "allowed": True, "reason": 'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole '
                                   '"system:discovery" to Group "system:authenticated"'}


def test_configured_review_rules_still_win(rbac_sandbox: testing.Sandbox, admin: rawhttp.Api) -> None:
    admin.put("/sandbox/reviews", {"rules": [{"user": "alice", "allowed": True, "reason": "test says so"}]})
    reply = admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", {"spec": {
        "user": "alice", "resourceAttributes": {"verb": "delete", "resource": "pods", "namespace": "default"}}})
    assert reply.body["status"] == {"allowed": True, "reason": "test says so"}


# --- extension-apiserver-authentication ------------------------------------------------------------------


def test_the_authentication_configmap_is_what_kube_apiserver_writes(rbac_sandbox: testing.Sandbox) -> None:
    # An aggregated server reads it with the Role kube-system/extension-apiserver-authentication-reader.
    admin = rawhttp.Api(rbac_sandbox.base_url, token=rbac_sandbox.admin_token)
    bind(admin, kind="RoleBinding", name="adapter-auth-reader", role_kind="Role",
         role="extension-apiserver-authentication-reader", subjects=[account("adapter")], namespace="kube-system")
    adapter = as_account(rbac_sandbox, "adapter")
    reply = adapter.get("/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication")
    assert reply.status == 200
    data = reply.body["data"]
    assert {k: v for k, v in data.items() if not k.endswith("-file")} == {
        "requestheader-allowed-names": '["front-proxy-client"]',
        "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
        "requestheader-group-headers": '["X-Remote-Group"]',
        "requestheader-uid-headers": '["X-Remote-Uid"]',
        "requestheader-username-headers": '["X-Remote-User"]',
    }
    front_proxy = x509.load_pem_x509_certificate(data["requestheader-client-ca-file"].encode())
    assert front_proxy.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert data["requestheader-client-ca-file"] == rbac_sandbox.front_proxy_ca_pem()
    assert data["client-ca-file"] != data["requestheader-client-ca-file"]
    other = adapter.get("/api/v1/namespaces/kube-system/configmaps/kube-root-ca.crt")
    assert other.status == 403  # the Role names this one ConfigMap only


# --- a Helm chart's RBAC -------------------------------------------------------------------------------------


def test_the_charts_rbac_grants_what_each_component_needs(rbac_sandbox: testing.Sandbox, admin: rawhttp.Api,
                                                           tmp_path: pathlib.Path) -> None:
    rendered = helm.template(tmp_path, namespace="ebb")
    assert admin.post("/api/v1/namespaces", {"metadata": {"name": "ebb"}}).status == 201
    paths = {"ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts", "ClusterRole": f"{RBAC}/clusterroles",
             "ClusterRoleBinding": f"{RBAC}/clusterrolebindings", "Role": f"{RBAC}/namespaces/{{ns}}/roles",
             "RoleBinding": f"{RBAC}/namespaces/{{ns}}/rolebindings"}
    for doc in rendered.documents:
        if doc["kind"] in paths:
            namespace = doc["metadata"].get("namespace", "ebb")
            reply = admin.post(paths[doc["kind"]].format(ns=namespace), doc)
            assert reply.status == 201, (doc["kind"], doc["metadata"]["name"], reply.body)
    (adapter_sa,) = [d for d in rendered.of_kind("ServiceAccount") if "adapter" in d["metadata"]["name"]]
    adapter = f"system:serviceaccount:ebb:{adapter_sa['metadata']['name']}"

    def allowed(user: str, groups: list[str], **attrs: str) -> bool:
        reply = admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews",
                           {"spec": {"user": user, "groups": groups, "resourceAttributes": attrs}})
        return bool(reply.body["status"]["allowed"])

    sa_groups = ["system:serviceaccounts", "system:serviceaccounts:ebb", "system:authenticated"]
    assert allowed(adapter, sa_groups, group="authentication.k8s.io", resource="tokenreviews", verb="create")
    assert allowed(adapter, sa_groups, group="authorization.k8s.io", resource="subjectaccessreviews", verb="create")
    assert allowed(adapter, sa_groups, resource="configmaps", verb="get", namespace="kube-system",
                   name="extension-apiserver-authentication")
    assert not allowed(adapter, sa_groups, resource="secrets", verb="get", namespace="kube-system")
    hpa = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"
    assert allowed(hpa, ["system:serviceaccounts"], group="external.metrics.k8s.io", resource="s0-queue",
                   verb="list", namespace="apps")
    # The chart's roles labelled aggregate-to-view/edit reach the default roles.
    bind(admin, kind="RoleBinding", name="dev-view", role_kind="ClusterRole", role="view",
         subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "dev"}])
    rawhttp.eventually(lambda: allowed("dev", ["system:authenticated"], group="keda.sh", resource="scaledobjects",
                                       verb="list", namespace="default"))
    assert not allowed("dev", ["system:authenticated"], group="keda.sh", resource="scaledobjects", verb="create",
                       namespace="default")
    edit = admin.get(f"{RBAC}/clusterroles/edit").body["rules"]
    assert {"apiGroups": ["keda.sh"], "resources": ["scaledobjects", "triggerauthentications"],
            "verbs": ["create", "update", "patch", "delete", "deletecollection"]} in edit


# --- over TLS: kubectl and client certificates -------------------------------------------------------------


def test_over_tls_kubectl_sends_its_token_and_client_certificates_authenticate(tmp_path: pathlib.Path) -> None:
    with testing.Sandbox(rbac=True, tls=True, kubelet_enabled=False) as secure:
        assert secure.base_url.startswith("https://127.0.0.1:")
        admin_config = secure.write_kubeconfig(tmp_path / "admin")

        def kubectl(config: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(["kubectl", "--kubeconfig", str(config), *args], capture_output=True, text=True,
                                  timeout=60, check=False)

        listed = kubectl(admin_config, "get", "--raw", "/api/v1/namespaces")
        assert listed.returncode == 0, listed.stderr
        assert "kube-system" in listed.stdout
        cert, key = secure.client_certificate("alice", "dev")
        alice = secure.kubeconfig()
        alice["users"][0]["user"] = {"client-certificate-data": base64.b64encode(cert.encode()).decode(),
                                     "client-key-data": base64.b64encode(key.encode()).decode()}
        alice_config = testing.write_kubeconfig(tmp_path / "alice", alice)
        denied = kubectl(alice_config, "get", "pods")
        assert denied.returncode == 1
        assert ('pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace '
                '"default"') in denied.stderr
        binding = tmp_path / "binding.yaml"
        binding.write_text(json.dumps({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "dev-view"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "dev"}]}))
        granted = kubectl(admin_config, "create", "-f", str(binding))
        assert granted.returncode == 0, granted.stderr
        allowed = kubectl(alice_config, "get", "pods")
        assert (allowed.returncode, allowed.stderr.strip()) == (0, "No resources found in default namespace.")

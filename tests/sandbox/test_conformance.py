"""Conformance of the Kubernetes API sandbox, through HTTP only: discovery, object semantics, writes,
reads and watches, CRDs, the toy kubelet, fault injection, reviews and authentication."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kube_sandbox import testing
from tests.sandbox import objects, rawhttp

eventually = rawhttp.eventually


def _create(api: rawhttp.Api, path: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = api.post(path, body)
    assert reply.status == 201, reply.body
    return dict(reply.body)


def _crd(api: rawhttp.Api, **kw: Any) -> None:
    _create(api, objects.CRDS, objects.widget_crd(**kw))


# --- discovery -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "key", "value"), [
    pytest.param("/version", "major", "1", id="version"),
    pytest.param("/version/", "major", "1", id="version-trailing-slash"),
    pytest.param("/api", "versions", ["v1"], id="api"),
    pytest.param("/api/v1", "groupVersion", "v1", id="core-resource-list"),
    pytest.param("/apis/apps/v1", "groupVersion", "apps/v1", id="apps-resource-list"),
    pytest.param("/apis/apps", "name", "apps", id="api-group"),
    pytest.param("/apis", "kind", "APIGroupList", id="api-group-list"),
    pytest.param("/openapi/v2", "swagger", "2.0", id="openapi-v2"),
])
def test_discovery_documents(api: rawhttp.Api, path: str, key: str, value: Any) -> None:
    reply = api.get(path)
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.body[key] == value


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/livez"])
def test_health_endpoints(api: rawhttp.Api, path: str) -> None:
    reply = api.get(path)
    assert (reply.status, reply.body) == (200, "ok")


def test_group_list_names_every_builtin_group(api: rawhttp.Api) -> None:
    groups = {g["name"]: g for g in api.get("/apis").body["groups"]}
    for name in ("apps", "events.k8s.io", "autoscaling", "coordination.k8s.io", "apiextensions.k8s.io",
                 "apiregistration.k8s.io", "authentication.k8s.io", "authorization.k8s.io"):
        assert name in groups, name
    assert groups["autoscaling"]["preferredVersion"] == {"groupVersion": "autoscaling/v2", "version": "v2"}


def test_resource_list_has_subresources_short_names_and_categories(api: rawhttp.Api) -> None:
    resources = {r["name"]: r for r in api.get("/apis/apps/v1").body["resources"]}
    assert resources["deployments"]["shortNames"] == ["deploy"]
    assert resources["deployments"]["categories"] == ["all"]
    assert "watch" in resources["deployments"]["verbs"]
    assert resources["deployments/status"]["kind"] == "Deployment"
    assert resources["deployments/status"]["verbs"] == ["get", "patch", "update"]
    scale = resources["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")


@pytest.mark.parametrize("path", [
    pytest.param("/apis/nope.example.com", id="unknown-group"),
    pytest.param("/apis/apps/v9", id="unknown-version"),
    pytest.param("/apis/apps/v1/namespaces/default/gizmos", id="unknown-resource"),
    pytest.param("/api/v1/namespaces/default/pods/x/exec", id="unknown-subresource"),
])
def test_unknown_paths_are_404_status(api: rawhttp.Api, path: str) -> None:
    reply = api.get(path)
    assert reply.status == 404
    assert (reply.body["kind"], reply.body["reason"]) == ("Status", "NotFound")


@pytest.mark.parametrize(("path", "list_kind"), [
    pytest.param("/api/v1/namespaces", "NamespaceList", id="namespaces"),
    pytest.param("/api/v1/namespaces/default/pods", "PodList", id="pods"),
    pytest.param("/api/v1/namespaces/default/secrets", "SecretList", id="secrets"),
    pytest.param("/api/v1/namespaces/default/configmaps", "ConfigMapList", id="configmaps"),
    pytest.param("/api/v1/namespaces/default/events", "EventList", id="core-events"),
    pytest.param("/apis/events.k8s.io/v1/namespaces/default/events", "EventList", id="events-k8s-io"),
    pytest.param("/api/v1/namespaces/default/services", "ServiceList", id="services"),
    pytest.param("/apis/apps/v1/namespaces/default/deployments", "DeploymentList", id="deployments"),
    pytest.param("/apis/apps/v1/namespaces/default/statefulsets", "StatefulSetList", id="statefulsets"),
    pytest.param("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", "HorizontalPodAutoscalerList", id="hpas"),
    pytest.param("/apis/coordination.k8s.io/v1/namespaces/default/leases", "LeaseList", id="leases"),
    pytest.param("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "CustomResourceDefinitionList", id="crds"),
    pytest.param("/apis/apiregistration.k8s.io/v1/apiservices", "APIServiceList", id="apiservices"),
])
def test_builtin_resources_are_listed(api: rawhttp.Api, path: str, list_kind: str) -> None:
    reply = api.get(path)
    assert reply.status == 200
    assert reply.body["kind"] == list_kind
    assert int(reply.body["metadata"]["resourceVersion"]) > 0


def test_default_namespaces_exist(api: rawhttp.Api) -> None:
    names = {n["metadata"]["name"] for n in api.get("/api/v1/namespaces").body["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names


# --- object semantics ----------------------------------------------------------------------------

def test_create_assigns_uid_timestamp_generation_and_increasing_resource_versions(api: rawhttp.Api) -> None:
    first = _create(api, objects.CONFIGMAPS, objects.configmap("a"))
    second = _create(api, objects.DEPLOYMENTS, objects.deployment("web"))
    assert first["metadata"]["uid"] != second["metadata"]["uid"]
    assert first["metadata"]["creationTimestamp"].endswith("Z")
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert second["metadata"]["generation"] == 1


@pytest.mark.parametrize(("patch", "subresource", "bumped"), [
    pytest.param({"spec": {"replicas": 3}}, "", True, id="spec-change-bumps"),
    pytest.param({"metadata": {"labels": {"x": "y"}}}, "", False, id="label-change-does-not"),
    pytest.param({"status": {"replicas": 7}}, "/status", False, id="status-change-does-not"),
])
def test_generation_follows_spec_only(api: rawhttp.Api, patch: dict[str, Any], subresource: str, bumped: bool) -> None:
    _create(api, objects.DEPLOYMENTS, objects.deployment("web"))
    reply = api.patch(f"{objects.DEPLOYMENTS}/web{subresource}", patch)
    assert reply.status == 200, reply.body
    assert reply.body["metadata"]["generation"] == (2 if bumped else 1)


def test_status_and_main_resource_are_isolated_both_ways(api: rawhttp.Api) -> None:
    _crd(api)
    _create(api, objects.WIDGETS, objects.widget("w"))
    main = api.patch(f"{objects.WIDGETS}/w", {"spec": {"color": "blue"}, "status": {"replicas": 5}})
    assert main.body["spec"]["color"] == "blue"
    assert "status" not in main.body
    status = api.patch(f"{objects.WIDGETS}/w/status", {"spec": {"color": "red"}, "status": {"replicas": 5}})
    assert status.body["status"] == {"replicas": 5}
    assert status.body["spec"]["color"] == "blue"


def test_create_in_missing_namespace_is_404(api: rawhttp.Api) -> None:
    reply = api.post("/api/v1/namespaces/nowhere/configmaps", objects.configmap("a"))
    assert reply.status == 404
    assert reply.body["message"] == 'namespaces "nowhere" not found'
    assert reply.body["details"] == {"name": "nowhere", "kind": "namespaces"}


def test_finalizers_gate_deletion(api: rawhttp.Api) -> None:
    body = objects.configmap("held")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    _create(api, objects.CONFIGMAPS, body)
    deleting = api.delete(f"{objects.CONFIGMAPS}/held")
    assert deleting.status == 202
    assert deleting.body["metadata"]["deletionTimestamp"]
    assert api.get(f"{objects.CONFIGMAPS}/held").status == 200
    adding = api.patch(f"{objects.CONFIGMAPS}/held", {"metadata": {"finalizers": ["example.com/hold", "x/y"]}})
    assert adding.status == 422
    released = api.patch(f"{objects.CONFIGMAPS}/held", {"metadata": {"finalizers": None}})
    assert released.status == 200
    assert api.get(f"{objects.CONFIGMAPS}/held").status == 404


def _owned_configmap(name: str, owner: dict[str, Any]) -> dict[str, Any]:
    body = objects.configmap(name)
    body["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
                                            "uid": owner["metadata"]["uid"]}]
    return body


@pytest.mark.parametrize(("policy", "dependent_survives"), [
    pytest.param(None, False, id="default-background"),
    pytest.param("Background", False, id="background"),
    pytest.param("Foreground", False, id="foreground"),
    pytest.param("Orphan", True, id="orphan"),
])
def test_owner_deletion_propagates(api: rawhttp.Api, policy: str | None, dependent_survives: bool) -> None:
    owner = _create(api, objects.CONFIGMAPS, objects.configmap("owner"))
    _create(api, objects.CONFIGMAPS, _owned_configmap("dependent", owner))
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy} if policy else None
    assert api.delete(f"{objects.CONFIGMAPS}/owner", body).status in (200, 202)
    eventually(lambda: api.get(f"{objects.CONFIGMAPS}/owner").status == 404)
    if dependent_survives:
        time.sleep(0.2)
        survivor = api.get(f"{objects.CONFIGMAPS}/dependent")
        assert survivor.status == 200
        assert "ownerReferences" not in survivor.body["metadata"]
    else:
        eventually(lambda: api.get(f"{objects.CONFIGMAPS}/dependent").status == 404)


def test_namespace_deletion_removes_its_objects(api: rawhttp.Api) -> None:
    _create(api, "/api/v1/namespaces", {"metadata": {"name": "temp"}})
    _create(api, "/api/v1/namespaces/temp/configmaps", objects.configmap("c"))
    terminating = api.delete("/api/v1/namespaces/temp")
    assert terminating.body["status"]["phase"] == "Terminating"
    eventually(lambda: api.get("/api/v1/namespaces/temp").status == 404)
    assert api.get("/api/v1/namespaces/temp/configmaps/c").status == 404


# --- writes --------------------------------------------------------------------------------------

def test_duplicate_create_is_409_already_exists(api: rawhttp.Api) -> None:
    _create(api, objects.CONFIGMAPS, objects.configmap("a"))
    reply = api.post(objects.CONFIGMAPS, objects.configmap("a"))
    assert reply.status == 409
    assert (reply.body["reason"], reply.body["message"]) == ("AlreadyExists", 'configmaps "a" already exists')


def test_update_with_stale_resource_version_is_409_conflict(api: rawhttp.Api) -> None:
    created = _create(api, objects.CONFIGMAPS, objects.configmap("a", k="1"))
    fresh = api.put(f"{objects.CONFIGMAPS}/a", dict(created, data={"k": "2"}))
    assert fresh.status == 200
    stale = api.put(f"{objects.CONFIGMAPS}/a", dict(created, data={"k": "3"}))
    assert stale.status == 409
    assert stale.body["reason"] == "Conflict"
    assert "the object has been modified" in stale.body["message"]
    assert api.get(f"{objects.CONFIGMAPS}/a").body["data"] == {"k": "2"}


def test_noop_update_keeps_resource_version(api: rawhttp.Api) -> None:
    created = _create(api, objects.CONFIGMAPS, objects.configmap("a", k="1"))
    again = api.patch(f"{objects.CONFIGMAPS}/a", {"data": {"k": "1"}})
    assert again.body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_json_patch_with_failing_test_is_422_and_passing_test_applies(api: rawhttp.Api) -> None:
    created = _create(api, objects.CONFIGMAPS, objects.configmap("a"))
    rv = created["metadata"]["resourceVersion"]
    failing = api.patch(f"{objects.CONFIGMAPS}/a", [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
        {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}], "json")
    assert failing.status == 422
    passing = api.patch(f"{objects.CONFIGMAPS}/a", [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}], "json")
    assert passing.status == 200
    assert passing.body["metadata"]["finalizers"] == ["f"]


def test_resource_version_in_a_merge_patch_is_a_precondition(api: rawhttp.Api) -> None:
    _create(api, objects.CONFIGMAPS, objects.configmap("a"))
    reply = api.patch(f"{objects.CONFIGMAPS}/a", {"metadata": {"resourceVersion": "1"}, "data": {"x": "y"}})
    assert reply.status == 409


POD_SPEC = {"containers": [{"name": "a", "image": "i", "env": [{"name": "X", "value": "1"}],
                            "ports": [{"containerPort": 80}]}],
            "volumes": [{"name": "v1", "emptyDir": {}}]}


@pytest.mark.parametrize(("patch", "check"), [
    pytest.param({"spec": {"containers": [{"name": "b", "image": "j"}]}},
                 lambda p: [c["name"] for c in p["spec"]["containers"]] == ["a", "b"], id="containers-by-name"),
    pytest.param({"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}]}},
                 lambda p: [e["name"] for e in p["spec"]["containers"][0]["env"]] == ["X", "Y"], id="env-by-name"),
    pytest.param({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 81}]}]}},
                 lambda p: [x["containerPort"] for x in p["spec"]["containers"][0]["ports"]] == [80, 81], id="ports-by-containerPort"),
    pytest.param({"spec": {"volumes": [{"name": "v2", "emptyDir": {}}]}},
                 lambda p: [v["name"] for v in p["spec"]["volumes"]] == ["v1", "v2"], id="volumes-by-name"),
    pytest.param({"metadata": {"finalizers": ["b", "a"]}},
                 lambda p: p["metadata"]["finalizers"] == ["a", "b"], id="finalizers-as-set"),
    pytest.param({"spec": {"volumes": [{"name": "v1", "$patch": "delete"}]}},
                 lambda p: p["spec"]["volumes"] == [], id="patch-delete-directive"),
])
def test_strategic_merge_patch_merges_lists_by_key(api: rawhttp.Api, patch: dict[str, Any], check: Any) -> None:
    _create(api, objects.PODS, {"metadata": {"name": "p", "finalizers": ["a"]}, "spec": POD_SPEC})
    reply = api.patch(f"{objects.PODS}/p", patch, "strategic")
    assert reply.status == 200, reply.body
    assert check(reply.body), reply.body


def test_strategic_merge_patch_merges_status_conditions_by_type(api: rawhttp.Api) -> None:
    api.put("/sandbox/kubelet", {"enabled": False})
    _create(api, objects.DEPLOYMENTS, objects.deployment("web"))
    api.patch(f"{objects.DEPLOYMENTS}/web/status", {"status": {"conditions": [{"type": "A", "status": "True"}]}}, "strategic")
    reply = api.patch(f"{objects.DEPLOYMENTS}/web/status", {"status": {"conditions": [{"type": "B", "status": "False"}]}}, "strategic")
    types = [c["type"] for c in reply.body["status"]["conditions"]]
    assert types.index("A") < types.index("B")


def test_strategic_merge_patch_is_415_for_custom_resources(api: rawhttp.Api) -> None:
    _crd(api)
    _create(api, objects.WIDGETS, objects.widget("w"))
    assert api.patch(f"{objects.WIDGETS}/w", {"spec": {"color": "blue"}}, "strategic").status == 415


def test_server_side_apply_owns_fields_conflicts_and_forces(api: rawhttp.Api) -> None:
    applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "1", "y": "1"}}
    created = api.patch(f"{objects.CONFIGMAPS}/a?fieldManager=alice", applied, "apply")
    assert created.status == 201
    assert created.body["metadata"]["managedFields"][0]["manager"] == "alice"
    assert created.body["metadata"]["managedFields"][0]["operation"] == "Apply"
    # Another manager changes a field alice owns: an update takes it over silently.
    api.patch(f"{objects.CONFIGMAPS}/a?fieldManager=bob", {"data": {"x": "2"}})
    conflict = api.patch(f"{objects.CONFIGMAPS}/a?fieldManager=alice", applied, "apply")
    assert conflict.status == 409
    assert 'conflict with "bob"' in conflict.body["message"]
    forced = api.patch(f"{objects.CONFIGMAPS}/a?fieldManager=alice&force=true", applied, "apply")
    assert forced.status == 200
    assert forced.body["data"] == {"x": "1", "y": "1"}
    # Dropping a field from the applied configuration removes it.
    trimmed = api.patch(f"{objects.CONFIGMAPS}/a?fieldManager=alice",
                        dict(applied, data={"x": "1"}), "apply")
    assert trimmed.body["data"] == {"x": "1"}


def test_apply_without_field_manager_is_422(api: rawhttp.Api) -> None:
    reply = api.patch(f"{objects.CONFIGMAPS}/a", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}, "apply")
    assert reply.status == 422
    assert "fieldManager" in reply.body["message"]


@pytest.mark.parametrize(("method", "path", "body"), [
    pytest.param("POST", objects.CONFIGMAPS, objects.configmap("dry"), id="create"),
    pytest.param("PATCH", f"{objects.CONFIGMAPS}/kept", {"data": {"k": "changed"}}, id="patch"),
    pytest.param("DELETE", f"{objects.CONFIGMAPS}/kept", None, id="delete"),
])
def test_dry_run_persists_nothing(api: rawhttp.Api, method: str, path: str, body: Any) -> None:
    _create(api, objects.CONFIGMAPS, objects.configmap("kept", k="v"))
    kind = "application/merge-patch+json" if method == "PATCH" else None
    reply = api.request(method, f"{path}?dryRun=All", body, content_type=kind)
    assert reply.status in (200, 201), reply.body
    listed = api.get(objects.CONFIGMAPS).body["items"]
    assert [(c["metadata"]["name"], c["data"]) for c in listed] == [("kept", {"k": "v"})]


def test_delete_precondition_mismatch_is_409(api: rawhttp.Api) -> None:
    _create(api, objects.CONFIGMAPS, objects.configmap("a"))
    reply = api.delete(f"{objects.CONFIGMAPS}/a", {"preconditions": {"uid": "not-the-uid"}})
    assert reply.status == 409


def test_delete_of_missing_object_is_404_status(api: rawhttp.Api) -> None:
    reply = api.delete(f"{objects.DEPLOYMENTS}/ghost")
    assert reply.status == 404
    assert reply.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": 'deployments.apps "ghost" not found', "reason": "NotFound",
                          "details": {"name": "ghost", "group": "apps", "kind": "deployments"}, "code": 404}


@pytest.mark.parametrize(("body", "field"), [
    pytest.param({"spec": {"replicas": -1}}, "spec.replicas", id="negative-replicas"),
    pytest.param({"spec": {"selector": {"matchLabels": {"app": "other"}}}}, "spec.selector", id="immutable-selector"),
])
def test_invalid_deployment_updates_are_422_with_field_paths(api: rawhttp.Api, body: dict[str, Any], field: str) -> None:
    _create(api, objects.DEPLOYMENTS, objects.deployment("web"))
    reply = api.patch(f"{objects.DEPLOYMENTS}/web", body, "strategic")
    assert reply.status == 422
    assert field in [c["field"] for c in reply.body["details"]["causes"]]


# --- scale ---------------------------------------------------------------------------------------

def test_scale_subresource_on_a_deployment(api: rawhttp.Api) -> None:
    _create(api, objects.DEPLOYMENTS, objects.deployment("web", replicas=1))
    scale = api.get(f"{objects.DEPLOYMENTS}/web/scale").body
    assert (scale["kind"], scale["apiVersion"], scale["spec"]["replicas"]) == ("Scale", "autoscaling/v1", 1)
    assert scale["status"]["selector"] == "app=web"
    stale = api.put(f"{objects.DEPLOYMENTS}/web/scale", dict(scale, metadata=dict(scale["metadata"], resourceVersion="1")))
    assert stale.status == 409
    updated = api.put(f"{objects.DEPLOYMENTS}/web/scale", dict(scale, spec={"replicas": 3}))
    assert updated.status == 200
    assert api.get(f"{objects.DEPLOYMENTS}/web").body["spec"]["replicas"] == 3
    eventually(lambda: api.get(f"{objects.DEPLOYMENTS}/web/scale").body["status"]["replicas"] == 3)
    assert api.patch(f"{objects.DEPLOYMENTS}/web/scale", {"spec": {"replicas": -2}}).status == 422


def test_scale_subresource_on_a_custom_resource(api: rawhttp.Api) -> None:
    _crd(api)
    _create(api, objects.WIDGETS, objects.widget("w", replicas=2))
    api.patch(f"{objects.WIDGETS}/w/status", {"status": {"replicas": 2, "selector": "app=w"}})
    scale = api.get(f"{objects.WIDGETS}/w/scale").body
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"] == {"replicas": 2, "selector": "app=w"}
    patched = api.patch(f"{objects.WIDGETS}/w/scale", {"spec": {"replicas": 5}})
    assert patched.body["spec"]["replicas"] == 5
    widget = api.get(f"{objects.WIDGETS}/w").body
    assert (widget["spec"]["replicas"], widget["metadata"]["generation"]) == (5, 2)


# --- CRDs ----------------------------------------------------------------------------------------

def test_crd_is_served_and_discoverable(api: rawhttp.Api) -> None:
    crd = api.post(objects.CRDS, objects.widget_crd())
    assert crd.status == 201
    conditions = {c["type"]: c["status"] for c in api.get(f"{objects.CRDS}/widgets.example.com").body["status"]["conditions"]}
    assert conditions["Established"] == "True"
    resources = {r["name"]: r for r in api.get("/apis/example.com/v1").body["resources"]}
    assert set(resources) == {"widgets", "widgets/status", "widgets/scale"}
    assert resources["widgets"]["shortNames"] == ["wd"]
    assert {"name": "example.com", "versions": [{"groupVersion": "example.com/v1", "version": "v1"}],
            "preferredVersion": {"groupVersion": "example.com/v1", "version": "v1"}} in api.get("/apis").body["groups"]


def test_crd_defaults_and_prunes(api: rawhttp.Api) -> None:
    _crd(api)
    created = _create(api, objects.WIDGETS, objects.widget("w", unknown=1, extra={"anything": [1]}, note=None))
    assert created["spec"] == {"color": "red", "replicas": 1, "extra": {"anything": [1]}, "note": None}


@pytest.mark.parametrize(("spec", "field", "reason"), [
    pytest.param({}, "spec.color", "FieldValueRequired", id="required"),
    pytest.param({"color": "green"}, "spec.color", "FieldValueNotSupported", id="enum"),
    pytest.param({"color": "red", "replicas": -1}, "spec.replicas", "FieldValueInvalid", id="minimum"),
    pytest.param({"color": "red", "replicas": "two"}, "spec.replicas", "FieldValueInvalid", id="type"),
    pytest.param({"color": "red", "size": True}, "spec.size", "FieldValueInvalid", id="int-or-string"),
    pytest.param({"color": "red", "tags": ["a", "a"]}, "spec.tags[1]", "FieldValueDuplicate", id="list-type-set"),
])
def test_crd_validation_is_422_with_field_paths(api: rawhttp.Api, spec: dict[str, Any], field: str, reason: str) -> None:
    _crd(api)
    reply = api.post(objects.WIDGETS, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec})
    assert reply.status == 422
    assert reply.body["reason"] == "Invalid"
    assert reply.body["message"].startswith('Widget.example.com "w" is invalid: ')
    assert {"field": field, "reason": reason} in [{k: c[k] for k in ("field", "reason")} for c in reply.body["details"]["causes"]]


def test_strict_field_validation_rejects_unknown_fields(api: rawhttp.Api) -> None:
    _crd(api)
    reply = api.post(f"{objects.WIDGETS}?fieldValidation=Strict", objects.widget("w", bogus=1))
    assert reply.status == 400
    assert 'unknown field "spec.bogus"' in reply.body["message"]
    warned = api.post(objects.WIDGETS, objects.widget("w", bogus=1))
    assert warned.status == 201
    assert 'unknown field \\"spec.bogus\\"' in warned.headers["Warning"] or "spec.bogus" in warned.headers["Warning"]


def test_invalid_crd_is_422(api: rawhttp.Api) -> None:
    crd = objects.widget_crd()
    crd["metadata"]["name"] = "wrong.example.com"
    crd["spec"]["versions"][0]["storage"] = False
    reply = api.post(objects.CRDS, crd)
    assert reply.status == 422
    fields = {c["field"] for c in reply.body["details"]["causes"]}
    assert {"metadata.name", "spec.versions"} <= fields


def test_cluster_scoped_custom_resources(api: rawhttp.Api) -> None:
    _crd(api, scope="Cluster", plural="gadgets", kind="Gadget")
    reply = api.post("/apis/example.com/v1/gadgets", {"apiVersion": "example.com/v1", "kind": "Gadget",
                                                      "metadata": {"name": "g"}, "spec": {"color": "red"}})
    assert reply.status == 201
    assert "namespace" not in reply.body["metadata"]
    assert api.get("/apis/example.com/v1/namespaces/default/gadgets").status == 404


def test_printer_columns_in_table_output(api: rawhttp.Api) -> None:
    _crd(api)
    _create(api, objects.WIDGETS, objects.widget("w", replicas=3))
    api.patch(f"{objects.WIDGETS}/w/status", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    table = api.get(objects.WIDGETS, accept=accept).body
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Replicas", "Color", "Ready", "Age"]
    cells = table["rows"][0]["cells"]
    assert cells[:4] == ["w", 3, "red", "True"]
    assert cells[4].endswith("s")
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_crd_deletion_removes_its_objects_and_resource(api: rawhttp.Api) -> None:
    _crd(api)
    _create(api, objects.WIDGETS, objects.widget("w"))
    api.delete(f"{objects.CRDS}/widgets.example.com")
    eventually(lambda: api.get(f"{objects.CRDS}/widgets.example.com").status == 404)
    assert api.get(objects.WIDGETS).status == 404
    assert api.get("/apis/example.com/v1").status == 404


# --- lists and selectors -------------------------------------------------------------------------

@pytest.mark.parametrize(("selector", "expected"), [
    pytest.param("tier=web", ["a", "b"], id="equals"),
    pytest.param("tier==web", ["a", "b"], id="double-equals"),
    pytest.param("tier!=web", ["c", "d"], id="not-equals-includes-missing"),
    pytest.param("tier in (db,cache)", ["c"], id="in"),
    pytest.param("tier notin (web)", ["c", "d"], id="notin"),
    pytest.param("env", ["a", "c"], id="exists"),
    pytest.param("!env", ["b", "d"], id="does-not-exist"),
    pytest.param("tier=web,env=prod", ["a"], id="and"),
])
def test_label_selectors(api: rawhttp.Api, selector: str, expected: list[str]) -> None:
    for name, labels in (("a", {"tier": "web", "env": "prod"}), ("b", {"tier": "web"}),
                         ("c", {"tier": "db", "env": "dev"}), ("d", {})):
        _create(api, objects.CONFIGMAPS, objects.configmap(name, labels))
    import urllib.parse

    reply = api.get(f"{objects.CONFIGMAPS}?labelSelector={urllib.parse.quote(selector)}")
    assert [i["metadata"]["name"] for i in reply.body["items"]] == expected


@pytest.mark.parametrize(("path", "expected"), [
    pytest.param("/api/v1/configmaps?fieldSelector=metadata.name%3Da", ["default/a", "other/a"], id="name-all-namespaces"),
    pytest.param("/api/v1/configmaps?fieldSelector=metadata.namespace%3Dother", ["other/a"], id="namespace"),
    pytest.param("/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name!%3Da", ["default/b"], id="not-name"),
])
def test_field_selectors(api: rawhttp.Api, path: str, expected: list[str]) -> None:
    _create(api, "/api/v1/namespaces", {"metadata": {"name": "other"}})
    for ns, name in (("default", "a"), ("default", "b"), ("other", "a")):
        _create(api, f"/api/v1/namespaces/{ns}/configmaps", objects.configmap(name))
    items = api.get(path).body["items"]
    assert [f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in items] == expected


@pytest.mark.parametrize(("query", "status"), [
    pytest.param("labelSelector=a%20in%20(", 400, id="bad-label-selector"),
    pytest.param("fieldSelector=spec.color%3Dred", 400, id="unsupported-field"),
    pytest.param("watch=maybe", 400, id="bad-watch-flag"),
])
def test_bad_list_queries_are_400(api: rawhttp.Api, query: str, status: int) -> None:
    reply = api.get(f"{objects.CONFIGMAPS}?{query}")
    assert reply.status == status
    assert reply.body["reason"] == "BadRequest"


def test_list_pagination(api: rawhttp.Api) -> None:
    for name in "abcde":
        _create(api, objects.CONFIGMAPS, objects.configmap(name))
    first = api.get(f"{objects.CONFIGMAPS}?limit=2").body
    assert [i["metadata"]["name"] for i in first["items"]] == ["a", "b"]
    assert first["metadata"]["remainingItemCount"] == 3
    second = api.get(f"{objects.CONFIGMAPS}?limit=10&continue={first['metadata']['continue']}").body
    assert [i["metadata"]["name"] for i in second["items"]] == ["c", "d", "e"]


# --- watches -------------------------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["true", "1", "True"])
def test_watch_flag_spellings_and_synthetic_added_events(api: rawhttp.Api, flag: str) -> None:
    _create(api, objects.CONFIGMAPS, objects.configmap("a"))
    events, ended = api.watch(f"{objects.CONFIGMAPS}?watch={flag}&timeoutSeconds=1", seconds=5)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "a")]
    assert ended


def test_watch_resumes_from_a_resource_version(api: rawhttp.Api) -> None:
    _create(api, objects.CONFIGMAPS, objects.configmap("a"))
    listed = api.get(objects.CONFIGMAPS).body
    _create(api, objects.CONFIGMAPS, objects.configmap("b"))
    api.patch(f"{objects.CONFIGMAPS}/a", {"data": {"x": "1"}})
    api.delete(f"{objects.CONFIGMAPS}/b")
    events, _ = api.watch(f"{objects.CONFIGMAPS}?watch=true&resourceVersion={listed['metadata']['resourceVersion']}", count=3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3


def test_watch_from_a_too_old_resource_version_gets_410_expired() -> None:
    with testing.Sandbox(history_size=5) as small:
        api = rawhttp.Api(small.base_url)
        first = _create(api, objects.CONFIGMAPS, objects.configmap("a"))
        for n in range(10):
            api.patch(f"{objects.CONFIGMAPS}/a", {"data": {"n": str(n)}})
        events, _ = api.watch(f"{objects.CONFIGMAPS}?watch=1&resourceVersion={first['metadata']['resourceVersion']}", count=1)
        assert events[0]["type"] == "ERROR"
        status = events[0]["object"]
        assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
        assert status["message"].startswith("too old resource version")


def test_watch_sees_live_events_with_a_label_selector(api: rawhttp.Api, sandbox: testing.Sandbox) -> None:
    import threading

    _create(api, objects.CONFIGMAPS, objects.configmap("a", {"app": "x"}))
    rv = api.get(objects.CONFIGMAPS).body["metadata"]["resourceVersion"]
    result: list[Any] = []
    reader = threading.Thread(target=lambda: result.append(
        api.watch(f"{objects.CONFIGMAPS}?watch=true&labelSelector=app%3Dx&resourceVersion={rv}", count=3, seconds=5)))
    reader.start()
    eventually(lambda: api.get("/sandbox/stats").body["watchers"] == 1)
    _create(api, objects.CONFIGMAPS, objects.configmap("other", {"app": "y"}))
    api.patch(f"{objects.CONFIGMAPS}/a", {"metadata": {"labels": {"app": "gone"}}})
    api.patch(f"{objects.CONFIGMAPS}/other", {"metadata": {"labels": {"app": "x"}}})
    _create(api, objects.CONFIGMAPS, objects.configmap("b", {"app": "x"}))
    reader.join(10)
    events, _ = result[0]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("DELETED", "a"), ("ADDED", "other"), ("ADDED", "b")]


def test_watch_with_a_field_selector(api: rawhttp.Api) -> None:
    for name in ("a", "b"):
        _create(api, objects.CONFIGMAPS, objects.configmap(name))
    rv = api.get(objects.CONFIGMAPS).body["metadata"]["resourceVersion"]
    for name in ("a", "b"):
        api.patch(f"{objects.CONFIGMAPS}/{name}", {"data": {"k": "v"}})
    api.delete(f"{objects.CONFIGMAPS}/b")
    events, _ = api.watch(f"/api/v1/configmaps?watch=1&fieldSelector=metadata.name%3Db&resourceVersion={rv}", count=2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("MODIFIED", "b"), ("DELETED", "b")]


async def test_sandbox_runs_on_the_callers_loop() -> None:
    import aiohttp

    async with testing.Sandbox() as running, aiohttp.ClientSession(base_url=running.base_url) as http:
        async with http.post(objects.CONFIGMAPS, json=objects.configmap("a")) as reply:
            assert reply.status == 201
        async with http.get(f"{objects.CONFIGMAPS}/a") as reply:
            assert (await reply.json())["metadata"]["name"] == "a"


def test_watch_bookmarks_and_timeout() -> None:
    with testing.Sandbox(bookmark_interval=0.2) as quick:
        api = rawhttp.Api(quick.base_url)
        rv = api.get(objects.CONFIGMAPS).body["metadata"]["resourceVersion"]
        started = time.monotonic()
        events, ended = api.watch(
            f"{objects.CONFIGMAPS}?watch=true&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion={rv}", seconds=5)
        assert ended
        assert 0.9 < time.monotonic() - started < 3
        assert events and {e["type"] for e in events} == {"BOOKMARK"}
        assert events[0]["object"]["kind"] == "ConfigMap"
        assert int(events[0]["object"]["metadata"]["resourceVersion"]) >= int(rv)


def test_watch_with_send_initial_events_ends_replay_with_a_bookmark(api: rawhttp.Api) -> None:
    _create(api, objects.CONFIGMAPS, objects.configmap("a"))
    events, _ = api.watch(f"{objects.CONFIGMAPS}?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
                          "&resourceVersionMatch=NotOlderThan", count=2)
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


# --- toy kubelet and controller-manager ----------------------------------------------------------

def _ready_pods(api: rawhttp.Api, app: str) -> list[dict[str, Any]]:
    pods = api.get(f"{objects.PODS}?labelSelector=app%3D{app}").body["items"]
    return [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                   for c in (p.get("status") or {}).get("conditions", []))]


def test_deployment_gets_ready_pods_and_status_follows_scaling(api: rawhttp.Api) -> None:
    created = _create(api, objects.DEPLOYMENTS, objects.deployment("web", replicas=2))
    eventually(lambda: len(_ready_pods(api, "web")) == 2)
    pod = _ready_pods(api, "web")[0]
    assert pod["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    assert pod["status"]["phase"] == "Running"
    api.patch(f"{objects.DEPLOYMENTS}/web/scale", {"spec": {"replicas": 4}})

    def scaled() -> bool:
        status = api.get(f"{objects.DEPLOYMENTS}/web").body["status"]
        return status.get("readyReplicas") == 4 and status.get("observedGeneration") == 2
    eventually(scaled)
    status = api.get(f"{objects.DEPLOYMENTS}/web").body["status"]
    assert (status["replicas"], status["availableReplicas"], status["updatedReplicas"]) == (4, 4, 4)
    api.patch(f"{objects.DEPLOYMENTS}/web/scale", {"spec": {"replicas": 1}})
    eventually(lambda: len(api.get(f"{objects.PODS}?labelSelector=app%3Dweb").body["items"]) == 1)
    eventually(lambda: api.get(f"{objects.DEPLOYMENTS}/web/scale").body["status"]["replicas"] == 1)


def test_statefulset_pods_are_ordinal(api: rawhttp.Api) -> None:
    body = objects.deployment("db", replicas=3)
    body["kind"] = "StatefulSet"
    body["spec"]["serviceName"] = "db"
    _create(api, "/apis/apps/v1/namespaces/default/statefulsets", body)
    eventually(lambda: sorted(p["metadata"]["name"] for p in _ready_pods(api, "db")) == ["db-0", "db-1", "db-2"])
    eventually(lambda: api.get("/apis/apps/v1/namespaces/default/statefulsets/db").body["status"].get("readyReplicas") == 3)


def test_kubelet_can_be_switched_off_and_on_over_http(api: rawhttp.Api) -> None:
    assert api.put("/sandbox/kubelet", {"enabled": False}).body["enabled"] is False
    _create(api, objects.DEPLOYMENTS, objects.deployment("web", replicas=2))
    time.sleep(0.3)
    assert api.get(objects.PODS).body["items"] == []
    api.put("/sandbox/kubelet", {"enabled": True, "readyDelay": 0.01})
    eventually(lambda: len(_ready_pods(api, "web")) == 2)


def test_kubelet_settings_reject_bad_input(api: rawhttp.Api) -> None:
    reply = api.put("/sandbox/kubelet", {"readyDelay": "soon"})
    assert reply.status == 400
    assert "readyDelay" in reply.body["message"]


# --- fault injection -----------------------------------------------------------------------------

def test_fault_errors_for_the_next_n_requests(api: rawhttp.Api) -> None:
    added = api.post("/sandbox/faults", {"action": "error", "code": 503, "verbs": ["list"], "resources": ["configmaps"],
                                         "count": 2})
    assert added.status == 201
    assert [api.get(objects.CONFIGMAPS).status for _ in range(3)] == [503, 503, 200]
    assert api.get(objects.PODS).status == 200


def test_fault_429_carries_retry_after(api: rawhttp.Api, sandbox: testing.Sandbox) -> None:
    from kube_sandbox import faults

    sandbox.faults.add(faults.Rule(action=faults.Action.ERROR, code=429, retry_after=3, resources=frozenset({"deployments/scale"})))
    _create(api, objects.DEPLOYMENTS, objects.deployment("web"))
    reply = api.get(f"{objects.DEPLOYMENTS}/web/scale")
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "3"
    assert reply.body["details"]["retryAfterSeconds"] == 3
    assert api.get(f"{objects.DEPLOYMENTS}/web").status == 200


def test_fault_rate_is_a_fraction_of_requests(sandbox: testing.Sandbox) -> None:
    api = rawhttp.Api(sandbox.base_url)
    api.post("/sandbox/faults", {"action": "error", "code": 500, "rate": 0.5, "resources": ["*"], "verbs": ["get"]})
    statuses = [api.get("/api/v1/namespaces/default").status for _ in range(200)]
    assert 50 < statuses.count(500) < 150


def test_fault_latency(api: rawhttp.Api) -> None:
    api.post("/sandbox/faults", {"action": "latency", "delay": 0.3, "verbs": ["list"]})
    started = time.monotonic()
    assert api.get(objects.CONFIGMAPS).status == 200
    assert time.monotonic() - started >= 0.3


def test_fault_conflict_on_chosen_writes(api: rawhttp.Api) -> None:
    _create(api, objects.CONFIGMAPS, objects.configmap("a"))
    api.post("/sandbox/faults", {"action": "conflict", "verbs": ["patch"], "names": ["a"], "count": 1})
    first = api.patch(f"{objects.CONFIGMAPS}/a", {"data": {"k": "v"}})
    assert (first.status, first.body["reason"]) == (409, "Conflict")
    assert api.patch(f"{objects.CONFIGMAPS}/a", {"data": {"k": "v"}}).status == 200


def test_dropped_watch_stream_breaks_without_a_clean_end(api: rawhttp.Api) -> None:
    for name in "abc":
        _create(api, objects.CONFIGMAPS, objects.configmap(name))
    api.post("/sandbox/faults", {"action": "dropWatch", "afterEvents": 2})
    events, ended = api.watch(f"{objects.CONFIGMAPS}?watch=true", seconds=5)
    assert len(events) == 2
    assert not ended


def test_drop_all_watches_now(api: rawhttp.Api, sandbox: testing.Sandbox) -> None:
    import threading

    result: list[Any] = []
    reader = threading.Thread(target=lambda: result.append(api.watch(f"{objects.CONFIGMAPS}?watch=true", seconds=5)))
    reader.start()
    eventually(lambda: api.get("/sandbox/stats").body["watchers"] == 1)
    assert sandbox.faults.drop_watches() == 1
    reader.join(10)
    assert result[0] == ([], False)


@pytest.mark.parametrize(("rule", "mentions"), [
    pytest.param({"action": "explode"}, "action", id="bad-action"),
    pytest.param({"action": "error", "code": 200}, "code", id="bad-code"),
    pytest.param({"action": "error", "rate": 2}, "rate", id="bad-rate"),
    pytest.param({"action": "error", "verbs": ["frobnicate"]}, "verbs", id="bad-verb"),
    pytest.param({"action": "error", "colour": "red"}, "colour", id="unknown-field"),
])
def test_fault_rules_with_bad_input_are_400_naming_the_field(api: rawhttp.Api, rule: dict[str, Any], mentions: str) -> None:
    reply = api.post("/sandbox/faults", rule)
    assert reply.status == 400
    assert mentions in reply.body["message"]


# --- reviews and authentication ------------------------------------------------------------------

def test_token_and_access_reviews_answer_as_configured(api: rawhttp.Api) -> None:
    api.put("/sandbox/reviews", {"tokens": {"s3cret": {"username": "alice", "groups": ["devs"]}},
                                 "rules": [{"user": "alice", "verb": "list", "resource": "pods", "allowed": False,
                                            "reason": "no pods for alice"}], "defaultAllowed": True})
    review = api.post("/apis/authentication.k8s.io/v1/tokenreviews",
                      {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "s3cret"}})
    assert review.status == 201
    assert review.body["status"]["authenticated"] is True
    assert review.body["status"]["user"]["username"] == "alice"
    assert "s3cret" not in str(review.body)
    unknown = api.post("/apis/authentication.k8s.io/v1/tokenreviews", {"spec": {"token": "nope"}})
    assert unknown.body["status"]["authenticated"] is False

    def sar(verb: str) -> dict[str, Any]:
        reply = api.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": "alice", "resourceAttributes": {"verb": verb, "resource": "pods", "namespace": "default"}}})
        assert reply.status == 201
        return dict(reply.body["status"])
    assert sar("list") == {"allowed": False, "reason": "no pods for alice", "denied": True}
    assert sar("get") == {"allowed": True}
    assert api.get("/apis/authorization.k8s.io/v1/subjectaccessreviews").status == 405


def test_configured_token_is_required() -> None:
    with testing.Sandbox(token="letmein") as locked:
        anonymous = rawhttp.Api(locked.base_url)
        assert anonymous.get("/healthz").status == 200
        denied = anonymous.get("/api/v1/namespaces")
        assert (denied.status, denied.body["reason"]) == (401, "Unauthorized")
        assert rawhttp.Api(locked.base_url, token="wrong").get("/api/v1/namespaces").status == 401
        assert rawhttp.Api(locked.base_url, token="letmein").get("/api/v1/namespaces").status == 200

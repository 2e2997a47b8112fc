"""Minimal OpenAPI documents: enough for kubectl to learn that the server validates fields itself.

kubectl (1.27+) reads `/openapi/v3`, then the group-version document, and looks for the PATCH operation
of the kind (tagged `x-kubernetes-group-version-kind`) with a `fieldValidation` query parameter. Finding
it, kubectl sends `fieldValidation=Strict` and skips client-side schema validation (which would need
the protobuf `/openapi/v2`). Custom resources also get their schema under `components`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kube_sandbox import resources

_QUERY_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def root(registry: resources.Registry) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for group, version in sorted({(rt.group, rt.version) for rt in registry.all()}):
        doc = group_version(registry, group, version)
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16].upper()
        gv = _gv_path(group, version)
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
    return {"paths": paths}


def _schema_name(rt: resources.ResourceType) -> str:
    prefix = ".".join(reversed(rt.group.split("."))) if rt.group else "io.k8s.api.core"
    return f"{prefix}.{rt.version}.{rt.kind}"


def group_version(registry: resources.Registry, group: str, version: str) -> dict[str, Any] | None:
    types = [rt for rt in registry.all() if rt.group == group and rt.version == version]
    if not types:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for rt in sorted(types, key=lambda r: r.plural):
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        base = f"/{_gv_path(group, version)}/"
        item = base + (f"namespaces/{{namespace}}/{rt.plural}/{{name}}" if rt.namespaced else f"{rt.plural}/{{name}}")
        collection = item.rsplit("/", 1)[0]
        params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}} for n in _QUERY_PARAMS]
        ok: dict[str, Any] = {"200": {"description": "OK"}}
        if rt.schema is not None:
            ref = {"$ref": f"#/components/schemas/{_schema_name(rt)}"}
            ok = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
        operation = {"x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": ok}
        if "create" in rt.verbs:
            paths[collection] = {"post": dict(operation, operationId=f"create{rt.kind}")}
        if "patch" in rt.verbs:
            paths[item] = {
                "get": dict(operation, operationId=f"read{rt.kind}"),
                "patch": dict(operation, operationId=f"patch{rt.kind}"),
            }
        if rt.schema is not None:
            # Only custom resources publish a schema: for built-ins kubectl uses its compiled-in types.
            schemas[_schema_name(rt)] = dict(rt.schema) | {"x-kubernetes-group-version-kind": [gvk]}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0-ebb-sandbox"},
        "paths": paths,
        "components": {"schemas": schemas},
    }

"""The resource registry: which group/version/plural the sandbox serves, and the discovery documents.

Built-in resources are declared here; CustomResourceDefinitions add and remove entries at run time. All
versions of one resource share one storage key (`group/plural`), as in a real cluster.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS: tuple[str, ...] = ("get", "patch", "update")


@dataclass(frozen=True)
class ScaleSpec:
    """Where the `/scale` subresource finds its numbers (dotted paths without the leading dot)."""

    spec_replicas_path: str = "spec.replicas"
    status_replicas_path: str = "status.replicas"
    label_selector_path: str | None = None
    # Built-in workloads keep a LabelSelector object at spec.selector; CRDs keep a string in status.
    selector_from_spec: bool = False


@dataclass(frozen=True)
class PrinterColumn:
    """One Table column: a CRD `additionalPrinterColumns` entry."""

    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""


@dataclass(frozen=True)
class ResourceType:
    """One served resource in one version."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    status: bool = False
    scale: ScaleSpec | None = None
    generation: bool = False
    columns: tuple[PrinterColumn, ...] = ()
    schema: Mapping[str, Any] | None = None
    crd: str | None = None
    # Whether DELETE answers with the deleted object (pods, custom resources) or a success Status.
    returns_deleted_object: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def storage_key(self) -> str:
        return f"{self.group}/{self.plural}"

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery_entries(self) -> list[dict[str, Any]]:
        main: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
            "storageVersionHash": _version_hash(self),
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        entries = [main]
        if self.status:
            entries.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": list(SUBRESOURCE_VERBS),
                }
            )
        if self.plural == "serviceaccounts" and not self.group:
            entries.append({"name": "serviceaccounts/token", "singularName": "", "namespaced": True,
                            "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest",
                            "verbs": ["create"]})
        if self.scale is not None:
            entries.append(
                {
                    "name": f"{self.plural}/scale",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": list(SUBRESOURCE_VERBS),
                }
            )
        return entries


def _version_hash(rt: ResourceType) -> str:
    digest = hashlib.sha256(f"{rt.group}/{rt.version}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


_WORKLOAD_SCALE = ScaleSpec(selector_from_spec=True)

_CREATE_ONLY: tuple[str, ...] = ("create",)


def _builtin(
    group: str,
    version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    status: bool = False,
    scale: ScaleSpec | None = None,
    generation: bool = False,
    returns_deleted_object: bool = False,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        verbs=verbs,
        status=status,
        scale=scale,
        generation=generation,
        returns_deleted_object=returns_deleted_object,
    )


BUILTINS: tuple[ResourceType, ...] = (
    _builtin("", "v1", "namespaces", "Namespace", namespaced=False, short=("ns",), status=True,
             verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    _builtin("", "v1", "pods", "Pod", short=("po",), categories=("all",), status=True, generation=True,
             returns_deleted_object=True),
    _builtin("", "v1", "secrets", "Secret"),
    _builtin("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _builtin("", "v1", "events", "Event", short=("ev",)),
    _builtin("", "v1", "services", "Service", short=("svc",), categories=("all",), status=True,
             verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _builtin("", "v1", "endpoints", "Endpoints", short=("ep",)),
    _builtin("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    _builtin("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _builtin("events.k8s.io", "v1", "events", "Event", short=("ev",)),
    _builtin("apps", "v1", "deployments", "Deployment", short=("deploy",), categories=("all",), status=True,
             scale=_WORKLOAD_SCALE, generation=True),
    _builtin("apps", "v1", "statefulsets", "StatefulSet", short=("sts",), categories=("all",), status=True,
             scale=_WORKLOAD_SCALE, generation=True),
    _builtin("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=("hpa",),
             categories=("all",), status=True, generation=True),
    _builtin("coordination.k8s.io", "v1", "leases", "Lease"),
    _builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
             namespaced=False, short=("crd", "crds"), categories=("api-extensions",), status=True, generation=True),
    _builtin("apiregistration.k8s.io", "v1", "apiservices", "APIService", namespaced=False,
             categories=("api-extensions",), status=True),
    _builtin("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", namespaced=False, verbs=_CREATE_ONLY),
    _builtin("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", namespaced=False,
             verbs=_CREATE_ONLY),
    _builtin("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview",
             namespaced=False, verbs=_CREATE_ONLY),
)

# Groups a real cluster always serves even when we define nothing in them (kept out of discovery if empty).
_PREFERRED_ORDER = ("", "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io",
                    "authorization.k8s.io", "autoscaling", "coordination.k8s.io", "discovery.k8s.io",
                    "rbac.authorization.k8s.io", "apiextensions.k8s.io")


@dataclass
class Registry:
    """The served resources, by (group, version, plural); mutable as CRDs come and go."""

    _types: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    # group -> versions in preference order
    _versions: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def with_builtins(cls) -> Registry:
        registry = cls()
        for rt in BUILTINS:
            registry.add(rt)
        return registry

    def add(self, rt: ResourceType, *, preferred: bool = False) -> None:
        self._types[(rt.group, rt.version, rt.plural)] = rt
        versions = self._versions.setdefault(rt.group, [])
        if rt.version not in versions:
            if preferred:
                versions.insert(0, rt.version)
            else:
                versions.append(rt.version)
        elif preferred:
            versions.remove(rt.version)
            versions.insert(0, rt.version)

    def remove_crd(self, crd_name: str) -> list[ResourceType]:
        gone = [rt for rt in self._types.values() if rt.crd == crd_name]
        for rt in gone:
            del self._types[(rt.group, rt.version, rt.plural)]
        for rt in gone:
            if not any(k[0] == rt.group and k[1] == rt.version for k in self._types):
                versions = self._versions.get(rt.group, [])
                if rt.version in versions:
                    versions.remove(rt.version)
                if not versions:
                    self._versions.pop(rt.group, None)
        return gone

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_storage_key(self, key: str) -> ResourceType | None:
        """The preferred-version resource for a storage key."""
        group, plural = key.split("/", 1)
        for version in self._versions.get(group, []):
            rt = self._types.get((group, version, plural))
            if rt is not None:
                return rt
        return None

    def all(self) -> Iterable[ResourceType]:
        return list(self._types.values())

    def namespaced_storage_keys(self) -> set[str]:
        return {rt.storage_key for rt in self._types.values() if rt.namespaced}

    def has_group_version(self, group: str, version: str) -> bool:
        return version in self._versions.get(group, [])

    def has_group(self, group: str) -> bool:
        return bool(self._versions.get(group))

    # --- discovery documents -------------------------------------------------------------------

    def resource_list(self, group: str, version: str) -> dict[str, Any]:
        entries: list[dict[str, Any]] = []
        for (g, v, _), rt in sorted(self._types.items()):
            if g == group and v == version:
                entries.extend(rt.discovery_entries())
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": entries,
        }

    def api_group(self, group: str) -> dict[str, Any]:
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in self._versions.get(group, [])]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": versions,
            "preferredVersion": versions[0] if versions else {},
        }

    def api_group_list(self) -> dict[str, Any]:
        groups = [g for g in self._versions if g]
        ordered = [g for g in _PREFERRED_ORDER if g in groups] + sorted(g for g in groups if g not in _PREFERRED_ORDER)
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [{k: v for k, v in self.api_group(g).items() if k not in ("kind", "apiVersion")} for g in ordered],
        }

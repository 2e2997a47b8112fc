"""CustomResourceDefinitions: validating them, defaulting them and turning them into served resources."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kube_sandbox import errors, resources, schemas

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(name: str) -> tuple[int, int, int, str]:
    """Kubernetes' version ordering: GA before beta before alpha, higher numbers first, others last."""
    match = _VERSION.match(name)
    if not match:
        return (3, 0, 0, name)
    major = int(match[1])
    stage = {None: 0, "beta": 1, "alpha": 2}[match[2]]
    minor = int(match[3] or 0)
    return (stage, -major, -minor, name)


def _path_ok(path: Any) -> bool:
    return isinstance(path, str) and (path.startswith(".spec.") or path.startswith(".status."))


def default(crd: dict[str, Any]) -> None:
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", f"{names['kind']}List")
    spec.setdefault("conversion", {"strategy": "None"})


def validate(crd: Mapping[str, Any]) -> list[errors.FieldError]:
    problems: list[errors.FieldError] = []

    def add(kind: errors.CauseType, path: str, message: str) -> None:
        problems.append(errors.FieldError(kind, path, message))

    spec = crd.get("spec")
    if not isinstance(spec, Mapping):
        add(errors.CauseType.REQUIRED, "spec", "Required value")
        return problems
    group = spec.get("group")
    raw_names = spec.get("names")
    names: Mapping[str, Any] = raw_names if isinstance(raw_names, Mapping) else {}
    if not group or not isinstance(group, str):
        add(errors.CauseType.REQUIRED, "spec.group", "Required value")
    elif "." not in group:
        add(errors.CauseType.INVALID, "spec.group", f'Invalid value: "{group}": should be a domain with at least one dot')
    for key in ("plural", "kind"):
        if not names.get(key):
            add(errors.CauseType.REQUIRED, f"spec.names.{key}", "Required value")
    name = (crd.get("metadata") or {}).get("name")
    if names.get("plural") and group and name != f"{names['plural']}.{group}":
        add(errors.CauseType.INVALID, "metadata.name",
            f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group')
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        add(errors.CauseType.NOT_SUPPORTED, "spec.scope",
            f'Unsupported value: "{spec.get("scope")}": supported values: "Cluster", "Namespaced"')
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        add(errors.CauseType.INVALID, "spec.versions", "Invalid value: must have exactly one version marked as storage version")
        return problems
    storage = [v for v in versions if isinstance(v, Mapping) and v.get("storage")]
    if len(storage) != 1:
        add(errors.CauseType.INVALID, "spec.versions",
            "Invalid value: must have exactly one version marked as storage version")
    for n, version in enumerate(versions):
        path = f"spec.versions[{n}]"
        if not isinstance(version, Mapping) or not version.get("name"):
            add(errors.CauseType.REQUIRED, f"{path}.name", "Required value")
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        problems += schemas.check_structural(schema, f"{path}.schema.openAPIV3Schema")
        scale = (version.get("subresources") or {}).get("scale")
        if scale is not None:
            if not _path_ok(scale.get("specReplicasPath")) or not str(scale.get("specReplicasPath")).startswith(".spec."):
                add(errors.CauseType.INVALID, f"{path}.subresources.scale.specReplicasPath",
                    f'Invalid value: "{scale.get("specReplicasPath")}": should be a json path under .spec')
            if not _path_ok(scale.get("statusReplicasPath")) or not str(scale.get("statusReplicasPath")).startswith(".status."):
                add(errors.CauseType.INVALID, f"{path}.subresources.scale.statusReplicasPath",
                    f'Invalid value: "{scale.get("statusReplicasPath")}": should be a json path under .status')
            selector = scale.get("labelSelectorPath")
            if selector is not None and not _path_ok(selector):
                add(errors.CauseType.INVALID, f"{path}.subresources.scale.labelSelectorPath",
                    f'Invalid value: "{selector}": should be a json path under either .spec or .status')
    return problems


def _dotted(path: str) -> str:
    return path[1:] if path.startswith(".") else path


def served_types(crd: Mapping[str, Any]) -> list[tuple[resources.ResourceType, bool]]:
    """One ResourceType per served version, each with whether it is the preferred version."""
    spec = crd["spec"]
    names = spec["names"]
    name = crd["metadata"]["name"]
    served = [v for v in spec["versions"] if v.get("served", True)]
    served.sort(key=lambda v: version_priority(str(v["name"])))
    out = []
    for n, version in enumerate(served):
        subresources = version.get("subresources") or {}
        scale_raw = subresources.get("scale")
        scale = None
        if isinstance(scale_raw, Mapping):
            selector = scale_raw.get("labelSelectorPath")
            scale = resources.ScaleSpec(
                spec_replicas_path=_dotted(str(scale_raw["specReplicasPath"])),
                status_replicas_path=_dotted(str(scale_raw["statusReplicasPath"])),
                label_selector_path=_dotted(str(selector)) if selector else None,
            )
        columns = tuple(
            resources.PrinterColumn(
                name=str(c.get("name", "")),
                type=str(c.get("type", "string")),
                json_path=str(c.get("jsonPath", "")),
                description=str(c.get("description", "")),
                priority=int(c.get("priority", 0)),
                format=str(c.get("format", "")),
            )
            for c in version.get("additionalPrinterColumns") or []
        )
        rt = resources.ResourceType(
            group=str(spec["group"]),
            version=str(version["name"]),
            plural=str(names["plural"]),
            singular=str(names.get("singular") or str(names["kind"]).lower()),
            kind=str(names["kind"]),
            namespaced=spec.get("scope") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()),
            status="status" in subresources,
            scale=scale,
            generation=True,
            columns=columns,
            schema=(version.get("schema") or {}).get("openAPIV3Schema"),
            crd=str(name),
            returns_deleted_object=True,
        )
        out.append((rt, n == 0))
    return out


def established_status(crd: Mapping[str, Any], now: str) -> dict[str, Any]:
    spec = crd["spec"]
    storage = next((v["name"] for v in spec["versions"] if v.get("storage")), None)
    return {
        "acceptedNames": dict(spec["names"]),
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
        "storedVersions": [storage] if storage else [],
    }

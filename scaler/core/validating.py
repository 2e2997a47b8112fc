"""Validating a set of manifests together: what `ebb validate` reports.

`validate(documents)` parses every ScaledObject and (Cluster)TriggerAuthentication with `specs`, then
applies the rules that need more than one object, the way KEDA's admission webhook and reconciler
would see them in a cluster holding exactly these objects:

* two ScaledObjects in one namespace scaling the same workload (`other-scaled-object`) or owning the
  same HPA name (`other-scaled-object-hpa`); the later one in the input is rejected, as the webhook
  rejects the second `kubectl apply`;
* an HPA among the documents that targets the workload and is neither owned by the ScaledObject nor
  annotated `validations.keda.sh/hpa-ownership: "false"` (`other-hpa`), unless the ScaledObject takes
  it over with `scaledobject.keda.sh/transfer-hpa-ownership: "true"` *and* names it in
  `advanced.horizontalPodAutoscalerConfig.name`;
* cpu/memory triggers need the target's containers (or the pod, or a LimitRange default) to request or
  limit that resource (`missing-requests`); `envSourceContainerName` must name a container;
* each `authenticationRef` must resolve: an invalid TriggerAuthentication makes the ScaledObject
  invalid; one that is not among the documents is a warning (it may already be in the cluster);
* trigger parameters, through the optional `trigger_checker` (see `TriggerChecker`).

Objects Ebb cannot see (a workload, HPA or secret that is only in the cluster) give warnings, never
errors: a file set is not a cluster.

The resolution inputs handed to the trigger checker are a `Cluster`: plain mappings of the Secrets
(decoded), ConfigMaps, workloads and authentications found, keyed by namespace and name. Secret values
live only there (`repr` hides them) and never appear in a problem.

No I/O: the documents come from `manifests.read`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from scaler.core import manifests, problems, quantities, specs

# Where a ClusterTriggerAuthentication's Secrets and ConfigMaps are read from (KEDA's "cluster object
# namespace", normally the namespace KEDA runs in).
DEFAULT_CLUSTER_OBJECT_NAMESPACE = "keda"
WORKLOAD_KINDS = ("Deployment", "StatefulSet")

Key = tuple[str, str]  # (namespace, name)
_Say = Callable[[str, str], None]  # (field, message) -> records a problem


@dataclasses.dataclass(frozen=True)
class Cluster:
    """The objects found among the documents that triggers are resolved from. Plain data, no I/O.

    * `secrets`: (namespace, name) -> key -> decoded value (`data` base64-decoded, `stringData` on top).
      Hidden from `repr`; never put these values in a message.
    * `config_maps`: (namespace, name) -> key -> value (`data`).
    * `workloads`: (namespace, kind, name) -> the Deployment/StatefulSet manifest as written.
    * `trigger_authentications`: (namespace, name) -> valid TriggerAuthentication.
    * `cluster_trigger_authentications`: name -> valid ClusterTriggerAuthentication.
    * `cluster_object_namespace`: where a ClusterTriggerAuthentication's Secrets/ConfigMaps live.
    """

    secrets: Mapping[Key, Mapping[str, str]] = dataclasses.field(default_factory=dict, repr=False)
    config_maps: Mapping[Key, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    workloads: Mapping[tuple[str, str, str], Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    trigger_authentications: Mapping[Key, specs.TriggerAuthenticationSpec] = dataclasses.field(
        default_factory=dict
    )
    cluster_trigger_authentications: Mapping[str, specs.TriggerAuthenticationSpec] = dataclasses.field(
        default_factory=dict
    )
    cluster_object_namespace: str = DEFAULT_CLUSTER_OBJECT_NAMESPACE

    def authentication(
        self, namespace: str, ref: specs.AuthenticationRef
    ) -> specs.TriggerAuthenticationSpec | None:
        """The authentication a trigger in `namespace` refers to, if it is among the documents."""
        if ref.kind is specs.AuthKind.CLUSTER_TRIGGER_AUTHENTICATION:
            return self.cluster_trigger_authentications.get(ref.name)
        return self.trigger_authentications.get((namespace, ref.name))

    def auth_namespace(self, auth: specs.TriggerAuthenticationSpec) -> str:
        """The namespace an authentication's secretTargetRef/configMapTargetRef names are looked up in."""
        return auth.namespace if auth.namespace is not None else self.cluster_object_namespace

    def workload(self, so: specs.ScaledObjectSpec) -> Mapping[str, Any] | None:
        """The ScaledObject's target, when it is an apps/v1 Deployment/StatefulSet among the documents."""
        target = so.scale_target_ref
        if target.api_version != "apps/v1":
            return None
        return self.workloads.get((so.namespace, target.kind, target.name))


class TriggerChecker(Protocol):
    """Checks one trigger's parameters; implemented by the scalers work (`scalers.checking.CHECKER`).

    Called once per trigger of every ScaledObject that is valid as an object, with the parsed
    ScaledObject, the trigger, and the `Cluster` of objects found among the documents (to resolve
    `authenticationRef` via `cluster.authentication(so.namespace, trigger.authentication_ref)`,
    `…FromEnv` via `cluster.workload(so)`, secrets via `cluster.secrets`).

    Returns the problems found (errors and warnings), each with `obj=so.ref` and a field path into the
    ScaledObject such as `spec.triggers[1].metadata.listLength` (use `trigger.index`). It must not
    raise for bad input (a raised exception is reported as a failure of the checker) and must never
    put a secret value in a message. An unknown trigger type is the checker's to report.
    """

    def __call__(
        self, scaled_object: specs.ScaledObjectSpec, trigger: specs.Trigger, cluster: Cluster
    ) -> Sequence[problems.Problem]: ...


@dataclasses.dataclass(frozen=True)
class ObjectReport:
    """What was found about one object: its errors and warnings, and the parsed value when valid."""

    ref: str
    source: manifests.Source
    errors: tuple[problems.Problem, ...] = ()
    warnings: tuple[problems.Problem, ...] = ()
    spec: specs.ScaledObjectSpec | specs.TriggerAuthenticationSpec | None = None

    @property
    def valid(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.ref,
            "source": str(self.source),
            "valid": self.valid,
            "errors": [{"field": p.field, "message": p.message} for p in self.errors],
            "warnings": [{"field": p.field, "message": p.message} for p in self.warnings],
        }


@dataclasses.dataclass(frozen=True)
class Report:
    """The outcome for a set of documents. `valid` when every ScaledObject and authentication is."""

    scaled_objects: tuple[ObjectReport, ...] = ()
    trigger_authentications: tuple[ObjectReport, ...] = ()
    # Problems about other objects (a Secret whose data is not base64 …); warnings only.
    others: tuple[ObjectReport, ...] = ()
    ignored: Mapping[str, int] = dataclasses.field(default_factory=dict)
    cluster: Cluster = dataclasses.field(default_factory=Cluster)

    @property
    def valid(self) -> bool:
        return all(r.valid for r in (*self.scaled_objects, *self.trigger_authentications))

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "scaledObjects": [r.as_dict() for r in self.scaled_objects],
            "triggerAuthentications": [r.as_dict() for r in self.trigger_authentications],
            "otherObjects": [r.as_dict() for r in self.others],
            "ignoredKinds": dict(sorted(self.ignored.items())),
        }


def validate(
    documents: manifests.Manifests | Iterable[manifests.Document],
    *,
    trigger_checker: TriggerChecker | None = None,
    default_namespace: str = "default",
    cluster_object_namespace: str = DEFAULT_CLUSTER_OBJECT_NAMESPACE,
) -> Report:
    """Validate the documents as one set; see the module docstring for the rules."""
    if isinstance(documents, manifests.Manifests):
        docs, ignored = documents.documents, documents.ignored
    else:
        docs, ignored = tuple(documents), {}
    others: list[ObjectReport] = []

    auth_reports, auths, cluster_auths, invalid_auths = _authentications(docs, default_namespace)
    secrets = _secrets(docs, default_namespace, others)
    cluster = Cluster(
        secrets=secrets,
        config_maps=_config_maps(docs, default_namespace, others),
        workloads={
            (d.namespace(default_namespace), d.kind, d.name): d.body
            for d in docs
            if d.kind in WORKLOAD_KINDS and d.api_version == "apps/v1"
        },
        trigger_authentications=auths,
        cluster_trigger_authentications=cluster_auths,
        cluster_object_namespace=cluster_object_namespace,
    )
    world = _World(
        cluster=cluster,
        hpas=tuple(d for d in docs if d.kind == "HorizontalPodAutoscaler"),
        limit_ranges=tuple(d for d in docs if d.kind == "LimitRange"),
        invalid_auths=invalid_auths,
        default_namespace=default_namespace,
    )

    so_reports: list[ObjectReport] = []
    accepted = _Accepted()
    for document in docs:
        if document.kind != specs.SCALED_OBJECT_KIND:
            continue
        spec, found = specs.check_scaled_object(document.body, default_namespace=default_namespace)
        ref = spec.ref if spec is not None else (found[0].obj if found else document.name)
        if spec is not None:
            found.extend(_cross_checks(spec, document.source, accepted.related(spec), world))
            if trigger_checker is not None:
                found.extend(_check_triggers(spec, cluster, trigger_checker))
            accepted.add(spec, document.source)
        so_reports.append(_report(ref, document.source, found, spec))
    return Report(
        scaled_objects=tuple(so_reports),
        trigger_authentications=tuple(auth_reports),
        others=tuple(others),
        ignored=dict(ignored),
        cluster=cluster,
    )


def _report(
    ref: str,
    source: manifests.Source,
    found: Iterable[problems.Problem],
    spec: specs.ScaledObjectSpec | specs.TriggerAuthenticationSpec | None,
) -> ObjectReport:
    found = list(found)
    errors = tuple(p for p in found if p.severity is problems.Severity.ERROR)
    warnings = tuple(p for p in found if p.severity is problems.Severity.WARNING)
    return ObjectReport(ref, source, errors, warnings, None if errors else spec)


class _Accepted:
    """The ScaledObjects accepted so far, in input order, indexed so that finding the earlier ones that
    share a name, a workload or an HPA name costs no more than there are of them (a file of n
    ScaledObjects is checked in linear, not quadratic, time)."""

    def __init__(self) -> None:
        self._by_name: dict[Key, tuple[int, specs.ScaledObjectSpec, manifests.Source]] = {}
        self._by_target: dict[tuple[str, str, str, str], list[Key]] = {}
        self._by_hpa: dict[Key, list[Key]] = {}
        self._count = 0

    @staticmethod
    def _target(so: specs.ScaledObjectSpec) -> tuple[str, str, str, str]:
        target = so.scale_target_ref
        return (so.namespace, target.api_version, target.kind, target.name)

    def add(self, so: specs.ScaledObjectSpec, source: manifests.Source) -> None:
        # kubectl apply keeps the last definition of a name: it replaces the earlier one (and moves last).
        key = (so.namespace, so.name)
        self._count += 1
        self._by_name.pop(key, None)
        self._by_name[key] = (self._count, so, source)
        self._by_target.setdefault(self._target(so), []).append(key)
        self._by_hpa.setdefault((so.namespace, so.hpa_name), []).append(key)

    def related(self, so: specs.ScaledObjectSpec) -> list[tuple[specs.ScaledObjectSpec, manifests.Source]]:
        """The accepted ScaledObjects with `so`'s name, workload or HPA name, in input order."""
        keys = [
            (so.namespace, so.name),
            *self._by_target.get(self._target(so), ()),
            *self._by_hpa.get((so.namespace, so.hpa_name), ()),
        ]
        found = {self._by_name[k][0]: self._by_name[k] for k in keys if k in self._by_name}
        return [(found[seq][1], found[seq][2]) for seq in sorted(found)]


@dataclasses.dataclass(frozen=True)
class _World:
    cluster: Cluster
    hpas: tuple[manifests.Document, ...]
    limit_ranges: tuple[manifests.Document, ...]
    invalid_auths: frozenset[tuple[str, str | None, str]]  # (kind, namespace, name)
    default_namespace: str

    @functools.cached_property
    def hpas_by_target(self) -> dict[tuple[object, ...], list[manifests.Document]]:
        """(namespace, apiVersion, kind, name) of the target -> the HPAs targeting it."""
        index: dict[tuple[object, ...], list[manifests.Document]] = {}
        for document in self.hpas:
            ref = _sub(_sub(document.body, "spec"), "scaleTargetRef")
            key = (document.namespace(self.default_namespace), ref.get("apiVersion"), ref.get("kind"), ref.get("name"))
            if all(isinstance(part, str) for part in key):
                index.setdefault(key, []).append(document)
        return index

    @functools.cached_property
    def limit_ranges_by_namespace(self) -> dict[str, list[manifests.Document]]:
        index: dict[str, list[manifests.Document]] = {}
        for document in self.limit_ranges:
            index.setdefault(document.namespace(self.default_namespace), []).append(document)
        return index


# -- the other objects -------------------------------------------------------------------------------


def _authentications(
    docs: Sequence[manifests.Document], default_namespace: str
) -> tuple[
    list[ObjectReport],
    dict[Key, specs.TriggerAuthenticationSpec],
    dict[str, specs.TriggerAuthenticationSpec],
    frozenset[tuple[str, str | None, str]],
]:
    reports: list[ObjectReport] = []
    namespaced: dict[Key, specs.TriggerAuthenticationSpec] = {}
    cluster_scoped: dict[str, specs.TriggerAuthenticationSpec] = {}
    invalid: set[tuple[str, str | None, str]] = set()
    seen: dict[str, manifests.Source] = {}
    for document in docs:
        if document.kind not in (k.value for k in specs.AuthKind):
            continue
        spec, found = specs.check_trigger_authentication(document.body, default_namespace=default_namespace)
        ref = spec.ref if spec is not None else (found[0].obj if found else document.name)
        if ref in seen:
            found.append(
                problems.Problem(
                    ref,
                    "metadata.name",
                    f"is defined again (first at {seen[ref]}); kubectl apply keeps the last one",
                    problems.Severity.WARNING,
                )
            )
        seen[ref] = document.source
        if spec is None:
            namespace = (
                None
                if document.kind == "ClusterTriggerAuthentication"
                else document.namespace(default_namespace)
            )
            invalid.add((document.kind, namespace, document.name))
        elif spec.namespace is None:
            cluster_scoped[spec.name] = spec
        else:
            namespaced[(spec.namespace, spec.name)] = spec
        reports.append(_report(ref, document.source, found, spec))
    return reports, namespaced, cluster_scoped, frozenset(invalid)


def _secrets(
    docs: Sequence[manifests.Document], default_namespace: str, others: list[ObjectReport]
) -> dict[Key, Mapping[str, str]]:
    secrets: dict[Key, Mapping[str, str]] = {}
    for document in docs:
        if document.kind != "Secret":
            continue
        ref = f"Secret/{document.namespace(default_namespace)}/{document.name}"
        found: list[problems.Problem] = []
        values: dict[str, str] = {}
        data = document.body.get("data")
        if isinstance(data, Mapping):
            for key, encoded in data.items():
                decoded = _decode(encoded)
                if decoded is None:
                    found.append(
                        problems.Problem(
                            ref,
                            f"data.{key}",
                            "is not base64-encoded UTF-8 text, which the API server rejects (use stringData "
                            "for plain values); Ebb treats this key as missing",
                            problems.Severity.WARNING,
                        )
                    )
                else:
                    values[str(key)] = decoded
        string_data = document.body.get("stringData")
        if isinstance(string_data, Mapping):
            for key, value in string_data.items():
                if isinstance(value, str):
                    values[str(key)] = value
                else:
                    found.append(
                        problems.Problem(
                            ref, f"stringData.{key}", "must be a string; quote it", problems.Severity.WARNING
                        )
                    )
        secrets[(document.namespace(default_namespace), document.name)] = values
        if found:
            others.append(_report(ref, document.source, found, None))
    return secrets


def _decode(encoded: object) -> str | None:
    if not isinstance(encoded, str):
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # not base64 (a non-ASCII character is a ValueError), not UTF-8
        return None


def _config_maps(
    docs: Sequence[manifests.Document], default_namespace: str, others: list[ObjectReport]
) -> dict[Key, Mapping[str, str]]:
    config_maps: dict[Key, Mapping[str, str]] = {}
    for document in docs:
        if document.kind != "ConfigMap":
            continue
        ref = f"ConfigMap/{document.namespace(default_namespace)}/{document.name}"
        data = document.body.get("data")
        values: dict[str, str] = {}
        found: list[problems.Problem] = []
        if isinstance(data, Mapping):
            for key, value in data.items():
                if isinstance(value, str):
                    values[str(key)] = value
                else:
                    found.append(
                        problems.Problem(
                            ref, f"data.{key}", "must be a string; quote it", problems.Severity.WARNING
                        )
                    )
        config_maps[(document.namespace(default_namespace), document.name)] = values
        if found:
            others.append(_report(ref, document.source, found, None))
    return config_maps


# -- rules across objects ----------------------------------------------------------------------------


def _cross_checks(
    so: specs.ScaledObjectSpec,
    source: manifests.Source,
    earlier: Sequence[tuple[specs.ScaledObjectSpec, manifests.Source]],
    world: _World,
) -> list[problems.Problem]:
    found: list[problems.Problem] = []

    def error(field: str, message: str) -> None:
        found.append(problems.Problem(so.ref, field, message))

    def warn(field: str, message: str) -> None:
        found.append(problems.Problem(so.ref, field, message, problems.Severity.WARNING))

    hpa_field = (
        "spec.advanced.horizontalPodAutoscalerConfig.name"
        if so.advanced.horizontal_pod_autoscaler_config.name
        else "metadata.name"
    )
    target = so.scale_target_ref
    for other, other_source in earlier:
        if other.namespace != so.namespace:
            continue
        if other.name == so.name:
            warn(
                "metadata.name",
                f"is defined again (first at {other_source}); kubectl apply keeps the last one",
            )
            continue
        other_target = other.scale_target_ref
        if (other_target.api_version, other_target.kind, other_target.name) == (
            target.api_version,
            target.kind,
            target.name,
        ):
            error(
                "spec.scaleTargetRef.name",
                f"the workload {target.name!r} of type {_gvk(target)} is already managed by "
                f"ScaledObject {other.name!r} ({other_source})",
            )
        elif other.hpa_name == so.hpa_name:
            error(
                hpa_field,
                f"the HPA {so.hpa_name!r} is already managed by ScaledObject {other.name!r} ({other_source})",
            )

    _check_hpas(so, world, error)
    _check_authentication_refs(so, world, error, warn)
    _check_workload(so, world, error, warn)
    return found


def _gvk(target: specs.ScaleTargetRef) -> str:
    return f"{target.api_version}.{target.kind}"


def _sub(body: object, key: str) -> Mapping[str, Any]:
    """`body[key]` when both are objects, else an empty mapping (a malformed HPA is not ours to judge)."""
    value = body.get(key) if isinstance(body, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _check_hpas(so: specs.ScaledObjectSpec, world: _World, error: _Say) -> None:
    target = so.scale_target_ref
    for document in world.hpas_by_target.get((so.namespace, target.api_version, target.kind, target.name), ()):
        meta = _sub(document.body, "metadata")
        if _sub(meta, "annotations").get(specs.HPA_OWNERSHIP_VALIDATION) == "false":
            continue
        ref = _sub(_sub(document.body, "spec"), "scaleTargetRef")
        if (ref.get("apiVersion"), ref.get("kind"), ref.get("name")) != (
            target.api_version,
            target.kind,
            target.name,
        ):
            continue
        owners = meta.get("ownerReferences")
        if any(
            isinstance(o, Mapping) and o.get("kind") == specs.SCALED_OBJECT_KIND and o.get("name") == so.name
            for o in (owners if isinstance(owners, list) else [])
        ):
            continue
        if so.annotations.get(specs.TRANSFER_HPA_OWNERSHIP) == "true":
            if so.advanced.horizontal_pod_autoscaler_config.name != document.name:
                error(
                    "spec.advanced.horizontalPodAutoscalerConfig.name",
                    f"must be {document.name!r} to take over the existing HPA {document.name!r} "
                    f"({document.source}) with {specs.TRANSFER_HPA_OWNERSHIP}",
                )
        else:
            error(
                "spec.scaleTargetRef.name",
                f"the workload {target.name!r} of type {_gvk(target)} is already managed by the HPA "
                f"{document.name!r} ({document.source}); to adopt it, annotate the ScaledObject "
                f'{specs.TRANSFER_HPA_OWNERSHIP}: "true" and set spec.advanced.horizontalPodAutoscalerConfig.name',
            )


def _check_authentication_refs(so: specs.ScaledObjectSpec, world: _World, error: _Say, warn: _Say) -> None:
    for trigger in so.triggers:
        ref = trigger.authentication_ref
        if ref is None:
            continue
        field = f"spec.triggers[{trigger.index}].authenticationRef.name"
        cluster_scoped = ref.kind is specs.AuthKind.CLUSTER_TRIGGER_AUTHENTICATION
        namespace = None if cluster_scoped else so.namespace
        shown = (
            f"{ref.kind.value}/{ref.name}"
            if cluster_scoped
            else f"{ref.kind.value}/{so.namespace}/{ref.name}"
        )
        if (ref.kind.value, namespace, ref.name) in world.invalid_auths:
            error(field, f"{shown} is invalid (see its errors)")
        elif world.cluster.authentication(so.namespace, ref) is None:
            warn(field, f"{shown} is not among the given files; it must exist in the cluster")


def _check_workload(so: specs.ScaledObjectSpec, world: _World, error: _Say, warn: _Say) -> None:
    target = so.scale_target_ref
    resource_triggers = [t for t in so.triggers if t.type in specs.RESOURCE_TRIGGER_TYPES]
    if target.api_version != "apps/v1" or target.kind not in WORKLOAD_KINDS:
        return
    workload = world.cluster.workload(so)
    if workload is None:
        needs = [t for t in so.triggers if any(k.endswith("FromEnv") for k in t.metadata)]
        if resource_triggers or needs or target.env_source_container_name:
            warn(
                "spec.scaleTargetRef.name",
                f"{target.kind} {target.name!r} is not among the given files; its containers were not checked",
            )
        return
    pod_spec = _pod_spec(workload)
    containers = [c for c in pod_spec.get("containers") or [] if isinstance(c, Mapping)]
    names = [str(c.get("name")) for c in containers]
    if target.env_source_container_name and target.env_source_container_name not in names:
        error(
            "spec.scaleTargetRef.envSourceContainerName",
            f"{target.kind} {target.name!r} has no container {target.env_source_container_name!r} "
            f"(containers: {', '.join(names) or 'none'})",
        )
    for trigger in resource_triggers:
        _check_requests(so, trigger, pod_spec, containers, world, error)


def _pod_spec(workload: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = workload.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    pod_spec = template.get("spec") if isinstance(template, Mapping) else None
    return pod_spec if isinstance(pod_spec, Mapping) else {}


def _check_requests(
    so: specs.ScaledObjectSpec,
    trigger: specs.Trigger,
    pod_spec: Mapping[str, Any],
    containers: list[Mapping[str, Any]],
    world: _World,
    error: _Say,
) -> None:
    # KEDA's `missing-requests`: every considered container needs a request or limit > 0 for the
    # resource, or a LimitRange default in the namespace; a pod-level request counts when the trigger
    # does not name a container (the HPA then uses it as the denominator).
    resource = trigger.type
    container_name = trigger.metadata.get("containerName", "")
    if not container_name and _resource_set(pod_spec.get("resources"), resource):
        return
    if _limit_range_default(world, so.namespace, resource):
        return
    considered = [c for c in containers if not container_name or c.get("name") == container_name]
    if container_name and not considered:
        error(
            f"spec.triggers[{trigger.index}].metadata.containerName",
            f"{so.scale_target_ref.kind} {so.scale_target_ref.name!r} has no container {container_name!r}",
        )
        return
    for container in considered:
        if not _resource_set(container.get("resources"), resource):
            error(
                f"spec.triggers[{trigger.index}]",
                f"the {resource} trigger needs a {resource} request or limit on container "
                f"{container.get('name')!r} of {so.scale_target_ref.kind} {so.scale_target_ref.name!r} "
                "(or a LimitRange default in the namespace)",
            )


def _resource_set(resources: object, resource: str) -> bool:
    if not isinstance(resources, Mapping):
        return False
    for section in ("requests", "limits"):
        values = resources.get(section)
        if isinstance(values, Mapping) and _positive(values.get(resource)):
            return True
    return False


def _positive(quantity: object) -> bool:
    if isinstance(quantity, bool) or quantity is None:
        return False
    if isinstance(quantity, int | float):
        return quantity > 0
    try:
        return quantities.parse_decimal(str(quantity)) > 0
    except quantities.QuantityError:
        return False


def _limit_range_default(world: _World, namespace: str, resource: str) -> bool:
    for document in world.limit_ranges_by_namespace.get(namespace, ()):
        spec = document.body.get("spec")
        limits = spec.get("limits") if isinstance(spec, Mapping) else None
        for item in limits if isinstance(limits, list) else []:
            if not isinstance(item, Mapping) or item.get("type") != "Container":
                continue
            for section in ("default", "defaultRequest"):
                values = item.get(section)
                if isinstance(values, Mapping) and _positive(values.get(resource)):
                    return True
    return False


def _check_triggers(
    so: specs.ScaledObjectSpec, cluster: Cluster, checker: TriggerChecker
) -> list[problems.Problem]:
    found: list[problems.Problem] = []
    for trigger in so.triggers:
        try:
            found.extend(checker(so, trigger, cluster))
        except Exception as exc:  # a broken checker must not hide the other objects' results
            # The exception's text could quote a parameter value; only its type is shown.
            found.append(
                problems.Problem(
                    so.ref,
                    f"spec.triggers[{trigger.index}]",
                    f"the {trigger.type} trigger could not be checked: the checker failed with "
                    f"{type(exc).__name__}",
                )
            )
    return found

"""Defaulting and validation of built-in objects: the part of each kind's API strategy an autoscaler meets.

Not the whole Kubernetes validation: names, labels, workload replicas/selectors/templates, pod
containers, HPA bounds and a few defaults (replicas 1, Service ClusterIP, Secret data, Namespace phase).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from kube_sandbox import errors, rbac, resources, selectors

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_LABEL_NAME_KEYS = frozenset({"/namespaces", "/services"})
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def _field_error(kind: errors.CauseType, field: str, message: str) -> errors.FieldError:
    return errors.FieldError(kind, field, message)


def validate_metadata(rt: resources.ResourceType, obj: Mapping[str, Any]) -> list[errors.FieldError]:
    problems: list[errors.FieldError] = []
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if isinstance(name, str) and name:
        if rt.group in (rbac.GROUP, "apiregistration.k8s.io"):
            # RBAC objects and APIServices only need a valid path segment (`system:discovery`, `v1.`).
            for bad in ("/", "%"):
                if bad in name:
                    problems.append(_field_error(errors.CauseType.INVALID, "metadata.name",
                                                 f'Invalid value: "{name}": may not contain \'{bad}\''))
            if name in (".", ".."):
                problems.append(_field_error(errors.CauseType.INVALID, "metadata.name",
                                             f'Invalid value: "{name}": may not be \'{name}\''))
        elif rt.storage_key in _LABEL_NAME_KEYS:
            if len(name) > 63 or not _LABEL.match(name):
                problems.append(_field_error(errors.CauseType.INVALID, "metadata.name", f'Invalid value: "{name}": {_LABEL_MSG}'))
        else:
            if len(name) > 253 or not _SUBDOMAIN.match(name):
                problems.append(_field_error(errors.CauseType.INVALID, "metadata.name", f'Invalid value: "{name}": {_SUBDOMAIN_MSG}'))
    for field_name in ("labels", "annotations"):
        values = meta.get(field_name)
        if values is None:
            continue
        if not isinstance(values, Mapping):
            problems.append(_field_error(errors.CauseType.INVALID, f"metadata.{field_name}", "Invalid value: must be a map of strings"))
            continue
        for key, value in values.items():
            if not _LABEL_KEY.match(str(key)):
                problems.append(_field_error(errors.CauseType.INVALID, f"metadata.{field_name}",
                                             f'Invalid value: "{key}": name part must consist of alphanumeric characters, \'-\', \'_\' or \'.\''))
            if not isinstance(value, str):
                problems.append(_field_error(errors.CauseType.INVALID, f"metadata.{field_name}[{key}]",
                                             f"Invalid value: {value!r}: must be a string"))
            elif field_name == "labels" and (len(value) > 63 or not _LABEL_VALUE.match(value)):
                problems.append(_field_error(errors.CauseType.INVALID, f"metadata.labels[{key}]",
                                             f'Invalid value: "{value}": a valid label must be an empty string or consist of alphanumeric characters, \'-\', \'_\' or \'.\''))
    finalizers = meta.get("finalizers")
    if finalizers is not None and (not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)):
        problems.append(_field_error(errors.CauseType.INVALID, "metadata.finalizers", "Invalid value: must be a list of strings"))
    return problems


def type_errors(rt: resources.ResourceType, obj: Mapping[str, Any]) -> str | None:
    """Go's JSON decoder rejects wrongly typed built-in fields with a 400; the ones autoscalers touch."""
    spec = obj.get("spec")
    if rt.storage_key in ("apps/deployments", "apps/statefulsets") and isinstance(spec, Mapping):
        replicas = spec.get("replicas")
        if replicas is not None and (not isinstance(replicas, int) or isinstance(replicas, bool)):
            return (f"{rt.kind} in version \"{rt.version}\" cannot be handled as a {rt.kind}: json: cannot unmarshal "
                    f"{type(replicas).__name__} into Go struct field {rt.kind}Spec.spec.replicas of type int32")
    return None


def _workload(rt: resources.ResourceType, obj: dict[str, Any], old: Mapping[str, Any] | None) -> list[errors.FieldError]:
    problems: list[errors.FieldError] = []
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return [_field_error(errors.CauseType.INVALID, "spec", "Invalid value: must be an object")]
    spec.setdefault("replicas", 1)
    replicas = spec["replicas"]
    if isinstance(replicas, int) and replicas < 0:
        problems.append(_field_error(errors.CauseType.INVALID, "spec.replicas",
                                     f"Invalid value: {replicas}: must be greater than or equal to 0"))
    if rt.kind == "Deployment":
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    else:
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        spec.setdefault("revisionHistoryLimit", 10)
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector:
        problems.append(_field_error(errors.CauseType.REQUIRED, "spec.selector", "Required value"))
    else:
        try:
            parsed = selectors.from_label_selector_object(selector)
        except errors.ApiError as exc:
            problems.append(_field_error(errors.CauseType.INVALID, "spec.selector", f"Invalid value: {exc.message}"))
        else:
            if parsed.empty:
                problems.append(_field_error(errors.CauseType.INVALID, "spec.selector",
                                             "Invalid value: empty selector is invalid for deployment"))
            elif not parsed.matches(labels):
                problems.append(_field_error(errors.CauseType.INVALID, "spec.template.metadata.labels",
                                             f"Invalid value: {labels!r}: `selector` does not match template `labels`"))
        if old is not None and (old.get("spec") or {}).get("selector") != selector:
            problems.append(_field_error(errors.CauseType.INVALID, "spec.selector",
                                         f"Invalid value: {selector!r}: field is immutable"))
    problems += _pod_spec(template.get("spec"), "spec.template.spec")
    return problems


def _pod_spec(spec: Any, path: str) -> list[errors.FieldError]:
    if not isinstance(spec, dict):
        return [_field_error(errors.CauseType.REQUIRED, f"{path}.containers", "Required value")]
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    containers = spec.get("containers")
    if not containers or not isinstance(containers, list):
        return [_field_error(errors.CauseType.REQUIRED, f"{path}.containers", "Required value")]
    problems = []
    for n, container in enumerate(containers):
        if not isinstance(container, dict):
            problems.append(_field_error(errors.CauseType.INVALID, f"{path}.containers[{n}]", "Invalid value: must be an object"))
            continue
        if not container.get("name"):
            problems.append(_field_error(errors.CauseType.REQUIRED, f"{path}.containers[{n}].name", "Required value"))
        if not container.get("image"):
            problems.append(_field_error(errors.CauseType.REQUIRED, f"{path}.containers[{n}].image", "Required value"))
        else:
            image = str(container["image"])
            latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
            container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
    return problems


# What the API server fills into an autoscaling/v2 HPA's `spec.behavior` when it is given at all
# (SetDefaults_HorizontalPodAutoscalerBehavior in pkg/apis/autoscaling/v2/defaults.go): each of scaleUp
# and scaleDown gets every unset field from these rules. scaleDown's stabilizationWindowSeconds stays
# unset: the HPA controller applies its --horizontal-pod-autoscaler-downscale-stabilization (300 s) then.
HPA_SCALE_UP_DEFAULTS: Mapping[str, Any] = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}],
}
HPA_SCALE_DOWN_DEFAULTS: Mapping[str, Any] = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def default_hpa_behavior(spec: dict[str, Any]) -> None:
    """Fill `spec.behavior` in place as the API server does (only when `behavior` is present)."""
    behavior = spec.get("behavior")
    if not isinstance(behavior, dict):
        return
    for key, defaults in (("scaleUp", HPA_SCALE_UP_DEFAULTS), ("scaleDown", HPA_SCALE_DOWN_DEFAULTS)):
        rules = behavior.get(key)
        if rules is None:
            rules = behavior[key] = {}
        if not isinstance(rules, dict):
            continue
        for field, value in defaults.items():
            if rules.get(field) is None:
                rules[field] = [dict(p) for p in value] if isinstance(value, list) else value


def _hpa(obj: dict[str, Any]) -> list[errors.FieldError]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [_field_error(errors.CauseType.REQUIRED, "spec", "Required value")]
    problems = []
    spec.setdefault("minReplicas", 1)
    default_hpa_behavior(spec)
    ref = spec.get("scaleTargetRef")
    if not isinstance(ref, dict):
        problems.append(_field_error(errors.CauseType.REQUIRED, "spec.scaleTargetRef", "Required value"))
    else:
        for key in ("kind", "name"):
            if not ref.get(key):
                problems.append(_field_error(errors.CauseType.REQUIRED, f"spec.scaleTargetRef.{key}", "Required value"))
    max_replicas = spec.get("maxReplicas")
    if not isinstance(max_replicas, int) or max_replicas < 1:
        problems.append(_field_error(errors.CauseType.INVALID, "spec.maxReplicas",
                                     f"Invalid value: {max_replicas!r}: must be greater than or equal to 1"))
    min_replicas = spec.get("minReplicas")
    if isinstance(min_replicas, int) and isinstance(max_replicas, int) and min_replicas > max_replicas:
        problems.append(_field_error(errors.CauseType.INVALID, "spec.minReplicas",
                                     f"Invalid value: {min_replicas}: must be less than or equal to maxReplicas"))
    if isinstance(min_replicas, int) and min_replicas < 1:
        problems.append(_field_error(errors.CauseType.INVALID, "spec.minReplicas",
                                     f"Invalid value: {min_replicas}: must be greater than or equal to 1"))
    return problems


def prepare(rt: resources.ResourceType, obj: dict[str, Any], old: Mapping[str, Any] | None,
            allocate_ip: Any = None) -> list[errors.FieldError]:
    """Default `obj` in place and return its validation problems (besides metadata)."""
    key = rt.storage_key
    if key in ("apps/deployments", "apps/statefulsets"):
        return _workload(rt, obj, old)
    if key == "/pods":
        if old is None:
            status = obj.setdefault("status", {})
            if isinstance(status, dict):
                status.setdefault("phase", "Pending")
                status.setdefault("qosClass", "BestEffort")
        return _pod_spec(obj.get("spec"), "spec")
    if key == "autoscaling/horizontalpodautoscalers":
        return _hpa(obj)
    if key == "/namespaces":
        meta = obj["metadata"]
        labels = dict(meta.get("labels") or {})
        labels["kubernetes.io/metadata.name"] = meta["name"]
        meta["labels"] = labels
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        if old is None:
            obj["status"] = {"phase": "Active"}
        return []
    if key == "/secrets":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, Mapping):
            data = dict(obj.get("data") or {})
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj["data"] = data
        return []
    if key == "apiregistration.k8s.io/apiservices":
        return _apiservice(obj)
    if key.startswith(f"{rbac.GROUP}/"):
        return rbac.validate(key, obj, old)
    if key == "/services":
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            if old is not None and (old.get("spec") or {}).get("clusterIP"):
                spec.setdefault("clusterIP", old["spec"]["clusterIP"])
            elif allocate_ip is not None and spec.get("clusterIP") != "None":
                spec.setdefault("clusterIP", allocate_ip())
            if spec.get("clusterIP"):
                spec.setdefault("clusterIPs", [spec["clusterIP"]])
            for port in spec.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
                    port.setdefault("targetPort", port.get("port"))
        return []
    return []


def _apiservice(obj: dict[str, Any]) -> list[errors.FieldError]:
    """Default and validate an APIService (apiregistration's strategy); returns its problems."""
    problems: list[errors.FieldError] = []
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return [errors.FieldError(errors.CauseType.INVALID, "spec", "Invalid value: must be an object")]
    name = str(obj["metadata"].get("name", ""))
    group, version = str(spec.get("group") or ""), str(spec.get("version") or "")
    if not version:
        problems.append(errors.FieldError(errors.CauseType.REQUIRED, "spec.version", "Required value"))
    expected = f"{version}.{group}"  # "v1." for the core group
    if version and name != expected:
        problems.append(errors.FieldError(errors.CauseType.INVALID, "metadata.name",
                                          f'Invalid value: "{name}": must be `spec.version+"."+spec.group`: "{expected}"'))
    service = spec.get("service")
    if isinstance(service, dict):
        service.setdefault("port", 443)
        for key in ("namespace", "name"):
            if not service.get(key):
                problems.append(errors.FieldError(errors.CauseType.REQUIRED, f"spec.service.{key}", "Required value"))
        port = service.get("port")
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            problems.append(errors.FieldError(errors.CauseType.INVALID, "spec.service.port",
                                              f"Invalid value: {port!r}: must be between 1 and 65535, inclusive"))
    for key, top in (("groupPriorityMinimum", 20000), ("versionPriority", 1000)):
        value = spec.get(key)
        if service is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= top):
            problems.append(errors.FieldError(errors.CauseType.INVALID, f"spec.{key}",
                                              f"Invalid value: {value!r}: must be positive and less than {top + 1}"))
    bundle = spec.get("caBundle")
    if bundle:
        try:
            base64.b64decode(str(bundle), validate=True)
        except (binascii.Error, ValueError):
            problems.append(errors.FieldError(errors.CauseType.INVALID, "spec.caBundle",
                                              "Invalid value: must be base64-encoded PEM"))
        if spec.get("insecureSkipTLSVerify"):
            problems.append(errors.FieldError(errors.CauseType.INVALID, "spec.insecureSkipTLSVerify",
                                              "Invalid value: true: may not be true if caBundle is present"))
    return problems

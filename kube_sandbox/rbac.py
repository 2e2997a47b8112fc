"""RBAC as kube-apiserver evaluates it: request attributes, bindings, rules, aggregated ClusterRoles, 403s.

* `Attributes` are what the authorizer sees of a request (kube-apiserver's RequestInfo): a resource
  request (verb, API group, resource, subresource, namespace, name) or a non-resource one (verb, path).
* `authorize` walks every ClusterRoleBinding, then the RoleBindings of the request's namespace, and allows
  on the first rule that covers the request, with the reason kube-apiserver gives
  (`RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to Group "z"`). A binding to a missing
  role is reported in the denial's reason, as there.
* `forbidden` is the 403 `Status` kube-apiserver writes
  (`deployments.apps "web" is forbidden: User "u" cannot get resource "deployments" in API group "apps"
  in the namespace "default"`).
* `BOOTSTRAP` is the part of kube-apiserver's bootstrap policy an autoscaler and its charts meet:
  cluster-admin (bound to `system:masters`), system:discovery, system:public-info-viewer,
  system:basic-user, system:auth-delegator, extension-apiserver-authentication-reader, the aggregated
  admin/edit/view roles and the HPA controller's role, bound to its ServiceAccount.
* `aggregate` fills ClusterRoles that carry an `aggregationRule` from the ClusterRoles their selectors
  match, as the clusterrole-aggregation controller does.

Not modelled: escalation checks on writes of roles and bindings, and the Node and Webhook authorizers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from kube_sandbox import errors, identity, selectors, storage

GROUP = "rbac.authorization.k8s.io"
CLUSTER_ROLES = f"{GROUP}/clusterroles"
CLUSTER_ROLE_BINDINGS = f"{GROUP}/clusterrolebindings"
ROLES = f"{GROUP}/roles"
ROLE_BINDINGS = f"{GROUP}/rolebindings"


@dataclasses.dataclass(frozen=True)
class Attributes:
    user: identity.User
    verb: str
    resource_request: bool
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""


@dataclasses.dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


# --- request attributes -------------------------------------------------------------------------------

_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def request_attributes(user: identity.User, method: str, path: str, query: Mapping[str, str]) -> Attributes:
    """kube-apiserver's RequestInfo for a request: what RBAC and the 403 message speak of."""
    parts = [p for p in path.split("/") if p]
    lowered = method.lower()
    non_resource = Attributes(user, {"post": "create", "put": "update"}.get(lowered, lowered), False, path=path)
    if not parts or parts[0] not in ("api", "apis"):
        return non_resource
    if parts[0] == "api":
        if len(parts) < 2:
            return non_resource
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 3:
            return non_resource
        group, version, rest = parts[1], parts[2], parts[3:]
    if not rest:
        return non_resource
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if lowered == "get":
        verb = "watch" if query.get("watch") in _TRUE else "get" if name else "list"
    elif lowered == "post":
        verb = "create"
    elif lowered == "put":
        verb = "update"
    elif lowered == "patch":
        verb = "patch"
    elif lowered == "delete":
        verb = "delete" if name else "deletecollection"
    else:
        verb = lowered
    return Attributes(user, verb, True, group, version, resource, subresource, namespace, name, path)


# --- evaluation -----------------------------------------------------------------------------------------


def _has(values: Sequence[Any] | None, wanted: str) -> bool:
    return bool(values) and any(v == "*" or v == wanted for v in values or ())


def _resource_matches(rule_resources: Sequence[Any], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for item in rule_resources:
        if item == "*" or item == combined:
            return True
        if subresource and item == f"*/{subresource}":
            return True
    return False


def _url_matches(urls: Sequence[Any], path: str) -> bool:
    for url in urls:
        if url == "*" or url == path:
            return True
        if isinstance(url, str) and url.endswith("*") and path.startswith(url[:-1]):
            return True
    return False


def rule_allows(attrs: Attributes, rule: Mapping[str, Any]) -> bool:
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        return _url_matches(rule.get("nonResourceURLs") or [], attrs.path)
    if not _has(rule.get("apiGroups"), attrs.api_group):
        return False
    if not _resource_matches(rule.get("resources") or [], attrs.resource, attrs.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _subject_matches(subject: Mapping[str, Any], user: identity.User, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == user.username)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.username == f"{identity.SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"
    return False


def _describe_subject(subject: Mapping[str, Any], binding_namespace: str) -> str:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "ServiceAccount":
        return f'{kind} "{name}/{subject.get("namespace") or binding_namespace}"'
    return f'{kind} "{name}"'


def _bindings(store: storage.Store, namespace: str) -> Iterator[tuple[dict[str, Any], bool]]:
    for record in store.items(CLUSTER_ROLE_BINDINGS, None):
        yield record.obj, True
    if namespace:
        for record in store.items(ROLE_BINDINGS, namespace):
            yield record.obj, False


def _role_rules(store: storage.Store, ref: Mapping[str, Any], namespace: str) -> list[Mapping[str, Any]] | str:
    """A binding's role's rules, or the error naming the missing role."""
    name = str(ref.get("name", ""))
    if ref.get("kind") == "ClusterRole":
        record = store.get(CLUSTER_ROLES, "", name)
        if record is None:
            return f'clusterrole.{GROUP} "{name}" not found'
    else:
        record = store.get(ROLES, namespace, name)
        if record is None:
            return f'role.{GROUP} "{name}" not found'
    return [r for r in record.obj.get("rules") or [] if isinstance(r, Mapping)]


def authorize(store: storage.Store, attrs: Attributes) -> Decision:
    problems: list[str] = []
    for binding, cluster_wide in _bindings(store, attrs.namespace):
        meta = binding["metadata"]
        binding_ns = "" if cluster_wide else str(meta.get("namespace", ""))
        subjects = [s for s in binding.get("subjects") or [] if isinstance(s, Mapping)]
        subject = next((s for s in subjects if _subject_matches(s, attrs.user, binding_ns)), None)
        if subject is None:
            continue
        ref = binding.get("roleRef") or {}
        rules = _role_rules(store, ref, binding_ns)
        if isinstance(rules, str):
            if rules not in problems:
                problems.append(rules)
            continue
        if any(rule_allows(attrs, rule) for rule in rules):
            if cluster_wide:
                source = f'ClusterRoleBinding "{meta["name"]}"'
            else:
                source = f'RoleBinding "{meta["name"]}/{binding_ns}"'
            return Decision(True, f'RBAC: allowed by {source} of {ref.get("kind")} "{ref.get("name")}" to '
                                  f"{_describe_subject(subject, binding_ns)}")
    if not problems:
        return Decision(False)
    return Decision(False, "RBAC: " + (problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"))


def forbidden_message(attrs: Attributes) -> str:
    user = attrs.user.username
    if not attrs.resource_request:
        return f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    where = (f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope")
    return f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}" {where}'


def forbidden(attrs: Attributes, reason: str = "") -> errors.ApiError:
    """The 403 kube-apiserver answers for a denied request (responsewriters.Forbidden)."""
    why = forbidden_message(attrs)
    if reason:
        why = f"{why}: {reason}"
    if not attrs.resource_request:
        return ForbiddenError(f"forbidden: {why}", {})
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    details: dict[str, Any] = {}
    if attrs.name:
        details["name"] = attrs.name
    if attrs.api_group:
        details["group"] = attrs.api_group
    details["kind"] = attrs.resource
    if attrs.name:
        return ForbiddenError(f'{qualified} "{attrs.name}" is forbidden: {why}', details)
    return ForbiddenError(f"{qualified} is forbidden: {why}", details)


class ForbiddenError(errors.ApiError):
    """A 403 whose `details` are exactly what kube-apiserver sends (`{}` for a non-resource path)."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(403, errors.Reason.FORBIDDEN, message)
        self._details = details

    def status(self) -> dict[str, Any]:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": self.message,
                "reason": self.reason.value, "details": self._details, "code": self.code}


# --- validation -------------------------------------------------------------------------------------------

_SUBJECT_KINDS = ("User", "Group", "ServiceAccount")


def validate(key: str, obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[errors.FieldError]:
    problems: list[errors.FieldError] = []
    if key in (ROLES, CLUSTER_ROLES):
        for n, rule in enumerate(obj.get("rules") or []):
            if not isinstance(rule, Mapping) or not rule.get("verbs"):
                problems.append(errors.FieldError(errors.CauseType.REQUIRED, f"rules[{n}].verbs",
                                                  "Required value: verbs must contain at least one value"))
            elif rule.get("nonResourceURLs") and key == ROLES:
                problems.append(errors.FieldError(errors.CauseType.INVALID, f"rules[{n}].nonResourceURLs",
                                                  "Invalid value: namespaced rules cannot apply to non-resource URLs"))
        return problems
    ref = obj.get("roleRef")
    kinds = ("ClusterRole",) if key == CLUSTER_ROLE_BINDINGS else ("Role", "ClusterRole")
    if not isinstance(ref, Mapping):
        return [errors.FieldError(errors.CauseType.REQUIRED, "roleRef", "Required value")]
    if ref.get("apiGroup") != GROUP:
        problems.append(errors.FieldError(errors.CauseType.NOT_SUPPORTED, "roleRef.apiGroup",
                                          f'Unsupported value: "{ref.get("apiGroup", "")}": supported values: "{GROUP}"'))
    if ref.get("kind") not in kinds:
        supported = ", ".join(f'"{k}"' for k in kinds)
        problems.append(errors.FieldError(errors.CauseType.NOT_SUPPORTED, "roleRef.kind",
                                          f'Unsupported value: "{ref.get("kind", "")}": supported values: {supported}'))
    if not ref.get("name"):
        problems.append(errors.FieldError(errors.CauseType.REQUIRED, "roleRef.name", "Required value"))
    if old is not None and old.get("roleRef") != ref:
        problems.append(errors.FieldError(errors.CauseType.INVALID, "roleRef",
                                          "Invalid value: cannot change roleRef"))
    for n, subject in enumerate(obj.get("subjects") or []):
        if not isinstance(subject, Mapping) or subject.get("kind") not in _SUBJECT_KINDS:
            kind = subject.get("kind", "") if isinstance(subject, Mapping) else ""
            problems.append(errors.FieldError(errors.CauseType.NOT_SUPPORTED, f"subjects[{n}].kind",
                                              f'Unsupported value: "{kind}": supported values: "ServiceAccount", "User", "Group"'))
        elif not subject.get("name"):
            problems.append(errors.FieldError(errors.CauseType.REQUIRED, f"subjects[{n}].name", "Required value"))
        elif (subject.get("kind") == "ServiceAccount" and key == CLUSTER_ROLE_BINDINGS
              and not subject.get("namespace")):
            problems.append(errors.FieldError(errors.CauseType.REQUIRED, f"subjects[{n}].namespace", "Required value"))
    return problems


# --- aggregation -------------------------------------------------------------------------------------------


def aggregated_rules(store: storage.Store, role: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The rules an aggregated ClusterRole should carry, or None when it has no aggregationRule."""
    rule = role.get("aggregationRule")
    if not isinstance(rule, Mapping):
        return None
    wanted = [selectors.from_label_selector_object(s) for s in rule.get("clusterRoleSelectors") or []
              if isinstance(s, Mapping)]
    out: list[dict[str, Any]] = []
    own = role["metadata"]["name"]
    for record in sorted(store.items(CLUSTER_ROLES, None), key=lambda r: r.obj["metadata"]["name"]):
        meta = record.obj["metadata"]
        if meta["name"] == own or not any(s.matches(meta.get("labels")) for s in wanted):
            continue
        for item in record.obj.get("rules") or []:
            if item not in out:
                out.append(dict(item))
    return out


# --- bootstrap policy --------------------------------------------------------------------------------------

_BOOTSTRAP_META = {"labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                   "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}}


def _meta(name: str, namespace: str = "", labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(_BOOTSTRAP_META["labels"], **(labels or {})),
                            "annotations": dict(_BOOTSTRAP_META["annotations"])}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _rule(groups: Iterable[str], resources: Iterable[str], verbs: Iterable[str], names: Iterable[str] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}
    if names:
        out["resourceNames"] = list(names)
    return out


_READ = ("get", "list", "watch")
_WRITE = ("create", "delete", "deletecollection", "patch", "update")
_WORKLOADS = [("", ("pods", "services", "endpoints", "configmaps", "serviceaccounts", "events")),
              ("apps", ("deployments", "deployments/scale", "statefulsets", "statefulsets/scale")),
              ("autoscaling", ("horizontalpodautoscalers",)),
              ("discovery.k8s.io", ("endpointslices",)),
              ("coordination.k8s.io", ("leases",))]

HPA_CONTROLLER_NAMESPACE = "kube-system"
HPA_CONTROLLER_ACCOUNT = "horizontal-pod-autoscaler"


def _cluster_role(name: str, rules: list[dict[str, Any]], *, labels: Mapping[str, str] | None = None,
                  aggregate_from: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": f"{GROUP}/v1", "kind": "ClusterRole", "metadata": _meta(name, labels=labels),
                           "rules": rules}
    if aggregate_from:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {aggregate_from: "true"}}]}
        obj["rules"] = []
    return obj


def _binding(kind: str, name: str, role_kind: str, role: str, subjects: list[dict[str, Any]],
             namespace: str = "") -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": _meta(name, namespace),
            "roleRef": {"apiGroup": GROUP, "kind": role_kind, "name": role}, "subjects": subjects}


def _group(name: str) -> dict[str, Any]:
    return {"apiGroup": GROUP, "kind": "Group", "name": name}


def _user(name: str) -> dict[str, Any]:
    return {"apiGroup": GROUP, "kind": "User", "name": name}


_DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz",
                   "/version", "/version/"]
_PUBLIC_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]


def bootstrap() -> list[tuple[str, dict[str, Any]]]:
    """(storage key, object) of the bootstrap policy, in creation order."""
    agg = "rbac.authorization.k8s.io/aggregate-to-"
    view = [_rule([g], r, _READ) for g, r in _WORKLOADS]
    edit = [_rule([g], r, _WRITE) for g, r in _WORKLOADS] + [_rule([""], ["secrets"], (*_READ, *_WRITE))]
    admin = [_rule([GROUP], ["roles", "rolebindings"], (*_READ, *_WRITE)),
             _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"])]
    hpa_rules = [
        _rule(["autoscaling"], ["horizontalpodautoscalers"], _READ),
        _rule(["autoscaling"], ["horizontalpodautoscalers/status"], ["update"]),
        _rule(["*"], ["*/scale"], ["get", "update"]),
        _rule([""], ["pods"], ["list"]),
        _rule(["metrics.k8s.io"], ["pods"], ["list"]),
        _rule(["custom.metrics.k8s.io"], ["*"], ["get", "list"]),
        _rule(["external.metrics.k8s.io"], ["*"], ["get", "list"]),
        _rule(["", "events.k8s.io"], ["events"], ["create", "patch", "update"]),
    ]
    cluster_roles = [
        _cluster_role("cluster-admin", [_rule(["*"], ["*"], ["*"]), {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        _cluster_role("system:discovery", [{"nonResourceURLs": _DISCOVERY_URLS, "verbs": ["get"]}]),
        _cluster_role("system:public-info-viewer", [{"nonResourceURLs": _PUBLIC_URLS, "verbs": ["get"]}]),
        _cluster_role("system:basic-user", [_rule(["authorization.k8s.io"],
                                                  ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]),
                                            _rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"])]),
        _cluster_role("system:auth-delegator", [_rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
                                                _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"])]),
        _cluster_role("admin", [], aggregate_from=f"{agg}admin"),
        _cluster_role("edit", [], aggregate_from=f"{agg}edit", labels={f"{agg}admin": "true"}),
        _cluster_role("view", [], aggregate_from=f"{agg}view", labels={f"{agg}edit": "true"}),
        _cluster_role("system:aggregate-to-admin", admin, labels={f"{agg}admin": "true"}),
        _cluster_role("system:aggregate-to-edit", edit, labels={f"{agg}edit": "true"}),
        _cluster_role("system:aggregate-to-view", view, labels={f"{agg}view": "true"}),
        _cluster_role("system:controller:horizontal-pod-autoscaler", hpa_rules),
    ]
    authenticated, unauthenticated = _group(identity.AUTHENTICATED), _group(identity.UNAUTHENTICATED)
    cluster_bindings = [
        _binding("ClusterRoleBinding", "cluster-admin", "ClusterRole", "cluster-admin", [_group(identity.MASTERS)]),
        _binding("ClusterRoleBinding", "system:discovery", "ClusterRole", "system:discovery", [authenticated]),
        _binding("ClusterRoleBinding", "system:public-info-viewer", "ClusterRole", "system:public-info-viewer",
                 [authenticated, unauthenticated]),
        _binding("ClusterRoleBinding", "system:basic-user", "ClusterRole", "system:basic-user", [authenticated]),
        _binding("ClusterRoleBinding", "system:controller:horizontal-pod-autoscaler", "ClusterRole",
                 "system:controller:horizontal-pod-autoscaler",
                 [{"kind": "ServiceAccount", "name": HPA_CONTROLLER_ACCOUNT, "namespace": HPA_CONTROLLER_NAMESPACE}]),
    ]
    reader = {"apiVersion": f"{GROUP}/v1", "kind": "Role",
              "metadata": _meta("extension-apiserver-authentication-reader", "kube-system"),
              "rules": [_rule([""], ["configmaps"], ["get", "list", "watch"],
                              [identity.AUTH_CONFIGMAP_NAME])]}
    reader_binding = _binding("RoleBinding", "system::extension-apiserver-authentication-reader", "Role",
                              "extension-apiserver-authentication-reader",
                              [_user("system:kube-controller-manager"), _user("system:kube-scheduler")], "kube-system")
    return ([(CLUSTER_ROLES, r) for r in cluster_roles] + [(CLUSTER_ROLE_BINDINGS, b) for b in cluster_bindings]
            + [(ROLES, reader), (ROLE_BINDINGS, reader_binding)])

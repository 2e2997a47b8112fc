"""A trigger's `authenticationRef` resolved to the flat auth-parameter mapping scalers read (KEDA §1.8).

KEDA's order, later sources overwriting earlier ones for the same parameter: `env` entries first (the
value of a variable of the target's container `containerName`, or of the default container), then
`configMapTargetRef`, then `secretTargetRef`. A missing Secret, ConfigMap, key or variable gives an empty
string, as in KEDA (the scaler's own validation then says which parameter is missing); each such gap is
also reported as an `Issue` naming the object and field, e.g.
`TriggerAuthentication/ns/name: spec.secretTargetRef[0].name: secret "x" not found`.

A TriggerAuthentication is looked up in the ScaledObject's namespace; a ClusterTriggerAuthentication is
cluster-scoped and its Secrets and ConfigMaps are read from the operator's "cluster object namespace".
That namespace defaults to `keda`, as KEDA's does when installed by its chart: Ebb is a drop-in, so the
Secrets people already created for their ClusterTriggerAuthentications stay where they are.

The objects come from an injected `AuthSource`, so the operator (Kubernetes API, through its cache) and
the CLI (files, `FileSource` over `validating.Cluster`) share this code. Resolved values are secrets: they
are returned only in `Resolved.params`, never put in an issue, and `Resolved.secret_values()` lists them
so callers can mask them anywhere else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Protocol

from scaler.core import problems, specs, validating

DEFAULT_CLUSTER_OBJECT_NAMESPACE = validating.DEFAULT_CLUSTER_OBJECT_NAMESPACE  # "keda"


class AuthSource(Protocol):
    """Where Secrets, ConfigMaps and (Cluster)TriggerAuthentications come from. None means "no such
    object". Secret values are decoded text."""

    def secret(self, namespace: str, name: str) -> Mapping[str, str] | None: ...

    def config_map(self, namespace: str, name: str) -> Mapping[str, str] | None: ...

    def trigger_authentication(self, namespace: str, name: str) -> specs.TriggerAuthenticationSpec | None: ...

    def cluster_trigger_authentication(self, name: str) -> specs.TriggerAuthenticationSpec | None: ...


@dataclasses.dataclass(frozen=True)
class FileSource:
    """An `AuthSource` over the objects `ebb validate` / `ebb probe` read from files."""

    cluster: validating.Cluster

    def secret(self, namespace: str, name: str) -> Mapping[str, str] | None:
        return self.cluster.secrets.get((namespace, name))

    def config_map(self, namespace: str, name: str) -> Mapping[str, str] | None:
        return self.cluster.config_maps.get((namespace, name))

    def trigger_authentication(self, namespace: str, name: str) -> specs.TriggerAuthenticationSpec | None:
        return self.cluster.trigger_authentications.get((namespace, name))

    def cluster_trigger_authentication(self, name: str) -> specs.TriggerAuthenticationSpec | None:
        return self.cluster.cluster_trigger_authentications.get(name)


@dataclasses.dataclass(frozen=True)
class Issue:
    """Something that could not be resolved. `obj` and `field` locate it; `message` holds no secret."""

    obj: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.obj}: {self.field}: {self.message}"

    def problem(self, severity: problems.Severity = problems.Severity.WARNING) -> problems.Problem:
        return problems.Problem(self.obj, self.field, self.message, severity)


@dataclasses.dataclass(frozen=True)
class Resolved:
    """The auth parameters (values hidden from `repr`), which of them came from Secrets, and the gaps."""

    params: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)
    from_secrets: frozenset[str] = frozenset()
    issues: tuple[Issue, ...] = ()
    authentication: specs.TriggerAuthenticationSpec | None = None

    def secret_values(self) -> list[str]:
        return [self.params[p] for p in self.from_secrets if self.params.get(p)]


# The environment of a container of the target: None = the default container. None result = unknown.
ContainerEnv = Callable[[str | None], Mapping[str, str] | None]


def find(
    ref: specs.AuthenticationRef, namespace: str, source: AuthSource
) -> specs.TriggerAuthenticationSpec | None:
    """The (Cluster)TriggerAuthentication `ref` names, as seen from a ScaledObject in `namespace`."""
    if ref.kind is specs.AuthKind.CLUSTER_TRIGGER_AUTHENTICATION:
        return source.cluster_trigger_authentication(ref.name)
    return source.trigger_authentication(namespace, ref.name)


def resolve_ref(
    ref: specs.AuthenticationRef | None,
    namespace: str,
    source: AuthSource,
    container_env: ContainerEnv,
    *,
    cluster_object_namespace: str = DEFAULT_CLUSTER_OBJECT_NAMESPACE,
    obj: str = "",
    where: str = "authenticationRef",
) -> Resolved:
    """Resolve a trigger's `authenticationRef` (None: no auth parameters). A reference to an object that
    does not exist gives empty parameters and an issue at `obj`'s field `where`."""
    if ref is None:
        return Resolved()
    auth = find(ref, namespace, source)
    if auth is None:
        scope = (
            ""
            if ref.kind is specs.AuthKind.CLUSTER_TRIGGER_AUTHENTICATION
            else f' in namespace "{namespace}"'
        )
        return Resolved(
            issues=(Issue(obj, f"{where}.name", f'{ref.kind.value} "{ref.name}" not found{scope}'),)
        )
    return resolve(auth, source, container_env, cluster_object_namespace=cluster_object_namespace)


def resolve(
    auth: specs.TriggerAuthenticationSpec,
    source: AuthSource,
    container_env: ContainerEnv,
    *,
    cluster_object_namespace: str = DEFAULT_CLUSTER_OBJECT_NAMESPACE,
) -> Resolved:
    """The flat auth parameters of `auth`, in KEDA's order (env, then ConfigMaps, then Secrets)."""
    namespace = auth.namespace if auth.namespace is not None else cluster_object_namespace
    values: dict[str, str] = {}
    from_secrets: set[str] = set()
    issues: list[Issue] = []

    def gap(field: str, message: str) -> None:
        issues.append(Issue(auth.ref, field, message))

    for index, env_ref in enumerate(auth.env):
        env = container_env(env_ref.container_name)
        field = f"spec.env[{index}]"
        if env is None:
            which = (
                f'container "{env_ref.container_name}"'
                if env_ref.container_name
                else "the target's container"
            )
            gap(f"{field}.name", f'the environment of {which} is not known; "{env_ref.parameter}" is empty')
            value = ""
        elif env_ref.name not in env:
            gap(
                f"{field}.name",
                f'variable "{env_ref.name}" not found in the container; "{env_ref.parameter}" is empty',
            )
            value = ""
        else:
            value = env[env_ref.name]
        values[env_ref.parameter] = value
        # A container variable may hold a secret; treat it as one.
        from_secrets.add(env_ref.parameter)

    def looked_up(kind: str, data: Mapping[str, str] | None, ref: specs.ConfigMapTargetRef | specs.SecretTargetRef, field: str) -> str:
        # KEDA's rule for both ConfigMaps and Secrets: a missing object or key leaves the parameter empty.
        if data is None:
            gap(f"{field}.name", f'{kind} "{ref.name}" not found in namespace "{namespace}"')
            return ""
        if ref.key not in data:
            gap(f"{field}.key", f'key "{ref.key}" not found in {kind} "{ref.name}"')
            return ""
        return str(data[ref.key])

    for index, cm_ref in enumerate(auth.config_map_target_refs):
        data = source.config_map(namespace, cm_ref.name)
        values[cm_ref.parameter] = looked_up("configmap", data, cm_ref, f"spec.configMapTargetRef[{index}]")
        from_secrets.discard(cm_ref.parameter)

    for index, secret_ref in enumerate(auth.secret_target_refs):
        secret = source.secret(namespace, secret_ref.name)
        values[secret_ref.parameter] = looked_up("secret", secret, secret_ref, f"spec.secretTargetRef[{index}]")
        from_secrets.add(secret_ref.parameter)

    for section in auth.unsupported_sources:
        gap(f"spec.{section}", "Ebb cannot resolve this source; the parameters it would supply are missing")
    return Resolved(values, frozenset(from_secrets), tuple(issues), auth)

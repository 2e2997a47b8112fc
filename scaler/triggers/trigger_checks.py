"""Checking a trigger's parameters through the scaler registry, and building its `base.TriggerInputs`.

`prepare` turns one trigger of a ScaledObject into the plain inputs a scaler is parsed and built from:
the target container's environment (`container_env`, from the workload when it is known) and the auth
parameters (`auth_resolution`). The operator and `ebb probe` call it; `CHECKER` (the
`validating.TriggerChecker` that `ebb validate` uses) calls it and then parses the parameters with the
trigger type's declarations, turning every `base.ParamProblem` into a `problems.Problem` with the full
path (`spec.triggers[1].metadata.listLength`).

When something a trigger draws from is not among the documents (its TriggerAuthentication, a Secret,
the target workload), the trigger's parameter errors are reported as warnings that say so: a file set
is not a cluster. Values resolved from Secrets (and container variables) are masked in every message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scaler.core import auth_resolution, container_env, problems, specs, validating
from scalers import base, params, registry, url_masking


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A trigger's inputs, the gaps found while resolving them, and the values to mask in messages."""

    inputs: base.TriggerInputs
    issues: tuple[problems.Problem, ...] = ()
    # Why the inputs may lack values the cluster would supply (None: complete as far as we can tell).
    incomplete: str | None = None
    secrets: tuple[str, ...] = dataclasses.field(default=(), repr=False)

    def mask(self, text: str) -> str:
        return mask(text, self.secrets)

    def resolve(self, scalers: registry.Registry) -> Resolved:
        """This trigger's scaler type, parsed parameters and metric, as the operator, `ebb probe` and the
        simulator all need them. Raises `base.PluginError` or `base.ConfigError` (unmasked: call `mask`)."""
        scaler_type = scalers.get(self.inputs.type)
        parsed = params.parse(scaler_type.params, self.inputs)
        return Resolved(scaler_type, parsed.value, scaler_type.metric(parsed.value, self.inputs))


@dataclasses.dataclass(frozen=True)
class Resolved:
    scaler_type: base.ScalerType[Any]
    params: Any
    metric: base.MetricSpec

    def build(self, inputs: base.TriggerInputs, context: base.BuildContext) -> base.Scaler:
        return self.scaler_type.build(self.params, inputs, context)


def mask(text: str, secrets: Iterable[str]) -> str:
    """Every secret value in `text` hidden (also percent-encoded), and credentials inside URLs."""
    return url_masking.mask(text, secrets)


def _uses_env(trigger: specs.Trigger) -> bool:
    return any(key.endswith("FromEnv") for key in trigger.metadata)


def prepare(
    so: specs.ScaledObjectSpec,
    trigger: specs.Trigger,
    source: auth_resolution.AuthSource,
    workload: Mapping[str, Any] | None,
    *,
    cluster_object_namespace: str = auth_resolution.DEFAULT_CLUSTER_OBJECT_NAMESPACE,
    timeout: float = base.DEFAULT_TIMEOUT_SECONDS,
) -> Prepared:
    """Resolve the environment and auth parameters of `trigger` and build its `base.TriggerInputs`."""
    where = f"spec.triggers[{trigger.index}]"
    found: list[problems.Problem] = []
    incomplete: list[str] = []
    target = so.scale_target_ref
    workload_ref = f"{target.kind}/{so.namespace}/{target.name}"

    def secret(name: str) -> Mapping[str, str] | None:
        return source.secret(so.namespace, name)

    def config_map(name: str) -> Mapping[str, str] | None:
        return source.config_map(so.namespace, name)

    envs: dict[str | None, container_env.Env | None] = {}
    env_failed: list[str] = []

    def env_of(container_name: str | None) -> container_env.Env | None:
        if container_name not in envs:
            if workload is None:
                envs[container_name] = None
            else:
                try:
                    envs[container_name] = container_env.resolve(
                        workload,
                        container_name=container_name or target.env_source_container_name,
                        secrets=secret,
                        config_maps=config_map,
                    )
                except container_env.EnvError as error:
                    envs[container_name] = None
                    env_failed.append(str(error))
                    found.append(
                        problems.Problem(
                            so.ref,
                            where,
                            f"the environment of {workload_ref} cannot be resolved: {error}",
                            problems.Severity.WARNING,
                        )
                    )
        return envs[container_name]

    def values_of(container_name: str | None) -> Mapping[str, str] | None:
        env = env_of(container_name)
        return env.values if env is not None else None

    # KEDA resolves the container environment for every trigger; a failure is only ours to report once.
    default_env = env_of(None)
    if default_env is None and _uses_env(trigger):
        incomplete.append(
            f"{workload_ref} is not among the documents"
            if workload is None
            else "its environment cannot be resolved"
        )

    resolved = auth_resolution.resolve_ref(
        trigger.authentication_ref,
        so.namespace,
        source,
        values_of,
        cluster_object_namespace=cluster_object_namespace,
        obj=so.ref,
        where=f"{where}.authenticationRef",
    )
    for issue in resolved.issues:
        found.append(issue.problem(problems.Severity.WARNING))
    if resolved.issues:
        ref = trigger.authentication_ref
        incomplete.append(
            f"{ref.kind.value} {ref.name!r} is incomplete" if ref else "authentication is incomplete"
        )

    secrets = [*resolved.secret_values()]
    for env in envs.values():
        if env is not None:
            secrets.extend(env.secret_values())
    inputs = base.TriggerInputs(
        type=trigger.type,
        index=trigger.index,
        metadata=dict(trigger.metadata),
        name=trigger.name,
        auth_params=dict(resolved.params),
        resolved_env=dict(default_env.values) if default_env is not None else {},
        metric_type=trigger.metric_type.value,
        namespace=so.namespace,
        scaled_object=so.name,
        timeout=timeout,
    )
    return Prepared(inputs, tuple(found), "; ".join(incomplete) or None, tuple(secrets))


def check_prepared(
    so: specs.ScaledObjectSpec,
    trigger: specs.Trigger,
    prepared: Prepared,
    scalers: registry.Registry | None = None,
) -> list[problems.Problem]:
    """The parameter problems of one prepared trigger (registry look-up, parse, metric)."""
    where = f"spec.triggers[{trigger.index}]"
    found: list[problems.Problem] = list(prepared.issues)
    try:
        scaler_type = (scalers or registry.default()).get(trigger.type)
    except base.PluginError as error:
        found.append(problems.Problem(so.ref, f"{where}.type", prepared.mask(str(error))))
        return found
    try:
        parsed = params.parse(scaler_type.params, prepared.inputs)
    except base.ConfigError as error:
        found.extend(_problems(so, where, prepared, error.problems))
        found.extend(_problems(so, where, prepared, error.warnings))
        return found
    found.extend(_problems(so, where, prepared, parsed.warnings))
    try:
        scaler_type.metric(parsed.value, prepared.inputs)
    except Exception as error:  # a plugin's metric() must not break validation of the others
        found.append(
            problems.Problem(
                so.ref,
                where,
                f"the {trigger.type} trigger's metric cannot be computed: {type(error).__name__}",
            )
        )
    return found


def _problems(
    so: specs.ScaledObjectSpec, where: str, prepared: Prepared, found: Sequence[base.ParamProblem]
) -> list[problems.Problem]:
    result = []
    for p in found:
        message = prepared.mask(p.message)
        severity = problems.Severity.WARNING if p.warning else problems.Severity.ERROR
        if severity is problems.Severity.ERROR and prepared.incomplete:
            # The value may well exist in the cluster; we cannot tell from these files.
            severity = problems.Severity.WARNING
            message = f"{message} (not certain: {prepared.mask(prepared.incomplete)})"
        result.append(problems.Problem(so.ref, f"{where}.{p.field}", message, severity))
    return result


def check(
    scaled_object: specs.ScaledObjectSpec, trigger: specs.Trigger, cluster: validating.Cluster
) -> list[problems.Problem]:
    """`validating.TriggerChecker`: resolve from the documents, then check through the registry."""
    so = scaled_object
    prepared = prepare(
        so,
        trigger,
        auth_resolution.FileSource(cluster),
        cluster.workload(so),
        cluster_object_namespace=cluster.cluster_object_namespace,
    )
    # `validating` already warns about an authenticationRef that is not among the documents.
    duplicate = f"spec.triggers[{trigger.index}].authenticationRef.name"
    prepared = dataclasses.replace(prepared, issues=tuple(p for p in prepared.issues if p.field != duplicate))
    return check_prepared(so, trigger, prepared)


CHECKER: validating.TriggerChecker = check

"""A container's environment, resolved from a workload manifest the way KEDA's resolver does. Pure.

KEDA gives scalers the target container's environment so that `<param>FromEnv` can name a variable
(`pkg/scaling/resolver/scale_resolvers.go`). The container is `scaleTargetRef.envSourceContainerName`, else
the first one. Its environment is built in Kubernetes' order: every `envFrom` source first (a ConfigMap's
or Secret's keys, with the source's `prefix`), then every `env` entry (`value` with `$(VAR)` expanded
against what is already defined, or `valueFrom.secretKeyRef` / `configMapKeyRef`); later definitions
override earlier ones. A missing Secret, ConfigMap or key is an error unless the reference is `optional`.
`fieldRef` and `resourceFieldRef` need a running pod; such variables are left out, as they would be empty
for the scaler anyway.

Secrets and ConfigMaps come from injected lookups (name → decoded key/value mapping, or None when there is
no such object, already scoped to the workload's namespace); `secret_data` decodes a Secret manifest (`data`
is base64, `stringData` plain text and wins, as the API server merges it). The result remembers which
variables came from a Secret, so callers can keep those values out of every message.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

WORKLOAD_KINDS = ("Deployment", "StatefulSet")

Lookup = Callable[[str], Mapping[str, str] | None]  # name -> decoded data, None when missing


@dataclasses.dataclass(frozen=True)
class Env:
    """A resolved environment. `from_secrets` names the variables whose value came from a Secret."""

    values: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)
    from_secrets: frozenset[str] = frozenset()

    def secret_values(self) -> list[str]:
        return [self.values[n] for n in self.from_secrets if self.values.get(n)]


class EnvError(ValueError):
    """The environment cannot be resolved; `field` is the path in the workload, `message` never holds a
    secret value."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def secret_data(secret: Mapping[str, Any]) -> dict[str, str]:
    """A Secret's values as text: `data` decoded from base64, then `stringData` on top."""
    values: dict[str, str] = {}
    data = secret.get("data")
    if isinstance(data, Mapping):
        for key, encoded in data.items():
            try:
                values[str(key)] = base64.b64decode(str(encoded or ""), validate=True).decode(
                    "utf-8", "replace"
                )
            except (binascii.Error, ValueError):
                values[str(key)] = ""  # the API server would have refused it; treat as empty
    string_data = secret.get("stringData")
    if isinstance(string_data, Mapping):
        for key, value in string_data.items():
            values[str(key)] = "" if value is None else str(value)
    return values


def config_map_data(config_map: Mapping[str, Any]) -> dict[str, str]:
    data = config_map.get("data")
    if not isinstance(data, Mapping):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in data.items()}


_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(value: str, defined: Mapping[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: defined names are replaced, `$$` is a literal `$`, and a reference
    to an undefined name stays as written."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return defined[name] if name in defined else match.group(0)

    return _REFERENCE.sub(replace, value)


@dataclasses.dataclass(frozen=True)
class Container:
    """The chosen container and where it sits in the manifest (for messages)."""

    body: Mapping[str, Any]
    path: str

    @property
    def name(self) -> str:
        return str(self.body.get("name", ""))


def containers_of(workload: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], str]:
    """The pod template's containers and the path to them."""
    path = "spec.template.spec.containers"
    spec = workload.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    pod = template.get("spec") if isinstance(template, Mapping) else None
    containers = pod.get("containers") if isinstance(pod, Mapping) else None
    if not isinstance(containers, list):
        return [], path
    return [c for c in containers if isinstance(c, Mapping)], path


def choose_container(workload: Mapping[str, Any], container_name: str | None) -> Container:
    """`container_name` if given (KEDA: an error when absent), else the first container."""
    containers, path = containers_of(workload)
    if not containers:
        raise EnvError(path, "the target has no containers")
    if container_name:
        for index, body in enumerate(containers):
            if body.get("name") == container_name:
                return Container(body, f"{path}[{index}]")
        names = ", ".join(str(c.get("name")) for c in containers)
        raise EnvError(path, f'container "{container_name}" not found (containers: {names})')
    return Container(containers[0], f"{path}[0]")


def _optional(ref: Mapping[str, Any]) -> bool:
    return ref.get("optional") is True


def resolve(
    workload: Mapping[str, Any], *, container_name: str | None, secrets: Lookup, config_maps: Lookup
) -> Env:
    """The environment of the chosen container. Raises `EnvError` naming the field that cannot resolve."""
    return resolve_container(
        choose_container(workload, container_name), secrets=secrets, config_maps=config_maps
    )


def resolve_container(container: Container, *, secrets: Lookup, config_maps: Lookup) -> Env:
    env: dict[str, str] = {}
    secret_names: set[str] = set()
    env_from = container.body.get("envFrom")
    for index, source in enumerate(env_from if isinstance(env_from, Sequence) else []):
        if not isinstance(source, Mapping):
            continue
        path = f"{container.path}.envFrom[{index}]"
        prefix = str(source.get("prefix") or "")
        for kind, field, lookup in (
            ("ConfigMap", "configMapRef", config_maps),
            ("Secret", "secretRef", secrets),
        ):
            ref = source.get(field)
            if not isinstance(ref, Mapping):
                continue
            name = str(ref.get("name") or "")
            found = lookup(name)
            if found is None:
                if _optional(ref):
                    continue
                raise EnvError(f"{path}.{field}", f'{kind.lower()} "{name}" not found')
            for key, value in found.items():
                env[prefix + key] = value
                if kind == "Secret":
                    secret_names.add(prefix + key)
                else:
                    secret_names.discard(prefix + key)
    entries = container.body.get("env")
    for index, entry in enumerate(entries if isinstance(entries, Sequence) else []):
        if not isinstance(entry, Mapping) or not entry.get("name"):
            continue
        name = str(entry["name"])
        path = f"{container.path}.env[{index}]"
        value_from = entry.get("valueFrom")
        if isinstance(value_from, Mapping):
            resolved = _value_from(value_from, path, secrets, config_maps)
            if resolved is not None:
                value, secret = resolved
                env[name] = value
                if secret:
                    secret_names.add(name)
                else:
                    secret_names.discard(name)
            continue
        value = str(entry.get("value") or "")
        env[name] = expand(value, env)
        # A value built from a secret by $(VAR) expansion is as secret as its parts.
        if any(f"$({n})" in value for n in secret_names):
            secret_names.add(name)
        else:
            secret_names.discard(name)
    return Env(env, frozenset(secret_names))


def _value_from(
    value_from: Mapping[str, Any], path: str, secrets: Lookup, config_maps: Lookup
) -> tuple[str, bool] | None:
    """(value, came from a Secret), or None when the variable stays unset."""
    for kind, field, lookup in (
        ("Secret", "secretKeyRef", secrets),
        ("ConfigMap", "configMapKeyRef", config_maps),
    ):
        ref = value_from.get(field)
        if not isinstance(ref, Mapping):
            continue
        name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
        found = lookup(name)
        if found is None:
            if _optional(ref):
                return None
            raise EnvError(f"{path}.valueFrom.{field}", f'{kind.lower()} "{name}" not found')
        if key not in found:
            if _optional(ref):
                return None
            raise EnvError(f"{path}.valueFrom.{field}", f'key "{key}" not found in {kind.lower()} "{name}"')
        return found[key], kind == "Secret"
    return None  # fieldRef / resourceFieldRef: only a running pod knows them

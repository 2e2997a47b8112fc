"""ScaledObject and (Cluster)TriggerAuthentication as frozen values, with KEDA's defaults.

Pure: `parse_scaled_object(body)` and `parse_trigger_authentication(body)` turn a manifest mapping
(as `kubectl apply` would send it) into these values or raise `problems.InvalidObject` listing *every*
problem, each naming the object, the field path and what was expected. `check_scaled_object` and
`check_trigger_authentication` do the same without raising and also return the warnings (what KEDA's
webhook only warns about) for valid objects.

Checked here: everything KEDA's CRD schema (types, minimums, enums, required fields, minItems, the CEL
min <= max rule) and its admission webhook check about one object by itself: replica bounds (with the
webhook's min-0 quirk), name lengths, duplicate trigger names, fallback, scalingModifiers (the formula
is compiled by `formulas`), useCachedMetrics, Utilization, cpu/memory-only with min 0, the pause
annotations as KEDA reads them, `ebb.dev/scaling-mode`, and the TriggerAuthentication webhook rules.
Not here: trigger *parameters* (the scalers' job) and rules that need other objects (another
ScaledObject or HPA on the same workload, the workload's containers): see `scaler.core.validating`.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
import re
from collections.abc import Mapping
from typing import Any

from scaler.core import formulas, problems

API_VERSION = "keda.sh/v1alpha1"
GROUP = "keda.sh"

# Annotations (keda-semantics §1.2) and Ebb's own.
PAUSED = "autoscaling.keda.sh/paused"
PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"
PAUSED_SCALE_IN = "autoscaling.keda.sh/paused-scale-in"
PAUSED_SCALE_OUT = "autoscaling.keda.sh/paused-scale-out"
FORCE_ACTIVATION = "autoscaling.keda.sh/force-activation"
TRANSFER_HPA_OWNERSHIP = "scaledobject.keda.sh/transfer-hpa-ownership"
HPA_EXCLUDED_LABELS = "scaledobject.keda.sh/hpa-excluded-labels"
HPA_OWNERSHIP_VALIDATION = "validations.keda.sh/hpa-ownership"
SCALED_OBJECT_NAME_LABEL = "scaledobject.keda.sh/name"
FINALIZER = "finalizer.keda.sh"
SCALING_MODE = "ebb.dev/scaling-mode"

DEFAULT_POLLING_INTERVAL = 30
DEFAULT_COOLDOWN_PERIOD = 300
DEFAULT_INITIAL_COOLDOWN_PERIOD = 0
DEFAULT_MIN_REPLICAS = 0
DEFAULT_MAX_REPLICAS = 100


class MetricType(str, enum.Enum):
    AVERAGE_VALUE = "AverageValue"
    VALUE = "Value"
    UTILIZATION = "Utilization"


class FallbackBehavior(str, enum.Enum):
    STATIC = "static"
    CURRENT_REPLICAS = "currentReplicas"
    CURRENT_REPLICAS_IF_HIGHER = "currentReplicasIfHigher"
    CURRENT_REPLICAS_IF_LOWER = "currentReplicasIfLower"
    SCALING_MODIFIERS = "scalingModifiers"


class ScalingMode(str, enum.Enum):
    """How 1↔N is done: by an HPA fed from the metrics adapter (KEDA's way) or by the operator itself."""

    HPA = "hpa"
    DIRECT = "direct"


class AuthKind(str, enum.Enum):
    TRIGGER_AUTHENTICATION = "TriggerAuthentication"
    CLUSTER_TRIGGER_AUTHENTICATION = "ClusterTriggerAuthentication"


@dataclasses.dataclass(frozen=True)
class ScaleTargetRef:
    name: str
    api_version: str = "apps/v1"
    kind: str = "Deployment"
    env_source_container_name: str | None = None


@dataclasses.dataclass(frozen=True)
class AuthenticationRef:
    name: str
    kind: AuthKind = AuthKind.TRIGGER_AUTHENTICATION


@dataclasses.dataclass(frozen=True)
class Trigger:
    type: str
    metadata: Mapping[str, str]
    index: int
    name: str | None = None
    authentication_ref: AuthenticationRef | None = None
    metric_type: MetricType = MetricType.AVERAGE_VALUE
    use_cached_metrics: bool = False

    @property
    def key(self) -> str:
        """The name a trace column or formula variable uses: the trigger's name, else `s<index>`."""
        return self.name or f"s{self.index}"


@dataclasses.dataclass(frozen=True)
class Fallback:
    failure_threshold: int
    replicas: int
    behavior: FallbackBehavior = FallbackBehavior.STATIC


@dataclasses.dataclass(frozen=True)
class ScalingModifiers:
    formula: str
    target: float
    activation_target: float = 0.0
    metric_type: MetricType = MetricType.AVERAGE_VALUE


@dataclasses.dataclass(frozen=True)
class HorizontalPodAutoscalerConfig:
    name: str | None = None
    # The autoscaling/v2 `behavior` mapping exactly as written (None: Kubernetes' own defaults).
    behavior: Mapping[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class Advanced:
    restore_to_original_replica_count: bool = False
    horizontal_pod_autoscaler_config: HorizontalPodAutoscalerConfig = dataclasses.field(
        default_factory=HorizontalPodAutoscalerConfig
    )
    scaling_modifiers: ScalingModifiers | None = None


@dataclasses.dataclass(frozen=True)
class Pause:
    """The pause-related annotations, already interpreted as KEDA does."""

    paused: bool = False
    paused_replicas: int | None = None
    paused_scale_in: bool = False
    paused_scale_out: bool = False
    force_activation: bool = False


@dataclasses.dataclass(frozen=True)
class ScaledObjectSpec:
    name: str
    namespace: str
    scale_target_ref: ScaleTargetRef
    triggers: tuple[Trigger, ...]
    polling_interval: int = DEFAULT_POLLING_INTERVAL
    cooldown_period: int = DEFAULT_COOLDOWN_PERIOD
    initial_cooldown_period: int = DEFAULT_INITIAL_COOLDOWN_PERIOD
    idle_replica_count: int | None = None
    min_replica_count: int = DEFAULT_MIN_REPLICAS
    max_replica_count: int = DEFAULT_MAX_REPLICAS
    fallback: Fallback | None = None
    advanced: Advanced = dataclasses.field(default_factory=Advanced)
    pause: Pause = dataclasses.field(default_factory=Pause)
    scaling_mode: ScalingMode = ScalingMode.HPA
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    annotations: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def hpa_name(self) -> str:
        return self.advanced.horizontal_pod_autoscaler_config.name or f"keda-hpa-{self.name}"

    @property
    def ref(self) -> str:
        return f"ScaledObject/{self.namespace}/{self.name}"


@dataclasses.dataclass(frozen=True)
class SecretTargetRef:
    parameter: str
    name: str
    key: str


@dataclasses.dataclass(frozen=True)
class ConfigMapTargetRef:
    parameter: str
    name: str
    key: str


@dataclasses.dataclass(frozen=True)
class EnvRef:
    parameter: str
    name: str
    container_name: str | None = None


@dataclasses.dataclass(frozen=True)
class TriggerAuthenticationSpec:
    name: str
    namespace: str | None  # None for a ClusterTriggerAuthentication
    kind: AuthKind
    secret_target_refs: tuple[SecretTargetRef, ...] = ()
    config_map_target_refs: tuple[ConfigMapTargetRef, ...] = ()
    env: tuple[EnvRef, ...] = ()
    pod_identity_provider: str | None = None
    # Sections Ebb parses and keeps but cannot resolve (vaults, cloud secret managers …): their names.
    unsupported_sources: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind.value}/{where}{self.name}"


# --------------------------------------------------------------------------------------------------
# Parsing and validation.
#
# Everything below reads a manifest mapping (already loaded from YAML/JSON) and collects problems in
# document order. Decisions where Ebb had to choose (each also explained where it is applied):
#
# * Unknown fields are errors. `kubectl apply` validates strictly by default (server-side field
#   validation "Strict"), so a misspelt `pollingIntreval` is rejected, not silently pruned; a
#   validator that accepted it would let the typo through to the cluster.
# * Trigger metadata is `map[string]string` in the CRD. A YAML number or boolean (`listLength: 5`) is
#   rejected by the API server, so it is an error here too, naming the key and saying to quote it. The
#   value itself is never echoed: metadata may hold credentials.
# * Sections of a TriggerAuthentication Ebb cannot resolve (vaults, cloud secret managers, oauth2,
#   bound service-account tokens, filePath) are *errors* ("not supported by Ebb"): the CRD stores them,
#   as KEDA's does, and Ebb reports them later, as the ScaledObject's Ready=False and in `ebb validate`.
# * The formula is compiled with `scaler.core.formulas` over the named non-cpu/memory triggers and run once
#   with every value -1, as KEDA's webhook does.
# * Bounded work per object (Ebb's limits; KEDA has none, the API server only caps an object at about
#   1.5 MB): at most MAX_TRIGGERS triggers, MAX_METADATA_KEYS keys per trigger, MAX_PARAMETER_LENGTH
#   characters per metadata value and MAX_METADATA_TOTAL in all triggers' metadata, MAX_NESTING levels of nesting anywhere in the object, and a formula of
#   at most formulas.MAX_FORMULA_LENGTH characters. Each is an error naming the field: one tenant's
#   object cannot make the operator's shared event loop do unbounded work.
# --------------------------------------------------------------------------------------------------

SCALED_OBJECT_KIND = "ScaledObject"
INT32_MAX = 2**31 - 1
# Each trigger is read every tick (a cron trigger costs CPU on the shared loop); real objects have a few.
MAX_TRIGGERS = 32
MAX_METADATA_KEYS = 256
MAX_PARAMETER_LENGTH = 16_384
# All triggers' metadata together (keys and values): a trigger's parameters are parsed, masked and quoted
# on the operator's shared loop; real objects carry a few hundred characters.
MAX_METADATA_TOTAL = 65_536
# A ScaledObject's deepest real field (spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp
# .policies[0].type) is 8 levels down.
MAX_NESTING = 32
MAX_LABEL_VALUE_LENGTH = 63
HPA_NAME_PREFIX = "keda-hpa-"
RESOURCE_TRIGGER_TYPES = frozenset({"cpu", "memory"})
NO_CACHED_METRICS_TRIGGER_TYPES = frozenset({"cpu", "memory", "cron"})
PAUSE_ANNOTATIONS = (PAUSED, PAUSED_REPLICAS, PAUSED_SCALE_IN, PAUSED_SCALE_OUT, FORCE_ACTIVATION)

# Sections of a (Cluster)TriggerAuthentication that Ebb keeps but cannot resolve.
UNSUPPORTED_AUTH_SOURCES = (
    "hashiCorpVault",
    "azureKeyVault",
    "gcpSecretManager",
    "awsSecretManager",
    "boundServiceAccountToken",
    "oauth2",
    "filePath",
)
POD_IDENTITY_PROVIDERS = ("none", "azure-workload", "gcp", "aws", "aws-eks")

# Go's strconv.ParseBool, which KEDA uses for annotations.
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
# Go's strconv.ParseFloat for decimal input (no whitespace, no underscores); what KEDA uses for
# scalingModifiers.target/activationTarget.
_GO_FLOAT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_GO_INT = re.compile(r"[+-]?\d+")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

_TOP_LEVEL_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
_OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "namespace",
        "labels",
        "annotations",
        "generateName",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "finalizers",
        "ownerReferences",
        "managedFields",
        "selfLink",
    }
)
_SPEC_FIELDS = frozenset(
    {
        "scaleTargetRef",
        "pollingInterval",
        "cooldownPeriod",
        "initialCooldownPeriod",
        "idleReplicaCount",
        "minReplicaCount",
        "maxReplicaCount",
        "advanced",
        "triggers",
        "fallback",
    }
)
_TRIGGER_FIELDS = frozenset(
    {"type", "name", "metadata", "authenticationRef", "metricType", "useCachedMetrics"}
)
_TA_SPEC_FIELDS = frozenset(
    {"podIdentity", "secretTargetRef", "configMapTargetRef", "env", *UNSUPPORTED_AUTH_SOURCES}
)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _join(path: str, key: str) -> str:
    """`spec` + `triggers` -> `spec.triggers`; keys that are not identifiers are quoted in brackets."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f'{path}["{key}"]'


def go_parse_bool(value: str) -> bool | None:
    """Go's strconv.ParseBool: True/False, or None when the text is not a boolean."""
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    return None


def go_parse_float(value: str) -> float | None:
    """A finite float written as Go's ParseFloat accepts it (decimal form), else None."""
    if not _GO_FLOAT.fullmatch(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class _Collector:
    """Problems found so far about one object, in the order they were found."""

    def __init__(self, obj: str) -> None:
        self.obj = obj
        self.found: list[problems.Problem] = []

    def error(self, field: str, message: str) -> None:
        self.found.append(problems.Problem(self.obj, field, message))

    def warn(self, field: str, message: str) -> None:
        self.found.append(problems.Problem(self.obj, field, message, problems.Severity.WARNING))

    @property
    def has_errors(self) -> bool:
        return any(p.severity is problems.Severity.ERROR for p in self.found)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise problems.InvalidObject(self.found)

    # -- typed readers: each reports a wrong type and returns None (or a default) -------------------

    def mapping(self, value: object, path: str, *, required: bool = False) -> Mapping[str, Any] | None:
        if value is None:
            if required:
                self.error(path, "is required")
            return None
        if not isinstance(value, Mapping):
            self.error(path, f"must be an object, got {_type_name(value)}")
            return None
        return value

    def sequence(self, value: object, path: str) -> list[Any] | None:
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            self.error(path, f"must be a list, got {_type_name(value)}")
            return None
        return list(value)

    def unknown_fields(self, body: Mapping[str, Any], allowed: frozenset[str], path: str) -> None:
        for key in body:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                hint = (
                    f"; did you mean {close[0]}?"
                    if close
                    else f"; expected one of {', '.join(sorted(allowed))}"
                )
                self.error(
                    _join(path, str(key)), f"unknown field (kubectl apply rejects unknown fields){hint}"
                )

    def string(
        self, body: Mapping[str, Any], key: str, path: str, *, required: bool = False, non_empty: bool = False
    ) -> str | None:
        field = _join(path, key)
        value = body.get(key)
        if value is None:
            if required:
                self.error(field, "is required")
            return None
        if not isinstance(value, str):
            self.error(field, f"must be a string, got {_type_name(value)}")
            return None
        if non_empty and not value:
            self.error(field, "must not be empty")
            return None
        return value

    def boolean(self, body: Mapping[str, Any], key: str, path: str) -> bool | None:
        value = body.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.error(_join(path, key), f"must be a boolean (true or false), got {_type_name(value)}")
            return None
        return value

    def integer(
        self,
        body: Mapping[str, Any],
        key: str,
        path: str,
        *,
        minimum: int | None = None,
        maximum: int = INT32_MAX,
        required: bool = False,
    ) -> int | None:
        field = _join(path, key)
        value = body.get(key)
        if value is None:
            if required:
                self.error(field, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            hint = " (write it without quotes)" if isinstance(value, str) and _GO_INT.fullmatch(value) else ""
            self.error(field, f"must be an integer, got {_type_name(value)}{hint}")
            return None
        if minimum is not None and value < minimum:
            self.error(field, f"must be at least {minimum}, got {value}")
            return None
        if value > maximum:
            self.error(field, f"must be at most {maximum}, got {value}")
            return None
        return value

    def choice(self, body: Mapping[str, Any], key: str, path: str, choices: tuple[str, ...]) -> str | None:
        value = self.string(body, key, path)
        if value is None:
            return None
        if value not in choices:
            self.error(_join(path, key), f"must be one of {', '.join(choices)}; got {value!r}")
            return None
        return value

    def string_map(self, value: object, path: str, *, what: str, echo_values: bool) -> dict[str, str]:
        """A `map[string]string`: report every non-string value (echoing it only when it is safe)."""
        body = self.mapping(value, path)
        if body is None:
            return {}
        result: dict[str, str] = {}
        for key, item in body.items():
            field = _join(path, str(key))
            if isinstance(item, str):
                result[str(key)] = item
            elif item is None:
                self.error(field, f'{what} values must be strings, got null; write {key}: "" or remove it')
            elif isinstance(item, Mapping | list | tuple):
                self.error(field, f"{what} values must be strings, got {_type_name(item)}")
            else:
                shown = f'"{_yaml_scalar(item)}"' if echo_values else '"…"'
                self.error(
                    field,
                    f"{what} values must be strings, got {_type_name(item)}; quote it in YAML ({key}: {shown})",
                )
        return result


def _yaml_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- metadata ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Meta:
    name: str
    namespace: str | None
    labels: dict[str, str]
    annotations: dict[str, str]


def _object_ref(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def _peek_name(body: object) -> tuple[str, str | None]:
    """Name and namespace as written, for naming the object before it is validated."""
    meta = body.get("metadata") if isinstance(body, Mapping) else None
    if not isinstance(meta, Mapping):
        return "<unnamed>", None
    name = meta.get("name")
    namespace = meta.get("namespace")
    return (
        name if isinstance(name, str) and name else "<unnamed>",
        namespace if isinstance(namespace, str) and namespace else None,
    )


def _parse_meta(c: _Collector, body: Mapping[str, Any], *, namespaced: bool, default_namespace: str) -> _Meta:
    meta = c.mapping(body.get("metadata"), "metadata", required=True) or {}
    c.unknown_fields(meta, _OBJECT_META_FIELDS, "metadata")
    name = c.string(meta, "name", "metadata", required=True, non_empty=True) or ""
    if name and (len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name)):
        c.error(
            "metadata.name",
            f"{name!r} is not a valid name: lower-case letters, digits, '-' and '.', starting and ending "
            "with a letter or digit, at most 253 characters",
        )
    namespace: str | None = None
    written = c.string(meta, "namespace", "metadata")
    if namespaced:
        namespace = written or default_namespace
        if written and (len(written) > 63 or not _DNS_LABEL.fullmatch(written)):
            c.error("metadata.namespace", f"{written!r} is not a valid namespace name")
    elif written:
        c.warn("metadata.namespace", "is ignored: this kind is cluster-scoped")
    labels = c.string_map(meta.get("labels"), "metadata.labels", what="label", echo_values=True)
    annotations = c.string_map(
        meta.get("annotations"), "metadata.annotations", what="annotation", echo_values=True
    )
    return _Meta(name, namespace, labels, annotations)


def _check_type_meta(c: _Collector, body: Mapping[str, Any], kinds: tuple[str, ...]) -> str | None:
    api_version = body.get("apiVersion")
    if api_version != API_VERSION:
        shown = "missing" if api_version is None else repr(api_version)
        hint = " (keda.k8s.io is KEDA v1's API group)" if str(api_version).startswith("keda.k8s.io") else ""
        c.error("apiVersion", f"must be {API_VERSION}, got {shown}{hint}")
    kind = body.get("kind")
    if kind not in kinds:
        c.error("kind", f"must be {' or '.join(kinds)}, got {kind!r}")
        return None
    return str(kind)


# -- ScaledObject ------------------------------------------------------------------------------------


def parse_scaled_object(body: Mapping[str, Any], *, default_namespace: str = "default") -> ScaledObjectSpec:
    """Validate a ScaledObject manifest as KEDA's CRD schema and admission webhook would, and return it.

    Raises `problems.InvalidObject` carrying every error (and every warning) found; warnings alone do
    not raise: use `check_scaled_object` to get them for a valid object. `default_namespace` is used
    when `metadata.namespace` is absent (kubectl's `-n`).
    """
    spec, found = check_scaled_object(body, default_namespace=default_namespace)
    if spec is None:
        raise problems.InvalidObject(found)
    return spec


def check_scaled_object(
    body: Mapping[str, Any], *, default_namespace: str = "default"
) -> tuple[ScaledObjectSpec | None, list[problems.Problem]]:
    """Like `parse_scaled_object`, without raising: the spec (None when there are errors) and all problems."""
    name, namespace = _peek_name(body)
    c = _Collector(_object_ref(SCALED_OBJECT_KIND, namespace or default_namespace, name))
    if not isinstance(body, Mapping):
        c.error("", f"a ScaledObject manifest must be an object, got {_type_name(body)}")
        return None, c.found
    _check_type_meta(c, body, (SCALED_OBJECT_KIND,))
    _check_nesting(c, body)
    c.unknown_fields(body, _TOP_LEVEL_FIELDS, "")
    meta = _parse_meta(c, body, namespaced=True, default_namespace=default_namespace)
    spec_body = c.mapping(body.get("spec"), "spec", required=True) or {}
    c.unknown_fields(spec_body, _SPEC_FIELDS, "spec")

    target = _parse_scale_target_ref(c, spec_body.get("scaleTargetRef"))
    polling = c.integer(spec_body, "pollingInterval", "spec", minimum=1)
    cooldown = c.integer(spec_body, "cooldownPeriod", "spec", minimum=0)
    initial_cooldown = c.integer(spec_body, "initialCooldownPeriod", "spec", minimum=0)
    idle = c.integer(spec_body, "idleReplicaCount", "spec", minimum=0)
    min_replicas = c.integer(spec_body, "minReplicaCount", "spec", minimum=0)
    max_replicas = c.integer(spec_body, "maxReplicaCount", "spec", minimum=1)
    triggers = _parse_triggers(c, spec_body.get("triggers"))
    fallback, fallback_raw = _parse_fallback(c, spec_body.get("fallback"))
    advanced = _parse_advanced(c, spec_body.get("advanced"))
    pause = _parse_pause(c, meta.annotations)
    scaling_mode = _parse_scaling_mode(c, meta.annotations)

    # Webhook rules: they see the object as written (min "unset" differs from min 0, see below).
    _check_replica_bounds(c, spec_body, min_replicas, max_replicas, idle)
    _check_names(c, meta.name, advanced)
    _check_triggers(c, triggers, min_replicas, target)
    _check_fallback(c, fallback_raw, triggers, _raw_formula(spec_body))
    _check_scaling_modifiers(c, spec_body, triggers)
    _warn_irrelevant_settings(c, spec_body, min_replicas, idle, triggers, advanced)
    if idle is not None and idle > 0 and scaling_mode is ScalingMode.HPA:
        c.warn(
            "spec.idleReplicaCount",
            "only 0 works reliably in HPA mode: the HPA fights any other idle count (KEDA issue #2314)",
        )

    if c.has_errors or target is None:
        return None, c.found
    spec = ScaledObjectSpec(
        name=meta.name,
        namespace=meta.namespace or default_namespace,
        scale_target_ref=target,
        triggers=tuple(triggers),
        polling_interval=DEFAULT_POLLING_INTERVAL if polling is None else polling,
        cooldown_period=DEFAULT_COOLDOWN_PERIOD if cooldown is None else cooldown,
        initial_cooldown_period=DEFAULT_INITIAL_COOLDOWN_PERIOD
        if initial_cooldown is None
        else initial_cooldown,
        idle_replica_count=idle,
        min_replica_count=DEFAULT_MIN_REPLICAS if min_replicas is None else min_replicas,
        max_replica_count=DEFAULT_MAX_REPLICAS if max_replicas is None else max_replicas,
        fallback=fallback,
        advanced=advanced,
        pause=pause,
        scaling_mode=scaling_mode,
        labels=meta.labels,
        annotations=meta.annotations,
    )
    return spec, c.found


def _check_nesting(c: _Collector, body: Mapping[str, Any]) -> None:
    """An error at the first field found nested deeper than MAX_NESTING levels (iteratively: no recursion
    on hostile input; a value reached again at no greater depth is not walked again)."""
    deepest: dict[int, int] = {}
    stack: list[tuple[object, str, int]] = [(body, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_NESTING:
            c.error(path, f"is nested more than {MAX_NESTING} levels deep; no ScaledObject field is")
            return
        if isinstance(node, Mapping):
            items: list[tuple[object, str]] = [(v, _join(path, str(k))) for k, v in node.items()]
        elif isinstance(node, list | tuple):
            items = [(v, f"{path}[{i}]") for i, v in enumerate(node)]
        else:
            continue
        if deepest.get(id(node), -1) >= depth:
            continue
        deepest[id(node)] = depth
        stack.extend((child, child_path, depth + 1) for child, child_path in reversed(items))


def _parse_scale_target_ref(c: _Collector, value: object) -> ScaleTargetRef | None:
    path = "spec.scaleTargetRef"
    body = c.mapping(value, path, required=True)
    if body is None:
        return None
    c.unknown_fields(body, frozenset({"name", "apiVersion", "kind", "envSourceContainerName"}), path)
    name = c.string(body, "name", path, required=True, non_empty=True)
    api_version = c.string(body, "apiVersion", path) or "apps/v1"
    if api_version.count("/") > 1 or api_version.startswith("/") or api_version.endswith("/"):
        c.error(f"{path}.apiVersion", f"must be 'group/version' or 'version', got {api_version!r}")
    kind = c.string(body, "kind", path) or "Deployment"
    container = c.string(body, "envSourceContainerName", path) or None
    if name is None:
        return None
    return ScaleTargetRef(name=name, api_version=api_version, kind=kind, env_source_container_name=container)


def _parse_triggers(c: _Collector, value: object) -> list[Trigger]:
    path = "spec.triggers"
    if value is None:
        c.error(path, "is required: list at least one trigger")
        return []
    items = c.sequence(value, path)
    if items is None:
        return []
    if not items:
        c.error(path, "must list at least one trigger")
    if len(items) > MAX_TRIGGERS:
        c.error(path, f"lists {len(items)} triggers; at most {MAX_TRIGGERS} are allowed (Ebb's limit)")
        items = items[:MAX_TRIGGERS]  # bounded work: the rest is not parsed
    triggers: list[Trigger] = []
    for index, item in enumerate(items):
        trigger = _parse_trigger(c, item, index)
        if trigger is not None:
            triggers.append(trigger)
    total = sum(len(k) + len(v) for t in triggers for k, v in t.metadata.items())
    if total > MAX_METADATA_TOTAL:
        c.error(
            path,
            f"the triggers' metadata hold {total:,} characters in all; at most {MAX_METADATA_TOTAL:,} are allowed "
            "(Ebb's limit)",
        )
    return triggers


def _parse_trigger(c: _Collector, value: object, index: int) -> Trigger | None:
    path = f"spec.triggers[{index}]"
    body = c.mapping(value, path, required=True)
    if body is None:
        return None
    c.unknown_fields(body, _TRIGGER_FIELDS, path)
    trigger_type = c.string(body, "type", path, required=True, non_empty=True)
    name = c.string(body, "name", path) or None
    if body.get("metadata") is None:
        c.error(
            f"{path}.metadata", "is required (an empty object {} is fine for triggers without parameters)"
        )
    # Metadata values may be credentials (an inline password): never echo them.
    metadata = c.string_map(
        body.get("metadata"), f"{path}.metadata", what="trigger metadata", echo_values=False
    )
    _check_metadata_size(c, metadata, f"{path}.metadata")
    auth_ref = _parse_auth_ref(c, body.get("authenticationRef"), f"{path}.authenticationRef")
    metric_type_text = c.choice(body, "metricType", path, tuple(m.value for m in MetricType))
    cached = c.boolean(body, "useCachedMetrics", path)
    if trigger_type is None:
        return None
    if trigger_type in RESOURCE_TRIGGER_TYPES and not metric_type_text and "metricType" not in body:
        # KEDA's cpu/memory scaler has no default: the HPA needs to know percent or quantity.
        c.error(f"{path}.metricType", f"is required for {trigger_type} triggers: Utilization or AverageValue")
    return Trigger(
        type=trigger_type,
        metadata=metadata,
        index=index,
        name=name,
        authentication_ref=auth_ref,
        metric_type=MetricType(metric_type_text) if metric_type_text else MetricType.AVERAGE_VALUE,
        use_cached_metrics=bool(cached),
    )


def _check_metadata_size(c: _Collector, metadata: Mapping[str, str], path: str) -> None:
    if len(metadata) > MAX_METADATA_KEYS:
        c.error(path, f"has {len(metadata)} keys; at most {MAX_METADATA_KEYS} are allowed (Ebb's limit)")
    for key, value in metadata.items():
        if len(value) > MAX_PARAMETER_LENGTH:
            c.error(
                _join(path, key),
                f"is {len(value):,} characters long; at most {MAX_PARAMETER_LENGTH:,} are allowed (Ebb's limit)",
            )


def _parse_auth_ref(c: _Collector, value: object, path: str) -> AuthenticationRef | None:
    body = c.mapping(value, path)
    if body is None:
        return None
    c.unknown_fields(body, frozenset({"name", "kind"}), path)
    name = c.string(body, "name", path, required=True, non_empty=True)
    kind = c.choice(body, "kind", path, tuple(k.value for k in AuthKind))
    if name is None:
        return None
    return AuthenticationRef(name=name, kind=AuthKind(kind) if kind else AuthKind.TRIGGER_AUTHENTICATION)


def _parse_fallback(c: _Collector, value: object) -> tuple[Fallback | None, Mapping[str, Any] | None]:
    path = "spec.fallback"
    body = c.mapping(value, path)
    if body is None:
        return None, None
    c.unknown_fields(body, frozenset({"failureThreshold", "replicas", "behavior"}), path)
    # Negative values are the webhook's rule ("must both be >= 0"); reported once, by the type reader.
    threshold = c.integer(body, "failureThreshold", path, minimum=0, required=True)
    replicas = c.integer(body, "replicas", path, minimum=0, required=True)
    behavior = c.choice(body, "behavior", path, tuple(b.value for b in FallbackBehavior))
    if threshold is None or replicas is None:
        return None, body
    return (
        Fallback(
            failure_threshold=threshold,
            replicas=replicas,
            behavior=FallbackBehavior(behavior) if behavior else FallbackBehavior.STATIC,
        ),
        body,
    )


def _parse_advanced(c: _Collector, value: object) -> Advanced:
    path = "spec.advanced"
    body = c.mapping(value, path)
    if body is None:
        return Advanced()
    c.unknown_fields(
        body,
        frozenset({"restoreToOriginalReplicaCount", "horizontalPodAutoscalerConfig", "scalingModifiers"}),
        path,
    )
    restore = c.boolean(body, "restoreToOriginalReplicaCount", path)
    hpa_path = f"{path}.horizontalPodAutoscalerConfig"
    hpa_body = c.mapping(body.get("horizontalPodAutoscalerConfig"), hpa_path) or {}
    c.unknown_fields(hpa_body, frozenset({"name", "behavior"}), hpa_path)
    hpa_name = c.string(hpa_body, "name", hpa_path) or None
    if hpa_name and (len(hpa_name) > 253 or not _DNS_SUBDOMAIN.fullmatch(hpa_name)):
        c.error(f"{hpa_path}.name", f"{hpa_name!r} is not a valid object name")
    behavior = _parse_hpa_behavior(c, hpa_body.get("behavior"), f"{hpa_path}.behavior")
    modifiers = _parse_scaling_modifiers(c, body.get("scalingModifiers"), f"{path}.scalingModifiers")
    return Advanced(
        restore_to_original_replica_count=bool(restore),
        horizontal_pod_autoscaler_config=HorizontalPodAutoscalerConfig(name=hpa_name, behavior=behavior),
        scaling_modifiers=modifiers,
    )


def _parse_hpa_behavior(c: _Collector, value: object, path: str) -> Mapping[str, Any] | None:
    """autoscaling/v2 HorizontalPodAutoscalerBehavior, checked against the Kubernetes API's rules."""
    body = c.mapping(value, path)
    if body is None:
        return None
    c.unknown_fields(body, frozenset({"scaleUp", "scaleDown"}), path)
    for direction in ("scaleUp", "scaleDown"):
        rules_path = f"{path}.{direction}"
        rules = c.mapping(body.get(direction), rules_path)
        if rules is None:
            continue
        c.unknown_fields(
            rules,
            frozenset({"stabilizationWindowSeconds", "selectPolicy", "policies", "tolerance"}),
            rules_path,
        )
        c.integer(rules, "stabilizationWindowSeconds", rules_path, minimum=0, maximum=3600)
        c.choice(rules, "selectPolicy", rules_path, ("Max", "Min", "Disabled"))
        tolerance = rules.get("tolerance")
        if tolerance is not None and (
            isinstance(tolerance, bool) or not isinstance(tolerance, int | float | str)
        ):
            c.error(
                f"{rules_path}.tolerance",
                f'must be a quantity such as 0.1 or "100m", got {_type_name(tolerance)}',
            )
        policies = c.sequence(rules.get("policies"), f"{rules_path}.policies") or []
        for index, policy in enumerate(policies):
            policy_path = f"{rules_path}.policies[{index}]"
            policy_body = c.mapping(policy, policy_path, required=True)
            if policy_body is None:
                continue
            c.unknown_fields(policy_body, frozenset({"type", "value", "periodSeconds"}), policy_path)
            if policy_body.get("type") is None:
                c.error(f"{policy_path}.type", "is required (Pods or Percent)")
            else:
                c.choice(policy_body, "type", policy_path, ("Pods", "Percent"))
            c.integer(policy_body, "value", policy_path, minimum=1, required=True)
            c.integer(policy_body, "periodSeconds", policy_path, minimum=1, maximum=1800, required=True)
    return dict(body)


def _parse_scaling_modifiers(c: _Collector, value: object, path: str) -> ScalingModifiers | None:
    body = c.mapping(value, path)
    if body is None:
        return None
    c.unknown_fields(body, frozenset({"formula", "target", "activationTarget", "metricType"}), path)
    formula = c.string(body, "formula", path) or ""
    target_text = c.string(body, "target", path) or ""
    activation_text = c.string(body, "activationTarget", path) or ""
    metric_type_text = c.string(body, "metricType", path) or ""
    if not (formula or target_text or activation_text or metric_type_text):
        return None  # an empty block is "not using modifiers" for KEDA
    target = go_parse_float(target_text) if target_text else None
    activation = go_parse_float(activation_text) if activation_text else 0.0
    metric_type = MetricType.AVERAGE_VALUE
    if metric_type_text in (MetricType.AVERAGE_VALUE.value, MetricType.VALUE.value):
        metric_type = MetricType(metric_type_text)
    if not formula or target is None or target <= 0 or activation is None:
        return None  # the problems are reported by _check_scaling_modifiers
    return ScalingModifiers(
        formula=formula, target=target, activation_target=activation, metric_type=metric_type
    )


def _parse_pause(c: _Collector, annotations: Mapping[str, str]) -> Pause:
    def field(key: str) -> str:
        return f'metadata.annotations["{key}"]'

    paused = False
    if PAUSED in annotations:
        # KEDA: any value that is not a boolean pauses; "false" (or another Go false) unpauses.
        parsed = go_parse_bool(annotations[PAUSED])
        paused = True if parsed is None else parsed
        if parsed is None:
            c.warn(
                field(PAUSED), f'{annotations[PAUSED]!r} is not a boolean; KEDA treats it as "true" (paused)'
            )
    paused_replicas: int | None = None
    if PAUSED_REPLICAS in annotations:
        text = annotations[PAUSED_REPLICAS]
        if not _GO_INT.fullmatch(text.strip()) or text != text.strip():
            c.error(field(PAUSED_REPLICAS), f'must be a whole number of replicas such as "0", got {text!r}')
        elif int(text) < 0:
            c.error(field(PAUSED_REPLICAS), f"must be 0 or more replicas, got {text!r}")
        elif int(text) > INT32_MAX:
            c.error(field(PAUSED_REPLICAS), f"must be at most {INT32_MAX}, got {text!r}")
        else:
            paused_replicas = int(text)
            paused = True  # paused-replicas pauses whatever `paused` says

    def flag(key: str) -> bool:
        if key not in annotations:
            return False
        parsed = go_parse_bool(annotations[key])
        if parsed is None:
            # Ebb's choice: KEDA only acts on a true value here, so anything else is "off", said aloud.
            c.warn(field(key), f'{annotations[key]!r} is not a boolean; it has no effect (write "true")')
            return False
        return parsed

    return Pause(
        paused=paused,
        paused_replicas=paused_replicas,
        paused_scale_in=flag(PAUSED_SCALE_IN),
        paused_scale_out=flag(PAUSED_SCALE_OUT),
        force_activation=flag(FORCE_ACTIVATION),
    )


def _parse_scaling_mode(c: _Collector, annotations: Mapping[str, str]) -> ScalingMode:
    if SCALING_MODE not in annotations:
        return ScalingMode.HPA
    value = annotations[SCALING_MODE]
    try:
        return ScalingMode(value)
    except ValueError:
        choices = " or ".join(repr(m.value) for m in ScalingMode)
        c.error(f'metadata.annotations["{SCALING_MODE}"]', f"must be {choices}, got {value!r}")
        return ScalingMode.HPA


def _check_replica_bounds(
    c: _Collector, spec_body: Mapping[str, Any], min_set: int | None, max_set: int | None, idle: int | None
) -> None:
    # KEDA's webhook quirk (keda-semantics §5): an *unset* min counts as 0, an explicit min 0 as 1
    # (the HPA's minimum). So idle 0 passes with `minReplicaCount: 0` and fails with min unset.
    if "minReplicaCount" in spec_body and min_set is None:
        return  # already reported as a type error
    effective_min = 0 if min_set is None else max(min_set, 1)
    maximum = DEFAULT_MAX_REPLICAS if max_set is None else max_set
    if min_set is not None and effective_min > maximum:
        where = "maxReplicaCount" if max_set is not None else "the default maxReplicaCount"
        c.error("spec.minReplicaCount", f"must not be greater than {where} ({maximum}), got {min_set}")
    if idle is not None and idle >= effective_min:
        if min_set is None:
            reason = (
                "minReplicaCount is not set, which KEDA's admission webhook counts as 0 and so rejects any "
                f"idleReplicaCount; set minReplicaCount to at least {idle + 1}"
            )
        else:
            reason = f"minReplicaCount is {min_set}" + (
                " (counted as 1, the HPA's minimum)" if min_set == 0 else ""
            )
        c.error("spec.idleReplicaCount", f"must be less than minReplicaCount; got {idle} and {reason}")


def _check_names(c: _Collector, name: str, advanced: Advanced) -> None:
    if len(name) > MAX_LABEL_VALUE_LENGTH:
        c.error(
            "metadata.name",
            f"is {len(name)} characters long; must be at most {MAX_LABEL_VALUE_LENGTH} because it is used as "
            f"the {SCALED_OBJECT_NAME_LABEL} label value",
        )
        return
    custom = advanced.horizontal_pod_autoscaler_config.name
    hpa_name = custom or f"{HPA_NAME_PREFIX}{name}"
    if len(hpa_name) > MAX_LABEL_VALUE_LENGTH:
        if custom:
            c.error(
                "spec.advanced.horizontalPodAutoscalerConfig.name",
                f"is {len(hpa_name)} characters long; must be at most {MAX_LABEL_VALUE_LENGTH}",
            )
        else:
            c.error(
                "metadata.name",
                f"the HPA name derived from it ({hpa_name!r}) is {len(hpa_name)} characters long, more than "
                f"{MAX_LABEL_VALUE_LENGTH}; shorten the name or set spec.advanced.horizontalPodAutoscalerConfig.name",
            )


def _check_triggers(
    c: _Collector, triggers: list[Trigger], min_set: int | None, target: ScaleTargetRef | None
) -> None:
    seen: dict[str, int] = {}
    for trigger in triggers:
        path = f"spec.triggers[{trigger.index}]"
        if trigger.name:
            if trigger.name in seen:
                c.error(
                    f"{path}.name",
                    f"duplicate trigger name {trigger.name!r} (also used by spec.triggers[{seen[trigger.name]}]); "
                    "trigger names must be unique",
                )
            else:
                seen[trigger.name] = trigger.index
        if trigger.use_cached_metrics and trigger.type in NO_CACHED_METRICS_TRIGGER_TYPES:
            c.error(f"{path}.useCachedMetrics", f"is not supported for {trigger.type} triggers")
        if trigger.metric_type is MetricType.UTILIZATION and trigger.type not in RESOURCE_TRIGGER_TYPES:
            c.error(
                f"{path}.metricType",
                f"Utilization is only for cpu and memory triggers; use AverageValue or Value for {trigger.type}",
            )
    resource_only = bool(triggers) and all(t.type in RESOURCE_TRIGGER_TYPES for t in triggers)
    if resource_only and (min_set is None or min_set == 0):
        # KEDA's webhook checks this only for apps/v1 Deployments and StatefulSets (it returns early for
        # other kinds); Ebb follows it so that anything KEDA admits is admitted here.
        is_workload = (
            target is not None
            and target.api_version == "apps/v1"
            and target.kind in {"Deployment", "StatefulSet"}
        )
        message = (
            "must be at least 1 when every trigger is cpu or memory: those triggers cannot wake a workload "
            "from zero replicas"
        )
        if is_workload:
            c.error("spec.minReplicaCount", message)
        else:
            c.warn("spec.minReplicaCount", message)


def _check_fallback(
    c: _Collector, fallback_body: Mapping[str, Any] | None, triggers: list[Trigger], formula: str
) -> None:
    if fallback_body is None:
        return
    if triggers and all(t.type in RESOURCE_TRIGGER_TYPES for t in triggers):
        c.error(
            "spec.fallback",
            "is not supported when every trigger is cpu or memory; add another trigger or remove it",
        )
    if fallback_body.get("behavior") == FallbackBehavior.SCALING_MODIFIERS.value and not formula:
        c.error(
            "spec.fallback.behavior",
            "scalingModifiers needs spec.advanced.scalingModifiers.formula to be set",
        )


def _raw_formula(spec_body: Mapping[str, Any]) -> str:
    advanced = spec_body.get("advanced")
    modifiers = advanced.get("scalingModifiers") if isinstance(advanced, Mapping) else None
    formula = modifiers.get("formula") if isinstance(modifiers, Mapping) else None
    return formula if isinstance(formula, str) else ""


def _check_scaling_modifiers(c: _Collector, spec_body: Mapping[str, Any], triggers: list[Trigger]) -> None:
    advanced = spec_body.get("advanced")
    if not isinstance(advanced, Mapping):
        return
    body = advanced.get("scalingModifiers")
    if not isinstance(body, Mapping):
        return
    path = "spec.advanced.scalingModifiers"

    def text(key: str) -> str:
        value = body.get(key)
        return value if isinstance(value, str) else ""

    formula, target, activation, metric_type = (
        text("formula"),
        text("target"),
        text("activationTarget"),
        text("metricType"),
    )
    if not (formula or target or activation or metric_type):
        return
    if not formula:
        c.error(f"{path}.formula", "is required when scalingModifiers is used")
    if not target:
        c.error(f"{path}.target", "is required when scalingModifiers is used")
    else:
        number = go_parse_float(target)
        if number is None or number <= 0:
            c.error(
                f"{path}.target", f'must be a number greater than 0 written as a string ("2"), got {target!r}'
            )
    if activation and go_parse_float(activation) is None:
        c.error(
            f"{path}.activationTarget", f'must be a number written as a string ("0.5"), got {activation!r}'
        )
    if metric_type == MetricType.UTILIZATION.value:
        c.error(
            f"{path}.metricType",
            "must be AverageValue or Value: the composite metric is external, not a resource",
        )
    elif metric_type and metric_type not in (MetricType.AVERAGE_VALUE.value, MetricType.VALUE.value):
        c.error(f"{path}.metricType", f"must be AverageValue or Value, got {metric_type!r}")
    if formula:
        _check_formula(c, f"{path}.formula", formula, triggers)


def _check_formula(c: _Collector, field: str, formula: str, triggers: list[Trigger]) -> None:
    if len(formula) > formulas.MAX_FORMULA_LENGTH:
        c.error(
            field,
            f"is {len(formula):,} characters long; at most {formulas.MAX_FORMULA_LENGTH:,} are allowed "
            "(Ebb's limit)",
        )
        return
    # As KEDA: the formula's variables are the *named* triggers other than cpu/memory.
    variables = [t.name for t in triggers if t.name and t.type not in RESOURCE_TRIGGER_TYPES]
    try:
        formulas.compile_formula(formula, variables)
    except formulas.FormulaError as error:
        hint = (
            "" if variables else "; formula variables are the `name`s of the triggers (other than cpu/memory)"
        )
        c.error(field, f"{error}{hint}")


def _warn_irrelevant_settings(
    c: _Collector,
    spec_body: Mapping[str, Any],
    min_set: int | None,
    idle: int | None,
    triggers: list[Trigger],
    advanced: Advanced,
) -> None:
    # KEDA's webhook warnings: with min > 0 and no idle count, KEDA never scales to zero, so the HPA
    # drives everything and these two settings do nothing.
    if not (min_set is not None and min_set > 0 and idle is None):
        return
    if (
        spec_body.get("pollingInterval") is not None
        and not any(t.use_cached_metrics for t in triggers)
        and advanced.scaling_modifiers is None
    ):
        c.warn(
            "spec.pollingInterval",
            "is configured but is not relevant: with minReplicaCount > 0 and no idleReplicaCount the HPA "
            "polls the metrics itself (use useCachedMetrics to make it matter)",
        )
    if spec_body.get("cooldownPeriod") is not None:
        c.warn(
            "spec.cooldownPeriod",
            "is configured but is not relevant: it only applies when scaling to zero or to idleReplicaCount",
        )


# -- (Cluster)TriggerAuthentication ----------------------------------------------------------------


def parse_trigger_authentication(
    body: Mapping[str, Any], *, default_namespace: str = "default"
) -> TriggerAuthenticationSpec:
    """Validate a TriggerAuthentication or ClusterTriggerAuthentication manifest and return it.

    Raises `problems.InvalidObject` with every error (and warning) found.
    """
    spec, found = check_trigger_authentication(body, default_namespace=default_namespace)
    if spec is None:
        raise problems.InvalidObject(found)
    return spec


def check_trigger_authentication(
    body: Mapping[str, Any], *, default_namespace: str = "default"
) -> tuple[TriggerAuthenticationSpec | None, list[problems.Problem]]:
    """Like `parse_trigger_authentication`, without raising: the spec (None on errors) and all problems."""
    kinds = tuple(k.value for k in AuthKind)
    raw_kind = body.get("kind") if isinstance(body, Mapping) else None
    kind_name = raw_kind if raw_kind in kinds else AuthKind.TRIGGER_AUTHENTICATION.value
    namespaced = kind_name == AuthKind.TRIGGER_AUTHENTICATION.value
    name, namespace = _peek_name(body)
    c = _Collector(
        _object_ref(str(kind_name), (namespace or default_namespace) if namespaced else None, name)
    )
    if not isinstance(body, Mapping):
        c.error("", f"a {kind_name} manifest must be an object, got {_type_name(body)}")
        return None, c.found
    _check_type_meta(c, body, kinds)
    _check_nesting(c, body)
    c.unknown_fields(body, _TOP_LEVEL_FIELDS, "")
    meta = _parse_meta(c, body, namespaced=namespaced, default_namespace=default_namespace)
    kind = AuthKind(kind_name)
    spec_body = c.mapping(body.get("spec"), "spec", required=True) or {}
    c.unknown_fields(spec_body, _TA_SPEC_FIELDS, "spec")

    secret_refs = [
        SecretTargetRef(**ref)
        for ref in _parse_refs(
            c, spec_body.get("secretTargetRef"), "spec.secretTargetRef", ("parameter", "name", "key")
        )
    ]
    config_refs = [
        ConfigMapTargetRef(**ref)
        for ref in _parse_refs(
            c, spec_body.get("configMapTargetRef"), "spec.configMapTargetRef", ("parameter", "name", "key")
        )
    ]
    env_refs = [
        EnvRef(parameter=ref["parameter"], name=ref["name"], container_name=ref.get("containerName") or None)
        for ref in _parse_refs(
            c, spec_body.get("env"), "spec.env", ("parameter", "name"), optional=("containerName",)
        )
    ]
    provider = _parse_pod_identity(c, spec_body.get("podIdentity"))
    unsupported: list[str] = []
    for section in UNSUPPORTED_AUTH_SOURCES:
        if spec_body.get(section) is None:
            continue
        unsupported.append(section)
        if section == "filePath" and kind is AuthKind.TRIGGER_AUTHENTICATION:
            c.error("spec.filePath", "is only allowed on a ClusterTriggerAuthentication")
            continue
        if section == "oauth2":
            _check_oauth2(c, spec_body.get("oauth2"))
        # KEDA's CRD stores it (so does Ebb's), but Ebb cannot resolve it: rejected here, so a ScaledObject
        # using this authentication is Ready=False and `ebb validate` fails, naming the field.
        c.error(
            f"spec.{section}",
            "is not supported by Ebb (it resolves secretTargetRef, configMapTargetRef and env); the "
            "parameters this source would supply cannot be obtained",
        )

    if c.has_errors:
        return None, c.found
    return (
        TriggerAuthenticationSpec(
            name=meta.name,
            namespace=meta.namespace,
            kind=kind,
            secret_target_refs=tuple(secret_refs),
            config_map_target_refs=tuple(config_refs),
            env=tuple(env_refs),
            pod_identity_provider=provider,
            unsupported_sources=tuple(unsupported),
        ),
        c.found,
    )


def _parse_refs(
    c: _Collector, value: object, path: str, required: tuple[str, ...], *, optional: tuple[str, ...] = ()
) -> list[dict[str, str]]:
    items = c.sequence(value, path) or []
    refs: list[dict[str, str]] = []
    for index, item in enumerate(items):
        item_path = f"{path}[{index}]"
        body = c.mapping(item, item_path, required=True)
        if body is None:
            continue
        c.unknown_fields(body, frozenset(required + optional), item_path)
        ref: dict[str, str] = {}
        for key in required:
            text = c.string(body, key, item_path, required=True, non_empty=True)
            if text is not None:
                ref[key] = text
        for key in optional:
            text = c.string(body, key, item_path)
            if text:
                ref[key] = text
        if all(key in ref for key in required):
            refs.append(ref)
    return refs


def _parse_pod_identity(c: _Collector, value: object) -> str | None:
    path = "spec.podIdentity"
    body = c.mapping(value, path)
    if body is None:
        return None
    fields = (
        "provider",
        "identityId",
        "identityTenantId",
        "identityAuthorityHost",
        "roleArn",
        "externalID",
        "identityOwner",
    )
    c.unknown_fields(body, frozenset(fields), path)
    for key in fields[1:6]:
        c.string(body, key, path)
    owner = c.choice(body, "identityOwner", path, ("keda", "workload"))
    if body.get("provider") is None:
        c.error(f"{path}.provider", f"is required (one of {', '.join(POD_IDENTITY_PROVIDERS)})")
        return None
    provider = c.string(body, "provider", path)
    if provider is None:
        return None
    if provider not in POD_IDENTITY_PROVIDERS:
        hint = (
            "; azure (AAD Pod Identity) was removed from KEDA, use azure-workload"
            if provider == "azure"
            else ""
        )
        c.error(
            f"{path}.provider", f"must be one of {', '.join(POD_IDENTITY_PROVIDERS)}, got {provider!r}{hint}"
        )
        return None
    # The webhook's rules (keda-semantics §1.8).
    if provider == "azure-workload":
        if body.get("identityId") == "":
            c.error(f"{path}.identityId", "must not be empty when set; remove it to use the default identity")
        if body.get("identityTenantId") == "":
            c.error(f"{path}.identityTenantId", "must not be empty when set")
        if body.get("identityAuthorityHost") and not body.get("identityTenantId"):
            c.error(f"{path}.identityAuthorityHost", "needs a non-empty identityTenantId")
    if provider in ("aws", "aws-eks"):
        if body.get("roleArn") and owner == "workload":
            c.error(f"{path}.roleArn", "cannot be set when identityOwner is workload")
        if body.get("externalID") and not body.get("roleArn"):
            c.error(f"{path}.externalID", "needs roleArn")
    if provider == "aws-eks":
        c.warn(f"{path}.provider", "aws-eks is deprecated in KEDA; use aws")
    if provider != "none":
        c.warn(f"{path}.provider", f"Ebb cannot obtain {provider} pod identity credentials")
    return provider


def _check_oauth2(c: _Collector, value: object) -> None:
    path = "spec.oauth2"
    body = c.mapping(value, path)
    if body is None:
        return
    oauth_type = body.get("type")
    if oauth_type != "clientCredentials":
        c.error(f"{path}.type", f"must be clientCredentials, got {oauth_type!r}")
    if not body.get("clientId"):
        c.error(f"{path}.clientId", "is required")
    token_url = body.get("tokenUrl")
    if not token_url:
        c.error(f"{path}.tokenUrl", "is required")
    elif not isinstance(token_url, str) or not re.match(r"https?://[^/\s]+", token_url):
        c.error(f"{path}.tokenUrl", "must be an http:// or https:// URL")

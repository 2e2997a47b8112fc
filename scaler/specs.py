"""ScaledObject and (Cluster)TriggerAuthentication as frozen values, with KEDA's defaults.

Pure: `parse_scaled_object(body)` and `parse_trigger_authentication(body)` turn a manifest mapping
(as `kubectl apply` would send it) into these values or raise `problems.InvalidObject` listing *every*
problem, each naming the object, the field path and what was expected. Trigger *parameters* are not
checked here (that is the scaler registry's job, reached from the edges); everything KEDA's CRD schema
and admission webhook check about the object itself is.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

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

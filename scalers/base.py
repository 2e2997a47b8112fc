"""The scaler interface: what a trigger type provides and what one built scaler does.

Errors (every message is safe to show: no secret, credentials in URLs masked)::

    ScalerError                 anything a scaler reports
    ├── ConfigError             the trigger's parameters are wrong (carries every problem found)
    ├── PluginError             the trigger type is unknown, blocked, or its plugin failed to load
    └── SourceError             reading the event source failed (broker down, timeout, bad answer)

A trigger type is a `ScalerType` value that a module exposes and names in the `ebb.scalers` entry-point
group. It declares its parameters once (a `params` dataclass), computes the HPA metric it feeds
(`metric`, pure: used by `ebb validate`, the simulator and the operator alike), and builds a live
`Scaler` (`build`), which reads the source through shared connections.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from scalers import connections

# KEDA_HTTP_DEFAULT_TIMEOUT: 3000 ms.
DEFAULT_TIMEOUT_SECONDS = 3.0


class ScalerError(Exception):
    """Base of every error a scaler reports. The message must never carry a secret."""


class SourceError(ScalerError):
    """Reading the event source failed; the operator counts it towards fallback."""


class PluginError(ScalerError):
    """The trigger type cannot be used: unknown, blocked, ambiguous, or its plugin failed to import."""


@dataclasses.dataclass(frozen=True)
class ParamProblem:
    """One problem with one parameter. `field` is relative to the trigger (`metadata.listLength`)."""

    field: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ConfigError(ScalerError):
    """The trigger's parameters are invalid. Carries every problem, not just the first."""

    def __init__(self, problems: Sequence[ParamProblem]) -> None:
        self.problems = tuple(p for p in problems if not p.warning)
        self.warnings = tuple(p for p in problems if p.warning)
        super().__init__("; ".join(str(p) for p in self.problems))


class MetricSource(str, enum.Enum):
    """The kind of HPA metric a trigger feeds."""

    EXTERNAL = "External"
    RESOURCE = "Resource"
    CONTAINER_RESOURCE = "ContainerResource"


@dataclasses.dataclass(frozen=True)
class TriggerInputs:
    """Everything one trigger is built from, as plain values (the operator and the CLI fill it alike).

    `auth_params` are the parameters resolved from the trigger's (Cluster)TriggerAuthentication;
    `resolved_env` is the target container's environment, for `<param>FromEnv` lookups.
    """

    type: str
    index: int
    metadata: Mapping[str, str]
    name: str | None = None
    auth_params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    resolved_env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    metric_type: str = "AverageValue"
    namespace: str = "default"
    scaled_object: str = ""
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def where(self) -> str:
        """The trigger's path inside its ScaledObject, for messages."""
        return f"spec.triggers[{self.index}]"


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """The metric a trigger feeds to the HPA (or to direct mode): KEDA's name, target and activation."""

    name: str
    target_type: str
    target: float
    activation: float = 0.0
    source: MetricSource = MetricSource.EXTERNAL
    resource: str | None = None  # cpu / memory, for Resource and ContainerResource metrics
    container: str | None = None


@dataclasses.dataclass(frozen=True)
class Reading:
    """One poll of one trigger. `value` is what the HPA is fed (KEDA reports negative, NaN and infinite
    values as 0); `active` was decided on the raw value (`raw > activation`, strictly)."""

    value: float
    active: bool


class Scaler(Protocol):
    """A built scaler for one trigger. `read` is its only I/O; `aclose` releases its shared connections.

    A scaler may also offer `async def warm(self) -> None` (see `warm`): take what its first read would
    (a hold on its shared connection), without reading. A standby replica warms its scalers so that its
    first ticks after taking the Lease cost what every later tick costs. A scaler whose `read` gives up
    by its trigger's timeout by itself says so with a true `reads_bounded` attribute; the scale loop
    then sets no timer of its own around the read."""

    @property
    def metric(self) -> MetricSpec: ...

    async def read(self) -> Reading: ...

    async def aclose(self) -> None: ...


class Clock(Protocol):
    def __call__(self) -> float: ...


@dataclasses.dataclass(frozen=True)
class BuildContext:
    """What `ScalerType.build` gets besides the parsed parameters: shared connections and a clock.

    `clock()` is wall-clock time in seconds since the epoch (`time.time` in production): scalers send it
    to their sources (Prometheus' `time=`) and compare it with schedules (cron), so a monotonic clock
    would be wrong here.
    """

    clients: connections.SharedClients
    clock: Clock


P = TypeVar("P")


@dataclasses.dataclass(frozen=True)
class ScalerType(Generic[P]):
    """A trigger type. Modules expose one of these per type and name it in the `ebb.scalers` group.

    `params` is a keyword-only frozen dataclass whose fields are declared with `scalers.params.param`;
    `metric(params, inputs)` is pure; `build(params, inputs, context)` returns a live scaler, doing no
    I/O until its first `read` (connections are made lazily and shared).
    """

    name: str
    params: type[P]
    metric: Callable[[P, TriggerInputs], MetricSpec]
    build: Callable[[P, TriggerInputs, BuildContext], Scaler]
    doc: str = ""


def metric_name(index: int, suffix: str) -> str:
    """KEDA's metric name: `s<index>-<suffix>` with `/ . : % ( )` replaced by `-` (keda-semantics §1.5)."""
    cleaned = suffix
    for ch in "/.:%()":
        cleaned = cleaned.replace(ch, "-")
    return f"s{index}-{cleaned}"


def reported_value(raw: float) -> float:
    """What KEDA feeds the HPA for a raw reading: negative, NaN and infinite values become 0."""
    if raw != raw or raw in (float("inf"), float("-inf")) or raw < 0:
        return 0.0
    return raw


def reading(raw: float, activation: float) -> Reading:
    """The usual reading: report `raw` (sanitised), active when it is strictly above the activation."""
    return Reading(value=reported_value(raw), active=raw > activation)


# Handy alias for scaler modules whose source call is injected (tests replace it with a plain function).
SourceFn = Callable[..., Awaitable[Any]]


async def warm(scaler: Scaler) -> None:
    """Warm `scaler` if it offers to (see `Scaler`). Its errors are its own to raise."""
    warm_up = getattr(scaler, "warm", None)
    if warm_up is not None:
        await warm_up()

"""A faithful port of the Kubernetes HorizontalPodAutoscaler for External metrics.

This is the algorithm kube-controller-manager runs on every HPA sync (`horizontal.go`,
`replica_calculator.go`), restricted to External metrics: the only kind Ebb serves. Direct mode and the
simulator call it, so a replica count Ebb computes itself is the one a cluster's HPA would have chosen.

Pure: no I/O, no clock (`now` is seconds on any monotonic scale the caller picks), no mutable state.
The controller's in-memory memory of an HPA (recommendations, scale events, "seen before") is the
frozen `HpaState`; `sync` takes one and returns the next.

The pieces, in the order one sync uses them:

* `external_replicas` — one metric's proposal: milli-unit sums, Value / AverageValue formulas, the
  inclusive tolerance band.
* `stabilize` (behavior) and the legacy max-over-window stabilization.
* `rate_limit` (behavior: Pods/Percent policies, period accounting, selectPolicy) and `legacy_limit`
  (the `max(2×current, 4)` clamp used without a behavior).
* `behavior_with_defaults` — API defaulting of a `behavior` mapping as written in YAML.
* `sync` — one whole reconcile: the min/max/zero rules, max over metrics with the failed-metric rule,
  then normalization, returning the new replicas, the reason, the conditions and the next state.
"""

from __future__ import annotations

import dataclasses
import decimal
import enum
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

# kube-controller-manager flag defaults (`--horizontal-pod-autoscaler-*`).
DEFAULT_TOLERANCE = 0.1
DEFAULT_DOWNSCALE_STABILIZATION = 300
DEFAULT_SYNC_PERIOD = 15

# The legacy (no behavior) clamp: scale up to at most max(factor × current, minimum).
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0

MAX_STABILIZATION_WINDOW = 3600
MAX_POLICY_PERIOD = 1800

_MAX_INT32 = 2**31 - 1
_MAX_INT64 = 2**63 - 1

VALUE = "Value"
AVERAGE_VALUE = "AverageValue"
TARGET_TYPES = (VALUE, AVERAGE_VALUE)


# --------------------------------------------------------------------------------------------- errors


class MetricError(ValueError):
    """A metric that cannot give a proposal; the HPA counts it as invalid (`FailedGetExternalMetric`)."""


class NoMetricsError(MetricError):
    def __init__(self) -> None:
        super().__init__("no metrics returned from external metrics API")


class NoPodsError(MetricError):
    def __init__(self) -> None:
        super().__init__("no pods returned by selector while calculating replica count")


class InvalidTargetError(MetricError):
    """A target the API server would have rejected (not positive) or a type External metrics lack."""


class BehaviorError(ValueError):
    """A `behavior` mapping the API server would reject; `problems` holds every (field path, message)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.problems))


# --------------------------------------------------------------------------------------------- reasons


class Reason(str, enum.Enum):
    """What decided one sync. Kubernetes' own condition reasons, plus the three rescale branches that
    Kubernetes describes only in an event message (`AboveMaxReplicas`, `BelowMinReplicas`)."""

    SCALING_DISABLED = "ScalingDisabled"
    ABOVE_MAX_REPLICAS = "AboveMaxReplicas"
    BELOW_MIN_REPLICAS = "BelowMinReplicas"
    FAILED_GET_EXTERNAL_METRIC = "FailedGetExternalMetric"
    DESIRED_WITHIN_RANGE = "DesiredWithinRange"
    SCALE_UP_LIMIT = "ScaleUpLimit"
    TOO_MANY_REPLICAS = "TooManyReplicas"
    SCALE_DOWN_LIMIT = "ScaleDownLimit"
    TOO_FEW_REPLICAS = "TooFewReplicas"
    SCALE_UP_STABILIZED = "ScaleUpStabilized"
    SCALE_DOWN_STABILIZED = "ScaleDownStabilized"


_LIMIT_MESSAGES = {
    Reason.SCALE_UP_LIMIT: "the desired replica count is increasing faster than the maximum scale rate",
    Reason.TOO_MANY_REPLICAS: "the desired replica count is more than the maximum replica count",
    Reason.SCALE_DOWN_LIMIT: "the desired replica count is decreasing faster than the maximum scale rate",
    Reason.TOO_FEW_REPLICAS: "the desired replica count is less than the minimum replica count",
    Reason.DESIRED_WITHIN_RANGE: "the desired count is within the acceptable range",
}


@dataclasses.dataclass(frozen=True)
class Condition:
    """One HPA status condition as this sync set it (`AbleToScale`, `ScalingActive`, `ScalingLimited`)."""

    type: str
    status: bool
    reason: str
    message: str


# --------------------------------------------------------------------------------------------- quantities


def milli_value(value: float) -> int:
    """A number in natural units as a Kubernetes Quantity's `MilliValue()`: milli-units, rounded **up**.

    Floats go through their shortest decimal form, so 2.3 is 2300m (as the user wrote it), not the
    2300.0000000000005 that binary multiplication would round up to 2301m.
    """
    if isinstance(value, bool):
        raise TypeError("a metric value must be a number, not a bool")
    if isinstance(value, int):
        return value * 1000
    if not math.isfinite(value):
        raise ValueError(f"a metric value must be finite, got {value!r}")
    if value.is_integer():  # the common case, without a Decimal
        return int(value) * 1000
    return math.ceil(decimal.Decimal(repr(float(value))).scaleb(3))


_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+))?(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
_SUFFIX_FACTORS: dict[str, decimal.Decimal] = {
    "": decimal.Decimal(1),
    "m": decimal.Decimal("0.001"),
    "k": decimal.Decimal(10) ** 3,
    "M": decimal.Decimal(10) ** 6,
    "G": decimal.Decimal(10) ** 9,
    "T": decimal.Decimal(10) ** 12,
    "P": decimal.Decimal(10) ** 15,
    "E": decimal.Decimal(10) ** 18,
    "Ki": decimal.Decimal(2) ** 10,
    "Mi": decimal.Decimal(2) ** 20,
    "Gi": decimal.Decimal(2) ** 30,
    "Ti": decimal.Decimal(2) ** 40,
    "Pi": decimal.Decimal(2) ** 50,
    "Ei": decimal.Decimal(2) ** 60,
}


def parse_quantity(raw: object) -> float:
    """A Kubernetes quantity (`"0.05"`, `"50m"`, `1`) as a float (`AsApproximateFloat64`)."""
    if isinstance(raw, bool):
        raise ValueError("expected a quantity such as 0.05 or 50m, got a boolean")
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise ValueError(f"expected a finite quantity, got {raw!r}")
        return float(raw)
    if not isinstance(raw, str):
        raise ValueError(f"expected a quantity such as 0.05 or 50m, got {type(raw).__name__}")
    match = _QUANTITY.match(raw.strip())
    if not match:
        raise ValueError(f"expected a quantity such as 0.05 or 50m, got {raw!r}")
    number, exponent, suffix = match.groups()
    if exponent and suffix:
        raise ValueError(f"expected a quantity such as 0.05 or 50m, got {raw!r}")
    amount = decimal.Decimal(number) * _SUFFIX_FACTORS[suffix or ""]
    if exponent:
        amount = amount.scaleb(int(exponent))
    return float(amount)


# --------------------------------------------------------------------------------------------- one metric


def _ratio(numerator: int, denominator: float) -> float:
    # Go divides float64s: x/0 is ±Inf, 0/0 is NaN (and NaN is never within tolerance).
    if denominator == 0:
        if numerator == 0:
            return math.nan
        return math.inf if numerator > 0 else -math.inf
    return float(numerator) / denominator


def _within(ratio: float, tolerance_down: float, tolerance_up: float) -> bool:
    # Both bounds inclusive, computed exactly as Go does (1.0 − 0.1 is 0.9 in float64 too).
    return (1.0 - tolerance_down) <= ratio <= (1.0 + tolerance_up)


def _to_int32(x: float) -> int:
    if math.isnan(x):
        return 0
    if x >= _MAX_INT32:
        return _MAX_INT32
    if x <= -_MAX_INT32 - 1:
        return -_MAX_INT32 - 1
    return int(x)


def external_replicas(
    values: Sequence[float],
    target_type: str,
    target: float,
    *,
    spec_replicas: int,
    status_replicas: int,
    ready_pods: int,
    tolerance_down: float = DEFAULT_TOLERANCE,
    tolerance_up: float = DEFAULT_TOLERANCE,
    total_pods: int | None = None,
) -> int:
    """The replica count one External metric proposes.

    `values` are the items of the external metrics API answer in natural units (8.6, not 8600m); each is
    taken as a milli-value rounded up and they are summed, as `GetExternalMetric` does. `target` is
    the metric spec's `value` (Value) or `averageValue` (AverageValue).

    * Value: ratio = sum / target. With `spec_replicas` ≠ 0, inside the tolerance band the answer is
      `spec_replicas`, else `ceil(ratio × ready_pods)`; with `spec_replicas` = 0 it is `ceil(ratio)`
      with no tolerance and no pods.
    * AverageValue: ratio = sum / (target × status_replicas); inside the band `status_replicas`,
      else `ceil(sum / target)`.

    `total_pods` is how many pods the target's selector matches, ready or not (default: `ready_pods`).
    When it is 0 a Value target cannot be computed (`NoPodsError`); when pods exist but none is ready
    the proposal is 0, as in Kubernetes.
    """
    if target_type not in TARGET_TYPES:
        raise InvalidTargetError(
            f"target type must be Value or AverageValue for an External metric, got {target_type!r}"
        )
    if not values:
        raise NoMetricsError()
    target_milli = milli_value(target)
    if target_milli <= 0:
        raise InvalidTargetError(f"the metric target must be positive, got {target!r}")
    usage = min(sum(milli_value(v) for v in values), _MAX_INT64)

    if target_type == AVERAGE_VALUE:
        ratio = _ratio(usage, float(target_milli) * float(status_replicas))
        if _within(ratio, tolerance_down, tolerance_up):
            return status_replicas
        return _to_int32(math.ceil(float(usage) / float(target_milli)))

    ratio = _ratio(usage, float(target_milli))
    if spec_replicas == 0:
        return _to_int32(_ceil(ratio))
    if _within(ratio, tolerance_down, tolerance_up):
        return spec_replicas
    pods = ready_pods if total_pods is None else total_pods
    if pods <= 0:
        raise NoPodsError()
    return _to_int32(_ceil(ratio * float(ready_pods)))


def _ceil(x: float) -> float:
    return x if math.isinf(x) or math.isnan(x) else float(math.ceil(x))


# --------------------------------------------------------------------------------------------- behavior


class PolicyType(str, enum.Enum):
    PODS = "Pods"
    PERCENT = "Percent"


class SelectPolicy(str, enum.Enum):
    MAX = "Max"
    MIN = "Min"
    DISABLED = "Disabled"


@dataclasses.dataclass(frozen=True)
class Policy:
    type: PolicyType
    value: int
    period_seconds: int


@dataclasses.dataclass(frozen=True)
class ScalingRules:
    """One direction of a defaulted behavior. `tolerance` None means the controller's flag value."""

    stabilization_window: int
    select_policy: SelectPolicy
    policies: tuple[Policy, ...]
    tolerance: float | None = None

    @property
    def longest_period(self) -> int:
        return max((p.period_seconds for p in self.policies), default=0)


@dataclasses.dataclass(frozen=True)
class Behavior:
    scale_up: ScalingRules
    scale_down: ScalingRules


_DEFAULT_UP_POLICIES = (Policy(PolicyType.PODS, 4, 15), Policy(PolicyType.PERCENT, 100, 15))
_DEFAULT_DOWN_POLICIES = (Policy(PolicyType.PERCENT, 100, 15),)


def _as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parse_rules(
    raw: object,
    path: str,
    *,
    default_window: int,
    default_policies: tuple[Policy, ...],
    problems: list[tuple[str, str]],
) -> ScalingRules:
    window, select, policies, tolerance = default_window, SelectPolicy.MAX, default_policies, None
    if raw is None:
        return ScalingRules(window, select, policies, tolerance)
    if not isinstance(raw, Mapping):
        problems.append((path, "expected a mapping with stabilizationWindowSeconds, selectPolicy, policies"))
        return ScalingRules(window, select, policies, tolerance)
    known = {"stabilizationWindowSeconds", "selectPolicy", "policies", "tolerance"}
    for key in raw:
        if key not in known:
            problems.append((f"{path}.{key}", f"unknown field; expected one of {', '.join(sorted(known))}"))

    raw_window = raw.get("stabilizationWindowSeconds")
    if raw_window is not None:
        parsed_window = _as_int(raw_window)
        if parsed_window is None or not 0 <= parsed_window <= MAX_STABILIZATION_WINDOW:
            problems.append(
                (
                    f"{path}.stabilizationWindowSeconds",
                    f"expected an integer 0–{MAX_STABILIZATION_WINDOW}, got {raw_window!r}",
                )
            )
        else:
            window = parsed_window

    raw_select = raw.get("selectPolicy")
    if raw_select is not None:
        try:
            select = SelectPolicy(raw_select)
        except ValueError:
            problems.append((f"{path}.selectPolicy", f"expected Max, Min or Disabled, got {raw_select!r}"))

    raw_policies = raw.get("policies")
    if raw_policies is not None:
        # A user list replaces the defaults as a whole, and must not be empty.
        if not isinstance(raw_policies, list) or not raw_policies:
            problems.append((f"{path}.policies", "expected a non-empty list of {type, value, periodSeconds}"))
        else:
            parsed: list[Policy] = []
            for i, item in enumerate(raw_policies):
                policy = _parse_policy(item, f"{path}.policies[{i}]", problems)
                if policy is not None:
                    parsed.append(policy)
            policies = tuple(parsed)

    raw_tolerance = raw.get("tolerance")
    if raw_tolerance is not None:
        try:
            tolerance = parse_quantity(raw_tolerance)
        except ValueError as exc:
            problems.append((f"{path}.tolerance", str(exc)))
        else:
            if tolerance < 0:
                problems.append(
                    (f"{path}.tolerance", f"expected a non-negative quantity, got {raw_tolerance!r}")
                )
                tolerance = None
    return ScalingRules(window, select, policies, tolerance)


def _parse_policy(item: object, path: str, problems: list[tuple[str, str]]) -> Policy | None:
    if not isinstance(item, Mapping):
        problems.append((path, "expected a mapping {type, value, periodSeconds}"))
        return None
    ok = True
    raw_type = item.get("type")
    try:
        kind = PolicyType(raw_type)
    except ValueError:
        problems.append((f"{path}.type", f"expected Pods or Percent, got {raw_type!r}"))
        ok = False
    raw_value = item.get("value")
    value = _as_int(raw_value)
    if value is None or value <= 0:
        problems.append((f"{path}.value", f"expected a positive integer, got {raw_value!r}"))
        ok = False
    raw_period = item.get("periodSeconds")
    period = _as_int(raw_period)
    if period is None or not 1 <= period <= MAX_POLICY_PERIOD:
        problems.append(
            (f"{path}.periodSeconds", f"expected an integer 1–{MAX_POLICY_PERIOD}, got {raw_period!r}")
        )
        ok = False
    for key in item:
        if key not in ("type", "value", "periodSeconds"):
            problems.append((f"{path}.{key}", "unknown field; expected type, value, periodSeconds"))
    if not ok or value is None or period is None:
        return None
    return Policy(kind, value, period)


def behavior_problems(behavior: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every (field path relative to `behavior`, message) the API server would reject. Empty when valid."""
    problems: list[tuple[str, str]] = []
    _parse_behavior(behavior, DEFAULT_DOWNSCALE_STABILIZATION, problems)
    return problems


def _parse_behavior(
    behavior: object, downscale_stabilization: int, problems: list[tuple[str, str]]
) -> Behavior:
    if not isinstance(behavior, Mapping):
        problems.append(("behavior", "expected a mapping with scaleUp and/or scaleDown"))
        behavior = {}
    for key in behavior:
        if key not in ("scaleUp", "scaleDown"):
            problems.append((str(key), "unknown field; expected scaleUp or scaleDown"))
    up = _parse_rules(
        behavior.get("scaleUp"),
        "scaleUp",
        default_window=0,
        default_policies=_DEFAULT_UP_POLICIES,
        problems=problems,
    )
    down = _parse_rules(
        behavior.get("scaleDown"),
        "scaleDown",
        # nil in the API; the controller then uses its --horizontal-pod-autoscaler-downscale-stabilization.
        default_window=downscale_stabilization,
        default_policies=_DEFAULT_DOWN_POLICIES,
        problems=problems,
    )
    return Behavior(up, down)


def behavior_with_defaults(
    behavior: Mapping[str, Any] | Behavior,
    *,
    downscale_stabilization: int = DEFAULT_DOWNSCALE_STABILIZATION,
) -> Behavior:
    """The `behavior` mapping (as written in YAML) with every unset field filled as the API server does.

    `{}` gives all defaults: scaleUp window 0, Max of [4 Pods, 100 Percent] per 15 s; scaleDown window
    `downscale_stabilization` (300 s), Max of [100 Percent] per 15 s. Each field is copied independently;
    a user list of policies replaces the defaults as a whole. Raises `BehaviorError` listing every
    problem when the API server would have rejected the mapping.
    """
    if isinstance(behavior, Behavior):
        return behavior
    problems: list[tuple[str, str]] = []
    parsed = _parse_behavior(behavior, downscale_stabilization, problems)
    if problems:
        raise BehaviorError(problems)
    return parsed


# --------------------------------------------------------------------------------------------- stabilization


Recommendation = tuple[float, int]


def _stabilize_with_behaviors(
    current: int,
    desired: int,
    recommendations: Sequence[Recommendation],
    up_window: float,
    down_window: float,
    now: float,
) -> tuple[int, tuple[Recommendation, ...]]:
    up_cutoff = now - up_window
    down_cutoff = now - down_window
    up_rec = desired
    down_rec = desired
    old_index = -1
    for i, (stamp, replicas) in enumerate(recommendations):
        if stamp > up_cutoff and replicas < up_rec:
            up_rec = replicas
        if stamp > down_cutoff and replicas > down_rec:
            down_rec = replicas
        if stamp < up_cutoff and stamp < down_cutoff:
            old_index = i
    result = current
    if result < up_rec:
        result = up_rec
    if result > down_rec:
        result = down_rec
    return result, _record(recommendations, old_index, (now, desired))


def _record(
    recommendations: Sequence[Recommendation], old_index: int, entry: Recommendation
) -> tuple[Recommendation, ...]:
    # The controller overwrites the last slot that fell out of every window, else appends.
    recs = tuple(recommendations)
    if old_index < 0:
        return (*recs, entry)
    return (*recs[:old_index], entry, *recs[old_index + 1 :])


def stabilize(
    current: int,
    desired: int,
    *,
    recommendations: Sequence[Recommendation],
    up_window: float,
    down_window: float,
    now: float,
) -> int:
    """Stabilization with a behavior (`stabilizeRecommendationWithBehaviors`).

    Start from `current`; raise it to the *lowest* recommendation of the last `up_window` seconds
    (and `desired`), then lower it to the *highest* of the last `down_window` seconds (and `desired`).
    "In the window" means strictly newer than now − window. `recommendations` are `(timestamp, replicas)`.
    """
    result, _ = _stabilize_with_behaviors(current, desired, recommendations, up_window, down_window, now)
    return result


def _stabilize_legacy(
    desired: int, recommendations: Sequence[Recommendation], window: float, now: float
) -> tuple[int, tuple[Recommendation, ...]]:
    # Without a behavior: the max of this proposal and every recommendation not older than the window.
    cutoff = now - window
    best = desired
    old_index = -1
    for i, (stamp, replicas) in enumerate(recommendations):
        if stamp < cutoff:
            old_index = i
        elif replicas > best:
            best = replicas
    return best, _record(recommendations, old_index, (now, desired))


# --------------------------------------------------------------------------------------------- rate limits


ScaleEventPair = tuple[float, int]


def _change_in_period(events: Sequence[ScaleEventPair], period: int, now: float) -> int:
    cutoff = now - period
    return sum(change for stamp, change in events if stamp > cutoff)


def _scale_up_limit(
    current: int,
    rules: ScalingRules,
    up_events: Sequence[ScaleEventPair],
    down_events: Sequence[ScaleEventPair],
    now: float,
) -> int:
    if rules.select_policy is SelectPolicy.DISABLED:
        return current
    smallest_change = rules.select_policy is SelectPolicy.MIN
    result: int | None = None
    for policy in rules.policies:
        start = (
            current
            - _change_in_period(up_events, policy.period_seconds, now)
            + _change_in_period(down_events, policy.period_seconds, now)
        )
        if policy.type is PolicyType.PODS:
            proposed = start + policy.value
        else:
            # Rounded up so that a small percentage of a small count still adds a pod.
            proposed = math.ceil(float(start) * (1 + float(policy.value) / 100))
        if result is None or (proposed < result if smallest_change else proposed > result):
            result = proposed
    # No policy: Go's accumulator stays at its extreme, which the caller then bounds by current.
    return current if result is None else result


def _scale_down_limit(
    current: int,
    rules: ScalingRules,
    up_events: Sequence[ScaleEventPair],
    down_events: Sequence[ScaleEventPair],
    now: float,
) -> int:
    if rules.select_policy is SelectPolicy.DISABLED:
        return current
    # For scale-down the largest change is the smallest count: Max picks min, Min picks max.
    smallest_change = rules.select_policy is SelectPolicy.MIN
    result: int | None = None
    for policy in rules.policies:
        start = (
            current
            - _change_in_period(up_events, policy.period_seconds, now)
            + _change_in_period(down_events, policy.period_seconds, now)
        )
        if policy.type is PolicyType.PODS:
            proposed = start - policy.value
        else:
            proposed = int(float(start) * (1 - float(policy.value) / 100))  # truncated, as int32()
        if result is None or (proposed > result if smallest_change else proposed < result):
            result = proposed
    return current if result is None else result


def _rate_limit(
    current: int,
    desired: int,
    min_replicas: int,
    max_replicas: int,
    behavior: Behavior,
    up_events: Sequence[ScaleEventPair],
    down_events: Sequence[ScaleEventPair],
    now: float,
) -> tuple[int, Reason]:
    if desired > current:
        limit = max(_scale_up_limit(current, behavior.scale_up, up_events, down_events, now), current)
        if max_replicas > limit:
            allowed, reason = limit, Reason.SCALE_UP_LIMIT
        else:
            allowed, reason = max_replicas, Reason.TOO_MANY_REPLICAS
        if desired > allowed:
            return allowed, reason
    elif desired < current:
        limit = min(_scale_down_limit(current, behavior.scale_down, up_events, down_events, now), current)
        if min_replicas < limit:
            allowed, reason = limit, Reason.SCALE_DOWN_LIMIT
        else:
            allowed, reason = min_replicas, Reason.TOO_FEW_REPLICAS
        if desired < allowed:
            return allowed, reason
    return desired, Reason.DESIRED_WITHIN_RANGE


def rate_limit(
    current: int,
    desired: int,
    *,
    min_replicas: int,
    max_replicas: int,
    behavior: Mapping[str, Any] | Behavior,
    up_events: Sequence[ScaleEventPair],
    down_events: Sequence[ScaleEventPair],
    now: float,
) -> tuple[int, str]:
    """Bound a stabilized recommendation by the behavior's policies (`convertDesiredReplicasWithBehaviorRate`).

    For each policy the count at the start of its period is current − (scale-ups inside the period) +
    (scale-downs inside the period), an event being inside when its timestamp is strictly after
    now − periodSeconds. Pods policies add/subtract their value; Percent policies multiply, rounding up
    when scaling up and truncating when scaling down. selectPolicy Max takes the largest change, Min the
    smallest, Disabled none. Then min/max replicas apply. The reason is Kubernetes' `ScalingLimited`
    reason. `behavior` is the YAML mapping (`{}` = all API defaults) or an already defaulted `Behavior`.
    """
    defaulted = behavior_with_defaults(behavior)
    replicas, reason = _rate_limit(
        current, desired, min_replicas, max_replicas, defaulted, up_events, down_events, now
    )
    return replicas, reason.value


def _legacy_limit(current: int, desired: int, min_replicas: int, max_replicas: int) -> tuple[int, Reason]:
    scale_up_limit = int(max(SCALE_UP_LIMIT_FACTOR * float(current), SCALE_UP_LIMIT_MINIMUM))
    if max_replicas > scale_up_limit:
        allowed, reason = scale_up_limit, Reason.SCALE_UP_LIMIT
    else:
        allowed, reason = max_replicas, Reason.TOO_MANY_REPLICAS
    if desired < min_replicas:
        return min_replicas, Reason.TOO_FEW_REPLICAS
    if desired > allowed:
        return allowed, reason
    return desired, Reason.DESIRED_WITHIN_RANGE


def legacy_limit(current: int, desired: int, *, min_replicas: int, max_replicas: int) -> tuple[int, str]:
    """The clamp used when the HPA has no behavior (`convertDesiredReplicasWithRules`).

    Never below `min_replicas` (TooFewReplicas); never above min(max_replicas, max(2 × current, 4)),
    with the reason naming whichever bound was the smaller (ScaleUpLimit or TooManyReplicas).
    """
    replicas, reason = _legacy_limit(current, desired, min_replicas, max_replicas)
    return replicas, reason.value


# --------------------------------------------------------------------------------------------- state


class ScaleEvent(NamedTuple):
    """A rescale the controller remembers: when, by how many replicas, and whether its slot is reusable."""

    timestamp: float
    change: int
    outdated: bool = False


@dataclasses.dataclass(frozen=True)
class HpaState:
    """What kube-controller-manager keeps in memory for one HPA. Fresh (`HpaState()`) after a restart."""

    recommendations: tuple[Recommendation, ...] = ()
    up_events: tuple[ScaleEvent, ...] = ()
    down_events: tuple[ScaleEvent, ...] = ()
    seen: bool = False


def _store_event(
    events: tuple[ScaleEvent, ...], longest_period: int, change: int, now: float
) -> tuple[ScaleEvent, ...]:
    # Events older than the direction's longest period are marked outdated (for good); the last
    # outdated slot is reused, else the event is appended. Outdated events still count toward the
    # other direction's periods until reused, as in the controller.
    cutoff = now - longest_period
    marked = [e._replace(outdated=True) if e.timestamp < cutoff and not e.outdated else e for e in events]
    reuse = -1
    for i, event in enumerate(marked):
        if event.outdated:
            reuse = i
    new = ScaleEvent(now, change)
    if reuse < 0:
        marked.append(new)
    else:
        marked[reuse] = new
    return tuple(marked)


def record_scale(state: HpaState, behavior: Behavior | None, previous: int, new: int, now: float) -> HpaState:
    """The state after a successful rescale from `previous` to `new` (events are kept only with a behavior)."""
    if behavior is None or new == previous:
        return state
    if new > previous:
        events = _store_event(state.up_events, behavior.scale_up.longest_period, new - previous, now)
        return dataclasses.replace(state, up_events=events)
    events = _store_event(state.down_events, behavior.scale_down.longest_period, previous - new, now)
    return dataclasses.replace(state, down_events=events)


# --------------------------------------------------------------------------------------------- one sync


@dataclasses.dataclass(frozen=True)
class MetricReading:
    """One External metric of the HPA spec with what the metrics API answered for it.

    `values` are the answer's items in natural units; `error` set (or `values` None) means the request
    failed. `target` is the spec's value/averageValue in natural units.
    """

    name: str
    target_type: str
    target: float
    values: tuple[float, ...] | None
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class Proposal:
    """What one metric proposed: a replica count, or the error that made it invalid."""

    name: str
    replicas: int | None
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class SyncResult:
    """The outcome of one HPA sync.

    `replicas` is the target's new `spec.replicas` (equal to the current count when `rescale` is false).
    `metric_replicas` is the max over valid proposals before normalization (None when metrics were not
    read or were unusable). `state` is the memory to keep after the `/scale` write succeeded;
    `state_if_write_fails` the one to keep if it failed (recommendations are recorded either way, scale
    events only on success).
    """

    replicas: int
    rescale: bool
    reason: Reason
    explanation: str
    metric_replicas: int | None
    proposals: tuple[Proposal, ...]
    conditions: tuple[Condition, ...]
    state: HpaState
    state_if_write_fails: HpaState


def _tolerances(behavior: Behavior | None, tolerance: float) -> tuple[float, float]:
    if behavior is None:
        return tolerance, tolerance
    down = behavior.scale_down.tolerance
    up = behavior.scale_up.tolerance
    return (tolerance if down is None else down), (tolerance if up is None else up)


def _describe_metric(reading: MetricReading, proposal: Proposal) -> str:
    if proposal.replicas is None:
        return f"{reading.name} failed ({proposal.error})"
    shown = "+".join(_fmt(v) for v in reading.values or ())
    kind = "value" if reading.target_type == VALUE else "average"
    return f"{reading.name} {shown} vs {kind} target {_fmt(reading.target)} → {proposal.replicas}"


def _fmt(x: float) -> str:
    if isinstance(x, int) or float(x).is_integer():
        return str(int(x))
    return f"{x:.6g}"


def sync(
    *,
    metrics: Sequence[MetricReading],
    spec_replicas: int,
    status_replicas: int,
    ready_pods: int,
    min_replicas: int,
    max_replicas: int,
    behavior: Mapping[str, Any] | Behavior | None,
    state: HpaState,
    now: float,
    total_pods: int | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    downscale_stabilization: int = DEFAULT_DOWNSCALE_STABILIZATION,
) -> SyncResult:
    """One HPA reconcile for External metrics (`reconcileAutoscaler`), from the current counts and state.

    `spec_replicas` is the target's `/scale` spec.replicas (the HPA's "current"), `status_replicas` its
    status.replicas (AverageValue uses it), `ready_pods` the Running+Ready pods (Value uses it),
    `total_pods` all pods the selector matches (default `ready_pods`). `behavior` is the HPA's
    `spec.behavior` (mapping as in YAML, or defaulted `Behavior`), None for the legacy path.
    """
    if not metrics:
        raise ValueError("an HPA needs at least one metric")
    parsed = (
        None
        if behavior is None
        else behavior_with_defaults(behavior, downscale_stabilization=downscale_stabilization)
    )
    current = spec_replicas
    if not state.seen:
        # The first time the controller sees an HPA it remembers the current count as a recommendation,
        # so it does not scale below it for one stabilization window after a (re)start.
        state = HpaState(((now, current),), state.up_events, state.down_events, True)

    if current == 0 and min_replicas != 0:
        condition = Condition(
            "ScalingActive",
            False,
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero",
        )
        return SyncResult(
            0,
            False,
            Reason.SCALING_DISABLED,
            "HPA idle: the target has 0 replicas and minReplicas is not 0 (the operator wakes it)",
            None,
            (),
            (condition,),
            state,
            state,
        )
    if current > max_replicas:
        return _finish(
            current,
            max_replicas,
            Reason.ABOVE_MAX_REPLICAS,
            f"current {current} replicas above maxReplicas {max_replicas}: set to {max_replicas}",
            None,
            (),
            (),
            state,
            parsed,
            now,
        )
    if current < min_replicas:
        return _finish(
            current,
            min_replicas,
            Reason.BELOW_MIN_REPLICAS,
            f"current {current} replicas below minReplicas {min_replicas}: set to {min_replicas}",
            None,
            (),
            (),
            state,
            parsed,
            now,
        )

    tol_down, tol_up = _tolerances(parsed, tolerance)
    proposals: list[Proposal] = []
    best: int | None = None
    best_index = -1
    first_error: Proposal | None = None
    for index, reading in enumerate(metrics):
        if reading.error is not None or reading.values is None:
            proposal = Proposal(reading.name, None, reading.error or "no value")
        else:
            try:
                replicas = external_replicas(
                    reading.values,
                    reading.target_type,
                    reading.target,
                    spec_replicas=spec_replicas,
                    status_replicas=status_replicas,
                    ready_pods=ready_pods,
                    total_pods=total_pods,
                    tolerance_down=tol_down,
                    tolerance_up=tol_up,
                )
            except (MetricError, ValueError) as exc:
                proposal = Proposal(reading.name, None, str(exc))
            else:
                proposal = Proposal(reading.name, replicas)
                if best is None or best == 0 or replicas > best:
                    best, best_index = replicas, index
        if proposal.replicas is None and first_error is None:
            first_error = proposal
        proposals.append(proposal)

    described = "; ".join(_describe_metric(r, p) for r, p in zip(metrics, proposals, strict=True))
    invalid = sum(1 for p in proposals if p.replicas is None)
    if first_error is not None and (best is None or best < spec_replicas):
        # All failed, or a failure plus a proposal below current: the controller does not scale.
        message = f"the HPA was unable to compute the replica count: {first_error.error}"
        condition = Condition("ScalingActive", False, "FailedGetExternalMetric", message)
        return SyncResult(
            current,
            False,
            Reason.FAILED_GET_EXTERNAL_METRIC,
            f"HPA keeps {current}: {invalid} of {len(metrics)} metrics failed ({described})",
            None,
            tuple(proposals),
            (condition,),
            state,
            state,
        )

    assert best is not None
    active = Condition(
        "ScalingActive",
        True,
        "ValidMetricFound",
        f"the HPA was able to successfully calculate a replica count from external metric {metrics[best_index].name}",
    )
    desired = max(best, 0)
    conditions: list[Condition] = [active]
    if parsed is None:
        stabilized, recs = _stabilize_legacy(desired, state.recommendations, downscale_stabilization, now)
        if stabilized != desired:
            conditions.append(Condition("AbleToScale", True, "ScaleDownStabilized", _DOWN_STABILIZED))
        else:
            conditions.append(Condition("AbleToScale", True, "ReadyForNewScale", _READY))
        final, limit_reason = _legacy_limit(current, stabilized, min_replicas, max_replicas)
    else:
        stabilized, recs = _stabilize_with_behaviors(
            current,
            desired,
            state.recommendations,
            parsed.scale_up.stabilization_window,
            parsed.scale_down.stabilization_window,
            now,
        )
        if stabilized != desired:
            up = desired >= current
            conditions.append(
                Condition(
                    "AbleToScale",
                    True,
                    "ScaleUpStabilized" if up else "ScaleDownStabilized",
                    _UP_STABILIZED if up else _DOWN_STABILIZED,
                )
            )
        else:
            conditions.append(Condition("AbleToScale", True, "ReadyForNewScale", _READY))
        final, limit_reason = _rate_limit(
            current,
            stabilized,
            min_replicas,
            max_replicas,
            parsed,
            [(e.timestamp, e.change) for e in state.up_events],
            [(e.timestamp, e.change) for e in state.down_events],
            now,
        )
    conditions.append(
        Condition("ScalingLimited", final != stabilized, limit_reason.value, _LIMIT_MESSAGES[limit_reason])
    )
    state = dataclasses.replace(state, recommendations=recs)

    if final != stabilized:
        reason = limit_reason
    elif stabilized != desired:
        reason = (
            Reason.SCALE_UP_STABILIZED
            if (parsed is not None and desired >= current)
            else Reason.SCALE_DOWN_STABILIZED
        )
    else:
        reason = Reason.DESIRED_WITHIN_RANGE
    explanation = f"HPA {current}→{final}: {described}"
    if len(metrics) > 1:
        explanation += f"; max {desired}"
    if stabilized != desired:
        window = (
            "scale-down" if reason is Reason.SCALE_DOWN_STABILIZED or stabilized > desired else "scale-up"
        )
        explanation += f"; {window} stabilization holds {stabilized}"
    if final != stabilized:
        explanation += f"; {limit_reason.value}: {_LIMIT_MESSAGES[limit_reason]} ({final})"
    if invalid:
        explanation += f"; {invalid} of {len(metrics)} metrics failed"
    return _finish(
        current, final, reason, explanation, desired, tuple(proposals), tuple(conditions), state, parsed, now
    )


_READY = "recommended size matches current size"
_UP_STABILIZED = (
    "recent recommendations were lower than current one, applying the lowest recent recommendation"
)
_DOWN_STABILIZED = (
    "recent recommendations were higher than current one, applying the highest recent recommendation"
)


def _finish(
    current: int,
    final: int,
    reason: Reason,
    explanation: str,
    metric_replicas: int | None,
    proposals: tuple[Proposal, ...],
    conditions: tuple[Condition, ...],
    state: HpaState,
    behavior: Behavior | None,
    now: float,
) -> SyncResult:
    rescale = final != current
    after = record_scale(state, behavior, current, final, now) if rescale else state
    return SyncResult(
        final, rescale, reason, explanation, metric_replicas, proposals, conditions, after, state
    )

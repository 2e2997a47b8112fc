"""KEDA's scale-loop decision for one tick, as a pure function: `decide(spec, readings, current, state, now)`.

One call is one poll of a ScaledObject (keda-semantics §2.2): the latest reading of every trigger, the
target's `spec.replicas` and what was remembered from earlier ticks go in; out comes a `Decision` — the
replica count to write to `/scale` (or None), whether the ScaledObject is active, a machine-readable
`Reason`, a one-line human explanation naming the input and the limit that decided, the metric values
the HPA should be fed, the KEDA conditions and Events the tick implies, and the next `ScaleState`.

The split of work, as in KEDA:

* `decide` owns 0↔1 (activation: `max(minReplicaCount, 1)`), N→0 or N→idle after the cooldown
  (and the initial cooldown), raising to `minReplicaCount`, the pause annotations, force-activation,
  fallback (failure counting, the synthetic metric, scale-from-zero when fallback is engaged) and the
  scalingModifiers composite metric and its activation target.
* 1↔N is not decided here. In HPA mode the HPA does it from `decision.metric_values` (served by the
  metrics adapter); in direct mode the operator passes the same values to `scaler.core.hpa` when
  `decision.scale_with_hpa` is true. The simulator does either.

Where Ebb knowingly differs from KEDA, it is said at the spot (`# KEDA:` comments): a formula that fails
to evaluate is a trigger error here (KEDA logs it and feeds the raw metrics on), the Activated Event names
a trigger by its `name` or metric name (KEDA uses the Go type name of the scaler), and failures are
counted once per poll (KEDA also counts each HPA request, so its counts climb faster).

Pure: no I/O, no clock (`now` is seconds since the epoch, passed in), no asyncio.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from scaler.core import formulas, quantities, specs

COMPOSITE_METRIC = "composite-metric"
# Triggers served by the Kubernetes metrics-server as Resource metrics: never polled by the scale loop.
RESOURCE_TRIGGER_TYPES = frozenset({"cpu", "memory"})
# KEDA's name for the composite "trigger" in the Activated Event.
MODIFIERS_TRIGGER = "ModifiersTrigger"


class Reason(str, enum.Enum):
    """Why a tick ended the way it did; one per row of KEDA's RequestScale table (and the pause family)."""

    PAUSED = "PAUSED"  # autoscaling.keda.sh/paused: nothing happens
    PAUSED_REPLICAS = "PAUSED_REPLICAS"  # autoscaling.keda.sh/paused-replicas: scale to n, then nothing
    ACTIVATED_FROM_ZERO = "ACTIVATED_FROM_ZERO"  # active at 0 replicas: → max(min, 1)
    ACTIVATED_FROM_IDLE = "ACTIVATED_FROM_IDLE"  # active below min with idleReplicaCount set: → max(min, 1)
    FORCE_ACTIVATED = "FORCE_ACTIVATED"  # active only because of autoscaling.keda.sh/force-activation
    PAUSED_SCALE_OUT = "PAUSED_SCALE_OUT"  # active, but paused-scale-out blocks 0 → 1
    ACTIVE = "ACTIVE"  # active with replicas > 0: lastActiveTime refreshed, 1↔N is the HPA's
    FALLBACK = "FALLBACK"  # active only through engaged fallback: the HPA gets the synthetic metric
    PARTIAL_TRIGGER_ERROR = "PARTIAL_TRIGGER_ERROR"  # active, but some trigger failed: lastActiveTime kept
    FALLBACK_PENDING = "FALLBACK_PENDING"  # inactive, a trigger failed, fallback configured: hold
    TRIGGER_ERROR = "TRIGGER_ERROR"  # inactive, a trigger failed, no fallback: hold
    INITIAL_COOLDOWN = "INITIAL_COOLDOWN"  # inactive, never active, initialCooldownPeriod not over: hold
    COOLDOWN = "COOLDOWN"  # inactive, cooldownPeriod not over: hold
    SCALED_TO_ZERO = "SCALED_TO_ZERO"  # inactive past the cooldown: → 0
    SCALED_TO_IDLE = "SCALED_TO_IDLE"  # inactive past the cooldown: → idleReplicaCount
    PAUSED_SCALE_IN = "PAUSED_SCALE_IN"  # inactive, but paused-scale-in blocks → 0 / idle
    BELOW_MIN = "BELOW_MIN"  # inactive, no idleReplicaCount, replicas < min: → min
    NO_CHANGE = "NO_CHANGE"  # inactive and nothing to do


class FallbackError(ValueError):
    """The fallback metric cannot be computed (a Value metric with no ready pod, an unknown target)."""


@dataclasses.dataclass(frozen=True)
class TriggerReading:
    """One trigger's latest poll, as its scaler reported it.

    `index` is the trigger's position in `spec.triggers`. Either `value` or `error` is set; `error` must
    already be free of secrets. `active` is the scaler's own verdict (it applies `value > activation`
    itself; a cron trigger decides otherwise); when None, `value > activation` is used. `target` and
    `activation` are the trigger's thresholds, kept for the explanation and for the fallback metric.
    """

    index: int
    metric_name: str
    value: float | None = None
    error: str | None = None
    active: bool | None = None
    target: float | None = None
    activation: float = 0.0


@dataclasses.dataclass(frozen=True)
class ScaleState:
    """What a ScaledObject remembers between ticks; the operator keeps it in `.status`.

    Times are seconds since the epoch. `failures` is KEDA's `status.health` (consecutive failures per
    metric name; only kept when `spec.fallback` is set). `fallback_engaged`, `paused` and `active` are
    the Fallback, Paused and Active conditions of the previous tick, so transitions raise Events once.
    """

    creation_time: float
    last_active_time: float | None = None
    failures: Mapping[str, int] = dataclasses.field(default_factory=dict)
    fallback_engaged: bool = False
    paused: bool = False
    active: bool | None = None

    def to_status(self) -> dict[str, Any]:
        """KEDA's status fields for this state: `lastActiveTime` (RFC 3339) and `health`."""
        status: dict[str, Any] = {}
        if self.last_active_time is not None:
            status["lastActiveTime"] = format_time(self.last_active_time)
        if self.failures:
            status["health"] = {
                metric: {"numberOfFailures": count, "status": "Failing" if count > 0 else "Happy"}
                for metric, count in sorted(self.failures.items())
            }
        return status

    @classmethod
    def from_status(cls, status: Mapping[str, Any] | None, *, creation_time: float) -> ScaleState:
        """Rebuild the state from a ScaledObject's `.status` (tolerant: unreadable fields are absent)."""
        status = status or {}
        last_active: float | None = None
        raw_time = status.get("lastActiveTime")
        if isinstance(raw_time, str):
            try:
                last_active = parse_time(raw_time)
            except ValueError:
                last_active = None
        failures: dict[str, int] = {}
        health = status.get("health")
        if isinstance(health, Mapping):
            for metric, entry in health.items():
                count = entry.get("numberOfFailures") if isinstance(entry, Mapping) else None
                if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                    failures[str(metric)] = count
        by_type: dict[str, str] = {}
        conditions = status.get("conditions")
        if isinstance(conditions, Sequence):
            for condition in conditions:
                if isinstance(condition, Mapping) and isinstance(condition.get("type"), str):
                    by_type[condition["type"]] = str(condition.get("status", "Unknown"))
        active_status = by_type.get("Active")
        return cls(
            creation_time=creation_time,
            last_active_time=last_active,
            failures=failures,
            fallback_engaged=by_type.get("Fallback") == "True",
            paused=by_type.get("Paused") == "True",
            active=None if active_status not in ("True", "False") else active_status == "True",
        )


@dataclasses.dataclass(frozen=True)
class Condition:
    """One KEDA status condition, with KEDA's exact reason and message."""

    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"type": self.type, "status": self.status, "reason": self.reason, "message": self.message}


@dataclasses.dataclass(frozen=True)
class Conditions:
    """The conditions a tick sets. None means the tick leaves that condition as it was."""

    ready: Condition | None = None
    active: Condition | None = None
    fallback: Condition | None = None
    paused: Condition | None = None

    def set(self) -> tuple[Condition, ...]:
        return tuple(c for c in (self.ready, self.active, self.fallback, self.paused) if c is not None)


HPA_ACTIVE = "HPAActive"
# How an explanation hands 1↔N over (in direct mode the scale loop says what its own HPA calculation did).
HPA_HANDOFF = "1↔N left to the HPA"


def hpa_active_condition(hpa_conditions: object) -> Condition | None:
    """KEDA's `HPAActive` condition from the owned HPA's `status.conditions` (its `ScalingActive`).

    True `HPAActive` while the HPA computes replicas; True `ScalingDisabled` while it is idle because the
    target is at 0 (Ebb put it there); False with the HPA's own reason otherwise (`FailedGetExternalMetric`…),
    or `HPAMetricsUnavailable` when the HPA reports Unknown. None while the HPA has not reported yet."""
    if not isinstance(hpa_conditions, Sequence) or isinstance(hpa_conditions, str):
        return None
    for item in hpa_conditions:
        if not isinstance(item, Mapping) or item.get("type") != "ScalingActive":
            continue
        status = str(item.get("status") or "Unknown")
        reason = str(item.get("reason") or "")
        message = str(item.get("message") or "")
        if status == "True":
            return Condition(HPA_ACTIVE, "True", HPA_ACTIVE, message or "the HPA is computing replicas from its metrics")
        if status == "False" and reason == "ScalingDisabled":
            return Condition(HPA_ACTIVE, "True", "ScalingDisabled", message or "scaling is disabled since the replica count of the target is zero")
        if status == "False":
            return Condition(HPA_ACTIVE, "False", reason or "HPAMetricsUnavailable", message or "the HPA cannot compute replicas")
        return Condition(HPA_ACTIVE, "False", "HPAMetricsUnavailable", message or "the HPA has not reported whether it can compute replicas")
    return None


@dataclasses.dataclass(frozen=True)
class Event:
    """A Kubernetes Event KEDA would record on the ScaledObject for this tick."""

    type: str  # "Normal" | "Warning"
    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class Decision:
    """The outcome of one tick."""

    replicas: int | None  # write this to /scale; None: leave the target alone
    current_replicas: int
    active: bool
    reason: Reason
    explanation: str
    # What the HPA (or scaler.core.hpa in direct mode) should be fed, after fallback and formula, in natural
    # units. With scalingModifiers it holds only `composite-metric`. Failing metrics are absent.
    metric_values: Mapping[str, float]
    failing_metrics: tuple[str, ...]
    fallback_metrics: tuple[str, ...]
    triggers_activity: Mapping[str, bool]  # status.triggersActivity, by metric name
    active_triggers: tuple[str, ...]
    error: bool  # some trigger failed and fallback did not cover it
    scale_with_hpa: bool  # 1↔N should run after this tick (not paused, target above 0)
    conditions: Conditions
    events: tuple[Event, ...]
    state: ScaleState

    @property
    def target_replicas(self) -> int:
        """The replica count after this tick's write (the current count when nothing is written)."""
        return self.current_replicas if self.replicas is None else self.replicas


# --- fallback ---------------------------------------------------------------------------------------


def fallback_replicas(fallback: specs.Fallback, current_replicas: int) -> int:
    """R in KEDA's fallback metric: the replica count the HPA should arrive at while falling back."""
    behavior = fallback.behavior
    if behavior is specs.FallbackBehavior.CURRENT_REPLICAS:
        return current_replicas
    if behavior is specs.FallbackBehavior.CURRENT_REPLICAS_IF_HIGHER:
        return max(current_replicas, fallback.replicas)
    if behavior is specs.FallbackBehavior.CURRENT_REPLICAS_IF_LOWER:
        return min(current_replicas, fallback.replicas)
    return fallback.replicas  # static, and scalingModifiers when the formula itself gives up


def fallback_value(
    target: float | None, metric_type: specs.MetricType, replicas: int, ready_replicas: int
) -> float:
    """The synthetic metric that makes the HPA land on `replicas`: target × R, or target × R / ready pods.

    Milli-truncated, as KEDA builds it as a milli quantity.
    """
    if target is None:
        raise FallbackError("the trigger's target is unknown")
    if metric_type is specs.MetricType.VALUE:
        if ready_replicas <= 0:
            raise FallbackError("a Value metric needs at least one ready pod to spread the fallback over")
        return _milli(target * replicas / ready_replicas)
    return _milli(target * replicas)


def failures_engage_fallback(fallback: specs.Fallback | None, failures: int) -> bool:
    """KEDA engages fallback when consecutive failures strictly exceed failureThreshold."""
    return fallback is not None and failures > fallback.failure_threshold


# --- times ------------------------------------------------------------------------------------------


def format_time(seconds: float) -> str:
    """RFC 3339 in UTC at second precision, as metav1.Time serializes (`2024-05-01T12:00:00Z`)."""
    return _format_second(math.floor(seconds))


@functools.lru_cache(maxsize=256)
def _format_second(second: int) -> str:
    # Every tick formats "now" (and often a lastActiveTime of the same second): thousands of loops a
    # second ask for the same few strings.
    return datetime.datetime.fromtimestamp(second, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 timestamp (`Z` or an offset; fractions allowed)."""
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{text!r} is not an RFC 3339 time such as 2024-05-01T12:00:00Z") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone: expected RFC 3339 with Z or an offset")
    return moment.timestamp()


# --- evaluating the triggers ------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)  # a private scratch record: built per tick, never shared
class _Outcome:
    """One trigger after fallback: what it feeds the HPA and how it counts for activity and errors."""

    trigger: specs.Trigger
    metric: str
    reading: TriggerReading | None
    reported: float | None = None  # the value fed on (None: failing, or nil into the formula)
    active: bool = False
    error: str | None = None  # an error fallback did not cover
    failures: int = 0
    fallback: bool = False  # fallback engaged for this metric
    fallback_note: str = ""
    resource: bool = False


@dataclasses.dataclass(slots=True)  # a private scratch record: built per tick, never shared
class _Evaluation:
    outcomes: tuple[_Outcome, ...]
    active: bool
    error: bool
    metric_values: dict[str, float]
    failing: tuple[str, ...]
    failures: dict[str, int]
    fallback_engaged: bool
    activity: str  # the explanation's first half: which input made the ScaledObject (in)active
    errors: str  # the failing triggers, for the explanation
    active_triggers: tuple[str, ...]
    through_fallback: bool  # active only because fallback stands in for failing triggers


def _milli(value: float) -> float:
    return quantities.milli_truncated(value) / 1000


def _reported(value: float) -> float:
    # KEDA ≥ 2.20.2 reports negative, NaN and Inf metric values as 0; activity still uses the raw value.
    if not math.isfinite(value) or value < 0:
        return 0.0
    return _milli(value)


def _num(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".6g")


def _secs(value: float) -> str:
    return f"{_num(round(value, 3))} s"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@functools.lru_cache(maxsize=256)
def _formula(source: str, variables: tuple[str, ...]) -> formulas.Formula:
    return formulas.compile_formula(source, variables)


def _evaluate(
    spec: specs.ScaledObjectSpec,
    readings: Sequence[TriggerReading],
    current: int,
    ready: int,
    state: ScaleState,
) -> _Evaluation:
    by_index: dict[int, TriggerReading] = {}
    known = {t.index for t in spec.triggers}
    for given in readings:
        if given.index not in known:
            raise ValueError(
                f"{spec.ref}: a reading names trigger index {given.index}, which the spec does not have"
            )
        if given.index in by_index:
            raise ValueError(f"{spec.ref}: two readings for spec.triggers[{given.index}]")
        by_index[given.index] = given

    fallback = spec.fallback
    modifiers = spec.advanced.scaling_modifiers
    nil_on_failure = (
        fallback is not None
        and modifiers is not None
        and fallback.behavior is specs.FallbackBehavior.SCALING_MODIFIERS
    )
    outcomes: list[_Outcome] = []
    failures: dict[str, int] = {}
    for trigger in spec.triggers:
        if trigger.type in RESOURCE_TRIGGER_TYPES:
            outcomes.append(_Outcome(trigger=trigger, metric=trigger.type, reading=None, resource=True))
            continue
        reading = by_index.get(trigger.index)
        metric = reading.metric_name if reading is not None else f"s{trigger.index}-{trigger.type}"
        if reading is None:
            error: str | None = "no reading from the scaler"
        elif reading.error is not None:
            error = reading.error
        elif reading.value is None:
            error = "the scaler returned no value"
        else:
            error = None
        if error is None and reading is not None and reading.value is not None:
            raw = float(reading.value)
            active = reading.active if reading.active is not None else raw > reading.activation
            if fallback is not None:
                failures[metric] = 0
            outcomes.append(_Outcome(trigger, metric, reading, reported=_reported(raw), active=active))
            continue
        assert error is not None
        count = state.failures.get(metric, 0) + 1
        if fallback is not None:
            failures[metric] = count
        if fallback is None or not failures_engage_fallback(fallback, count):
            outcomes.append(_Outcome(trigger, metric, reading, error=error, failures=count))
            continue
        engaged = f"{_plural(count, 'failure')} > failureThreshold {fallback.failure_threshold}"
        if nil_on_failure:
            # fallback behavior scalingModifiers: the trigger enters the formula as nil.
            note = f"{metric} failing ({engaged}): nil in the formula"
            outcomes.append(
                _Outcome(trigger, metric, reading, failures=count, fallback=True, fallback_note=note)
            )
            continue
        replicas = fallback_replicas(fallback, current)
        target = reading.target if reading is not None else None
        if modifiers is not None:
            target, metric_type = modifiers.target, modifiers.metric_type
        else:
            metric_type = trigger.metric_type
        try:
            value = fallback_value(target, metric_type, replicas, ready)
        except FallbackError as exc:
            outcomes.append(
                _Outcome(
                    trigger, metric, reading, error=f"{error}; fallback impossible: {exc}", failures=count
                )
            )
            continue
        spread = f" / {ready} ready pods" if metric_type is specs.MetricType.VALUE else ""
        note = f"{metric} failing ({engaged}): fallback feeds {_num(value)} (target {_num(target or 0)} × {replicas} replicas{spread})"
        outcomes.append(
            _Outcome(
                trigger,
                metric,
                reading,
                reported=value,
                active=True,
                failures=count,
                fallback=True,
                fallback_note=note,
            )
        )

    failing = [o.metric for o in outcomes if o.error is not None]
    errors = "; ".join(_describe(o, fallback) for o in outcomes if o.error is not None)
    fallback_engaged = fallback is not None and any(
        failures_engage_fallback(fallback, n) for n in failures.values()
    )
    polled = [o for o in outcomes if not o.resource]

    if modifiers is not None:
        composite = _composite(modifiers, polled, fallback, current, ready, nil_on_failure)
        composite_value, active, activity, composite_error = (
            composite.value,
            composite.active,
            composite.activity,
            composite.error,
        )
        through_fallback = composite.through_fallback and active
        metric_values = {} if composite_value is None else {COMPOSITE_METRIC: composite_value}
        if composite_value is None:
            failing.append(COMPOSITE_METRIC)
        is_error = bool(polled and any(o.error is not None for o in polled)) or composite_error is not None
        active_triggers: tuple[str, ...] = (MODIFIERS_TRIGGER,) if active else ()
    else:
        composite_error = None
        metric_values = {o.metric: o.reported for o in polled if o.reported is not None}
        is_error = any(o.error is not None for o in polled)
        active = any(o.active for o in polled)
        active_triggers = tuple(o.trigger.name or o.metric for o in polled if o.active)
        through_fallback = active and all(o.fallback for o in polled if o.active)
        if active:
            activity = "; ".join(_describe(o, fallback) for o in polled if o.active)
        elif polled:
            activity = "no trigger active (" + "; ".join(_describe(o, fallback) for o in polled) + ")"
        else:
            activity = "no trigger active"

    # cpu/memory triggers can never wake a target from zero, so an SO made only of them is always active.
    if len(polled) == 0 and not is_error:
        active = True
        through_fallback = False
        activity = "only cpu/memory triggers: always active"
    return _Evaluation(
        outcomes=tuple(outcomes),
        active=active,
        error=is_error,
        metric_values=metric_values,
        failing=tuple(failing),
        failures=failures,
        fallback_engaged=fallback_engaged,
        activity=activity,
        errors=errors or (composite_error or ""),
        active_triggers=active_triggers,
        through_fallback=through_fallback,
    )


@dataclasses.dataclass(slots=True)  # a private scratch record: built per tick, never shared
class _Composite:
    value: float | None
    active: bool
    activity: str
    error: str | None = None
    through_fallback: bool = False


def _composite(
    modifiers: specs.ScalingModifiers,
    polled: Sequence[_Outcome],
    fallback: specs.Fallback | None,
    current: int,
    ready: int,
    nil_on_failure: bool,
) -> _Composite:
    """The composite metric of a ScaledObject with scalingModifiers, and whether it activates it."""
    formula_text = f"formula `{modifiers.formula}`"
    failed = [o for o in polled if o.error is not None]
    if failed:
        # KEDA resets the activity and skips the activation check when any metric source failed.
        why = "; ".join(_describe(o, fallback) for o in failed)
        return _Composite(None, False, f"{COMPOSITE_METRIC} not computed, a source failed ({why})")
    falling_back = [o for o in polled if o.fallback and not nil_on_failure]
    if falling_back and fallback is not None:
        replicas = fallback_replicas(fallback, current)
        try:
            value = fallback_value(modifiers.target, modifiers.metric_type, replicas, ready)
        except FallbackError as exc:
            return _Composite(
                None, False, f"{COMPOSITE_METRIC} fallback impossible: {exc}", f"{COMPOSITE_METRIC}: {exc}"
            )
        notes = "; ".join(o.fallback_note for o in falling_back)
        activity = (
            f"{notes}; {COMPOSITE_METRIC} = {_num(value)} (scalingModifiers.target {_num(modifiers.target)} × "
            f"{replicas} replicas): active through fallback"
        )
        return _Composite(value, True, activity, through_fallback=True)
    variables = tuple(o.trigger.key for o in polled)
    values = {o.trigger.key: o.reported for o in polled}
    try:
        result = _formula(modifiers.formula, variables).evaluate_or_none(values)
    except formulas.FormulaError as exc:
        # KEDA: logs the error and feeds the raw metrics on; Ebb treats it as a failed source instead.
        return _Composite(None, False, f"{COMPOSITE_METRIC} not computed: {exc}", str(exc))
    inputs = ", ".join(f"{k} = {'nil' if v is None else _num(v)}" for k, v in values.items())
    if result is None:
        if not nil_on_failure or fallback is None:
            error = f"{formula_text} returned nil"
            return _Composite(None, False, f"{COMPOSITE_METRIC} not computed: {error} ({inputs})", error)
        value = _milli(fallback.replicas * modifiers.target)
        activity = (
            f"{formula_text} returned nil ({inputs}): {COMPOSITE_METRIC} = {_num(value)} "
            f"(fallback.replicas {fallback.replicas} × target {_num(modifiers.target)})"
        )
    else:
        value = _milli(result)
        activity = f"{COMPOSITE_METRIC} = {_num(value)} from {formula_text} ({inputs})"
    active = value > modifiers.activation_target
    relation = ">" if active else "≤"
    verdict = "active" if active else "inactive"
    activity = f"{activity} {relation} activationTarget {_num(modifiers.activation_target)}: {verdict}"
    return _Composite(value, active, activity, through_fallback=result is None)


def _describe(outcome: _Outcome, fallback: specs.Fallback | None) -> str:
    """One trigger in a few words: its value against its activation threshold, or its failure."""
    if outcome.fallback:
        return outcome.fallback_note
    reading = outcome.reading
    if outcome.error is not None:
        if fallback is not None:
            return (
                f"{outcome.metric} failed ({_plural(outcome.failures, 'consecutive failure')}, "
                f"failureThreshold {fallback.failure_threshold}): {outcome.error}"
            )
        return f"{outcome.metric} failed: {outcome.error}"
    assert reading is not None and reading.value is not None
    raw = float(reading.value)
    by_threshold = raw > reading.activation
    state = "active" if outcome.active else "inactive"
    if reading.active is not None and reading.active != by_threshold:
        return f"{outcome.metric} = {_num(raw)}: {state} (as the scaler reports)"
    relation = ">" if outcome.active else "≤"
    return f"{outcome.metric} = {_num(raw)} {relation} activation {_num(reading.activation)}: {state}"


# --- the decision -----------------------------------------------------------------------------------

_READY = Condition(
    "Ready", "True", "ScaledObjectReady", "ScaledObject is defined correctly and is ready for scaling"
)
_PARTIAL = Condition(
    "Ready",
    "Unknown",
    "PartialTriggerError",
    "Some triggers defined in ScaledObject are not working correctly",
)
_TRIGGER_ERROR = Condition(
    "Ready", "False", "TriggerError", "Triggers defined in ScaledObject are not working correctly"
)
_ACTIVE = Condition("Active", "True", "ScalerActive", "Scaling is performed because triggers are active")
_FORCED = Condition(
    "Active", "True", "ScalerActive", "Scaling is performed because activation is being forced by annotation"
)
_NOT_ACTIVE = Condition(
    "Active", "False", "ScalerNotActive", "Scaling is not performed because triggers are not active"
)
_COOLING = Condition(
    "Active", "False", "ScalerCooldown", "Scaler cooling down because triggers are not active"
)
_FALLBACK = Condition(
    "Fallback", "True", "FallbackExists", "At least one trigger is falling back on this scaled object"
)
_NO_FALLBACK = Condition(
    "Fallback", "False", "NoFallbackFound", "No fallbacks are active on this scaled object"
)
_PAUSED = Condition("Paused", "True", "ScaledObjectPaused", "ScaledObject is paused")
_UNPAUSED = Condition("Paused", "False", "ScaledObjectUnpaused", "pause annotation removed for ScaledObject")


def decide(
    spec: specs.ScaledObjectSpec,
    readings: Sequence[TriggerReading],
    current_replicas: int,
    state: ScaleState,
    now: float,
    *,
    ready_replicas: int | None = None,
) -> Decision:
    """KEDA's decision for one tick of the scale loop (keda-semantics §2.2, §2.4, §1.6)."""
    if current_replicas < 0:
        raise ValueError(f"{spec.ref}: current replicas must be ≥ 0, got {current_replicas}")
    ready = current_replicas if ready_replicas is None else max(ready_replicas, 0)
    target_name = f"{spec.scale_target_ref.api_version}.{spec.scale_target_ref.kind} {spec.namespace}/{spec.scale_target_ref.name}"
    pause = spec.pause
    current = current_replicas

    if pause.paused or pause.paused_replicas is not None:
        return _paused(spec, current, state)

    ev = _evaluate(spec, readings, current, ready, state)
    events: list[Event] = []
    failure_reason = (
        "KEDAMetricSourceFailed" if spec.advanced.scaling_modifiers is not None else "KEDAScalerFailed"
    )
    for outcome in ev.outcomes:
        # Every scaler failure is reported, also when fallback stands in for it.
        if outcome.reading is not None and outcome.reading.error is not None:
            events.append(Event("Warning", failure_reason, outcome.reading.error))
    if ev.fallback_engaged and not state.fallback_engaged:
        events.append(Event("Normal", "ScaledObjectFallbackActivated", "ScaledObject fallback is active"))
    elif state.fallback_engaged and not ev.fallback_engaged:
        events.append(
            Event("Normal", "ScaledObjectFallbackDeactivated", "ScaledObject fallback is no longer active")
        )
    scale_paused = pause.paused_scale_in or pause.paused_scale_out
    if scale_paused and not state.paused:
        events.append(Event("Normal", "ScaledObjectPaused", "ScaledObject is paused"))
    elif state.paused and not scale_paused:
        events.append(Event("Normal", "ScaledObjectUnpaused", "ScaledObject is unpaused"))

    minimum = spec.min_replica_count
    idle = spec.idle_replica_count
    forced = pause.force_activation
    ready_condition = _READY
    last_active = state.last_active_time
    replicas: int | None = None
    activity = ev.activity
    if forced and not ev.active:
        activity = "annotation autoscaling.keda.sh/force-activation: active whatever the triggers say"

    if ev.active or forced:
        active_condition = _FORCED if forced else _ACTIVE
        if (idle is not None and current < minimum) or current == 0:
            target = max(minimum, 1)
            limit = f"max(minReplicaCount {minimum}, 1)"
            if pause.paused_scale_out:
                reason = Reason.PAUSED_SCALE_OUT
                explanation = f"{activity}; annotation autoscaling.keda.sh/paused-scale-out blocks scaling {current} → {target}"
            else:
                replicas = target
                last_active = now
                if forced and not ev.active:
                    reason = Reason.FORCE_ACTIVATED
                else:
                    reason = Reason.ACTIVATED_FROM_ZERO if current == 0 else Reason.ACTIVATED_FROM_IDLE
                below = (
                    "" if current == 0 else f", below minReplicaCount {minimum} with idleReplicaCount {idle}"
                )
                explanation = f"{activity}; scaled {current} → {target} ({limit}{below})"
                if forced:
                    message = f"Scaled {target_name} from {current} to {target}, caused by forced activation annotation"
                else:
                    message = f"Scaled {target_name} from {current} to {target}, triggered by {';'.join(ev.active_triggers)}"
                events.append(Event("Normal", "KEDAScaleTargetActivated", message))
        elif ev.error:
            reason = Reason.PARTIAL_TRIGGER_ERROR
            ready_condition = _PARTIAL
            explanation = (
                f"{activity}, but {ev.errors}; holding {current} replicas, lastActiveTime not refreshed"
            )
        else:
            last_active = now
            if forced and not ev.active:
                reason = Reason.FORCE_ACTIVATED
            elif ev.through_fallback:
                reason = Reason.FALLBACK
            else:
                reason = Reason.ACTIVE
            explanation = f"{activity}; {_plural(current, 'replica')}, {HPA_HANDOFF}"
    else:
        active_condition = _NOT_ACTIVE
        fallback = spec.fallback
        if ev.error and fallback is not None and fallback.replicas != 0:
            reason = Reason.FALLBACK_PENDING
            explanation = (
                f"{activity}; fallback engages after failureThreshold {fallback.failure_threshold} failures: "
                f"holding {_plural(current, 'replica')}"
            )
        elif ev.error and fallback is None:
            reason = Reason.TRIGGER_ERROR
            ready_condition = _TRIGGER_ERROR
            explanation = f"{activity}; no fallback configured: holding {_plural(current, 'replica')}"
        elif (idle is not None and current > idle) or (current > 0 and minimum == 0):
            target = idle if idle is not None else minimum
            to_idle = idle is not None
            limit = f"idleReplicaCount {idle}" if to_idle else f"minReplicaCount {minimum}"
            if pause.paused_scale_in:
                reason = Reason.PAUSED_SCALE_IN
                explanation = f"{activity}; annotation autoscaling.keda.sh/paused-scale-in blocks scaling {current} → {target} ({limit})"
            elif state.last_active_time is None:
                since = now - state.creation_time
                initial = spec.initial_cooldown_period
                if state.creation_time + initial < now:
                    replicas = target
                    reason = Reason.SCALED_TO_IDLE if to_idle else Reason.SCALED_TO_ZERO
                    explanation = (
                        f"{activity}; never active and initialCooldownPeriod {_secs(initial)} over "
                        f"({_secs(since)} since creation): scaled {current} → {target} ({limit})"
                    )
                else:
                    reason = Reason.INITIAL_COOLDOWN
                    active_condition = _COOLING
                    explanation = (
                        f"{activity}; {_secs(since)} since creation of initialCooldownPeriod {_secs(initial)}: "
                        f"holding {_plural(current, 'replica')}"
                    )
            else:
                inactive_for = now - state.last_active_time
                cooldown = spec.cooldown_period
                if state.last_active_time + cooldown < now:
                    replicas = target
                    reason = Reason.SCALED_TO_IDLE if to_idle else Reason.SCALED_TO_ZERO
                    explanation = (
                        f"{activity}; cooldownPeriod {_secs(cooldown)} over (inactive for {_secs(inactive_for)}): "
                        f"scaled {current} → {target} ({limit})"
                    )
                else:
                    reason = Reason.COOLDOWN
                    active_condition = _COOLING
                    explanation = (
                        f"{activity}; inactive for {_secs(inactive_for)} of cooldownPeriod {_secs(cooldown)}: "
                        f"holding {_plural(current, 'replica')}"
                    )
            if replicas is not None:
                message = f"Deactivated {target_name} from {current} to {target}"
                events.append(Event("Normal", "KEDAScaleTargetDeactivated", message))
        elif idle is None and current < minimum:
            replicas = minimum
            reason = Reason.BELOW_MIN
            explanation = f"{activity}; {_plural(current, 'replica')} below minReplicaCount {minimum}: scaled {current} → {minimum}"
        else:
            reason = Reason.NO_CHANGE
            if current == 0:
                rest = "already at 0 replicas"
            elif idle is not None and current <= idle:
                rest = f"at idleReplicaCount {idle}: holding {_plural(current, 'replica')}"
            else:
                rest = f"minReplicaCount {minimum} ≥ 1, {HPA_HANDOFF}: holding {_plural(current, 'replica')}"
            explanation = f"{activity}; {rest}"

    final = current if replicas is None else replicas
    is_active = ev.active or forced
    fallback_condition = _FALLBACK if ev.fallback_engaged else _NO_FALLBACK
    paused_condition = _PAUSED if scale_paused else (_UNPAUSED if state.paused else None)
    return Decision(
        replicas=replicas,
        current_replicas=current,
        active=is_active,
        reason=reason,
        explanation=explanation,
        metric_values=ev.metric_values,
        failing_metrics=ev.failing,
        fallback_metrics=tuple(o.metric for o in ev.outcomes if o.fallback),
        triggers_activity={o.metric: o.active for o in ev.outcomes if not o.resource},
        active_triggers=ev.active_triggers,
        error=ev.error,
        scale_with_hpa=final > 0,
        conditions=Conditions(
            ready=ready_condition,
            active=active_condition,
            fallback=fallback_condition,
            paused=paused_condition,
        ),
        events=tuple(events),
        state=ScaleState(
            creation_time=state.creation_time,
            last_active_time=last_active,
            failures=ev.failures,
            fallback_engaged=ev.fallback_engaged,
            paused=scale_paused,
            active=is_active,
        ),
    )


def _paused(spec: specs.ScaledObjectSpec, current: int, state: ScaleState) -> Decision:
    """paused / paused-replicas: KEDA stops the scale loop and deletes the HPA; readings are ignored."""
    pause = spec.pause
    events = () if state.paused else (Event("Normal", "ScaledObjectPaused", "ScaledObject is paused"),)
    if pause.paused_replicas is not None:
        wanted = pause.paused_replicas
        reason = Reason.PAUSED_REPLICAS
        replicas = None if current == wanted else wanted
        if replicas is None:
            explanation = f"annotation autoscaling.keda.sh/paused-replicas {wanted}: holding {_plural(current, 'replica')}"
        else:
            explanation = (
                f"annotation autoscaling.keda.sh/paused-replicas {wanted}: scaled {current} → {wanted}"
            )
    else:
        reason = Reason.PAUSED
        replicas = None
        explanation = f"annotation autoscaling.keda.sh/paused: scale loop stopped, holding {_plural(current, 'replica')}"
    return Decision(
        replicas=replicas,
        current_replicas=current,
        active=bool(state.active),
        reason=reason,
        explanation=explanation,
        metric_values={},
        failing_metrics=(),
        fallback_metrics=(),
        triggers_activity={},
        active_triggers=(),
        error=False,
        scale_with_hpa=False,
        conditions=Conditions(ready=_READY, paused=_PAUSED),
        events=events,
        state=dataclasses.replace(state, paused=True),
    )

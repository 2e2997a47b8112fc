"""Replaying a load trace through the real decision code: `simulate(spec, trace, options) -> Result`.

The simulator runs the same functions the operator runs — `decisions.decide` for KEDA's scale loop and
`hpa.sync` for the Kubernetes HPA — on virtual time, against the metric values of a trace
(`scaler.core.traces`), and records one `Step` each time something is evaluated.

* `hpa` mode (KEDA's way, and Ebb's default): the operator loop polls every `pollingInterval` (first
  poll at 0) and does 0→1 and N→0; an HPA syncs every 15 s (from 0; on a tie the poll goes first) and
  does 1↔N from the values the operator last measured (as Ebb's metrics adapter serves them, and as
  KEDA does with `useCachedMetrics`). The HPA gets `minReplicas = max(minReplicaCount, 1)` and the
  behavior KEDA would write (with paused-scale-in/out as `selectPolicy: Disabled`); it does not exist
  while the ScaledObject is paused.
* `direct` mode (`ebb.dev/scaling-mode: direct`): at each poll, `decide` first; when it writes nothing
  and the target is above 0, `hpa.sync` runs on the decision's metric values right away. No 15 s sync.

Pods: scaling up creates pods at once that become ready `pod_startup` seconds later; scaling down
removes the newest (least ready) pods first, as a ReplicaSet does. Ready pods matter for Value targets
and for Value fallback metrics.

The simulator must know each trigger's metric name, target and activation threshold without a live
scaler: `targets_for` answers that per trigger. The edges pass `scaler.triggers.trigger_targets.for_scaled_object`,
which asks the scaler registry (the same declared parameters the operator parses), so this module keeps no
copy of any scaler's parameters.

Pure: no files, no clock, no I/O. Designed for speed (one simulated day at 1 s polling in about a
second or two): readings are built once per trace row, steps are NamedTuples, nothing is deep-copied.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from scaler.core import decisions, hpa, hpa_manifests, specs, traces

HPA_SYNC_PERIOD = 15.0
# The operator's poll, the HPA's sync, and direct mode's poll+sync, as `Step.source`.
OPERATOR, HPA, DIRECT = "operator", "hpa", "direct"
_TRACE_FAILED = "the trace marks this reading as failed"


class Mode(str, enum.Enum):
    HPA = "hpa"
    DIRECT = "direct"


class SimulationError(ValueError):
    """The spec, the trace and the options cannot be simulated together; the message says where and why."""


class TargetError(ValueError):
    """A trigger parameter the simulator needs is missing or malformed. `field` is under the trigger."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclasses.dataclass(frozen=True)
class Options:
    """How to run a simulation. `duration` None: the trace's end plus enough time to cool down to 0."""

    mode: Mode = Mode.HPA
    duration: float | None = None
    initial_replicas: int = 0
    pod_startup: float = 0.0
    hpa_sync_period: float = HPA_SYNC_PERIOD
    tolerance: float = hpa.DEFAULT_TOLERANCE
    downscale_stabilization: int = hpa.DEFAULT_DOWNSCALE_STABILIZATION


@dataclasses.dataclass(frozen=True)
class TriggerTargets:
    """What the simulator needs of one trigger: its external metric name, target and activation.

    `target` None means the trigger has no target of its own (a metrics-api trigger used only as a
    scalingModifiers source).
    """

    metric_name: str
    target: float | None
    activation: float = 0.0


TargetsFor = Callable[[specs.Trigger], "TriggerTargets | None"]


class Step(NamedTuple):
    """One evaluation: an operator poll, an HPA sync, or (direct mode) both at once.

    `replicas` is the target's count after the step, `ready` its ready pods at that time, `active`
    the ScaledObject's activity (as of the last poll), `reason` the machine-readable reason (a
    `decisions.Reason` for the operator, an `hpa.Reason` for the HPA), `metrics` the values seen
    (operator: the trace's, by metric name, None for a failed reading; HPA: the values it was fed),
    `desired` the HPA's metric proposal when it computed one.
    """

    time: float
    source: str
    replicas: int
    ready: int
    active: bool
    reason: str
    explanation: str
    metrics: Mapping[str, float | None]
    desired: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "replicas": self.replicas,
            "active": self.active,
            "reason": self.reason,
            "explanation": self.explanation,
            "metrics": dict(self.metrics),
            "source": self.source,
            "ready": self.ready,
        }


@dataclasses.dataclass(frozen=True)
class Result:
    """A finished simulation: the steps, plus what a report needs to label them."""

    spec: specs.ScaledObjectSpec
    options: Options
    duration: float
    steps: tuple[Step, ...]
    metric_names: tuple[str, ...]  # the trace's metrics, in trigger order
    hpa_metrics: tuple[str, ...]  # what the HPA reads (composite-metric with scalingModifiers)
    targets: Mapping[str, float]  # metric name → target, where known
    activations: Mapping[str, float]

    @functools.cached_property
    def peak_replicas(self) -> int:
        return max((s.replicas for s in self.steps), default=self.options.initial_replicas)

    @functools.cached_property
    def final_replicas(self) -> int:
        return self.steps[-1].replicas if self.steps else self.options.initial_replicas

    @functools.cached_property
    def replica_changes(self) -> int:
        changes, previous = 0, self.options.initial_replicas
        for step in self.steps:
            if step.replicas != previous:
                changes += 1
                previous = step.replicas
        return changes


# --- planning ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Polled:
    trigger: specs.Trigger
    targets: TriggerTargets
    column: int


@dataclasses.dataclass(frozen=True)
class _Plan:
    polled: tuple[_Polled, ...]
    hpa_metrics: tuple[tuple[str, str, float], ...]  # (name, target type, target)
    behavior: hpa.Behavior | None
    duration: float


def _plan(
    spec: specs.ScaledObjectSpec, trace: traces.Trace, options: Options, targets_for: TargetsFor
) -> _Plan:
    if options.initial_replicas < 0:
        raise SimulationError(f"initial replicas must be ≥ 0, got {options.initial_replicas}")
    if options.pod_startup < 0 or not math.isfinite(options.pod_startup):
        raise SimulationError(f"pod startup must be ≥ 0 seconds, got {options.pod_startup:g}")
    if options.duration is not None and not (options.duration > 0 and math.isfinite(options.duration)):
        raise SimulationError(f"duration must be > 0 seconds, got {options.duration:g}")
    if not options.hpa_sync_period > 0:
        raise SimulationError(f"the HPA sync period must be > 0 seconds, got {options.hpa_sync_period:g}")

    columns = {name: i for i, name in enumerate(trace.columns)}
    found_targets: list[tuple[specs.Trigger, TriggerTargets | None, list[str]]] = []
    for trigger in spec.triggers:
        try:
            found = targets_for(trigger)
        except TargetError as exc:
            raise SimulationError(f"{spec.ref}: spec.triggers[{trigger.index}].{exc.field}: {exc}") from None
        found_targets.append((trigger, found, [n for n in (trigger.name, f"s{trigger.index}") if n]))
    # Columns naming nothing first: a typo in the header is likelier than a forgotten column.
    replayable = {n for _, found, names in found_targets if found is not None for n in names}
    for name in trace.columns:
        if name in replayable:
            continue
        for trigger, _, names in found_targets:
            if name in names:
                raise SimulationError(
                    f"{trace.where(name)}: spec.triggers[{trigger.index}] is a {trigger.type} trigger, "
                    "served by metrics-server: the simulator cannot replay it; drop the column"
                )
        expected = ", ".join(sorted(replayable))
        raise SimulationError(
            f"{trace.where(name)}: {spec.ref} has no trigger of that name: expected one of {expected}"
        )
    polled: list[_Polled] = []
    for trigger, found, names in found_targets:
        if found is None:
            continue
        path = f"spec.triggers[{trigger.index}]"
        present = [n for n in names if n in columns]
        if len(present) > 1:
            raise SimulationError(
                f'{trace.where()}: columns "{present[0]}" and "{present[1]}" both name {path}: keep one'
            )
        if not present:
            raise SimulationError(
                f'{trace.path}: no column for {path} ({trigger.type}): add a column named "{names[0]}"'
            )
        polled.append(_Polled(trigger, found, columns[present[0]]))
    if not polled:
        raise SimulationError(f"{spec.ref}: only cpu/memory triggers: nothing the simulator can replay")

    modifiers = spec.advanced.scaling_modifiers
    if modifiers is not None:
        metrics: tuple[tuple[str, str, float], ...] = (
            (decisions.COMPOSITE_METRIC, modifiers.metric_type.value, modifiers.target),
        )
    else:
        built = []
        for p in polled:
            if p.targets.target is None:
                raise SimulationError(
                    f"{spec.ref}: spec.triggers[{p.trigger.index}].metadata: no target "
                    "(targetValue is required unless the trigger feeds a scalingModifiers formula)"
                )
            built.append((p.targets.metric_name, p.trigger.metric_type.value, p.targets.target))
        metrics = tuple(built)

    raw_behavior = hpa_manifests.hpa_behavior(spec)
    behavior = None
    if raw_behavior is not None:
        try:
            behavior = hpa.behavior_with_defaults(
                raw_behavior, downscale_stabilization=options.downscale_stabilization
            )
        except hpa.BehaviorError as exc:
            where = "spec.advanced.horizontalPodAutoscalerConfig.behavior"
            raise SimulationError(
                "; ".join(f"{spec.ref}: {where}.{p}: {m}" for p, m in exc.problems)
            ) from None

    duration = options.duration
    if duration is None:
        # Long enough after the last row for the cooldown, the HPA's scale-down window and a poll or two.
        settle = max(600, spec.cooldown_period + options.downscale_stabilization + 2 * spec.polling_interval)
        duration = trace.end + settle
    return _Plan(tuple(polled), metrics, behavior, float(duration))


# --- running ----------------------------------------------------------------------------------------


class _Pods:
    """The target's pods as their ready times, oldest first (so the newest are removed first)."""

    def __init__(self, count: int) -> None:
        self.ready_at: list[float] = [0.0] * count

    def __len__(self) -> int:
        return len(self.ready_at)

    def scale(self, replicas: int, now: float, startup: float) -> None:
        have = len(self.ready_at)
        if replicas > have:
            self.ready_at.extend([now + startup] * (replicas - have))
        elif replicas < have:
            del self.ready_at[replicas:]

    def ready(self, now: float) -> int:
        return bisect.bisect_right(self.ready_at, now)


def simulate(
    spec: specs.ScaledObjectSpec,
    trace: traces.Trace,
    options: Options | None = None,
    *,
    targets_for: TargetsFor,
) -> Result:
    """Replay `trace` against `spec`; see the module docstring for the two modes."""
    options = options or Options()
    plan = _plan(spec, trace, options, targets_for)
    polled = plan.polled
    metric_names = tuple(p.targets.metric_name for p in polled)

    # Per trace row: the readings `decide` gets and the values a step shows. Built once per distinct row
    # content (a day at 1 s has 86,400 rows but far fewer distinct ones), and shared, never copied.
    Built = tuple[tuple[decisions.TriggerReading, ...], Mapping[str, float | None]]
    by_content: dict[tuple[traces.Cell, ...], Built] = {}

    def readings_for(cells: tuple[traces.Cell, ...]) -> Built:
        found = by_content.get(cells)
        if found is not None:
            return found
        built: list[decisions.TriggerReading] = []
        shown: dict[str, float | None] = {}
        for p in polled:
            cell = cells[p.column]
            name = p.targets.metric_name
            if isinstance(cell, traces.Failure):
                error = f"{_TRACE_FAILED} ({trace.path}:{cell.line})"
                built.append(
                    decisions.TriggerReading(p.trigger.index, name, error=error, target=p.targets.target)
                )
                shown[name] = None
            else:
                built.append(
                    decisions.TriggerReading(
                        p.trigger.index,
                        name,
                        value=cell,
                        target=p.targets.target,
                        activation=p.targets.activation,
                    )
                )
                shown[name] = cell
        found = by_content[cells] = (tuple(built), shown)
        return found

    direct = options.mode is Mode.DIRECT
    paused = spec.pause.paused or spec.pause.paused_replicas is not None
    hpa_min = hpa_manifests.hpa_min_replicas(spec)
    hpa_max = spec.max_replica_count
    startup = float(options.pod_startup)
    poll_period = float(spec.polling_interval)
    sync_period = float(options.hpa_sync_period)
    duration = plan.duration
    times = trace.times
    rows = trace.rows
    last_row = len(times) - 1

    replicas = options.initial_replicas
    pods = _Pods(replicas)
    state = decisions.ScaleState(creation_time=0.0)
    hpa_state = hpa.HpaState()
    decision: decisions.Decision | None = None
    steps: list[Step] = []
    append = steps.append
    row = 0
    polls = syncs = 0
    decide = decisions.decide  # bound once: this loop runs once per simulated poll
    reason_text = {reason: reason.value for reason in decisions.Reason}  # faster than Enum.value

    def ready_now(now: float) -> int:
        return len(pods) if startup == 0 else pods.ready(now)

    def run_hpa(now: float, values: Mapping[str, float], ready: int) -> hpa.SyncResult:
        fed = [
            hpa.MetricReading(name, kind, target, (values[name],))
            if name in values
            else hpa.MetricReading(
                name, kind, target, None, "no value: the operator's last poll failed for it"
            )
            for name, kind, target in plan.hpa_metrics
        ]
        return hpa.sync(
            metrics=fed,
            spec_replicas=replicas,
            status_replicas=len(pods),
            ready_pods=ready,
            total_pods=len(pods),
            min_replicas=hpa_min,
            max_replicas=hpa_max,
            behavior=plan.behavior,
            state=hpa_state,
            now=now,
            tolerance=options.tolerance,
            downscale_stabilization=options.downscale_stabilization,
        )

    while True:
        poll_at = polls * poll_period
        sync_at = math.inf if (direct or paused) else syncs * sync_period
        now = min(poll_at, sync_at)
        if now > duration:
            break
        if poll_at <= sync_at:
            polls += 1
            while row < last_row and times[row + 1] <= now:
                row += 1
            readings, shown = readings_for(rows[row])
            ready = ready_now(now)
            decision = decide(spec, readings, replicas, state, now, ready_replicas=ready)
            state = decision.state
            if decision.replicas is not None and decision.replicas != replicas:
                replicas = decision.replicas
                pods.scale(replicas, now, startup)
                ready = ready_now(now)
            if direct and decision.replicas is None and decision.scale_with_hpa:
                synced = run_hpa(now, decision.metric_values, ready)
                hpa_state = synced.state
                if synced.rescale:
                    replicas = synced.replicas
                    pods.scale(replicas, now, startup)
                    ready = ready_now(now)
                append(
                    Step(
                        now,
                        DIRECT,
                        replicas,
                        ready,
                        decision.active,
                        synced.reason.value,
                        f"{decision.explanation} | {synced.explanation}",
                        shown,
                        synced.metric_replicas,
                    )
                )
            else:
                source = DIRECT if direct else OPERATOR
                append(
                    Step(
                        now,
                        source,
                        replicas,
                        ready,
                        decision.active,
                        reason_text[decision.reason],
                        decision.explanation,
                        shown,
                    )
                )
        else:
            syncs += 1
            assert decision is not None  # the first poll (at 0) always comes first
            ready = ready_now(now)
            synced = run_hpa(now, decision.metric_values, ready)
            hpa_state = synced.state
            if synced.rescale:
                replicas = synced.replicas
                pods.scale(replicas, now, startup)
                ready = ready_now(now)
            append(
                Step(
                    now,
                    HPA,
                    replicas,
                    ready,
                    decision.active,
                    synced.reason.value,
                    synced.explanation,
                    decision.metric_values,
                    synced.metric_replicas,
                )
            )

    targets = {name: target for name, _, target in plan.hpa_metrics}
    for p in polled:
        if p.targets.target is not None:
            targets.setdefault(p.targets.metric_name, p.targets.target)
    activations = {p.targets.metric_name: p.targets.activation for p in polled}
    return Result(
        spec=spec,
        options=options,
        duration=duration,
        steps=tuple(steps),
        metric_names=metric_names,
        hpa_metrics=tuple(name for name, _, _ in plan.hpa_metrics),
        targets=targets,
        activations=activations,
    )


def changes(steps: Sequence[Step]) -> list[Step]:
    """The steps worth a row in a table: the first, the last, and every one where the replica count
    changed, or the activity or the reason changed since the previous step of the same source."""
    picked: list[Step] = []
    replicas: int | None = None
    last_by_source: dict[str, Step] = {}
    for step in steps:
        before = last_by_source.get(step.source)
        if (
            replicas is None
            or step.replicas != replicas
            or before is None
            or step.active != before.active
            or step.reason != before.reason
        ):
            picked.append(step)
        replicas = step.replicas
        last_by_source[step.source] = step
    if steps and picked[-1] is not steps[-1]:
        picked.append(steps[-1])
    return picked

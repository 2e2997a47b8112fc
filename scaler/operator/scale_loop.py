"""One scale loop per ScaledObject: poll the triggers, decide, write `/scale`, status and Events.

A `ScaleLoop` ticks every `pollingInterval` on a fixed schedule (the first tick at once; drift, the
lateness of a tick against its schedule, is reported as KEDA's `keda_internal_scale_loop_latency`).
One tick (keda-semantics §2.2):

1. resolve the triggers again only if something they are built from changed (`kube.Watched`
   stamps Secret, ConfigMap, (Cluster)TriggerAuthentication and pod-template changes per namespace),
   rebuilding just the triggers whose inputs differ;
2. read every trigger concurrently, each within its timeout (kept by the scaler itself when it says
   `reads_bounded`, as the batched Redis client does); errors are masked (no resolved secret in any
   message) and become `decisions.TriggerReading` errors;
3. the target's replicas come from the watched Deployment/StatefulSet (a `/scale` GET only for other
   kinds);
4. `decisions.decide`; in direct mode, when it writes nothing and the target is above 0, `hpa.sync` on
   the decision's metric values (the HPA memory is kept in `status.ebb.hpa` so a restart keeps it);
5. a write goes through `/scale` as read-modify-write with the resourceVersion: a 409 re-reads and
   retries, 429 waits Retry-After, 5xx backs off, all within a deadline; if the fresh read shows other
   replicas than the decision assumed, the tick decides again on them. Nothing outside the
   ScaledObject's bounds is ever written; a write that does not land is decided again next tick;
6. Events, the status fields that changed (merge patch; conditions guarded by resourceVersion) — the
   first tick also carries the status its starting reconcile handed over (`StatusUpdate`) — the decision
   log and the metrics.

`Loops` owns the running loops: it starts one per ScaledObject, restarts it only when the generation
changes, hands annotation-only changes (pause-scale-in/out, force-activation) to the running loop, and
stops loops gracefully (a tick in flight finishes; no half-done writes).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import math
import time
import weakref
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from scaler.core import decisions, hpa, hpa_manifests, problems, specs
from scaler.operator import kube, readings
from scaler.triggers import trigger_checks
from scalers import base, connections, registry

logger = logging.getLogger("ebb.scale_loop")

DIRECT_STATE_PERSIST_SECONDS = 15.0
TICK_WRITE_DEADLINE = 5.0
# A loop whose tick has not begun this long past two polling intervals is reported by `/readyz`.
STALL_SECONDS = 30.0
# While a ScaledObject stays active KEDA rewrites `lastActiveTime` every poll: one status write (and one
# watch event for every client) per active object per second at pollingInterval 1. Ebb refreshes it at
# most every `last_active_persist_seconds(spec)` while Active stays True, and exactly whenever anything
# else in status is written (the Active=False flip included). After a restart the loaded value is moved
# later by that period while the status still says Active=True, so the cooldown is never cut short.
LAST_ACTIVE_PERSIST_SECONDS = 15.0


def last_active_persist_seconds(spec: specs.ScaledObjectSpec) -> float:
    """How stale `status.lastActiveTime` may get while the object stays active: a quarter of the cooldown,
    at least one poll, at most `LAST_ACTIVE_PERSIST_SECONDS`."""
    return max(float(spec.polling_interval), min(LAST_ACTIVE_PERSIST_SECONDS, spec.cooldown_period / 4))


class DecisionSink(Protocol):
    """Where decisions are recorded (`scaler.operator.decision_log.DecisionLog`)."""

    def record(self, namespace: str, name: str, entry: Mapping[str, Any], *, handed_over: bool = False) -> None: ...


class Metrics(Protocol):
    """The operator metrics the loop reports (`scaler.operator.operator_metrics.OperatorMetrics`)."""

    def trigger_observed(
        self,
        namespace: str,
        scaled_object: str,
        trigger_index: int,
        trigger_name: str | None,
        scaler_type: str,
        metric: str,
        value: float,
        active: bool,
        latency_seconds: float,
    ) -> None: ...

    def trigger_failed(
        self,
        namespace: str,
        scaled_object: str,
        trigger_index: int,
        trigger_name: str | None,
        scaler_type: str,
        metric: str,
    ) -> None: ...

    def scaled_object_failed(self, namespace: str, scaled_object: str) -> None: ...

    def paused(self, namespace: str, scaled_object: str, is_paused: bool) -> None: ...

    def loop_drift(self, namespace: str, scaled_object: str, seconds: float) -> None: ...

    def decided(self, namespace: str, scaled_object: str, reason: str) -> None: ...

    def activation_latency(self, namespace: str, scaled_object: str, seconds: float) -> None: ...

    def forget(self, namespace: str, scaled_object: str) -> None: ...


@dataclasses.dataclass
class LoopContext:
    """What every loop shares: the API port, the watched objects, the scalers and the clocks."""

    api: kube.Kube
    watched: kube.Watched
    scalers: registry.Registry
    clients: connections.SharedClients
    clock: Callable[[], float] = time.time  # wall clock, seconds since the epoch (status times)
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    decision_log: DecisionSink | None = None
    metrics: Metrics | None = None
    cluster_object_namespace: str = "keda"
    default_mode: specs.ScalingMode = specs.ScalingMode.HPA
    # False while this replica is not the leader: ticks are skipped, nothing is written.
    leading: Callable[[], bool] = lambda: True
    write_deadline: float = TICK_WRITE_DEADLINE
    # Where every tick's values for the HPA go (the external metrics API answers from them).
    readings: readings.Readings | None = None


def scaling_mode(spec: specs.ScaledObjectSpec, default: specs.ScalingMode) -> specs.ScalingMode:
    """The annotation decides when present, else the operator-wide default."""
    if specs.SCALING_MODE in spec.annotations:
        return spec.scaling_mode
    return default


# --------------------------------------------------------------------------------------------------
# Triggers.
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Built:
    trigger: specs.Trigger
    prepared: trigger_checks.Prepared
    fingerprint: str
    metric: base.MetricSpec | None = None
    scaler: base.Scaler | None = None
    error: str | None = None
    warmed: bool = False
    reads_bounded: bool = False  # the scaler says it gives up by the trigger's timeout on its own


def _fingerprint(prepared: trigger_checks.Prepared) -> str:
    inputs = prepared.inputs
    raw = json.dumps(
        [inputs.type, dict(inputs.metadata), dict(inputs.auth_params), dict(inputs.resolved_env), inputs.metric_type],
        sort_keys=True,
    )
    # Only a digest is kept: the inputs hold resolved secrets.
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Observed:
    """One trigger's poll as the loop saw it (for the decision log and the metrics)."""

    reading: decisions.TriggerReading
    trigger: specs.Trigger
    latency: float


class Triggers:
    """The built scalers of one ScaledObject, rebuilt only when their inputs change."""

    def __init__(self, ctx: LoopContext) -> None:
        self.ctx = ctx
        self._built: dict[int, _Built] = {}
        self._inputs_stamp: tuple[int, int, int] | None = None
        self._spec: specs.ScaledObjectSpec | None = None

    def secrets(self) -> list[str]:
        return [s for b in self._built.values() for s in b.prepared.secrets]

    def metrics(self) -> dict[int, base.MetricSpec]:
        return {i: b.metric for i, b in self._built.items() if b.metric is not None}

    async def refresh(self, spec: specs.ScaledObjectSpec, *, force: bool = False) -> None:
        watched = self.ctx.watched
        stamp = watched.inputs_stamp(spec.namespace, self.ctx.cluster_object_namespace)
        if not force and spec is self._spec and stamp == self._inputs_stamp:
            return
        self._spec = spec
        self._inputs_stamp = stamp
        workload = watched.workload(kube.Target.of(spec))
        wanted: dict[int, _Built] = {}
        for trigger in spec.triggers:
            if trigger.type in decisions.RESOURCE_TRIGGER_TYPES:
                continue
            prepared = trigger_checks.prepare(
                spec, trigger, watched, workload, cluster_object_namespace=self.ctx.cluster_object_namespace
            )
            fingerprint = _fingerprint(prepared)
            old = self._built.get(trigger.index)
            if old is not None and old.fingerprint == fingerprint and old.trigger == trigger and old.error is None:
                old.prepared = prepared
                wanted[trigger.index] = old
                continue
            if old is not None:
                await self._close(old)
            wanted[trigger.index] = self._build(spec, trigger, prepared, fingerprint)
        for index, old in self._built.items():
            if index not in wanted:
                await self._close(old)
        self._built = wanted

    def _build(
        self, spec: specs.ScaledObjectSpec, trigger: specs.Trigger, prepared: trigger_checks.Prepared, fingerprint: str
    ) -> _Built:
        built = _Built(trigger, prepared, fingerprint)
        try:
            resolved = prepared.resolve(self.ctx.scalers)
            built.metric = resolved.metric
            # Scalers get the wall clock: Prometheus is asked "at time=…", cron compares it with schedules.
            context = base.BuildContext(clients=self.ctx.clients, clock=self.ctx.clock)
            built.scaler = resolved.build(prepared.inputs, context)
            built.reads_bounded = getattr(built.scaler, "reads_bounded", False) is True
        except base.ScalerError as error:
            built.error = prepared.mask(str(error))
        except Exception as error:  # a plugin's bug stays in its own trigger; its text could hold a secret
            built.error = f"the {trigger.type} scaler failed to build: {type(error).__name__}"
        return built

    async def _close(self, built: _Built) -> None:
        if built.scaler is not None:
            with contextlib.suppress(Exception):
                await built.scaler.aclose()
            built.scaler = None

    async def warm(self) -> None:
        """Warm every built scaler once (`base.warm`): a standby's, so its first tick as leader reads at
        once. A failure is left for the first read to meet and report."""
        for built in self._built.values():
            if built.scaler is None or built.warmed:
                continue
            built.warmed = True
            with contextlib.suppress(Exception):
                async with asyncio.timeout(built.prepared.inputs.timeout):
                    await base.warm(built.scaler)

    async def aclose(self) -> None:
        for built in self._built.values():
            await self._close(built)
        self._built = {}

    async def read(self) -> list[Observed]:
        built = list(self._built.values())
        if len(built) == 1:
            # Most ScaledObjects have one trigger: no task and no gather per tick for it.
            return [await self._read_one(built[0])]
        return list(await asyncio.gather(*(self._read_one(b) for b in built)))

    async def _read_one(self, built: _Built) -> Observed:
        trigger = built.trigger
        metric = built.metric
        name = metric.name if metric is not None else f"s{trigger.index}-{trigger.type}"
        target = metric.target if metric is not None else None
        activation = metric.activation if metric is not None else 0.0
        started = self.ctx.monotonic()

        def failed(error: str) -> Observed:
            reading = decisions.TriggerReading(
                trigger.index, name, error=error, target=target, activation=activation
            )
            return Observed(reading, trigger, self.ctx.monotonic() - started)

        if built.scaler is None:
            return failed(built.error or "the scaler is not built")
        timeout = built.prepared.inputs.timeout
        try:
            if built.reads_bounded:
                # The scaler times its read out itself: no second timer per read (10,000 reads at once
                # when a standby takes the Lease).
                result = await built.scaler.read()
            else:
                async with asyncio.timeout(timeout):
                    result = await built.scaler.read()
        except TimeoutError:
            return failed(f"{name}: no answer within {timeout:g} s")
        except base.ScalerError as error:
            return failed(built.prepared.mask(str(error)))
        except Exception as error:  # unknown errors may quote a secret: the type only
            return failed(f"{name}: the scaler failed: {type(error).__name__}")
        reading = decisions.TriggerReading(
            trigger.index, name, value=result.value, active=result.active, target=target, activation=activation
        )
        return Observed(reading, trigger, self.ctx.monotonic() - started)


# --------------------------------------------------------------------------------------------------
# Direct mode's HPA memory in status.ebb.hpa.
# --------------------------------------------------------------------------------------------------


def hpa_state_to_status(state: hpa.HpaState) -> dict[str, Any]:
    """The HPA memory as status data. Recommendations are compacted to the latest time each replica
    count was recommended: stabilization takes the max (or min) over a window, which this keeps exact."""
    latest: dict[int, float] = {}
    for timestamp, replicas in state.recommendations:
        latest[replicas] = max(latest.get(replicas, -math.inf), timestamp)
    return {
        "recommendations": [[round(t, 3), r] for r, t in sorted(latest.items(), key=lambda kv: kv[1])],
        "scaleUpEvents": [[round(e.timestamp, 3), e.change, e.outdated] for e in state.up_events],
        "scaleDownEvents": [[round(e.timestamp, 3), e.change, e.outdated] for e in state.down_events],
    }


def hpa_state_from_status(data: object) -> hpa.HpaState:
    """The HPA memory from `status.ebb.hpa`; anything unreadable is left out (a fresh memory)."""
    if not isinstance(data, Mapping):
        return hpa.HpaState()

    def pairs(key: str) -> list[tuple[float, int]]:
        out: list[tuple[float, int]] = []
        for item in data.get(key) or []:
            if isinstance(item, list) and len(item) >= 2:
                with contextlib.suppress(TypeError, ValueError):
                    out.append((float(item[0]), int(item[1])))
        return out

    def events(key: str) -> tuple[hpa.ScaleEvent, ...]:
        out: list[hpa.ScaleEvent] = []
        for item in data.get(key) or []:
            if isinstance(item, list) and len(item) >= 2:
                with contextlib.suppress(TypeError, ValueError):
                    out.append(hpa.ScaleEvent(float(item[0]), int(item[1]), bool(item[2]) if len(item) > 2 else False))
        return tuple(out)

    recommendations = tuple(pairs("recommendations"))
    return hpa.HpaState(
        recommendations=recommendations,
        up_events=events("scaleUpEvents"),
        down_events=events("scaleDownEvents"),
        seen=bool(recommendations),
    )


# --------------------------------------------------------------------------------------------------
# The loop.
# --------------------------------------------------------------------------------------------------


def creation_time(body: Mapping[str, Any], default: float) -> float:
    raw = (body.get("metadata") or {}).get("creationTimestamp")
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            return decisions.parse_time(raw)
    return default


def _rv(body: Mapping[str, Any] | None) -> str:
    return str(((body or {}).get("metadata") or {}).get("resourceVersion") or "")


def merge_conditions(existing: object, updates: Sequence[decisions.Condition]) -> list[dict[str, str]]:
    """The conditions list with `updates` replacing conditions of the same type (KEDA's order kept)."""
    result: list[dict[str, str]] = []
    # Messages quote names and values: escaped, so `kubectl describe` shows no forged line (issue 9).
    by_type = {c.type: {**c.as_dict(), "message": problems.escape(c.message)} for c in updates}
    for item in existing if isinstance(existing, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("type"), str):
            kind = item["type"]
            result.append(by_type.pop(kind) if kind in by_type else {k: str(v) for k, v in item.items()})
    result.extend(by_type.values())
    return result


class StaleReplicas(Exception):
    """The target's replicas are not what the decision assumed."""

    def __init__(self, scale: kube.Scale) -> None:
        self.scale = scale
        super().__init__(f"the target has {scale.replicas} replicas")


@dataclasses.dataclass(frozen=True)
class TickResult:
    decision: decisions.Decision
    replicas: int  # the target's replicas after the tick
    written: bool
    write_error: str | None = None
    hpa_result: hpa.SyncResult | None = None


@dataclasses.dataclass(frozen=True)
class StatusUpdate:
    """What a reconcile wants in a ScaledObject's status, handed to the loop it starts: that loop's first
    status write carries it along with the first tick's own fields (one write per new ScaledObject, not
    two). Compared with the status at the moment of the write, never with the one the reconcile read."""

    fields: Mapping[str, Any]
    conditions: tuple[decisions.Condition, ...] = ()
    defaults: tuple[decisions.Condition, ...] = ()  # what a status without conditions starts from
    if_missing: frozenset[str] = frozenset()  # fields written only where the status has none yet

    def wanted(self, status: Mapping[str, Any], more: Sequence[decisions.Condition] = ()) -> dict[str, Any]:
        """What `status` must change to: the fields that differ and, when there are conditions to set
        (these and `more`), the conditions list with them merged in (onto `defaults` if it has none)."""
        wanted = {
            key: value
            for key, value in self.fields.items()
            if (status.get(key) is None if key in self.if_missing else status.get(key) != value)
        }
        updates = (*self.conditions, *more)
        if updates:
            merged = merge_conditions(status.get("conditions") or merge_conditions(None, self.defaults), updates)
            if merged != status.get("conditions"):
                wanted["conditions"] = merged
        return wanted


NO_UPDATE = StatusUpdate({})


class ScaleLoop:
    """The scale loop of one ScaledObject. `run()` ticks until `stop()`; `tick()` is one poll."""

    def __init__(
        self,
        spec: specs.ScaledObjectSpec,
        body: Mapping[str, Any],
        ctx: LoopContext,
        initial: StatusUpdate | None = None,
    ) -> None:
        self.ctx = ctx
        # The starting reconcile's status, until a write carried it (or found it already there).
        self._initial = initial
        self.spec = spec
        self.generation = (body.get("metadata") or {}).get("generation")
        self.uid = str((body.get("metadata") or {}).get("uid") or "")
        self._replaced: collections.deque[str] = collections.deque(maxlen=16)  # resourceVersions our writes replaced
        self._load(body)
        self.triggers = Triggers(ctx)
        self.ticks = 0
        self._stopping = asyncio.Event()
        self._in_tick = False
        self._between_ticks = asyncio.Event()  # set while no tick runs (read_now waits on it)
        self._between_ticks.set()
        self.last: TickResult | None = None
        self.heartbeat = ctx.monotonic()  # when the latest iteration of `run` began
        self._nap: asyncio.Future[None] | None = None
        self._woken = False
        self._after_wake: Callable[[], None] | None = None

    def _load(self, body: Mapping[str, Any]) -> None:
        """The loop's memory from the ScaledObject's status: at creation, and again when this replica takes
        the Lease (a standby's loop was made from an older body; the leader before it moved on)."""
        ctx, spec = self.ctx, self.spec
        status = body.get("status") or {}
        self.state = decisions.ScaleState.from_status(status, creation_time=creation_time(body, ctx.clock()))
        if self.state.active and self.state.last_active_time is not None:
            # Saved while active: it may have stayed active for up to one refresh period after.
            self.state = dataclasses.replace(
                self.state,
                last_active_time=min(ctx.clock(), self.state.last_active_time + last_active_persist_seconds(spec)),
            )
        raw_ebb = status.get("ebb")
        ebb: Mapping[str, Any] = raw_ebb if isinstance(raw_ebb, Mapping) else {}
        self.hpa_state = hpa_state_from_status(ebb.get("hpa"))
        self._persisted_hpa = hpa_state_to_status(self.hpa_state) if ebb.get("hpa") else None
        self._persisted_at = ctx.monotonic()
        # The lastActiveTime (seconds) last written to status; None: not written by this loop yet.
        self._last_active_saved: float | None = None
        if self.state.active and self.state.last_active_time is not None:
            # Saved by the replica before: its refresh falls due within one refresh period, in its second
            # half, at a point spread by this object's phase — not with every active object's first tick
            # at once (a takeover or a restart would otherwise send one status write per active object
            # in the same second, while every loop's first tick is still to run).
            period = last_active_persist_seconds(spec)
            self._last_active_saved = ctx.clock() - period * (0.5 - self._phase_fraction() / 2)
        self._body: Mapping[str, Any] = body  # the latest body this loop wrote or was given

    def wake(self, ticked: Callable[[], None] | None = None) -> bool:
        """Tick now (this replica just took the Lease): a standby's loop naps until woken or its next turn.
        `ticked` is called once that tick is done. False when it was not napping (it ticks on its own)."""
        nap = self._nap
        if nap is None or nap.done():
            return False
        self._woken = True
        self._after_wake = ticked
        nap.cancel()
        return True

    async def _sleep(self, seconds: float) -> None:
        """The wait between turns; while standing by, one `wake` can cut it short."""
        if self.ctx.leading():
            await self.ctx.sleep(seconds)
            return
        nap = self._nap = asyncio.ensure_future(self.ctx.sleep(seconds))
        try:
            await nap
        except asyncio.CancelledError:
            if not (self._woken and nap.cancelled()) or asyncio.current_task().cancelling():  # type: ignore[union-attr]
                raise
        finally:
            self._nap = None

    @property
    def key(self) -> tuple[str, str]:
        return self.spec.namespace, self.spec.name

    @property
    def mode(self) -> specs.ScalingMode:
        return scaling_mode(self.spec, self.ctx.default_mode)

    def about(self) -> kube.ObjectRef:
        return kube.ObjectRef(specs.API_VERSION, specs.SCALED_OBJECT_KIND, self.spec.namespace, self.spec.name, self.uid)

    # -- running ----------------------------------------------------------------------------------

    def phase(self) -> float:
        """Where in its pollingInterval this loop ticks: a stable spread per object, so that loops started
        together (an operator start, a burst of creations) do not all tick in the same instant."""
        return self._phase_fraction() * self.spec.polling_interval

    def _phase_fraction(self) -> float:
        """A stable fraction in [0, 1) per object, for spreading its periodic work."""
        return zlib.crc32(f"{self.spec.namespace}/{self.spec.name}".encode()) / 2**32

    async def run(self) -> None:
        """Tick at once, then every pollingInterval on a fixed schedule (offset by `phase`), until stopped."""
        ctx = self.ctx
        interval = self.spec.polling_interval
        started = ctx.monotonic()
        anchor = started + self.phase()  # tick n ≥ 1 is due at anchor + n × interval

        def due(n: int) -> float:
            return started if n == 0 else anchor + n * interval

        count = 0
        standing_by = False
        try:
            while not self._stopping.is_set():
                if self._woken:
                    # Woken as this replica took the Lease: tick now, then on a schedule from here.
                    self._woken = False
                    started = ctx.monotonic()
                    anchor = started + self.phase()
                    count = 0
                scheduled = due(count)
                self.heartbeat = ctx.monotonic()
                drift = max(self.heartbeat - scheduled, 0.0)
                leading = ctx.leading()
                if ctx.metrics is not None and count > 0 and leading:
                    ctx.metrics.loop_drift(self.spec.namespace, self.spec.name, drift)
                if not leading:
                    # A standby keeps its scalers built (and their shared connections), so that its first
                    # tick after taking the Lease reads at once.
                    standing_by = True
                    # Let go of the body it was made from once the watch has a newer one: a standby would
                    # otherwise hold two bodies per object, and free them all in the takeover's first second.
                    self._body = self.latest_body()
                    with contextlib.suppress(Exception):
                        await self.triggers.refresh(self.spec)
                        await self.triggers.warm()
                elif standing_by:
                    standing_by = False
                    self._load(self.latest_body())
                if leading:
                    self._in_tick = True
                    self._between_ticks.clear()
                    try:
                        await self.tick()
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # one bad tick must not end the loop; the next one tries again
                        logger.exception("%s: the scale loop tick failed", self.spec.ref)
                        if self._initial is not None:  # the reconcile's status does not wait a whole interval
                            with contextlib.suppress(Exception):
                                await self._write_status(None)
                    finally:
                        self._in_tick = False
                        self._between_ticks.set()
                        if self._after_wake is not None:
                            after, self._after_wake = self._after_wake, None
                            after()
                count += 1
                # Skip the ticks a slow tick overran, keeping the schedule's phase.
                now = ctx.monotonic()
                next_at = due(count)
                if next_at < now:
                    count = max(math.ceil((now - anchor) / interval), 1)
                    next_at = due(count)
                if self._stopping.is_set():
                    break
                await self._sleep(max(next_at - now, 0.0))
        finally:
            await self.triggers.aclose()

    def request_stop(self) -> bool:
        """Ask the loop to stop; True when it is between ticks (safe to cancel at once)."""
        self._stopping.set()
        return not self._in_tick

    # -- one tick ---------------------------------------------------------------------------------

    async def tick(self) -> TickResult:
        ctx = self.ctx
        spec = self.spec
        tick_started = ctx.monotonic()
        await self.triggers.refresh(spec)
        observed = await self.triggers.read()
        readings = [o.reading for o in observed]
        now = ctx.clock()
        current, ready, status_replicas = await self._current()
        decision, hpa_result, desired = self._decide(spec, readings, current, ready, status_replicas, now)
        written = False
        write_error: str | None = None
        if desired is not None and desired != current:
            for _ in range(2):
                try:
                    await self._write(spec, desired, current)
                    written = True
                    break
                except StaleReplicas as stale:
                    # The watch lagged: decide again on the replicas the target really has.
                    current, status_replicas = stale.scale.replicas, stale.scale.status_replicas
                    ready = min(ready, status_replicas)
                    decision, hpa_result, desired = self._decide(
                        spec, readings, current, ready, status_replicas, now
                    )
                    if desired is None or desired == current:
                        break
                except (kube.ApiError, OutOfBounds) as error:
                    write_error = str(error)
                    break
            else:
                write_error = "the target's replicas kept changing under the write"
        replicas = desired if written and desired is not None else current

        self.state = decision.state
        if hpa_result is not None:
            self.hpa_state = hpa_result.state if (written or not hpa_result.rescale) else hpa_result.state_if_write_fails
        result = TickResult(decision, replicas, written, write_error, hpa_result)
        self.last = result
        self.ticks += 1
        await self._events(decision, write_error, desired, current)
        await self._write_status(decision)
        self._record(result, observed, current, now)
        if ctx.readings is not None:
            ctx.readings.put(self.reading_of(decision, readings, now))
        if ctx.metrics is not None:
            self._report(result, observed, tick_started)
        return result

    def reading_of(
        self, decision: decisions.Decision, polled: Sequence[decisions.TriggerReading], now: float
    ) -> readings.Reading:
        """What the external metrics API serves from this tick: the HPA's values and why others have none."""
        spec = self.spec
        errors = {r.metric_name: r.error for r in polled if r.error is not None and r.metric_name in decision.failing_metrics}
        names = [metric for metric, _, _ in self._hpa_metrics(spec)]
        if decisions.COMPOSITE_METRIC in decision.failing_metrics:
            errors[decisions.COMPOSITE_METRIC] = "; ".join(
                r.error for r in polled if r.error is not None
            ) or "the scalingModifiers formula gave no value"
        return readings.Reading(
            namespace=spec.namespace,
            name=spec.name,
            taken_at=now,
            polling_interval=float(spec.polling_interval),
            values=dict(decision.metric_values),
            errors=errors,
            metrics=tuple(names),
        )

    async def read_now(self) -> readings.Reading | None:
        """Read the triggers once, outside the schedule, for a reading that is missing or stale: decided on
        (fallback, formula) but nothing written and the loop's state left as it is. While a tick is in
        flight, its own reading is awaited instead of a second read."""
        if self._in_tick:
            await self._between_ticks.wait()
            return self.ctx.readings.get(*self.key) if self.ctx.readings is not None else None
        spec = self.spec
        await self.triggers.refresh(spec)
        polled = [o.reading for o in await self.triggers.read()]
        now = self.ctx.clock()
        current, ready, _ = await self._current()
        decision = decisions.decide(spec, polled, current, self.state, now, ready_replicas=ready)
        return self.reading_of(decision, polled, now)

    def _decide(
        self,
        spec: specs.ScaledObjectSpec,
        readings: Sequence[decisions.TriggerReading],
        current: int,
        ready: int,
        status_replicas: int,
        now: float,
    ) -> tuple[decisions.Decision, hpa.SyncResult | None, int | None]:
        decision = decisions.decide(spec, readings, current, self.state, now, ready_replicas=ready)
        desired = decision.replicas
        hpa_result: hpa.SyncResult | None = None
        if self.mode is specs.ScalingMode.DIRECT and decision.replicas is None and decision.scale_with_hpa:
            hpa_result = self._hpa_sync(spec, decision, current, status_replicas, ready, now)
            if hpa_result is not None and hpa_result.rescale:
                desired = hpa_result.replicas
        return decision, hpa_result, desired

    def _hpa_metrics(self, spec: specs.ScaledObjectSpec) -> list[tuple[str, str, float]]:
        modifiers = spec.advanced.scaling_modifiers
        if modifiers is not None:
            return [(decisions.COMPOSITE_METRIC, modifiers.metric_type.value, modifiers.target)]
        found = []
        for index, metric in sorted(self.triggers.metrics().items()):
            if metric.source is base.MetricSource.EXTERNAL:
                found.append((metric.name, metric.target_type, metric.target))
            del index
        return found

    def _hpa_sync(
        self,
        spec: specs.ScaledObjectSpec,
        decision: decisions.Decision,
        current: int,
        status_replicas: int,
        ready: int,
        now: float,
    ) -> hpa.SyncResult | None:
        metrics = self._hpa_metrics(spec)
        if not metrics:
            return None  # cpu/memory only: direct mode has no metrics-server to ask
        values = decision.metric_values
        fed = [
            hpa.MetricReading(name, kind, target, (values[name],))
            if name in values
            else hpa.MetricReading(name, kind, target, None, "no value: the last poll failed for it")
            for name, kind, target in metrics
        ]
        behavior = hpa_manifests.hpa_behavior(spec)
        try:
            return hpa.sync(
                metrics=fed,
                spec_replicas=current,
                status_replicas=status_replicas,
                ready_pods=ready,
                total_pods=max(status_replicas, ready),
                min_replicas=hpa_manifests.hpa_min_replicas(spec),
                max_replicas=spec.max_replica_count,
                behavior=behavior,
                state=self.hpa_state,
                now=now,
            )
        except (hpa.BehaviorError, ValueError) as error:
            logger.warning("%s: direct mode cannot compute replicas: %s", spec.ref, error)
            return None

    async def _current(self) -> tuple[int, int, int]:
        """(spec replicas, ready pods, status replicas) of the target."""
        target = kube.Target.of(self.spec)
        body = self.ctx.watched.workload(target)
        if body is not None:
            spec = body.get("spec") or {}
            status = body.get("status") or {}
            replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
            return replicas, int(status.get("readyReplicas") or 0), int(status.get("replicas") or 0)
        deadline = self.ctx.monotonic() + self.ctx.write_deadline
        scale = await kube.retrying(
            lambda: self.ctx.api.read_scale(target), deadline=deadline, clock=self.ctx.monotonic, sleep=self.ctx.sleep
        )
        return scale.replicas, scale.status_replicas, scale.status_replicas

    async def _write(self, spec: specs.ScaledObjectSpec, replicas: int, expected: int) -> kube.Scale:
        check_bounds(spec, replicas, self.mode)
        ctx = self.ctx
        target = kube.Target.of(spec)
        deadline = ctx.monotonic() + ctx.write_deadline

        async def attempt() -> kube.Scale:
            while True:
                scale = await kube.retrying(
                    lambda: ctx.api.read_scale(target), deadline=deadline, clock=ctx.monotonic, sleep=ctx.sleep
                )
                if scale.replicas != expected:
                    raise StaleReplicas(scale)
                try:
                    return await kube.retrying(
                        functools.partial(ctx.api.write_scale, target, scale, replicas),
                        deadline=deadline,
                        clock=ctx.monotonic,
                        sleep=ctx.sleep,
                    )
                except kube.ApiError as error:
                    if not error.conflict or ctx.monotonic() >= deadline:
                        raise
                    # 409: someone wrote in between; read again and retry.

        return await attempt()

    # -- reporting --------------------------------------------------------------------------------

    async def _events(
        self, decision: decisions.Decision, write_error: str | None, desired: int | None, current: int
    ) -> None:
        about = self.about()
        for event in decision.events:
            type_, reason, message = event.type, event.reason, event.message
            if write_error is not None and reason in ("KEDAScaleTargetActivated", "KEDAScaleTargetDeactivated"):
                type_ = "Warning"
                reason = reason.replace("Activated", "ActivationFailed").replace("Deactivated", "DeactivationFailed")
                message = f"Failed to scale {self.spec.scale_target_ref.kind} {self.spec.namespace}/{self.spec.scale_target_ref.name} to {desired}: {write_error}"
            await self._post(about, type_, reason, self._mask(message))
        if (
            decision.replicas is None
            and desired is not None
            and desired != current
            and write_error is None
            and self.mode is specs.ScalingMode.DIRECT
        ):
            await self._post(
                about,
                "Normal",
                "EbbScaled",
                f"Scaled {self.spec.scale_target_ref.kind} {self.spec.namespace}/{self.spec.scale_target_ref.name} from {current} to {desired} (direct mode)",
            )

    async def _post(self, about: kube.ObjectRef, type_: str, reason: str, message: str) -> None:
        try:
            await self.ctx.api.post_event(about, type_, reason, message)
        except kube.ApiError as error:
            logger.warning("%s: could not post Event %s: %s", self.spec.ref, reason, error)

    def _mask(self, text: str) -> str:
        return trigger_checks.mask(text, self.triggers.secrets())

    def latest_body(self) -> Mapping[str, Any]:
        """The newest body this loop knows. resourceVersions are opaque (equality only): the watched body
        wins unless it is one this loop's own writes have replaced (the watch has not caught up yet). A
        watched body that is older still only costs a 409 on the guarded write, which reads again."""
        watched = self.ctx.watched.get(kube.SCALED_OBJECT, self.spec.namespace, self.spec.name)
        if watched is None:
            return self._body
        rv = _rv(watched)
        if rv == _rv(self._body) or rv in self._replaced:
            return self._body
        return watched

    def _wrote(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        """Our write turned `before` into `after`: the watch may still show `before` for a while."""
        for old in (before, self._body):
            if _rv(old) and _rv(old) != _rv(after) and _rv(old) not in self._replaced:
                self._replaced.append(_rv(old))
        self._body = after

    def _wanted_status(self, decision: decisions.Decision | None, status: Mapping[str, Any]) -> dict[str, Any]:
        """What status must change to: the starting reconcile's update (if still pending) and, with a
        `decision`, this tick's conditions, activity, health, HPA state and lastActiveTime."""
        if decision is None:
            return (self._initial or NO_UPDATE).wanted(status)
        updates = decision.conditions.set()
        hpa_active = self._hpa_active()
        if hpa_active is not None:
            updates = (*updates, hpa_active)
        wanted = (self._initial or NO_UPDATE).wanted(status, updates)
        state = decision.state.to_status()
        last_active = state.get("lastActiveTime")
        last_active_changed = last_active is not None and last_active != status.get("lastActiveTime")
        refresh_due = last_active_changed and self._last_active_refresh_due(decision.state)
        if self.spec.fallback is not None:
            health = state.get("health") or {}
            if health != (status.get("health") or {}):
                wanted["health"] = health
        activity = {metric: {"isActive": active} for metric, active in decision.triggers_activity.items()}
        if activity and activity != (status.get("triggersActivity") or {}):
            wanted["triggersActivity"] = activity
        if self.mode is specs.ScalingMode.DIRECT:
            persisted = hpa_state_to_status(self.hpa_state)
            events_changed = self._persisted_hpa is None or (
                persisted["scaleUpEvents"] != self._persisted_hpa["scaleUpEvents"]
                or persisted["scaleDownEvents"] != self._persisted_hpa["scaleDownEvents"]
                or [r for _, r in persisted["recommendations"]] != [r for _, r in self._persisted_hpa["recommendations"]]
            )
            due = self.ctx.monotonic() - self._persisted_at >= DIRECT_STATE_PERSIST_SECONDS
            if persisted != self._persisted_hpa and (events_changed or due or refresh_due or wanted):
                wanted["ebb"] = {"hpa": persisted}
        if last_active_changed and (refresh_due or wanted):  # a write going out anyway carries the exact time
            wanted["lastActiveTime"] = last_active
        return wanted

    def _last_active_refresh_due(self, state: decisions.ScaleState) -> bool:
        """Whether lastActiveTime has moved a whole refresh period past what this loop last wrote."""
        if state.last_active_time is None:
            return False
        saved = self._last_active_saved
        return saved is None or state.last_active_time - saved >= last_active_persist_seconds(self.spec)

    def _hpa_active(self) -> decisions.Condition | None:
        """KEDA's HPAActive, mirrored from the watched HPA this ScaledObject owns (HPA mode only)."""
        if self.mode is not specs.ScalingMode.HPA:
            return None
        body = self.ctx.watched.get(kube.HPA, self.spec.namespace, self.spec.hpa_name)
        if body is None:
            return None
        return decisions.hpa_active_condition((body.get("status") or {}).get("conditions"))

    async def _write_status(self, decision: decisions.Decision | None) -> None:
        """Write what `_wanted_status` finds different (None: only the starting reconcile's update)."""
        ctx = self.ctx
        deadline = ctx.monotonic() + ctx.write_deadline
        body = self.latest_body()
        for _ in range(4):
            wanted = self._wanted_status(decision, body.get("status") or {})
            if not wanted:
                self._initial = None
                return
            # Conditions are shared with the reconciler: guard them with the resourceVersion they were
            # merged into. The other fields are this loop's alone.
            rv = _rv(body) if "conditions" in wanted else None
            try:
                written = await kube.retrying(
                    functools.partial(
                        ctx.api.patch_scaled_object_status,
                        self.spec.namespace,
                        self.spec.name,
                        wanted,
                        resource_version=rv,
                    ),
                    deadline=deadline,
                    clock=ctx.monotonic,
                    sleep=ctx.sleep,
                )
                self._wrote(body, written)
                self._initial = None
                if "ebb" in wanted:
                    self._persisted_hpa = wanted["ebb"]["hpa"]
                    self._persisted_at = ctx.monotonic()
                if "lastActiveTime" in wanted and decision is not None:
                    self._last_active_saved = decision.state.last_active_time
                return
            except kube.ApiError as error:
                if error.conflict and ctx.monotonic() < deadline:
                    with contextlib.suppress(kube.ApiError):
                        body = await ctx.api.get_scaled_object(self.spec.namespace, self.spec.name)
                    continue
                # Not lost: the next tick compares again and re-sends what is still different.
                logger.warning("%s: status write failed: %s", self.spec.ref, error)
                return

    def _explanation(self, result: TickResult) -> str:
        """The decision's one line; in direct mode it also says what the operator's own HPA calculation did
        (in place of the decision core's hand-over to an HPA, or after it when there is none)."""
        text = result.decision.explanation
        if result.hpa_result is None:
            return text
        computed = f"1↔N in direct mode: {result.hpa_result.explanation}"
        if decisions.HPA_HANDOFF in text:
            return text.replace(decisions.HPA_HANDOFF, computed)
        return f"{text}; {computed}"

    def _record(self, result: TickResult, observed: Sequence[Observed], current: int, now: float) -> None:
        sink = self.ctx.decision_log
        if sink is None:
            return
        decision = result.decision
        entry: dict[str, Any] = {
            "time": decisions.format_time(now),
            "timestamp": round(now, 3),
            "mode": self.mode.value,
            "reason": decision.reason.value,
            "explanation": self._mask(self._explanation(result)),
            "active": decision.active,
            "currentReplicas": current,
            "replicas": result.replicas,
            "written": result.written,
            "triggers": [
                {
                    "index": o.reading.index,
                    "name": o.trigger.name,
                    "type": o.trigger.type,
                    "metric": o.reading.metric_name,
                    "value": o.reading.value,
                    "active": o.reading.active,
                    "error": None if o.reading.error is None else self._mask(o.reading.error),
                    "target": o.reading.target,
                    "activation": o.reading.activation,
                    "latencySeconds": round(o.latency, 6),
                }
                for o in observed
            ],
            "metricValues": dict(decision.metric_values),
            "state": decision.state.to_status(),
        }
        if result.hpa_result is not None:
            entry["hpa"] = {
                "reason": result.hpa_result.reason.value,
                "explanation": result.hpa_result.explanation,
                "replicas": result.hpa_result.replicas,
            }
        if result.write_error is not None:
            entry["writeError"] = self._mask(result.write_error)
        try:
            sink.record(self.spec.namespace, self.spec.name, entry, handed_over=True)  # built for it alone
        except Exception:  # the log is for people; it must not stop scaling
            logger.exception("%s: recording the decision failed", self.spec.ref)

    def _report(self, result: TickResult, observed: Sequence[Observed], tick_started: float) -> None:
        metrics = self.ctx.metrics
        assert metrics is not None
        ns, name = self.spec.namespace, self.spec.name
        try:
            for o in observed:
                trigger_name = o.trigger.name
                if o.reading.error is not None or o.reading.value is None:
                    metrics.trigger_failed(ns, name, o.trigger.index, trigger_name, o.trigger.type, o.reading.metric_name)
                else:
                    metrics.trigger_observed(
                        ns,
                        name,
                        o.trigger.index,
                        trigger_name,
                        o.trigger.type,
                        o.reading.metric_name,
                        float(o.reading.value),
                        bool(o.reading.active),
                        o.latency,
                    )
            if result.write_error is not None:
                metrics.scaled_object_failed(ns, name)
            metrics.paused(ns, name, False)
            metrics.decided(ns, name, result.decision.reason.value)
            if result.written and result.decision.reason in (
                decisions.Reason.ACTIVATED_FROM_ZERO,
                decisions.Reason.ACTIVATED_FROM_IDLE,
                decisions.Reason.FORCE_ACTIVATED,
            ):
                metrics.activation_latency(ns, name, self.ctx.monotonic() - tick_started)
        except Exception:
            logger.exception("%s: reporting metrics failed", self.spec.ref)


class OutOfBounds(Exception):
    """A replica count outside the ScaledObject's bounds reached the write: refused."""


def check_bounds(spec: specs.ScaledObjectSpec, replicas: int, mode: specs.ScalingMode) -> None:
    """Refuse any write outside what the ScaledObject allows (a last guard; the decision already obeys)."""
    pause = spec.pause
    if pause.paused_replicas is not None:
        if replicas != pause.paused_replicas:
            raise OutOfBounds(f"{spec.ref}: {replicas} replicas while paused at {pause.paused_replicas}")
        return
    allowed_low = {0, spec.idle_replica_count if spec.idle_replica_count is not None else 0}
    if replicas < 0 or replicas > spec.max_replica_count:
        raise OutOfBounds(f"{spec.ref}: {replicas} replicas is outside 0..maxReplicaCount {spec.max_replica_count}")
    if replicas < spec.min_replica_count and replicas not in allowed_low:
        raise OutOfBounds(
            f"{spec.ref}: {replicas} replicas is below minReplicaCount {spec.min_replica_count}"
        )


# --------------------------------------------------------------------------------------------------
# The running loops.
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Running:
    loop: ScaleLoop
    task: asyncio.Task[None]


class Loops:
    """One running `ScaleLoop` per ScaledObject, keyed by (namespace, name).

    One writer per object: `ensure` and `stop` of one key hold that key's lock for their whole run, so a
    second `ensure` (the HPA watch's reconcile racing the ScaledObject's own) waits until the first one
    has stopped the old loop and recorded the new one; it can never start a loop that the first then
    overwrites and orphans. `stop(key, retire=uid)` (deletion) also refuses any later `ensure` of that
    uid, so a reconcile that was already under way cannot bring a deleted ScaledObject's loop back."""

    def __init__(self, ctx: LoopContext, *, stop_timeout: float = 5.0) -> None:
        self.ctx = ctx
        self._running: dict[tuple[str, str], _Running] = {}
        # Held only while some coroutine uses them: an idle key's lock is collected.
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()
        self._retired: dict[tuple[str, str], str] = {}
        self.stop_timeout = stop_timeout
        self.starts = 0

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._running

    def __len__(self) -> int:
        return len(self._running)

    def get(self, key: tuple[str, str]) -> ScaleLoop | None:
        running = self._running.get(key)
        return running.loop if running is not None else None

    def items(self) -> list[tuple[tuple[str, str], ScaleLoop]]:
        return [(key, running.loop) for key, running in self._running.items()]

    def stalled(self) -> list[str]:
        """The loops whose tick is overdue: not begun within two polling intervals plus `STALL_SECONDS`
        of the previous one (a tick reads triggers within their timeout and writes within deadlines)."""
        now = self.ctx.monotonic()
        return [
            f"{key[0]}/{key[1]}"
            for key, running in self._running.items()
            if not running.task.done() and now - running.loop.heartbeat > 2 * running.loop.spec.polling_interval + STALL_SECONDS
        ]

    def _lock(self, key: tuple[str, str]) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def ensure(
        self, spec: specs.ScaledObjectSpec, body: Mapping[str, Any], initial: StatusUpdate | None = None
    ) -> bool:
        """Run a loop for `spec`: start it, restart it when the generation changed, else hand the running
        loop the new spec (annotation changes). True when a loop was (re)started. `initial`: status a
        started loop writes with its first tick's; when no loop starts it is not written here."""
        key = (spec.namespace, spec.name)
        meta = body.get("metadata") or {}
        generation = meta.get("generation")
        async with self._lock(key):
            uid = str(meta.get("uid") or "")
            if meta.get("deletionTimestamp") or (uid and self._retired.get(key) == uid):
                await self._stop(key)
                return False
            self._retired.pop(key, None)  # a new object of the same name
            running = self._running.get(key)
            if running is not None and not running.task.done() and running.loop.generation == generation:
                running.loop.spec = spec
                return False
            if running is not None:
                await self._stop(key)
            loop = ScaleLoop(spec, body, self.ctx, initial)
            task = asyncio.create_task(loop.run(), name=f"scale-loop {spec.namespace}/{spec.name}")
            self._running[key] = _Running(loop, task)
            self.starts += 1
            return True

    async def stop(self, key: tuple[str, str], *, retire: str | None = None) -> None:
        """Stop the loop of `key` (a tick in flight finishes within `stop_timeout`). `retire`: the uid of a
        ScaledObject being deleted; no loop is started for it again."""
        async with self._lock(key):
            if retire:
                self._retired[key] = retire
            await self._stop(key)

    async def _stop(self, key: tuple[str, str]) -> None:
        running = self._running.pop(key, None)
        if running is None:
            return
        idle = running.loop.request_stop()
        if not idle:
            # Let the tick in flight finish its writes, within a bound.
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(running.task), self.stop_timeout)
        if not running.task.done():
            running.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await running.task
        if self.ctx.metrics is not None:
            with contextlib.suppress(Exception):
                self.ctx.metrics.forget(*key)

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(key) for key in list(self._running)))

    def wake_all(self) -> int:
        """Every standing-by loop ticks now (this replica took the Lease); how many were woken. Once each
        of them has ticked, a log line says how long that took."""
        began = self.ctx.monotonic()
        woken = 0
        left = 0

        def ticked() -> None:
            nonlocal left
            left -= 1
            if left == 0:
                logger.info("every one of %d woken scale loops ticked %.2f s after the Lease was taken",
                            woken, self.ctx.monotonic() - began)

        for running in list(self._running.values()):
            if running.loop.wake(ticked):
                woken += 1
                left += 1
        return woken

    async def quiesce(self, grace: float) -> bool:
        """Wait (up to `grace` seconds) until no loop is in a tick: after the Lease is lost, the ticks in
        flight end (their writes are refused by the fence) and no new one starts. False when some tick was
        still running after `grace`."""
        waits = [asyncio.ensure_future(r.loop._between_ticks.wait()) for r in self._running.values() if r.loop._in_tick]
        if not waits:
            return True
        _done, pending = await asyncio.wait(waits, timeout=grace)
        for waiting in pending:
            waiting.cancel()
        return not pending

    def abandon(self) -> None:
        """Cancel every loop at once, tick or not (a lost Lease whose orderly stop overran its margin)."""
        running, self._running = self._running, {}
        for key, item in running.items():
            item.loop.request_stop()
            item.task.cancel()
            if self.ctx.metrics is not None:
                with contextlib.suppress(Exception):
                    self.ctx.metrics.forget(*key)

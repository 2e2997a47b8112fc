"""Reconciling a ScaledObject as KEDA's controller does (keda-semantics §2.1), as plain async functions.

`reconcile(ctx, body)` takes the ScaledObject as the watch delivered it and, in KEDA's order:
initialises the conditions; parses and validates it (`specs`), including the rules that need other
objects — another ScaledObject or HPA targeting the same workload (reported as `Ready=False`, since
there is no admission webhook), each trigger's parameters through the scaler registry with its
authentication resolved (`trigger_checks`) — so an invalid ScaledObject gets `Ready=False` with the
field-level message and a Warning Event, and nothing else is disturbed; handles the pause annotations
(stop the loop, delete the HPA, scale to paused-replicas); puts the `scaledobject.keda.sh/name` label
on it; checks the target through its `/scale` subresource and records `scaleTargetKind`,
`scaleTargetGVKR` and `originalReplicaCount`; writes `externalMetricNames`, `triggersTypes`,
`authenticationsTypes`; in HPA mode creates or updates the HPA exactly as `hpa_manifests` builds it
(and deletes it in direct mode or when renamed); (re)starts the scale loop — restarted only when the
generation changed — and finally sets `Ready=True`. The status fields and `Ready=True` of a ScaledObject
that gets a new loop are handed to that loop (`scale_loop.StatusUpdate`), whose first tick writes them
with its own in one status write; with a loop already running they are written here.

`finalize(ctx, body)` runs on deletion: stops the loop, restores `originalReplicaCount` when
`advanced.restoreToOriginalReplicaCount` asks for it, deletes the HPA.

The result says whether to retry (a missing target or a referenced object not seen yet) — the work
queue (`handlers.Reconciler`) turns that into a retry after a delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import functools
import logging
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from scaler.core import decisions, hpa_manifests, problems, specs
from scaler.operator import event_recorder, kube, scale_loop
from scaler.triggers import trigger_checks
from scalers import base, registry

logger = logging.getLogger("ebb.reconcile")

EBB_VERSION = "ebb-0.1.0"
# KEDA's finalizer: the deletion waits until the loop stopped, the HPA is gone and replicas are restored.
FINALIZER = "finalizer.keda.sh"

_UNKNOWN_READY = decisions.Condition("Ready", "Unknown", "", "")
INITIAL_CONDITIONS = (
    decisions.Condition("Ready", "Unknown", "", ""),
    decisions.Condition("Active", "Unknown", "", ""),
    decisions.Condition("Fallback", "Unknown", "", ""),
    decisions.Condition("Paused", "False", "", ""),
)
READY = decisions.Condition(
    "Ready", "True", "ScaledObjectReady", "ScaledObject is defined correctly and is ready for scaling"
)
ACTIVE_UNKNOWN = decisions.Condition("Active", "Unknown", "UnknownState", "ScaledObject check failed")
PAUSED = decisions.Condition("Paused", "True", "ScaledObjectPaused", "ScaledObject is paused")
UNPAUSED = decisions.Condition("Paused", "False", "ScaledObjectUnpaused", "pause annotation removed for ScaledObject")


class Outcome(str, enum.Enum):
    READY = "ready"
    INVALID = "invalid"  # Ready=False; checked again with backoff and when anything it may depend on changes
    RETRY = "retry"  # Ready=False for now; try again shortly (target or referenced object missing)
    PAUSED = "paused"


@dataclasses.dataclass(frozen=True)
class Result:
    outcome: Outcome
    message: str = ""
    body: Mapping[str, Any] | None = None


@dataclasses.dataclass
class Context:
    """What reconciling needs: the API, the watched objects, the running loops and the settings."""

    api: kube.Kube
    watched: kube.Watched
    loops: scale_loop.Loops
    scalers: registry.Registry
    default_mode: specs.ScalingMode = specs.ScalingMode.HPA
    cluster_object_namespace: str = "keda"
    version: str = EBB_VERSION
    write_deadline: float = 5.0
    # Put on every ScaledObject reconciled (None: none, for callers that finalize some other way).
    finalizer: str | None = FINALIZER
    # Events posted in the background (None: each awaited in place).
    events: event_recorder.EventRecorder | None = None

    locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = dataclasses.field(
        default_factory=weakref.WeakValueDictionary
    )

    def __post_init__(self) -> None:
        # The conflict check looks objects up by workload and HPA name instead of scanning the namespace
        # (a scan per reconcile is O(N²) over a start-up of N ScaledObjects).
        self.watched.add_index(kube.SCALED_OBJECT, _BY_TARGET, _scaled_object_target_key)
        self.watched.add_index(kube.SCALED_OBJECT, _BY_HPA_NAME, _scaled_object_hpa_key)
        self.watched.add_index(kube.HPA, _BY_TARGET, _hpa_target_key)

    @property
    def metrics(self) -> scale_loop.Metrics | None:
        return self.loops.ctx.metrics

    def lock(self, key: tuple[str, str]) -> asyncio.Lock:
        """The lock of one ScaledObject's reconcile and finalize (collected when nobody holds it)."""
        found = self.locks.get(key)
        if found is None:
            found = asyncio.Lock()
            self.locks[key] = found
        return found


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _status(body: Mapping[str, Any]) -> Mapping[str, Any]:
    status = body.get("status")
    return status if isinstance(status, Mapping) else {}


def _condition(body: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for item in _status(body).get("conditions") or []:
        if isinstance(item, Mapping) and item.get("type") == kind:
            return item
    return None


def about(body: Mapping[str, Any]) -> kube.ObjectRef:
    meta = _meta(body)
    return kube.ObjectRef(
        specs.API_VERSION,
        specs.SCALED_OBJECT_KIND,
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
        str(meta.get("uid") or ""),
    )


async def _event(ctx: Context, body: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
    if ctx.events is not None:
        ctx.events.record(about(body), type_, reason, message)
        return
    try:
        await ctx.api.post_event(about(body), type_, reason, message)
    except kube.ApiError as error:
        logger.warning("could not post Event %s: %s", reason, error)


async def patch_status(
    ctx: Context,
    body: Mapping[str, Any],
    fields: Mapping[str, Any] | None = None,
    conditions: Sequence[decisions.Condition] = (),
) -> Mapping[str, Any]:
    """Merge `fields` and `conditions` into the ScaledObject's status if anything differs; the body after.

    Conditions are merged into the latest list and written with its resourceVersion; a 409 re-reads. A
    ScaledObject without conditions gets KEDA's initial ones (`INITIAL_CONDITIONS`) under `conditions` in
    the same write, not in a write of their own."""
    return (await _patch_status(ctx, body, fields, conditions))[0]


async def _patch_status(
    ctx: Context,
    body: Mapping[str, Any],
    fields: Mapping[str, Any] | None = None,
    conditions: Sequence[decisions.Condition] = (),
) -> tuple[Mapping[str, Any], bool]:
    """`patch_status`, and whether it wrote (False: the latest status already said so)."""
    ref = about(body)
    update = scale_loop.StatusUpdate(fields or {}, tuple(conditions), defaults=INITIAL_CONDITIONS)
    for _ in range(5):
        wanted = update.wanted(_status(body))
        if not wanted:
            return body, False
        rv = str(_meta(body).get("resourceVersion") or "") if "conditions" in wanted else None
        try:
            return await kube.retrying(
                functools.partial(
                    ctx.api.patch_scaled_object_status, ref.namespace, ref.name, wanted, resource_version=rv
                ),
                deadline=_deadline(ctx),
            ), True
        except kube.ApiError as error:
            if not error.conflict:
                raise
            body = await ctx.api.get_scaled_object(ref.namespace, ref.name)
    raise kube.ApiError(409, "Conflict", "the ScaledObject kept changing while its status was written")


def _deadline(ctx: Context) -> float:
    return ctx.loops.ctx.monotonic() + ctx.write_deadline


async def _fail(
    ctx: Context, body: Mapping[str, Any], message: str, outcome: Outcome = Outcome.INVALID
) -> Result:
    """Ready=False ScaledObjectCheckFailed with `message`, Active=Unknown, and a Warning Event."""
    message = problems.escape(message)  # one line, whatever the object quotes (issue 9)
    ready = decisions.Condition("Ready", "False", "ScaledObjectCheckFailed", message)
    previous = _condition(body, "Ready")
    body, wrote = await _patch_status(ctx, body, conditions=(ready, ACTIVE_UNKNOWN))
    # Once per failure: not again when the latest status (re-read after a 409) already says it.
    if wrote and (previous is None or previous.get("message") != message or previous.get("status") != "False"):
        await _event(ctx, body, "Warning", "ScaledObjectCheckFailed", message)
    if ctx.metrics is not None:
        with contextlib.suppress(Exception):
            ctx.metrics.scaled_object_failed(about(body).namespace, about(body).name)
    return Result(outcome, message, body)


# More triggers than this are checked in a thread too (32 cron triggers: ~2 ms).
INLINE_CHECK_MAX_TRIGGERS = 8


def _checked_in_a_thread(body: Mapping[str, Any]) -> bool:
    """Whether the spec check may take long: a scalingModifiers formula (test-run by golem), or many
    triggers. Read off the raw body, before anything is parsed."""
    spec = body.get("spec")
    if not isinstance(spec, Mapping):
        return False
    advanced = spec.get("advanced")
    triggers = spec.get("triggers")
    return (isinstance(advanced, Mapping) and "scalingModifiers" in advanced) or (
        isinstance(triggers, Sequence) and len(triggers) > INLINE_CHECK_MAX_TRIGGERS
    )


def _check_crashed(namespace: str, name: str, field: str, error: Exception) -> str:
    # The exception's text may quote a parameter (or a secret): only its type is shown; logged without it.
    logger.warning("ScaledObject %s/%s: checking %s failed with %s", namespace, name, field, type(error).__name__)
    return f"ScaledObject {namespace}/{name} is invalid: {field}: could not be checked ({type(error).__name__})"


def _problem_text(found: Sequence[problems.Problem]) -> str:
    return "; ".join(f"{p.field}: {p.message}" for p in found)


async def reconcile(ctx: Context, body: Mapping[str, Any]) -> Result:
    """One reconcile of a ScaledObject (see the module docstring); one at a time per ScaledObject (a queued
    reconcile and a finalize may ask at once)."""
    meta = _meta(body)
    key = (str(meta.get("namespace") or "default"), str(meta.get("name") or ""))
    async with ctx.lock(key):
        return await _reconcile(ctx, body)


async def _reconcile(ctx: Context, body: Mapping[str, Any]) -> Result:
    meta = _meta(body)
    namespace, name = str(meta.get("namespace") or "default"), str(meta.get("name") or "")
    key = (namespace, name)
    if not _status(body).get("conditions"):
        # KEDA's initial conditions go with the first status this reconcile writes (`patch_status`); only
        # if it stops before one are they written alone — with the resourceVersion read, so that they
        # never replace conditions written meanwhile (a 409 then, ignored).
        try:
            return await _checked(ctx, body, namespace, name, key)
        except Exception:
            initial = {"conditions": scale_loop.merge_conditions(None, INITIAL_CONDITIONS)}
            with contextlib.suppress(Exception):
                await ctx.api.patch_scaled_object_status(
                    namespace, name, initial, resource_version=str(meta.get("resourceVersion") or "")
                )
            raise
    return await _checked(ctx, body, namespace, name, key)


async def _checked(
    ctx: Context, body: Mapping[str, Any], namespace: str, name: str, key: tuple[str, str]
) -> Result:
    meta = _meta(body)
    if (
        ctx.finalizer
        and ctx.finalizer not in (meta.get("finalizers") or ())
        and not meta.get("deletionTimestamp")
        and not ctx.loops.ctx.leading()
    ):
        # A standby cannot write the finalizer this new ScaledObject needs first: it waits (until the
        # leader has reconciled it, or until the takeover) without checking a spec it would check again.
        raise kube.NotLeading(f"the finalizer of ScaledObject {namespace}/{name}")
    try:
        if _checked_in_a_thread(body):
            # The check is pure, and its costliest part (a formula's test run in golem, up to its
            # deadline) releases the GIL, so a hostile object does not hold up the other loops (issue 9).
            spec, found = await asyncio.to_thread(specs.check_scaled_object, body, default_namespace=namespace)
        else:
            # Well under a millisecond, even for the 1.3 MB hostile object: the thread's hand-offs and
            # the loop waiting for the GIL cost more than the check (10,000 at an operator's start).
            spec, found = specs.check_scaled_object(body, default_namespace=namespace)
    except Exception as error:  # a bug on hostile input: Ready=False once, not a traceback per retry
        await ctx.loops.stop(key)
        body = await ensure_metadata(ctx, body, label=False)
        return await _fail(ctx, body, _check_crashed(namespace, name, "spec", error))
    if spec is None:
        await ctx.loops.stop(key)
        body = await ensure_metadata(ctx, body, label=False)
        errors = [p for p in found if p.severity is problems.Severity.ERROR]
        return await _fail(ctx, body, f"ScaledObject {namespace}/{name} is invalid: {_problem_text(errors)}")

    if spec.pause.paused or spec.pause.paused_replicas is not None:
        body = await ensure_metadata(ctx, body, label=False)
        return await _pause(ctx, spec, body)

    body = await ensure_metadata(ctx, body, label=True)

    # The target, through its /scale subresource.
    target = kube.Target.of(spec)
    # A Deployment or StatefulSet the watch delivered exists: its replicas are read from the cache, not
    # from /scale (one GET fewer per ScaledObject when thousands start at once).
    workload = ctx.watched.workload(target)
    try:
        plural = await ctx.api.resource_of(target)
        if workload is not None and not _meta(workload).get("deletionTimestamp"):
            replicas = int((workload.get("spec") or {}).get("replicas") or 0)
        else:
            replicas = (await kube.retrying(lambda: ctx.api.read_scale(target), deadline=_deadline(ctx))).replicas
    except kube.ApiError as error:
        if error.not_found:
            why = f"{target.gvk} {namespace}/{target.name} does not exist or has no /scale subresource"
        else:
            # The API server's message says who may not do what (a 403 names the user, verb and resource).
            detail = f": {error.message}" if error.message else ""
            why = f"{target.gvk} {namespace}/{target.name} cannot be read: {error.status} {error.reason}{detail}"
        return await _fail(
            ctx, body, f"ScaledObject doesn't have correct scaleTargetRef specification: spec.scaleTargetRef: {why}", Outcome.RETRY
        )

    conflicts = _conflicts(ctx, spec, body)
    if conflicts:
        await ctx.loops.stop(key)
        return await _fail(ctx, body, f"ScaledObject {namespace}/{name} is invalid: {conflicts}")

    try:
        checked = _check_triggers(ctx, spec)
    except Exception as error:  # as above: deterministic, so reported once and not retried
        await ctx.loops.stop(key)
        return await _fail(ctx, body, _check_crashed(namespace, name, "spec.triggers", error))
    if checked.errors:
        await ctx.loops.stop(key)
        message = f"ScaledObject {namespace}/{name} is invalid: {_problem_text(checked.errors)}"
        return await _fail(ctx, body, message, Outcome.RETRY if checked.missing else Outcome.INVALID)

    mode = scale_loop.scaling_mode(spec, ctx.default_mode)
    status = _status(body)
    fields: dict[str, Any] = {
        "scaleTargetKind": target.gvk,
        "scaleTargetGVKR": {"group": target.group, "version": target.version, "kind": target.kind, "resource": plural},
        "externalMetricNames": checked.external_names or None,
        "resourceMetricNames": checked.resource_names or None,
        "compositeScalerName": decisions.COMPOSITE_METRIC if spec.advanced.scaling_modifiers else None,
        "triggersTypes": ",".join(dict.fromkeys(t.type for t in spec.triggers)),
        "authenticationsTypes": ",".join(
            dict.fromkeys(t.authentication_ref.name for t in spec.triggers if t.authentication_ref)
        )
        or None,
        "pausedReplicaCount": None,
    }
    if status.get("originalReplicaCount") is None:
        fields["originalReplicaCount"] = replicas
    if spec.fallback is None and status.get("health"):
        fields["health"] = None
    old_hpa = status.get("hpaName")
    if mode is specs.ScalingMode.HPA:
        hpa_body = hpa_manifests.build_hpa(spec, checked.hpa_metrics, uid=str(meta.get("uid") or ""), version=ctx.version)
        await _apply_hpa(ctx, spec, hpa_body)
        if isinstance(old_hpa, str) and old_hpa and old_hpa != spec.hpa_name:
            await _delete_owned_hpa(ctx, namespace, old_hpa, str(meta.get("uid") or ""))
        fields["hpaName"] = spec.hpa_name
    else:
        for hpa_name in {spec.hpa_name, old_hpa} - {None, ""}:
            await _delete_owned_hpa(ctx, namespace, str(hpa_name), str(meta.get("uid") or ""))
        fields["hpaName"] = None

    conditions: list[decisions.Condition] = []
    paused = _condition(body, "Paused")
    if (
        paused is not None
        and paused.get("status") == "True"
        and key not in ctx.loops
        and not (spec.pause.paused_scale_in or spec.pause.paused_scale_out)
    ):
        conditions.append(UNPAUSED)
        await _event(ctx, body, "Normal", "ScaledObjectUnpaused", "ScaledObject is unpaused")
    was_ready = (_condition(body, "Ready") or {}).get("status") == "True"
    if not was_ready:
        conditions.append(READY)
    if key not in ctx.loops and ctx.loops.ctx.leading():
        # The loop this starts writes the status with its first tick's: one write per new ScaledObject
        # (10,000 of them at an operator's first start), not two.
        update = scale_loop.StatusUpdate(
            fields, tuple(conditions), defaults=INITIAL_CONDITIONS, if_missing=frozenset({"originalReplicaCount"})
        )
        started = await ctx.loops.ensure(spec, body, initial=update)
        if not started and key in ctx.loops:  # a loop was there after all, and it was handed nothing
            body = await patch_status(ctx, body, fields, conditions)
    else:
        body = await patch_status(ctx, body, fields, conditions)
        started = await ctx.loops.ensure(spec, body)
    if ctx.metrics is not None:
        with contextlib.suppress(Exception):
            ctx.metrics.paused(namespace, name, False)
    if started:
        await _event(ctx, body, "Normal", "KEDAScalersStarted", "Started scalers watch")
    if not was_ready:
        await _event(ctx, body, "Normal", "ScaledObjectReady", "ScaledObject is ready for scaling")
    return Result(Outcome.READY, "", body)


# -- metadata: KEDA's finalizer and label -------------------------------------------------------------


async def ensure_metadata(ctx: Context, body: Mapping[str, Any], *, label: bool) -> Mapping[str, Any]:
    """KEDA's finalizer on every ScaledObject it handles, and the `scaledobject.keda.sh/name` label on a
    valid one, in one PATCH and only when missing; the body after. The finalizer list is replaced as a
    whole, so the PATCH carries the resourceVersion it was computed from (a 409 reads again)."""
    if not ctx.finalizer and not label:
        return body
    for _ in range(5):
        meta = _meta(body)
        namespace, name = str(meta.get("namespace") or "default"), str(meta.get("name") or "")
        patch: dict[str, Any] = {}
        if label and (meta.get("labels") or {}).get(specs.SCALED_OBJECT_NAME_LABEL) != name:
            patch["labels"] = {specs.SCALED_OBJECT_NAME_LABEL: name}
        finalizers = [f for f in meta.get("finalizers") or () if isinstance(f, str)]
        if ctx.finalizer and ctx.finalizer not in finalizers and not meta.get("deletionTimestamp"):
            patch["finalizers"] = [*finalizers, ctx.finalizer]
        if not patch:
            return body
        rv = str(meta.get("resourceVersion") or "") if "finalizers" in patch else None
        try:
            return await ctx.api.patch_scaled_object(namespace, name, {"metadata": patch}, resource_version=rv)
        except kube.ApiError as error:
            if not error.conflict:
                raise
            body = await ctx.api.get_scaled_object(namespace, name)
    raise kube.ApiError(409, "Conflict", "the ScaledObject kept changing while its finalizer was added")


async def remove_finalizer(ctx: Context, body: Mapping[str, Any], finalizer: str) -> None:
    """Take `finalizer` off a ScaledObject being deleted (the API server then removes it), guarded by the
    resourceVersion; a ScaledObject already gone is fine."""
    for _ in range(5):
        meta = _meta(body)
        namespace, name = str(meta.get("namespace") or "default"), str(meta.get("name") or "")
        finalizers = [f for f in meta.get("finalizers") or () if isinstance(f, str)]
        if finalizer not in finalizers:
            return
        remaining = [f for f in finalizers if f != finalizer]
        try:
            await ctx.api.patch_scaled_object(
                namespace, name, {"metadata": {"finalizers": remaining or None}},
                resource_version=str(meta.get("resourceVersion") or ""),
            )
            return
        except kube.ApiError as error:
            if error.not_found:
                return
            if not error.conflict:
                raise
            try:
                body = await ctx.api.get_scaled_object(namespace, name)
            except kube.ApiError as again:
                if again.not_found:
                    return
                raise
    raise kube.ApiError(409, "Conflict", "the ScaledObject kept changing while its finalizer was removed")


# -- pause ---------------------------------------------------------------------------------------


async def _pause(ctx: Context, spec: specs.ScaledObjectSpec, body: Mapping[str, Any]) -> Result:
    """paused / paused-replicas: stop the loop, delete the HPA, scale to paused-replicas (KEDA §1.2)."""
    key = (spec.namespace, spec.name)
    await ctx.loops.stop(key)
    uid = str(_meta(body).get("uid") or "")
    for hpa_name in {spec.hpa_name, _status(body).get("hpaName")} - {None, ""}:
        await _delete_owned_hpa(ctx, spec.namespace, str(hpa_name), uid)
    wanted = spec.pause.paused_replicas
    if wanted is not None:
        target = kube.Target.of(spec)
        try:
            await scale_to(ctx, target, wanted)
        except kube.ApiError as error:
            return await _fail(
                ctx, body, f"cannot scale {target.gvk} {spec.namespace}/{target.name} to paused-replicas {wanted}: {error}", Outcome.RETRY
            )
    was_paused = (_condition(body, "Paused") or {}).get("status") == "True"
    body = await patch_status(
        ctx, body, {"pausedReplicaCount": wanted, "hpaName": None}, conditions=(PAUSED,)
    )
    if not was_paused:
        await _event(ctx, body, "Normal", "ScaledObjectPaused", "ScaledObject is paused")
    if ctx.metrics is not None:
        with contextlib.suppress(Exception):
            ctx.metrics.paused(spec.namespace, spec.name, True)
    return Result(Outcome.PAUSED, "", body)


async def scale_to(ctx: Context, target: kube.Target, replicas: int) -> bool:
    """Read-modify-write `/scale` to `replicas` (409 re-reads). False when it already had them."""
    deadline = _deadline(ctx)
    for _ in range(10):
        scale = await kube.retrying(lambda: ctx.api.read_scale(target), deadline=deadline)
        if scale.replicas == replicas:
            return False
        try:
            await kube.retrying(functools.partial(ctx.api.write_scale, target, scale, replicas), deadline=deadline)
            return True
        except kube.ApiError as error:
            if not error.conflict:
                raise
    raise kube.ApiError(409, "Conflict", f"{target.gvk} {target.namespace}/{target.name} kept changing")


# -- conflicts with other ScaledObjects and HPAs (KEDA's webhook) ---------------------------------------


def _rank(body: Mapping[str, Any]) -> tuple[int, str, str]:
    """Which of two ScaledObjects on one workload keeps it: one already Ready, else the older (creation
    times have one-second resolution, so the name breaks ties)."""
    meta = _meta(body)
    ready = (_condition(body, "Ready") or {}).get("status") == "True"
    return (0 if ready else 1), str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def _target_of(body: Mapping[str, Any]) -> tuple[str, str, str] | None:
    spec = body.get("spec")
    ref = spec.get("scaleTargetRef") if isinstance(spec, Mapping) else None
    if not isinstance(ref, Mapping):
        return None
    return (str(ref.get("apiVersion") or "apps/v1"), str(ref.get("kind") or "Deployment"), str(ref.get("name") or ""))


def _hpa_name_of(body: Mapping[str, Any]) -> str:
    spec = body.get("spec")
    advanced = spec.get("advanced") if isinstance(spec, Mapping) else None
    config = advanced.get("horizontalPodAutoscalerConfig") if isinstance(advanced, Mapping) else None
    name = config.get("name") if isinstance(config, Mapping) else None
    return str(name) if name else f"keda-hpa-{_meta(body).get('name')}"


# What a change can concern (`handlers.Requeue` re-checks only the failed ScaledObjects it concerns).


def scaled_object_target(body: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """A ScaledObject's workload (apiVersion, kind, name), as the conflict rules compare it."""
    return _target_of(body)


def hpa_name(body: Mapping[str, Any]) -> str:
    """The name of the HPA a ScaledObject owns (or would)."""
    return _hpa_name_of(body)


def claims(body: Mapping[str, Any]) -> tuple[tuple[str, str, str] | None, str]:
    """What a ScaledObject claims and another one may conflict with: its workload and its HPA name."""
    return _target_of(body), _hpa_name_of(body)


def hpa_target(body: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """An HPA's scaleTargetRef as (apiVersion, kind, name)."""
    ref = (body.get("spec") or {}).get("scaleTargetRef")
    if not isinstance(ref, Mapping):
        return None
    return str(ref.get("apiVersion") or "apps/v1"), str(ref.get("kind") or "Deployment"), str(ref.get("name") or "")


def authentications(body: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The (Cluster)TriggerAuthentications a ScaledObject's triggers name, as (watched kind, name)."""
    found: set[tuple[str, str]] = set()
    spec = body.get("spec")
    for trigger in (spec.get("triggers") if isinstance(spec, Mapping) else None) or []:
        ref = trigger.get("authenticationRef") if isinstance(trigger, Mapping) else None
        if isinstance(ref, Mapping) and ref.get("name"):
            kind = kube.CLUSTER_TRIGGER_AUTHENTICATION if ref.get("kind") == "ClusterTriggerAuthentication" \
                else kube.TRIGGER_AUTHENTICATION
            found.add((kind, str(ref["name"])))
    return found


_BY_TARGET = "scaleTargetRef"
_BY_HPA_NAME = "hpaName"


def _scaled_object_target_key(body: Mapping[str, Any]) -> tuple[tuple[str, tuple[str, str, str]], ...]:
    target = _target_of(body)
    return () if target is None else ((str(_meta(body).get("namespace") or ""), target),)


def _scaled_object_hpa_key(body: Mapping[str, Any]) -> tuple[tuple[str, str]]:
    return ((str(_meta(body).get("namespace") or ""), _hpa_name_of(body)),)


def _hpa_target_key(body: Mapping[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    spec = body.get("spec")
    ref = spec.get("scaleTargetRef") if isinstance(spec, Mapping) else None
    fields = [ref.get(k) for k in ("apiVersion", "kind", "name")] if isinstance(ref, Mapping) else []
    claimed = tuple(f for f in fields if isinstance(f, str))
    if len(claimed) != 3:
        return ()  # claims no workload a ScaledObject can name
    return ((str(_meta(body).get("namespace") or ""), claimed),)


def _conflicts(ctx: Context, spec: specs.ScaledObjectSpec, body: Mapping[str, Any]) -> str:
    """The webhook's `other-scaled-object`, `other-scaled-object-hpa` and `other-hpa` rules; "" if none.

    Between two ScaledObjects the one that is not yet Ready, else the younger, is the one in conflict, as
    the webhook would have rejected it."""
    target = spec.scale_target_ref
    mine = (target.api_version, target.kind, target.name)
    gvk = f"{target.api_version}.{target.kind}"
    own_rank = _rank(body)
    watched = ctx.watched
    candidates = {
        id(other): other
        for other in (
            *watched.by_index(kube.SCALED_OBJECT, _BY_TARGET, (spec.namespace, mine)),
            *watched.by_index(kube.SCALED_OBJECT, _BY_HPA_NAME, (spec.namespace, spec.hpa_name)),
        )
    }
    for other in candidates.values():
        same_target = _target_of(other) == mine
        if not same_target and _hpa_name_of(other) != spec.hpa_name:
            continue
        other_name = str(_meta(other).get("name") or "")
        if other_name == spec.name or _meta(other).get("deletionTimestamp") or _rank(other) > own_rank:
            continue
        if same_target:
            return (
                f"spec.scaleTargetRef.name: the workload {target.name!r} of type {gvk} is already managed by "
                f"ScaledObject {other_name!r}"
            )
        if _hpa_name_of(other) == spec.hpa_name:
            field = (
                "spec.advanced.horizontalPodAutoscalerConfig.name"
                if spec.advanced.horizontal_pod_autoscaler_config.name
                else "metadata.name"
            )
            return f"{field}: the HPA {spec.hpa_name!r} is already managed by ScaledObject {other_name!r}"
    uid = str(_meta(body).get("uid") or "")
    for hpa_body in watched.by_index(kube.HPA, _BY_TARGET, (spec.namespace, mine)):
        meta = _meta(hpa_body)
        if (meta.get("annotations") or {}).get(specs.HPA_OWNERSHIP_VALIDATION) == "false":
            continue
        if any(o.get("uid") == uid for o in meta.get("ownerReferences") or [] if isinstance(o, Mapping)):
            continue
        hpa_name = str(meta.get("name") or "")
        if spec.annotations.get(specs.TRANSFER_HPA_OWNERSHIP) == "true":
            if spec.advanced.horizontal_pod_autoscaler_config.name != hpa_name:
                return (
                    f"spec.advanced.horizontalPodAutoscalerConfig.name: must be {hpa_name!r} to take over the "
                    f"existing HPA {hpa_name!r} with {specs.TRANSFER_HPA_OWNERSHIP}"
                )
            continue  # adopted: the HPA is replaced with ours below
        return (
            f"spec.scaleTargetRef.name: the workload {target.name!r} of type {gvk} is already managed by the HPA "
            f"{hpa_name!r}; to adopt it, annotate the ScaledObject {specs.TRANSFER_HPA_OWNERSHIP}: \"true\" "
            "and set spec.advanced.horizontalPodAutoscalerConfig.name"
        )
    return ""


# -- triggers ------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Checked:
    errors: list[problems.Problem] = dataclasses.field(default_factory=list)
    missing: bool = False  # some error may heal when a referenced object appears
    external_names: list[str] = dataclasses.field(default_factory=list)
    resource_names: list[str] = dataclasses.field(default_factory=list)
    hpa_metrics: list[hpa_manifests.MetricTarget] = dataclasses.field(default_factory=list)


def _check_triggers(ctx: Context, spec: specs.ScaledObjectSpec) -> _Checked:
    checked = _Checked()
    watched = ctx.watched
    workload = watched.workload(kube.Target.of(spec))
    seen: dict[str, int] = {}
    for trigger in spec.triggers:
        where = f"spec.triggers[{trigger.index}]"
        ref = trigger.authentication_ref
        if ref is not None:
            cluster_scoped = ref.kind is specs.AuthKind.CLUSTER_TRIGGER_AUTHENTICATION
            auth_ns = "" if cluster_scoped else spec.namespace
            kind = kube.CLUSTER_TRIGGER_AUTHENTICATION if cluster_scoped else kube.TRIGGER_AUTHENTICATION
            shown = f"{ref.kind.value}/{ref.name}" if cluster_scoped else f"{ref.kind.value}/{spec.namespace}/{ref.name}"
            if watched.get(kind, auth_ns, ref.name) is None:
                checked.errors.append(problems.Problem(spec.ref, f"{where}.authenticationRef.name", f"{shown} not found"))
                checked.missing = True
                continue
            auth_errors = watched.authentication_problems(kind, auth_ns, ref.name)
            if auth_errors:
                checked.errors.append(
                    problems.Problem(spec.ref, f"{where}.authenticationRef.name", f"{shown} is invalid: {'; '.join(auth_errors)}")
                )
                continue
        prepared = trigger_checks.prepare(
            spec, trigger, watched, workload, cluster_object_namespace=ctx.cluster_object_namespace
        )
        if prepared.incomplete:
            checked.missing = True
        # In a cluster nothing is "not among the documents": a parameter error is an error.
        found = trigger_checks.check_prepared(spec, trigger, dataclasses.replace(prepared, incomplete=None), ctx.scalers)
        errors = [p for p in found if p.severity is problems.Severity.ERROR]
        if errors:
            gaps = [p for p in prepared.issues]
            checked.errors.extend(errors)
            checked.errors.extend(dataclasses.replace(p, severity=problems.Severity.ERROR) for p in gaps)
            continue
        metric = _metric(ctx, trigger, prepared)
        if metric is None:
            continue
        if metric.source is base.MetricSource.EXTERNAL:
            if metric.name in seen:
                checked.errors.append(
                    problems.Problem(
                        spec.ref,
                        where,
                        f"metricName {metric.name} defined multiple times (also by spec.triggers[{seen[metric.name]}])",
                    )
                )
                continue
            seen[metric.name] = trigger.index
            checked.external_names.append(metric.name)
            checked.hpa_metrics.append(hpa_manifests.MetricTarget(metric.name, metric.target_type, metric.target))
        else:
            resource = metric.resource or trigger.type
            checked.resource_names.append(resource)
            checked.hpa_metrics.append(
                hpa_manifests.MetricTarget(resource, metric.target_type, metric.target, metric.source.value, metric.container)
            )
    return checked


def _metric(ctx: Context, trigger: specs.Trigger, prepared: trigger_checks.Prepared) -> base.MetricSpec | None:
    try:
        return prepared.resolve(ctx.scalers).metric
    except Exception:  # already reported by check_prepared
        return None


# -- the HPA -------------------------------------------------------------------------------------


# The API server's defaults for an autoscaling/v2 HPA spec (SetDefaults_HorizontalPodAutoscaler and
# SetDefaults_HorizontalPodAutoscalerBehavior): an HPA read back carries them, so the HPA we want is
# compared with them filled in, or it would be PUT again on every reconcile.
_SCALE_UP_DEFAULTS: Mapping[str, Any] = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}],
}
_SCALE_DOWN_DEFAULTS: Mapping[str, Any] = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def api_defaulted(spec: Mapping[str, Any]) -> dict[str, Any]:
    """`spec` (an HPA's) as the API server stores it: minReplicas 1 when unset; when `behavior` is given,
    every unset field of scaleUp and scaleDown from the defaults (scaleDown's stabilization window stays
    unset: the HPA controller's flag decides it)."""
    out = dict(spec)
    if out.get("minReplicas") is None:
        out["minReplicas"] = 1
    behavior = out.get("behavior")
    if isinstance(behavior, Mapping):
        filled = dict(behavior)
        for key, defaults in (("scaleUp", _SCALE_UP_DEFAULTS), ("scaleDown", _SCALE_DOWN_DEFAULTS)):
            rules = dict(filled.get(key) or {})
            for field, value in defaults.items():
                if rules.get(field) is None:
                    rules[field] = value
            filled[key] = rules
        out["behavior"] = filled
    return out


def _differs(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    meta, want_meta = _meta(existing), _meta(wanted)
    if existing.get("spec") != api_defaulted(wanted.get("spec") or {}):
        return True
    for key in ("labels", "annotations", "ownerReferences"):
        if (meta.get(key) or None) != (want_meta.get(key) or None):
            return True
    return False


async def _apply_hpa(ctx: Context, spec: specs.ScaledObjectSpec, wanted: Mapping[str, Any]) -> None:
    """Create the HPA, or replace it when its spec, labels, annotations or owner differ."""
    cached = ctx.watched.get(kube.HPA, spec.namespace, spec.hpa_name)
    if cached is not None and not _differs(cached, wanted):
        return  # the watch cache shows it as wanted: no GET (a restart reconciles thousands at once)
    for _ in range(5):
        existing = await ctx.api.get_hpa(spec.namespace, spec.hpa_name)
        if existing is None:
            try:
                await ctx.api.create_hpa(spec.namespace, wanted)
                return
            except kube.ApiError as error:
                if error.status != 409:
                    raise
                continue
        if not _differs(existing, wanted):
            return
        body = dict(wanted)
        body["metadata"] = {**wanted["metadata"], "resourceVersion": _meta(existing).get("resourceVersion")}
        try:
            await ctx.api.replace_hpa(spec.namespace, spec.hpa_name, body)
            return
        except kube.ApiError as error:
            if not error.conflict:
                raise
    raise kube.ApiError(409, "Conflict", f"the HPA {spec.namespace}/{spec.hpa_name} kept changing")


def owning_scaled_object(hpa: Mapping[str, Any]) -> str | None:
    """The name of the ScaledObject that controls `hpa`, if one does."""
    for owner in _meta(hpa).get("ownerReferences") or []:
        if (
            isinstance(owner, Mapping)
            and owner.get("kind") == "ScaledObject"
            and str(owner.get("apiVersion", "")).startswith(f"{specs.GROUP}/")
            and owner.get("controller")
        ):
            return str(owner.get("name") or "") or None
    return None


def hpa_drifted(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether an HPA changed where KEDA puts it back (spec, labels, annotations), not just its status."""
    return before.get("spec") != after.get("spec") or any(
        _meta(before).get(key) != _meta(after).get(key) for key in ("labels", "annotations")
    )


async def _delete_owned_hpa(ctx: Context, namespace: str, name: str, uid: str) -> None:
    # The watch cache answers "is there one?" (every reconcile in direct mode asks, and nearly always no).
    existing = ctx.watched.get(kube.HPA, namespace, name)
    if existing is not None:
        existing = await ctx.api.get_hpa(namespace, name)
    if existing is None:
        return
    owners = _meta(existing).get("ownerReferences") or []
    if any(isinstance(o, Mapping) and o.get("uid") == uid for o in owners):
        await ctx.api.delete_hpa(namespace, name)


# -- deletion ------------------------------------------------------------------------------------


async def finalize(ctx: Context, body: Mapping[str, Any]) -> None:
    """The ScaledObject is being deleted: stop its loop, restore the original replicas if asked, delete
    its HPA."""
    meta = _meta(body)
    async with ctx.lock((str(meta.get("namespace") or "default"), str(meta.get("name") or ""))):
        await _finalize(ctx, body)


async def _finalize(ctx: Context, body: Mapping[str, Any]) -> None:
    meta = _meta(body)
    namespace, name = str(meta.get("namespace") or "default"), str(meta.get("name") or "")
    await ctx.loops.stop((namespace, name), retire=str(meta.get("uid") or "") or None)
    spec, _ = specs.check_scaled_object(body, default_namespace=namespace)
    status = _status(body)
    original = status.get("originalReplicaCount")
    if spec is not None and spec.advanced.restore_to_original_replica_count and isinstance(original, int):
        target = kube.Target.of(spec)
        try:
            await scale_to(ctx, target, original)
        except kube.ApiError as error:
            if not error.not_found:
                raise
    uid = str(meta.get("uid") or "")
    names = {status.get("hpaName"), spec.hpa_name if spec is not None else f"keda-hpa-{name}"} - {None, ""}
    for hpa_name in names:
        await _delete_owned_hpa(ctx, namespace, str(hpa_name), uid)
    await _event(ctx, body, "Normal", "ScaledObjectDeleted", "ScaledObject was deleted")
    if ctx.metrics is not None:
        with contextlib.suppress(Exception):
            ctx.metrics.forget(namespace, name)
    log = ctx.loops.ctx.decision_log
    forget = getattr(log, "forget", None)
    if callable(forget):
        with contextlib.suppress(Exception):
            forget(namespace, name)

"""Which changes reconcile which ScaledObject: a work queue fed by the watch cache, as controller-runtime
does it (client-go's workqueue semantics), without kopf.

`Reconciler` holds the queue and a fixed pool of workers:

* every ScaledObject the reflectors (`kube.Informers`) list or see change in what a reconcile reads — its
  spec, labels, annotations, finalizers or deletion — is queued once (a key already queued is not queued
  twice; one being reconciled is queued again after it), so the operator's own status writes, which
  are most of the watch's events, cost a decoding in the reflector and nothing more;
* workers wait until every watched resource has been listed once this term, then take keys in order:
  the latest cached body is reconciled (`reconciling.reconcile`), or, once it carries a
  `deletionTimestamp`, finalized (`reconciling.finalize`) and KEDA's finalizer (`finalizer.keda.sh`, the
  one kopf managed before, so existing objects carry on) taken off; the reconcile puts the finalizer on;
* a reconcile that must wait (target or referenced object missing) is queued again after
  `retry_delay`; an invalid ScaledObject after `first_delay` doubling up to `MAX_REQUEUE_DELAY` (KEDA's
  controller requeues with backoff), and at once when something it may depend on changes (`on_change`):
  another ScaledObject or an HPA on the same workload or HPA name, the (Cluster)TriggerAuthentication it
  names, a Secret or ConfigMap of its namespace; an owned HPA someone edited or deleted is put back.

What must not be here: the reconcile itself (`reconciling`), the API client (`kube`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any

from scaler.core import specs
from scaler.operator import kube, reconciling

logger = logging.getLogger("ebb.handlers")

RETRY_DELAY = 5.0
# An invalid ScaledObject is reconciled again after RETRY_DELAY, doubling up to this (and at once when
# something it may depend on changes).
MAX_REQUEUE_DELAY = 300.0
FINALIZER = reconciling.FINALIZER
# Reconciles at once. A new ScaledObject's reconcile waits on two or three API round trips, so a few
# dozen keep the API busy at start-up; more only queue on the connection pool.
WORKERS = 24


@dataclasses.dataclass
class Runtime:
    context: reconciling.Context
    retry_delay: float = RETRY_DELAY
    # The reflectors filling `context.watched` this term; workers wait until every resource was listed.
    informers: kube.Informers | None = None
    reconciler: Reconciler | None = None


def _failed(body: Mapping[str, Any]) -> bool:
    """Whether a ScaledObject's last check failed (Ready=False); one not checked yet is queued anyway."""
    for item in (body.get("status") or {}).get("conditions") or []:
        if isinstance(item, Mapping) and item.get("type") == "Ready":
            return item.get("status") == "False"
    return False


_FAILED = "failed"
_FAILED_IN = "namespace"
_ALL_FAILED = ("all",)


def _failed_keys(body: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    """The `_FAILED` index: a ScaledObject that failed its check and is not being deleted, by namespace
    and among all; `Watched` re-indexes it at each status write, so the index follows Ready."""
    meta = body.get("metadata") or {}
    if not _failed(body) or meta.get("deletionTimestamp"):
        return ()
    return (_FAILED_IN, str(meta.get("namespace") or "")), _ALL_FAILED


def _claims_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether an HPA changed in what a conflict check reads: its target, owners or annotations."""
    def claims(body: Mapping[str, Any]) -> tuple[Any, Any, Any]:
        meta = body.get("metadata") or {}
        return ((body.get("spec") or {}).get("scaleTargetRef"), meta.get("ownerReferences"), meta.get("annotations"))

    return claims(before) != claims(after)


def _reconciled_view(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a reconcile reads from the ScaledObject itself (not its status, which the operator writes)."""
    meta = body.get("metadata") or {}
    # The label the reconcile puts on (naming this ScaledObject) is no reason to reconcile again.
    labels = {
        k: v for k, v in (meta.get("labels") or {}).items()
        if not (k == specs.SCALED_OBJECT_NAME_LABEL and v == meta.get("name"))
    }
    return (
        body.get("spec"),
        meta.get("annotations"),
        labels,
        meta.get("deletionTimestamp"),
        meta.get("uid"),
    )


def needs_reconcile(previous: Mapping[str, Any] | None, current: Mapping[str, Any] | None) -> bool:
    """Whether a ScaledObject's change calls for its own reconcile: new, deleted, or changed in what a
    reconcile reads. What the reconcile itself puts on — the `scaledobject.keda.sh/name` label and the
    finalizer — does not (each reconciled every new ScaledObject a second time), nor does a status write."""
    if previous is None or current is None:
        return True
    # The finalizer the reconcile put on is no reason either; someone taking it off is.
    lost_finalizer = FINALIZER in ((previous.get("metadata") or {}).get("finalizers") or ()) and FINALIZER not in (
        (current.get("metadata") or {}).get("finalizers") or ()
    )
    return lost_finalizer or _reconciled_view(previous) != _reconciled_view(current)


def _ready_changed(previous: Mapping[str, Any] | None, current: Mapping[str, Any] | None) -> bool:
    """Whether the Ready condition changed: the leader finished a reconcile of this ScaledObject, so what a
    standby could not write is now written (its other writes — label, finalizer, the loop's — are not
    worth another try)."""
    def ready(body: Mapping[str, Any] | None) -> Any:
        for item in ((body or {}).get("status") or {}).get("conditions") or []:
            if isinstance(item, Mapping) and item.get("type") == "Ready":
                return item.get("status"), item.get("message")
        return None

    return bool(ready(previous) != ready(current))


class Reconciler:
    """The ScaledObjects' work queue and its workers (see the module docstring). `start()` once the term's
    reflectors exist; `stop()` when it ends. `reconciles` counts reconciles and finalizes run."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        first_delay: float,
        max_delay: float = MAX_REQUEUE_DELAY,
        workers: int = WORKERS,
    ) -> None:
        self.runtime = runtime
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.workers = workers
        self._queue: collections.deque[tuple[str, str]] = collections.deque()
        self._queued: set[tuple[str, str]] = set()
        self._processing: set[tuple[str, str]] = set()
        self._again: set[tuple[str, str]] = set()
        self._delayed: dict[tuple[str, str], tuple[asyncio.TimerHandle, float]] = {}
        self._attempts: dict[tuple[str, str], int] = {}
        self._deferred: set[tuple[str, str]] = set()
        self._ready = asyncio.Event()  # something is queued
        self._idle = asyncio.Event()  # no reconcile under way
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.reconciles = 0
        # When the queue last went from empty to busy, and the reconciles counted then (for the log line
        # that says how long a start-up or a takeover took to reconcile everything).
        self._burst: tuple[float, int] | None = None
        # The keys `take_over` queued and not reconciled yet, how many it queued, and when.
        self._taken_over: tuple[set[tuple[str, str]], int, float] | None = None

    # -- the queue ------------------------------------------------------------------------------------

    def add(self, key: tuple[str, str]) -> None:
        """Queue `key` now (once; again after its reconcile if one is under way)."""
        if self._stopping:
            return
        delayed = self._delayed.pop(key, None)
        if delayed is not None:
            delayed[0].cancel()
        if key in self._processing:
            self._again.add(key)
            return
        if key in self._queued:
            return
        self._queued.add(key)
        self._queue.append(key)
        self._ready.set()
        if self._burst is None:
            self._burst = (asyncio.get_running_loop().time(), self.reconciles)

    def add_after(self, key: tuple[str, str], delay: float) -> None:
        """Queue `key` after `delay` seconds (an earlier pending time wins)."""
        if self._stopping:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        pending = self._delayed.get(key)
        if pending is not None:
            if pending[1] <= due:
                return
            pending[0].cancel()
        self._delayed[key] = (loop.call_at(due, self._due, key), due)

    def _due(self, key: tuple[str, str]) -> None:
        self._delayed.pop(key, None)
        self.add(key)

    def backoff(self, key: tuple[str, str]) -> float:
        """Queue an invalid ScaledObject again after the next delay of its backoff; the delay."""
        attempt = self._attempts.get(key, 0)
        self._attempts[key] = attempt + 1
        delay = min(self.first_delay * 2.0**attempt, self.max_delay)
        self.add_after(key, delay)
        return delay

    def settled(self, key: tuple[str, str]) -> None:
        """The ScaledObject is fine: its backoff starts over and no retry is pending."""
        self._attempts.pop(key, None)
        pending = self._delayed.pop(key, None)
        if pending is not None:
            pending[0].cancel()

    def take_over(self) -> int:
        """This replica took the Lease: what its standby reconciles could not write (a new ScaledObject's
        finalizer, label, status) is reconciled now; the rest was reconciled while standing by and is
        kept current by the watch. How many were queued."""
        deferred, self._deferred = self._deferred, set()
        if deferred:
            self._taken_over = (set(deferred), len(deferred), asyncio.get_running_loop().time())
        for key in deferred:
            self.add(key)
        return len(deferred)

    # -- the workers ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._work(), name=f"reconcile worker {n}") for n in range(self.workers)
        ]

    async def _work(self) -> None:
        informers = self.runtime.informers
        if informers is not None:
            # No reconcile before every watched resource has been listed once: a conflict check against a
            # cache without the HPAs would let two owners onto one workload.
            await informers.synced.wait()
        while True:
            while not self._queue:
                self._ready.clear()
                await self._ready.wait()
            key = self._queue.popleft()
            self._queued.discard(key)
            self._processing.add(key)
            try:
                await self._handle(key)
            except asyncio.CancelledError:
                raise
            except kube.NotLeading:
                # A standby (or a replica between terms) could not write what this one needs: tried
                # again at its next change, or when this replica takes the Lease (`take_over`).
                self._deferred.add(key)
            except Exception as error:  # the next change or the retry tries again
                logger.warning("%s/%s: reconcile failed: %s", key[0], key[1], error)
                self.add_after(key, self.runtime.retry_delay)
            finally:
                self._processing.discard(key)
                self._after_take_over(key)
                if not self._processing:
                    self._idle.set()
                    if not self._queue and self._burst is not None:
                        began, before = self._burst
                        self._burst = None
                        done = self.reconciles - before
                        if done >= 100:
                            logger.info("reconciled %d ScaledObjects in %.1f s",
                                        done, asyncio.get_running_loop().time() - began)
            if key in self._again:
                self._again.discard(key)
                self.add(key)

    def _after_take_over(self, key: tuple[str, str]) -> None:
        """Says once when every ScaledObject `take_over` queued has had its reconcile (and so its loop
        its first tick, right at its start): the rest of a takeover's timing, after `Loops.wake_all`'s."""
        if self._taken_over is None:
            return
        left, queued, began = self._taken_over
        left.discard(key)
        if not left:
            self._taken_over = None
            logger.info("the %d ScaledObjects the standby could not write were reconciled %.2f s after the "
                        "Lease was taken", queued, asyncio.get_running_loop().time() - began)

    async def _handle(self, key: tuple[str, str]) -> None:
        ctx = self.runtime.context
        body = ctx.watched.get(kube.SCALED_OBJECT, *key)
        if body is None:
            # Gone from the cache (deleted, or a re-list no longer has it): its loop goes too.
            self._attempts.pop(key, None)
            await ctx.loops.stop(key)
            return
        meta = body.get("metadata") or {}
        self.reconciles += 1
        if meta.get("deletionTimestamp"):
            self.settled(key)
            if FINALIZER in (meta.get("finalizers") or ()):
                await reconciling.finalize(ctx, dict(body))
                await reconciling.remove_finalizer(ctx, body, FINALIZER)
            else:
                await ctx.loops.stop(key, retire=str(meta.get("uid") or "") or None)
            return
        result = await reconciling.reconcile(ctx, dict(body))
        self._deferred.discard(key)
        if result.outcome is reconciling.Outcome.RETRY:
            self.add_after(key, self.runtime.retry_delay)
        elif result.outcome is reconciling.Outcome.INVALID:
            self.backoff(key)
        else:
            self.settled(key)

    # -- what a change concerns -----------------------------------------------------------------------

    def on_change(self, kind: str, previous: Mapping[str, Any] | None, current: Mapping[str, Any] | None) -> None:
        """`Watched`'s change listener: which ScaledObjects that failed their check (Ready=False) to check
        again now. Only those the change can concern: for a ScaledObject or an HPA, the ones on the same
        workload or HPA name; for a (Cluster)TriggerAuthentication, the ones naming it; for a Secret or
        ConfigMap, the failed ones of its namespace."""
        body = current if current is not None else previous
        assert body is not None
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        informers = self.runtime.informers
        if kind != kube.SCALED_OBJECT and (informers is None or not informers.synced.is_set()):
            return  # the first listing queues every ScaledObject anyway
        bodies = [b for b in (previous, current) if b is not None]
        concerns: Callable[[Mapping[str, Any]], bool]
        if kind == kube.HPA:
            self._hpa_changed(namespace, previous, current)
            if previous is not None and current is not None and not _claims_changed(previous, current):
                return  # a status write (the HPA controller's, every sync): no conflict changed
            targets = {reconciling.hpa_target(b) for b in bodies}
            concerns = lambda so: reconciling.scaled_object_target(so) in targets  # noqa: E731
        elif kind == kube.SCALED_OBJECT:
            if needs_reconcile(previous, current) or (
                (namespace, name) in self._deferred and _ready_changed(previous, current)
            ):
                self.add((namespace, name))
            if current is not None and previous is not None and previous.get("spec") == current.get("spec") \
                    and (previous.get("metadata") or {}).get("deletionTimestamp") == meta.get("deletionTimestamp"):
                return  # a status write: nothing another ScaledObject depends on changed
            claimed = {c for b in bodies for c in reconciling.claims(b) if c is not None}
            concerns = lambda so: bool(  # noqa: E731
                {reconciling.scaled_object_target(so), reconciling.hpa_name(so)} & claimed
            )
        elif kind in (kube.TRIGGER_AUTHENTICATION, kube.CLUSTER_TRIGGER_AUTHENTICATION):
            concerns = lambda so: (kind, name) in reconciling.authentications(so)  # noqa: E731
        elif kind in (kube.SECRET, kube.CONFIG_MAP):
            concerns = lambda so: True  # noqa: E731
        else:
            return
        # The failed ScaledObjects of the namespace (or of all, for a ClusterTriggerAuthentication) by
        # lookup, not a scan of the namespace per change. Registered here, not at construction, since the
        # runtime (and its cache) is set per term; registering again is a dict lookup.
        watched = self.runtime.context.watched
        watched.add_index(kube.SCALED_OBJECT, _FAILED, _failed_keys)
        scope = _ALL_FAILED if kind == kube.CLUSTER_TRIGGER_AUTHENTICATION else (_FAILED_IN, namespace)
        for so in watched.by_index(kube.SCALED_OBJECT, _FAILED, scope):
            so_meta = so.get("metadata") or {}
            key = (str(so_meta.get("namespace") or ""), str(so_meta.get("name") or ""))
            if kind == kube.SCALED_OBJECT and key == (namespace, name):
                continue
            if concerns(so):
                self.add(key)

    def _hpa_changed(self, namespace: str, previous: Mapping[str, Any] | None, current: Mapping[str, Any] | None) -> None:
        # An HPA a ScaledObject owns that someone edited or deleted is put back, as KEDA does (it watches
        # owned HPAs' spec, labels and annotations).
        hpa = current if current is not None else previous
        assert hpa is not None
        owner = reconciling.owning_scaled_object(hpa)
        if owner is not None and previous is not None and (current is None or reconciling.hpa_drifted(previous, current)):
            so = self.runtime.context.watched.get(kube.SCALED_OBJECT, namespace, owner)
            if so is not None and not (so.get("metadata") or {}).get("deletionTimestamp"):
                self.add((namespace, owner))

    def abandon(self) -> list[asyncio.Task[None]]:
        """Stop taking keys, cancel the workers (a reconcile under way is cancelled) and forget the queue;
        the cancelled tasks."""
        self._stopping = True
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for handle, _ in self._delayed.values():
            handle.cancel()
        self._delayed.clear()
        self._deferred.clear()
        self._queue.clear()
        self._queued.clear()
        self._again.clear()
        self._attempts.clear()
        return tasks

    async def stop(self, grace: float = 0.0) -> None:
        """Stop: reconciles under way get `grace` seconds to finish (their writes are single requests),
        then everything is cancelled."""
        self._stopping = True
        self._queue.clear()
        self._queued.clear()
        if grace > 0 and self._processing:
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace)
        for task in self.abandon():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

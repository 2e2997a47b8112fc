"""The kopf wiring, kept thin: which events call which reconcile function, and kopf's settings.

`build_registry(runtime)` returns a dedicated `kopf.OperatorRegistry` (nothing global) with:

* `on.login` from the operator's own `kube.Connection` (the same cluster `kube.discover` found);
* `on.resume` / `on.create` / `on.update` for ScaledObjects → `reconciling.reconcile` (a missing target
  or a referenced object not seen yet is retried after `retry_delay`); `on.delete` →
  `reconciling.finalize`. KEDA's finalizer name (`finalizer.keda.sh`) is the one kopf manages;
  Every handler first waits until every watched resource has been listed once (`kube.Informers`);
* the objects the scale loops and the reconciler read (ScaledObjects, Deployments, StatefulSets, HPAs,
  Secrets, ConfigMaps, (Cluster)TriggerAuthentications) come from `kube.Informers` (list, then watch; a
  re-list replaces the cache) into `kube.Watched`, not from kopf. A changed Secret raises
  `Watched.inputs_version`, so the loops that use it rebuild their triggers on their next tick;
* `Requeue`: a ScaledObject left invalid is reconciled again with backoff, and at once when something
  it may depend on changes; an owned HPA someone edited or deleted is put back.

`settings()` keeps kopf's bookkeeping out of the ScaledObject's metadata (it lives in `status.ebb`, so
the HPA built from the ScaledObject's annotations carries no kopf annotation) and turns off kopf's own
Events (the operator posts KEDA's).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import kopf

from scaler.core import specs
from scaler.operator import kube, reconciling

logger = logging.getLogger("ebb.handlers")

RETRY_DELAY = 5.0
# An invalid ScaledObject is reconciled again after RETRY_DELAY, doubling up to this (and at once when
# something it may depend on changes).
MAX_REQUEUE_DELAY = 300.0


@dataclasses.dataclass
class Runtime:
    connection: kube.Connection
    context: reconciling.Context
    retry_delay: float = RETRY_DELAY
    # The reflectors filling `context.watched` this term; handlers wait until every resource was listed.
    informers: kube.Informers | None = None
    requeue: Requeue | None = None


def settings(*, finalizer: str = "finalizer.keda.sh") -> kopf.OperatorSettings:
    configured = kopf.OperatorSettings()
    configured.posting.enabled = False
    configured.persistence.finalizer = finalizer
    configured.persistence.progress_storage = kopf.StatusProgressStorage(
        field="status.ebb.kopf.progress", touch_field="status.ebb.kopf.dummy"
    )
    configured.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(
        field="status.ebb.kopf.lastHandledConfiguration"
    )
    configured.watching.server_timeout = 300
    configured.watching.client_timeout = 330
    configured.scanning.disabled = True
    return configured


class _QuietWatchHandlers(logging.Filter):
    """Drops kopf's "Handler 'watch-…' succeeded." line (kept for handlers an embedding program adds)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg
        return not (isinstance(message, str) and message.startswith("Handler 'watch-") and message.endswith("succeeded."))


_QUIET = _QuietWatchHandlers()


def quiet_watch_handlers() -> None:
    """Install the filter on kopf's per-object logger (idempotent)."""
    kopf_objects = logging.getLogger("kopf.objects")
    if _QUIET not in kopf_objects.filters:
        kopf_objects.addFilter(_QUIET)


def _plain(body: Mapping[str, Any]) -> dict[str, Any]:
    # kopf hands a read-only view over the event's own dict; keep that dict (nothing mutates it).
    return dict(body)


def _failed(body: Mapping[str, Any]) -> bool:
    """Whether a ScaledObject's last check failed (Ready=False); one not checked yet is kopf's to do."""
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


def _not_only_own_label(diff: kopf.Diff, body: Mapping[str, Any], **_: Any) -> bool:
    """Whether an update is more than the `scaledobject.keda.sh/name` label the reconcile itself put on:
    that label alone reconciled every new ScaledObject a second time (twice the start-up's work)."""
    name = (body.get("metadata") or {}).get("name")
    for _op, field, old, new in diff:
        if tuple(field) == ("metadata", "labels", specs.SCALED_OBJECT_NAME_LABEL) and old is None and new == name:
            continue
        if tuple(field) == ("metadata", "labels") and isinstance(new, Mapping):
            before = old if isinstance(old, Mapping) else {}
            added = {k: v for k, v in new.items() if before.get(k) != v}
            removed = [k for k in before if k not in new]
            if not removed and added == {specs.SCALED_OBJECT_NAME_LABEL: name}:
                continue
        return True
    return False


class Requeue:
    """Reconciles ScaledObjects outside kopf's handlers, one task per ScaledObject:

    * `backoff(key)`: an invalid ScaledObject is tried again after `first_delay`, doubling up to
      `MAX_REQUEUE_DELAY` (KEDA's controller requeues with backoff);
    * `soon(key)`: at once, when something it may depend on changed (`on_change`): another ScaledObject
      or an HPA in its namespace was added, changed or deleted, a (Cluster)TriggerAuthentication, Secret
      or ConfigMap changed — only ScaledObjects that are not Ready are re-checked; and an owned HPA that
      someone edited or deleted is put back, as KEDA does.

    A reconcile under way is never cancelled; a request arriving during it runs once more after it."""

    def __init__(self, runtime: Runtime, *, first_delay: float, max_delay: float = MAX_REQUEUE_DELAY) -> None:
        self.runtime = runtime
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._sleeping: dict[tuple[str, str], tuple[asyncio.Task[None], float]] = {}
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._again: set[tuple[str, str]] = set()
        self._attempts: dict[tuple[str, str], int] = {}
        self.reconciles = 0

    def backoff(self, key: tuple[str, str]) -> float:
        attempt = self._attempts.get(key, 0)
        self._attempts[key] = attempt + 1
        delay = min(self.first_delay * 2.0**attempt, self.max_delay)
        self._schedule(key, delay)
        return delay

    def settled(self, key: tuple[str, str]) -> None:
        self._attempts.pop(key, None)
        sleeping = self._sleeping.pop(key, None)
        if sleeping is not None:
            sleeping[0].cancel()

    def soon(self, key: tuple[str, str]) -> None:
        self._schedule(key, 0.0)

    def _schedule(self, key: tuple[str, str], delay: float) -> None:
        if key in self._running:
            if delay == 0.0:
                self._again.add(key)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        sleeping = self._sleeping.get(key)
        if sleeping is not None:
            if sleeping[1] <= due:
                return
            sleeping[0].cancel()
        task = asyncio.create_task(self._after(key, delay), name=f"requeue {key[0]}/{key[1]}")
        self._sleeping[key] = (task, due)

    async def _after(self, key: tuple[str, str], delay: float) -> None:
        await asyncio.sleep(delay)
        if self._sleeping.get(key, (None, 0.0))[0] is asyncio.current_task():
            del self._sleeping[key]
        running = asyncio.create_task(self._reconcile(key), name=f"requeued reconcile {key[0]}/{key[1]}")
        self._running[key] = running

    async def _reconcile(self, key: tuple[str, str]) -> None:
        try:
            ctx = self.runtime.context
            body = ctx.watched.get(kube.SCALED_OBJECT, *key)
            if body is None or (body.get("metadata") or {}).get("deletionTimestamp"):
                self._attempts.pop(key, None)
                return
            self.reconciles += 1
            try:
                result = await reconciling.reconcile(ctx, _plain(body))
            except kube.NotLeading:
                return
            except Exception as error:  # the next change or the backoff tries again
                logger.warning("%s/%s: reconcile failed: %s", key[0], key[1], error)
                result = reconciling.Result(reconciling.Outcome.RETRY, str(error))
        finally:
            self._running.pop(key, None)
        if key in self._again:
            self._again.discard(key)
            self.soon(key)
        elif result.outcome in (reconciling.Outcome.INVALID, reconciling.Outcome.RETRY):
            self.backoff(key)
        else:
            self.settled(key)

    def on_change(self, kind: str, previous: Mapping[str, Any] | None, current: Mapping[str, Any] | None) -> None:
        """`Watched`'s change listener: which ScaledObjects that failed their check (Ready=False) to check
        again now. Only those the change can concern: for a ScaledObject or an HPA, the ones on the same
        workload or HPA name; for a (Cluster)TriggerAuthentication, the ones naming it; for a Secret or
        ConfigMap, the failed ones of its namespace."""
        informers = self.runtime.informers
        if informers is None or not informers.synced.is_set():
            return  # the first listing: kopf's resume handlers reconcile everything once it is done
        body = current if current is not None else previous
        assert body is not None
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        bodies = [b for b in (previous, current) if b is not None]
        concerns: Callable[[Mapping[str, Any]], bool]
        if kind == kube.HPA:
            self._hpa_changed(namespace, previous, current)
            if previous is not None and current is not None and not _claims_changed(previous, current):
                return  # a status write (the HPA controller's, every sync): no conflict changed
            targets = {reconciling.hpa_target(b) for b in bodies}
            concerns = lambda so: reconciling.scaled_object_target(so) in targets  # noqa: E731
        elif kind == kube.SCALED_OBJECT:
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
                self.soon(key)

    def _hpa_changed(self, namespace: str, previous: Mapping[str, Any] | None, current: Mapping[str, Any] | None) -> None:
        # An HPA a ScaledObject owns that someone edited or deleted is put back, as KEDA does (it watches
        # owned HPAs' spec, labels and annotations).
        hpa = current if current is not None else previous
        assert hpa is not None
        owner = reconciling.owning_scaled_object(hpa)
        if owner is not None and previous is not None and (current is None or reconciling.hpa_drifted(previous, current)):
            so = self.runtime.context.watched.get(kube.SCALED_OBJECT, namespace, owner)
            if so is not None and not (so.get("metadata") or {}).get("deletionTimestamp"):
                self.soon((namespace, owner))

    def abandon(self) -> list[asyncio.Task[None]]:
        """Cancel every pending and running requeue; the cancelled tasks."""
        tasks = [t for t, _ in self._sleeping.values()] + list(self._running.values())
        for task in tasks:
            task.cancel()
        self._sleeping.clear()
        self._running.clear()
        self._again.clear()
        self._attempts.clear()
        return tasks

    async def stop(self) -> None:
        for task in self.abandon():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def build_registry(runtime: Runtime) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    ctx = runtime.context

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        connection = runtime.connection
        token = connection.token()
        return kopf.ConnectionInfo(
            server=connection.server,
            ca_path=connection.ca_path,
            insecure=connection.insecure,
            scheme="Bearer" if token else None,
            token=token,
            certificate_path=connection.cert_path,
            private_key_path=connection.key_path,
            default_namespace=connection.namespace,
        )

    async def listed() -> None:
        # No reconcile before every watched resource has been listed once: a conflict check against a
        # cache without the HPAs would let two owners onto one workload.
        if runtime.informers is not None:
            await runtime.informers.synced.wait()

    async def reconcile(body: Mapping[str, Any], **_: Any) -> None:
        await listed()
        # The handler's body may be older than what the watch has since delivered (kopf batches).
        plain = _plain(body)
        meta = plain.get("metadata") or {}
        key = (str(meta.get("namespace") or "default"), str(meta.get("name") or ""))
        result = await reconciling.reconcile(ctx, plain)
        if result.outcome is reconciling.Outcome.RETRY:
            raise kopf.TemporaryError(result.message, delay=runtime.retry_delay)
        if runtime.requeue is not None:
            if result.outcome is reconciling.Outcome.INVALID:
                runtime.requeue.backoff(key)
            else:
                runtime.requeue.settled(key)

    for reason, decorator in (("resume", kopf.on.resume), ("create", kopf.on.create)):
        decorator(kube.KEDA_GROUP, kube.KEDA_VERSION, "scaledobjects", registry=registry, id=f"reconcile-{reason}")(
            reconcile
        )
    kopf.on.update(kube.KEDA_GROUP, kube.KEDA_VERSION, "scaledobjects", registry=registry, id="reconcile-update",
                   when=_not_only_own_label)(reconcile)

    @kopf.on.delete(kube.KEDA_GROUP, kube.KEDA_VERSION, "scaledobjects", registry=registry, id="finalize")
    async def finalize(body: Mapping[str, Any], **_: Any) -> None:
        await listed()
        await reconciling.finalize(ctx, _plain(body))

    return registry


class _NotKopfs(Collection["asyncio.Task[Any]"]):
    """The tasks kopf must leave alone when it stops: those that existed before it started, and those
    whose coroutine is not kopf's own. kopf otherwise cancels *every* task created after its start —
    the scale loops (stopped by the operator itself, after their tick) and the embedding program's tasks."""

    def __init__(self, existing: set[asyncio.Task[Any]]) -> None:
        self._existing = existing

    def __contains__(self, task: object) -> bool:
        if task in self._existing or not isinstance(task, asyncio.Task):
            return True
        code = getattr(task.get_coro(), "cr_code", None)
        return code is None or _KOPF_DIR not in code.co_filename

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(self._existing)

    def __len__(self) -> int:
        return len(self._existing)


_KOPF_DIR = os.path.dirname(kopf.__file__)


async def run_operator(
    runtime: Runtime,
    *,
    namespaces: tuple[str, ...],
    stop_flag: asyncio.Event,
    ready_flag: asyncio.Event,
    spawned: Callable[[], None] | None = None,
) -> None:
    """kopf's operator with this registry and settings, until `stop_flag` is set (or a signal).
    `spawned` runs once kopf's tasks exist (and kopf has taken SIGTERM/SIGINT), e.g. to take them back."""
    quiet_watch_handlers()
    existing = asyncio.all_tasks()
    root_tasks = await kopf.spawn_tasks(
        registry=build_registry(runtime),
        settings=settings(),
        standalone=True,
        clusterwide=not namespaces,
        namespaces=list(namespaces),
        stop_flag=stop_flag,
        ready_flag=ready_flag,
    )
    if spawned is not None:
        spawned()
    await kopf.run_tasks(root_tasks, ignored=_NotKopfs(existing))

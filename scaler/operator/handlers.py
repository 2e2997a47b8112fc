"""The kopf wiring, kept thin: which events call which reconcile function, and kopf's settings.

`build_registry(runtime)` returns a dedicated `kopf.OperatorRegistry` (nothing global) with:

* `on.login` from the operator's own `kube.Connection` (the same cluster `kube.discover` found);
* `on.resume` / `on.create` / `on.update` for ScaledObjects → `reconciling.reconcile` (a missing target
  or a referenced object not seen yet is retried after `retry_delay`); `on.delete` →
  `reconciling.finalize`. KEDA's finalizer name (`finalizer.keda.sh`) is the one kopf manages;
* `on.event` for ScaledObjects, Deployments, StatefulSets, HPAs, Secrets, ConfigMaps and
  (Cluster)TriggerAuthentications → `kube.Watched`, which the scale loops read instead of the API. A
  changed Secret raises `Watched.inputs_version`, so the loops that use it rebuild their triggers on
  their next tick, without a restart.

`settings()` keeps kopf's bookkeeping out of the ScaledObject's metadata (it lives in `status.ebb`, so
the HPA built from the ScaledObject's annotations carries no kopf annotation) and turns off kopf's own
Events (the operator posts KEDA's).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Collection, Iterator, Mapping
from typing import Any

import kopf

from scaler.operator import kube, reconciling

logger = logging.getLogger("ebb.handlers")

RETRY_DELAY = 5.0

_WATCHED = (
    ("apps", "v1", "deployments", kube.DEPLOYMENT),
    ("apps", "v1", "statefulsets", kube.STATEFUL_SET),
    ("", "v1", "secrets", kube.SECRET),
    ("", "v1", "configmaps", kube.CONFIG_MAP),
    (kube.KEDA_GROUP, kube.KEDA_VERSION, "triggerauthentications", kube.TRIGGER_AUTHENTICATION),
    (kube.KEDA_GROUP, kube.KEDA_VERSION, "clustertriggerauthentications", kube.CLUSTER_TRIGGER_AUTHENTICATION),
)


@dataclasses.dataclass
class Runtime:
    connection: kube.Connection
    context: reconciling.Context
    retry_delay: float = RETRY_DELAY


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
    """Drops kopf's "Handler 'watch-…' succeeded." line: the watch handlers only file the body away, and
    with 1,000 ScaledObjects that line came 100 times a second."""

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


def build_registry(runtime: Runtime) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    ctx = runtime.context
    watched = ctx.watched

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

    def remember(kind: str) -> Any:
        # async: kopf runs a plain function in a thread pool, a hop per watch event for a dict store.
        async def handler(event: Mapping[str, Any], body: Mapping[str, Any], **_: Any) -> None:
            if event.get("type") == "DELETED":
                watched.delete(kind, _plain(body))
            else:
                watched.put(kind, _plain(body))

        return handler

    kopf.on.event(kube.KEDA_GROUP, kube.KEDA_VERSION, "scaledobjects", registry=registry, id="watch-so")(
        remember(kube.SCALED_OBJECT)
    )
    for group, version, plural, kind in _WATCHED:
        kopf.on.event(group, version, plural, registry=registry, id=f"watch-{plural}")(remember(kind))

    @kopf.on.event("autoscaling", "v2", "horizontalpodautoscalers", registry=registry, id="watch-hpas")
    async def hpa_event(event: Mapping[str, Any], body: Mapping[str, Any], **_: Any) -> None:
        # Remembered like the other kinds; besides, an HPA a ScaledObject owns that someone edited or
        # deleted is put back, as KEDA does (it watches owned HPAs' spec, labels and annotations).
        hpa = _plain(body)
        meta = hpa.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        previous = watched.get(kube.HPA, namespace, name)
        deleted = event.get("type") == "DELETED"
        if deleted:
            watched.delete(kube.HPA, hpa)
        else:
            watched.put(kube.HPA, hpa)
        owner = reconciling.owning_scaled_object(hpa)
        if owner is None or (not deleted and (previous is None or not reconciling.hpa_drifted(previous, hpa))):
            return  # not ours, new (we just made it, or the watch is listing), or a status-only change
        so = watched.get(kube.SCALED_OBJECT, namespace, owner)
        if so is None or (so.get("metadata") or {}).get("deletionTimestamp"):
            return
        await reconciling.reconcile(ctx, so)

    async def reconcile(body: Mapping[str, Any], **_: Any) -> None:
        # The handler's body may be older than what the watch has since delivered (kopf batches).
        result = await reconciling.reconcile(ctx, _plain(body))
        if result.outcome is reconciling.Outcome.RETRY:
            raise kopf.TemporaryError(result.message, delay=runtime.retry_delay)

    for reason, decorator in (("resume", kopf.on.resume), ("create", kopf.on.create), ("update", kopf.on.update)):
        decorator(kube.KEDA_GROUP, kube.KEDA_VERSION, "scaledobjects", registry=registry, id=f"reconcile-{reason}")(
            reconcile
        )

    @kopf.on.delete(kube.KEDA_GROUP, kube.KEDA_VERSION, "scaledobjects", registry=registry, id="finalize")
    async def finalize(body: Mapping[str, Any], **_: Any) -> None:
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
) -> None:
    """kopf's operator with this registry and settings, until `stop_flag` is set (or a signal)."""
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
    await kopf.run_tasks(root_tasks, ignored=_NotKopfs(existing))

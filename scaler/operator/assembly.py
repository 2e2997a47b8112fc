"""Assembling the operator: settings, the cluster connection, the loops, the reconciler, the HTTP server,
the Lease.

`Operator(settings).run(stop)` runs until `stop` is set (SIGTERM/SIGINT set it), then shuts down within
`settings.shutdown_timeout` (10 s): the HTTP server reports not ready, reconciles under way finish, every
scale loop finishes the tick it is in (no half-done writes) and stops, the Lease is released, and the
scalers' shared connections and the API session are closed.

With leader election (`--leader-election`), every replica keeps `/healthz`, `/readyz` and `/metrics`
up and runs the reflectors (`kube.Informers`), the reconciler (`handlers.Reconciler`) and the scale loops
from its start, but only the holder of the `coordination.k8s.io/v1` Lease ticks and writes (a standby is
warm: its loops idle, its writes fenced);
taking the Lease wakes every prepared loop and reconciles what the standby could not write; losing it
stops the ticks within `lease_duration - renew_deadline` (anything left cancelled, and the next term
starts cold). Every write goes through `kube.Fenced`, which refuses it once this replica no longer holds
the Lease. See README "Control loop invariants".
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from scaler.core import specs
from scaler.operator import (
    api_service,
    dashboard_server,
    decision_log,
    event_recorder,
    handlers,
    heap,
    http_server,
    kube,
    leader_election,
    leases,
    operator_metrics,
    readings,
    readings_service,
    reconciling,
    scale_loop,
)
from scalers import connections, registry

logger = logging.getLogger("ebb.operator")


def _never() -> bool:
    return False

_LEASE_DURATION = leader_election.DEFAULT_LEASE_DURATION
_RENEW_DEADLINE = leader_election.DEFAULT_RENEW_DEADLINE
_RETRY_PERIOD = leader_election.DEFAULT_RETRY_PERIOD


@dataclasses.dataclass(frozen=True)
class Settings:
    kubeconfig: str | None = None
    context: str | None = None
    namespaces: tuple[str, ...] = ()  # empty: every namespace
    scaling_mode: specs.ScalingMode = specs.ScalingMode.HPA
    cluster_object_namespace: str = "keda"
    http_host: str = "127.0.0.1"
    http_port: int | None = 0  # None: no HTTP server; 0: a free port
    leader_election: bool = False
    lease_name: str = "ebb-operator"
    lease_namespace: str | None = None  # default: the connection's namespace
    identity: str = dataclasses.field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    lease_duration: float = _LEASE_DURATION
    renew_deadline: float = _RENEW_DEADLINE
    retry_period: float = _RETRY_PERIOD
    shutdown_timeout: float = 10.0
    retry_delay: float = handlers.RETRY_DELAY
    # Settle the heap once the loops stop changing (`scaler.operator.heap`): full collections stop walking the
    # long-lived objects, which took 250 ms per walk at 1,000 ScaledObjects.
    keep_heap: bool = True
    # The dashboard's bearer token (`scaler.operator.dashboard_server`): None leaves it open.
    http_token_file: str | None = None
    http_token_on_loopback: bool = False
    # `/metrics` served from one rendering for this many seconds (`http_server.CachedExposition`); 0: each
    # scrape renders (concurrent scrapes still share one rendering).
    metrics_max_age: float = 0.0


class Operator:
    """One operator process. After `run` has started: `port`, `metrics`, `decisions`, `loops`, `watched`."""

    def __init__(
        self,
        settings: Settings,
        *,
        connection: kube.Connection | None = None,
        scalers: registry.Registry | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.connection = connection
        self.scalers = scalers or registry.default()
        self.metrics = operator_metrics.OperatorMetrics()
        self.decisions = decision_log.DecisionLog()
        self.health = http_server.HealthState()
        self.watched = kube.Watched()
        self.clients = connections.SharedClients()
        self._clock, self._monotonic, self._sleep = clock, monotonic, sleep
        self.port: int | None = None
        self.api: kube.ApiKube | None = None
        self.loops: scale_loop.Loops | None = None
        self.elector: leader_election.LeaderElector | None = None
        self.events: event_recorder.EventRecorder | None = None
        self._runtime: handlers.Runtime | None = None
        self._stop: asyncio.Event | None = None
        self._signals: set[signal.Signals] = set()
        self.fenced: kube.Fenced | None = None
        self.started = asyncio.Event()
        self.dashboard: dashboard_server.Dashboard | None = None
        self.heap = heap.HeapKeeper()
        # What every tick measured, served to the external metrics API (`ebb adapter`).
        self.readings = readings.Readings(clock)
        self.advertiser: readings_service.Advertiser | None = None
        # Who owns v1beta1.external.metrics.k8s.io, as seen at the start of the last leadership (HPA mode).
        self.api_service: api_service.Outcome | None = None
        self._api_service_task: asyncio.Task[None] | None = None

    # -- leadership ---------------------------------------------------------------------------------

    def may_write(self) -> bool:
        """The write fence (`kube.Fenced`): with leader election, only while this replica holds the Lease
        (`LeaderElector.holds_lease`); without it, always."""
        if self.elector is None:
            return True
        return self.elector.holds_lease()

    async def _start_watching(self) -> None:
        """The reflectors, the reconciler and the Event recorder, if not running yet. With leader election
        they run from the start on every replica: a standby keeps its cache, parsed specs, built scalers
        and shared connections warm (its loops do not tick and its writes are fenced), so that taking the
        Lease means ticking at once rather than listing and reconciling thousands of objects first."""
        assert self._runtime is not None and self.api is not None
        if self._runtime.reconciler is not None:
            return
        informers = kube.Informers(self.api, self.watched, self.settings.namespaces)
        self._runtime.informers = informers
        self.health.listed = informers.synced.is_set
        reconciler = handlers.Reconciler(self._runtime, first_delay=self.settings.retry_delay)
        self._runtime.reconciler = reconciler
        if self.events is not None:
            self.events.start()
        # Workers first: the reflectors' first listing queues every ScaledObject, and the workers take
        # them once every resource has been listed.
        reconciler.start()
        await informers.start()

    async def _start_acting(self) -> None:
        assert self._runtime is not None and self._stop is not None and self.api is not None
        if self.health.leading:
            return
        warm = self._runtime.reconciler is not None
        await self._start_watching()
        self.health.leading, self.health.standby = True, False
        reconciler = self._runtime.reconciler
        if warm and reconciler is not None and self.loops is not None:
            # Every loop the standby prepared ticks now; what it could not write is reconciled now.
            woken = self.loops.wake_all()
            deferred = reconciler.take_over()
            logger.info("operator: took the Lease with %d scale loops ready, %d ScaledObjects to reconcile",
                        woken, deferred)
        if self.settings.scaling_mode is specs.ScalingMode.HPA and self.api is not None:
            self._api_service_task = asyncio.create_task(self._check_api_service(self.api), name="api-service")
        self.health.synced = True

    async def _check_api_service(self, api: kube.ApiKube) -> None:
        """HPA mode needs Ebb's adapter behind the external metrics APIService: say so when it is not."""
        try:
            outcome = await api_service.check(api, ca_pem=None, service=None)
        except kube.ApiError as error:
            logger.warning("operator: cannot read APIService %s: %s", api_service.NAME, error)
            return
        self.api_service = outcome
        if outcome.warning:
            logger.warning("operator: %s", outcome.warning)
        elif "does not exist" in outcome.note:
            logger.warning("operator: %s; HPA mode needs `ebb adapter` registered there, or use --scaling-mode direct",
                           outcome.note)

    async def _stop_acting(self) -> None:
        phases: list[str] = []
        began = mark = self._monotonic()

        def phase(what: str) -> None:
            nonlocal mark
            now = self._monotonic()
            phases.append(f"{what} {now - mark:.2f} s")
            mark = now

        try:
            await self._stop_acting_phases(phase)
        finally:
            logger.info("operator: stopped acting in %.2f s (%s)", self._monotonic() - began, ", ".join(phases))

    async def _stop_acting_phases(self, phase: Callable[[str], None]) -> None:
        if self._api_service_task is not None and not self._api_service_task.done():
            self._api_service_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._api_service_task
        self.health.leading = False
        self.health.synced = False
        self.health.listed = _never
        runtime = self._runtime
        # The scale loops stop (each after its tick in flight, all at once) while reconciles under way
        # finish; one that a last reconcile starts meanwhile is stopped by the second `stop_all` below.
        loops_stopping = asyncio.create_task(self.loops.stop_all(), name="stop scale loops") \
            if self.loops is not None else None
        if runtime is not None and runtime.reconciler is not None:
            await runtime.reconciler.stop(grace=self.settings.shutdown_timeout / 4)
            runtime.reconciler = None
        phase("reconciles")
        if loops_stopping is not None:
            await loops_stopping
        if self.loops is not None:
            await self.loops.stop_all()
        phase("scale loops")
        if runtime is not None and runtime.informers is not None:
            await runtime.informers.stop()
        phase("reflectors")
        if self.events is not None:
            await self.events.stop(grace=1.0 if self.may_write() else 0.0)
        phase("events")
        if self.settings.leader_election and not self.health.stopping:
            self.health.standby = True

    async def _lost_leadership(self) -> None:
        """The term ended: stop acting within the margin the election leaves before anyone else may take
        over (`lease_duration - renew_deadline`). The write fence already refuses every write; the ticks
        in flight end, no new one starts, and the replica stands by warm (reflectors, reconciler and idle
        loops kept). What is still ticking after the margin is cancelled, and the replica starts cold."""
        assert self.elector is not None
        margin = self.elector.stop_margin
        began = self._monotonic()
        self._stop_api_service_check()
        self.health.leading = False
        if self.loops is not None and not await self.loops.quiesce(margin):
            logger.warning("operator: stopping after the lost Lease took longer than %.1f s; cancelled", margin)
            self._abandon()
            return
        if self.settings.leader_election and not self.health.stopping:
            self.health.standby = True
        logger.info("operator: lost the Lease; standing by (ticks in flight ended in %.2f s)",
                    self._monotonic() - began)

    def _stop_api_service_check(self) -> None:
        if self._api_service_task is not None and not self._api_service_task.done():
            self._api_service_task.cancel()

    def _abandon(self) -> None:
        """Cancel whatever of the term is still running (the fence already keeps it from writing)."""
        self.health.leading = False
        runtime = self._runtime
        if runtime is not None and runtime.reconciler is not None:
            runtime.reconciler.abandon()
            runtime.reconciler = None
        if self.loops is not None:
            self.loops.abandon()
        if runtime is not None and runtime.informers is not None:
            runtime.informers.abandon()
            runtime.informers = None  # the next term starts watching afresh
        if self.settings.leader_election and not self.health.stopping:
            self.health.standby = True

    def _handle_signals(self) -> None:
        """SIGTERM and SIGINT set the stop flag (in the main thread only, where asyncio can take signals)."""
        if self._stop is None or threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._stop.set)
                self._signals.add(signum)

    def _release_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._signals:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
        self._signals.clear()

    # -- running ------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.settings
        self._stop = stop
        self._handle_signals()
        connection = self.connection or kube.discover(settings.kubeconfig, context=settings.context)
        self.connection = connection
        api = self.api = kube.ApiKube(connection)
        fenced = self.fenced = kube.Fenced(api, self.may_write)
        loop_ctx = scale_loop.LoopContext(
            api=fenced,
            watched=self.watched,
            scalers=self.scalers,
            clients=self.clients,
            clock=self._clock,
            monotonic=self._monotonic,
            sleep=self._sleep,
            decision_log=self.decisions,
            metrics=self.metrics,
            cluster_object_namespace=settings.cluster_object_namespace,
            default_mode=settings.scaling_mode,
            leading=lambda: self.health.leading,
            readings=self.readings,
        )
        self.loops = scale_loop.Loops(loop_ctx)
        self.health.stalled = self.loops.stalled
        self.events = event_recorder.EventRecorder(fenced)
        context = reconciling.Context(
            events=self.events,
            api=fenced,
            watched=self.watched,
            loops=self.loops,
            scalers=self.scalers,
            default_mode=settings.scaling_mode,
            cluster_object_namespace=settings.cluster_object_namespace,
        )
        self._runtime = handlers.Runtime(context, retry_delay=settings.retry_delay)
        self.watched.subscribe_changes(self._on_change)
        runner = None
        lease_api: leases.HttpLeaseApi | None = None
        elector_task: asyncio.Task[None] | None = None
        heap_task = None
        advertiser_task: asyncio.Task[None] | None = None
        pauses = heap.PauseWatch()
        pauses.install()
        if settings.keep_heap:
            self.heap.take_over_full_collections()
            heap_task = asyncio.create_task(self._keep_heap(), name="heap")
        try:
            if settings.http_port is not None:
                app = http_server.make_app(metrics=self.metrics, decisions=self.decisions, health=self.health,
                                           metrics_max_age=settings.metrics_max_age)
                self.dashboard = dashboard_server.Dashboard(
                    watched=self.watched, decisions=self.decisions, health=self.health, clock=self._clock,
                    identity=settings.identity, default_mode=settings.scaling_mode.value)
                token = dashboard_server.read_token(settings.http_token_file) if settings.http_token_file else None
                dashboard_server.install(app, self.dashboard, token=token,
                                         token_on_loopback=settings.http_token_on_loopback)
                local = readings_service.LocalReadings(
                    self.readings, lambda: self.loops, api, lambda: self.health.leading
                )
                readings_service.add_routes(app, local)
                runner = await http_server.serve(app, settings.http_host, settings.http_port)
                self.port = http_server.bound_port(runner)
                self.advertiser = readings_service.Advertiser(
                    api,
                    namespace=settings.lease_namespace or connection.namespace,
                    identity=settings.identity,
                    url=readings_service.advertised_url(settings.http_host, self.port, os.environ),
                    acting=lambda: self.health.leading,
                )
                advertiser_task = asyncio.create_task(self.advertiser.run(), name="readings-advertiser")
            logger.info("operator: cluster %s (%s)", connection.server, connection.source)
            if settings.leader_election:
                ssl_context = connection.ssl_context()
                lease_api = leases.HttpLeaseApi(
                    connection.server,
                    token=connection.token,
                    ssl_context=ssl_context if not isinstance(ssl_context, bool) else None,
                )
                self.elector = leader_election.LeaderElector(
                    api=lease_api,
                    namespace=settings.lease_namespace or connection.namespace,
                    name=settings.lease_name,
                    identity=settings.identity,
                    lease_duration=settings.lease_duration,
                    renew_deadline=settings.renew_deadline,
                    retry_period=settings.retry_period,
                    on_started_leading=self._start_acting,
                    on_stopped_leading=self._lost_leadership,
                )
                self.health.standby = True
                await self._start_watching()  # warm from the start: see `_start_watching`
                elector_task = asyncio.create_task(self.elector.run(), name="leader-election")
            else:
                await self._start_acting()
            self.started.set()
            await stop.wait()
        finally:
            if advertiser_task is not None:
                advertiser_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await advertiser_task
            if heap_task is not None:
                heap_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heap_task
            await self._shutdown(runner, elector_task, lease_api)
            self._release_signals()
            pauses.remove()

    def _on_change(self, kind: str, previous: Any, current: Any) -> None:
        runtime = self._runtime
        if runtime is not None and runtime.reconciler is not None:
            runtime.reconciler.on_change(kind, previous, current)

    async def _keep_heap(self) -> None:
        """Collect the young generations every `heap.YOUNG_COLLECTION_SECONDS`; settle the heap
        (`scaler.operator.heap`) once the set of scale loops stops changing, and now and then."""
        while True:
            await self._sleep(heap.YOUNG_COLLECTION_SECONDS)
            self.heap.collect_young()
            starts = self.loops.starts if self.loops is not None else 0
            self.heap.observe(starts, self._monotonic())

    async def _shutdown(
        self,
        runner: Any,
        elector_task: asyncio.Task[None] | None,
        lease_api: leases.HttpLeaseApi | None,
    ) -> None:
        self.health.stopping = True
        began = self._monotonic()
        deadline = self.settings.shutdown_timeout
        try:
            async with asyncio.timeout(deadline):
                await self._stop_acting()
                if elector_task is not None:
                    elector_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await elector_task
        except TimeoutError:
            logger.warning("operator: shutdown took longer than %.0f s; closing anyway", deadline)
        finally:
            with contextlib.suppress(Exception):
                await self.clients.aclose()
            if lease_api is not None:
                with contextlib.suppress(Exception):
                    await lease_api.close()
            if self.api is not None:
                await self.api.aclose()
            if runner is not None:
                with contextlib.suppress(Exception):
                    await http_server.stop(runner)
            logger.info("operator: shut down in %.2f s", self._monotonic() - began)
            self.heap.release()

"""`ebb demo` assembled: the Kubernetes API sandbox (with its toy kubelet), the operator talking to it over
HTTP through a kubeconfig, the operator's HTTP server, and a generated workload — an HTTP endpoint whose
queue depth rises and falls (`demo_timeline.Schedule`), read through the real `metrics-api` scaler.

`run(options, emit=print)` applies the CRDs (shipped in the package, `scaler/data/crds/`), a namespace,
a Deployment at 0 replicas and a ScaledObject, then watches the Deployment and the decision JSON the
operator serves, emitting one line per change until the cycle (0 → 1 → N → 0) is complete, `duration`
has passed, or `stop` is set. Everything is torn down before it returns.

In HPA mode (`--mode hpa`) the sandbox also runs its HPA controller and `ebb adapter` runs in-process,
registered through a Service, Endpoints and the APIService `v1beta1.external.metrics.k8s.io`: the operator
does 0 ↔ 1, the HPA controller 1 ↔ N from the values it reads through the aggregation layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.resources
import logging
import pathlib
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from kube_sandbox import testing
from metrics_adapter import answers as answers_module
from metrics_adapter import running as adapter_running
from scaler.cli import demo_timeline
from scaler.core import specs
from scaler.operator import assembly

logger = logging.getLogger("ebb.demo")

NAMESPACE = "demo"
NAME = "worker"
TARGET_VALUE = 10
MAX_REPLICAS = 10
METRIC = "s0-metric-api-queue-depth"
API_SERVICE = answers_module.API_SERVICE_NAME
POLL_EVERY = 0.2  # seconds between two looks at the Deployment and the decision log
DECISION_LAG = 1.5  # seconds a replica count may run ahead of the recorded decisions before it is shown
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
NAMESPACES = "/api/v1/namespaces"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
SCALED_OBJECTS = f"/apis/keda.sh/v1alpha1/namespaces/{NAMESPACE}/scaledobjects"


class DemoError(Exception):
    """The demo could not be set up (a refused object, a server that did not start)."""


@dataclasses.dataclass(frozen=True)
class Options:
    duration: float = 70.0
    mode: specs.ScalingMode = specs.ScalingMode.DIRECT
    ready_delay: float = 0.5  # seconds from a pod's creation to Ready (the toy kubelet)
    peak: int = 60
    keep: bool = False  # after the cycle, keep everything running until stopped (to look around)
    http_port: int = 0  # the operator's HTTP server (dashboard, metrics); 0 picks a free port


@dataclasses.dataclass(frozen=True)
class Result:
    completed: bool
    interrupted: bool
    changes: tuple[demo_timeline.Observation, ...]
    decisions_url: str
    decision_answers: int  # 200 answers from the decision JSON endpoint during the run
    decisions: int  # decisions the operator recorded
    elapsed: float
    hpa: str | None = None  # HPA mode: what the operator built


# --- what is applied --------------------------------------------------------------------------------


def crd_documents() -> list[dict[str, Any]]:
    """Ebb's CRDs as shipped in the package (copies of the repository's `crds/`, kept identical by a test)."""
    folder = importlib.resources.files("scaler") / "data" / "crds"
    found = sorted((entry for entry in folder.iterdir() if entry.name.endswith(".yaml")), key=lambda e: e.name)
    if not found:
        raise DemoError(f"no CRDs found in {folder} (the package is installed without its data files)")
    return [yaml.safe_load(entry.read_text(encoding="utf-8")) for entry in found]


def deployment() -> dict[str, Any]:
    labels = {"app": NAME}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "worker", "image": "example.com/queue-worker:1"}]},
            },
        },
    }


def scaled_object(queue_url: str, mode: specs.ScalingMode) -> dict[str, Any]:
    # Fast, visible steps for a short demo: up by at most 2 pods a second, down by 1 a second after a
    # 2 s stabilization window (the HPA defaults, 4 pods per 15 s up and a 300 s window down, would
    # take minutes).
    behavior = {
        "scaleUp": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 2, "periodSeconds": 1}]},
        "scaleDown": {"stabilizationWindowSeconds": 2, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 1}]},
    }
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "annotations": {specs.SCALING_MODE: mode.value}},
        "spec": {
            "scaleTargetRef": {"name": NAME},
            "pollingInterval": 1,
            "cooldownPeriod": 5,
            "minReplicaCount": 0,
            "maxReplicaCount": MAX_REPLICAS,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": behavior}},
            "triggers": [
                {
                    "type": "metrics-api",
                    "name": "queue",
                    "metadata": {
                        "url": queue_url,
                        "format": "json",
                        "valueLocation": "queue.depth",
                        "targetValue": str(TARGET_VALUE),
                    },
                }
            ],
        },
    }


# --- the workload -----------------------------------------------------------------------------------


class Workload:
    """An HTTP endpoint serving the schedule's queue depth at `GET /queue` as `{"queue": {"depth": N}}`.
    The schedule's clock starts at `begin()`; before that the queue is empty."""

    def __init__(self, schedule: demo_timeline.Schedule, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.schedule = schedule
        self._monotonic = monotonic
        self._began: float | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    def begin(self) -> None:
        self._began = self._monotonic()

    def elapsed(self) -> float:
        return 0.0 if self._began is None else self._monotonic() - self._began

    def depth(self) -> int:
        return 0 if self._began is None else self.schedule.depth(self.elapsed())

    async def _queue(self, request: web.Request) -> web.Response:
        return web.json_response({"queue": {"depth": self.depth()}})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/queue", self._queue)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
        self.url = f"http://127.0.0.1:{port}/queue"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


# --- talking to the sandbox -------------------------------------------------------------------------


async def _create(session: aiohttp.ClientSession, path: str, body: Mapping[str, Any]) -> None:
    async with session.post(path, json=dict(body)) as reply:
        if reply.status != 201:
            kind, name = body.get("kind"), (body.get("metadata") or {}).get("name")
            raise DemoError(f"the sandbox refused {kind} {name}: HTTP {reply.status}: {await reply.text()}")


async def _until_served(session: aiohttp.ClientSession, path: str, within: float = 10.0) -> None:
    """Wait until the API serves `path` (a CRD's resources are served once it is established)."""
    deadline = time.monotonic() + within
    while True:
        async with session.get(path) as reply:
            if reply.status == 200:
                return
        if time.monotonic() > deadline:
            raise DemoError(f"the sandbox did not serve {path} within {within:g} s")
        await asyncio.sleep(0.05)


async def _json(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with session.get(url) as reply:
        if reply.status != 200:
            return reply.status, None
        return 200, await reply.json()


# --- running ----------------------------------------------------------------------------------------


async def run(
    options: Options,
    *,
    emit: Callable[[str], None] = print,
    stop: asyncio.Event | None = None,
    on_started: Callable[[], None] | None = None,
) -> Result:
    """The whole demo; returns when the cycle is complete, the duration is over or `stop` is set.

    `on_started` is called once the operator runs: the operator installs its own SIGINT/SIGTERM handlers
    (they stop the operator alone), and a caller that wants the signals (to stop the whole demo through
    `stop`) takes them back there."""
    schedule = demo_timeline.Schedule.for_duration(options.duration, peak=options.peak)
    stop = stop or asyncio.Event()
    began = time.monotonic()
    hpa_mode = options.mode is specs.ScalingMode.HPA
    # HPA mode: the sandbox runs an HPA controller (synced every second) that reads the adapter through
    # the aggregation layer, as kube-controller-manager and kube-apiserver do.
    sandbox = (
        testing.Sandbox(ready_delay=options.ready_delay, hpa_controller=True, hpa_sync_period=1.0, aggregation_recheck=0.2)
        if hpa_mode
        else testing.Sandbox(ready_delay=options.ready_delay)
    )
    # The sandbox runs in its own thread, with its own event loop: the operator's stop leaves it alone.
    await asyncio.to_thread(sandbox.start_in_thread)
    workload = Workload(schedule)
    running: assembly.Operator | None = None
    operator_task: asyncio.Task[None] | None = None
    operator_stop = asyncio.Event()
    adapter: adapter_running.Runner | None = None
    adapter_task: asyncio.Task[None] | None = None
    adapter_stop = asyncio.Event()
    try:
        with tempfile.TemporaryDirectory(prefix="ebb-demo-") as folder:
            kubeconfig = sandbox.write_kubeconfig(pathlib.Path(folder) / "kubeconfig", namespace=NAMESPACE)
            headers = {"Authorization": f"Bearer {testing.DEFAULT_TOKEN}"}
            async with aiohttp.ClientSession(base_url=sandbox.base_url, headers=headers) as kube:
                emit(f"ebb demo: Kubernetes API sandbox at {sandbox.base_url} (toy kubelet: pods Ready "
                     f"{options.ready_delay:g} s after creation)")
                emit(f"  kubectl --kubeconfig {kubeconfig} -n {NAMESPACE} get scaledobjects,deployments,pods")
                for crd in crd_documents():
                    await _create(kube, CRDS, crd)
                await _until_served(kube, SCALED_OBJECTS)
                await _create(kube, NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
                await _create(kube, DEPLOYMENTS, deployment())
                await workload.start()

                settings = assembly.Settings(kubeconfig=str(kubeconfig), http_port=options.http_port, retry_delay=1.0)
                running = assembly.Operator(settings)
                operator_task = asyncio.create_task(running.run(operator_stop), name="ebb-operator")
                started = asyncio.create_task(running.started.wait())
                await asyncio.wait({started, operator_task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
                started.cancel()
                if operator_task.done():
                    operator_task.result()
                    raise DemoError("the operator stopped while starting")
                if not running.started.is_set():
                    raise DemoError("the operator did not start within 30 s")
                if on_started is not None:
                    on_started()
                decisions_url = (
                    f"http://127.0.0.1:{running.port}/api/v1/scaledobjects/{NAMESPACE}/{NAME}/decisions"
                )
                emit(f"  operator: in-process, through that kubeconfig; metrics at http://127.0.0.1:{running.port}/metrics")
                emit(f"  decisions: {decisions_url}")
                dashboard_url = f"http://127.0.0.1:{running.port}/scaledobjects/{NAMESPACE}/{NAME}"
                emit(f"  dashboard: {dashboard_url} (every ScaledObject: http://127.0.0.1:{running.port}/)")
                emit(f"  workload: queue depth at {workload.url}: {schedule.describe()}")
                so = scaled_object(workload.url, options.mode)
                await _create(kube, SCALED_OBJECTS, so)
                workload.begin()
                emit(f"  applied ScaledObject {NAMESPACE}/{NAME}: metrics-api on queue.depth, targetValue "
                     f"{TARGET_VALUE}, pollingInterval 1, cooldownPeriod 5, max {MAX_REPLICAS}, {options.mode.value} mode")
                if hpa_mode:
                    adapter = adapter_running.Runner(adapter_running.Settings(
                        secure_port=0, bind_address="127.0.0.1", kubeconfig=str(kubeconfig)))
                    adapter_task = asyncio.create_task(adapter.run(adapter_stop), name="ebb-adapter")
                    await _register_adapter(kube, adapter, adapter_task)
                    emit(f"  HPA mode: the operator does 0↔1 and builds the HPA keda-hpa-{NAME}; the sandbox's HPA "
                         f"controller does 1↔N, reading ebb adapter (https://127.0.0.1:{adapter.port}) through the "
                         f"APIService {API_SERVICE} (Available)")
                    emit(f"  kubectl --kubeconfig {kubeconfig} get --raw '{_metric_path()}'")
                emit("")
                timeline = demo_timeline.Timeline(scale_out=True)
                answers = await _watch(
                    kube, decisions_url, workload, timeline, emit, stop, operator_task, deadline=began + options.duration,
                    hpa_mode=hpa_mode,
                )
                interrupted = stop.is_set() or operator_task.done()
                emit("")
                hpa = None
                if options.mode is specs.ScalingMode.HPA:
                    hpa = await _hpa_line(kube)
                    emit(hpa)
                if interrupted:
                    emit("interrupted: stopping")
                elif not timeline.completed:
                    emit(f"the cycle did not complete within --duration {options.duration:g} s")
                decisions = running.decisions.count(NAMESPACE, NAME) if (NAMESPACE, NAME) in running.decisions else 0
                for line in timeline.summary(decisions=decisions):
                    emit(line)
                if options.keep and not interrupted:
                    emit(f"--keep: everything keeps running; look around at {dashboard_url} — Ctrl-C to stop")
                    await stop.wait()
                return Result(
                    completed=timeline.completed,
                    interrupted=interrupted,
                    changes=tuple(timeline.changes),
                    decisions_url=decisions_url,
                    decision_answers=answers,
                    decisions=decisions,
                    elapsed=time.monotonic() - began,
                    hpa=hpa,
                )
    finally:
        adapter_stop.set()
        if adapter_task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(adapter_task, 15)
        operator_stop.set()
        if operator_task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(operator_task, 15)
        await workload.stop()
        await asyncio.to_thread(sandbox.stop_thread)


async def _hpa_line(kube: aiohttp.ClientSession) -> str:
    """HPA mode: the HPA the operator built, in one line (or that there is none)."""
    name = f"keda-hpa-{NAME}"
    code, body = await _json(kube, f"/apis/autoscaling/v2/namespaces/{NAMESPACE}/horizontalpodautoscalers/{name}")
    if code != 200 or body is None:
        return f"HPA {NAMESPACE}/{name}: not found (HTTP {code})"
    spec = body.get("spec") or {}
    metrics = []
    for metric in spec.get("metrics") or []:
        external = metric.get("external") or {}
        target = external.get("target") or {}
        value = target.get("averageValue", target.get("value"))
        metrics.append(f"{(external.get('metric') or {}).get('name')} ({target.get('type')} {value})")
    return (
        f"HPA {NAMESPACE}/{name} built by the operator: minReplicas {spec.get('minReplicas')}, maxReplicas "
        f"{spec.get('maxReplicas')}, external metric {', '.join(metrics) or 'none'}; status: "
        f"{_hpa_status_text(body)}"
    )


def _hpa_status_text(body: Mapping[str, Any]) -> str:
    status = body.get("status") or {}
    active = next((c for c in status.get("conditions") or [] if c.get("type") == "ScalingActive"), None)
    said = f", ScalingActive={active.get('status')} {active.get('reason')}" if active else ""
    return f"currentReplicas {status.get('currentReplicas', 0)}, desiredReplicas {status.get('desiredReplicas', 0)}{said}"


def _metric_path() -> str:
    selector = urllib.parse.quote(f"{answers_module.SCALED_OBJECT_LABEL}={NAME}", safe="")
    return f"/apis/{answers_module.GROUP_VERSION}/namespaces/{NAMESPACE}/{METRIC}?labelSelector={selector}"


async def _register_adapter(kube: aiohttp.ClientSession, adapter: adapter_running.Runner, task: asyncio.Task[None]) -> None:
    """Wait for the adapter, then register it as a cluster would (Service, Endpoints on loopback,
    APIService with its CA) and wait until the aggregation layer finds it Available."""
    waiter = asyncio.create_task(adapter.started.wait())
    await asyncio.wait({waiter, task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()
        raise DemoError("the adapter stopped while starting")
    if not adapter.started.is_set() or adapter.port is None or adapter.ca_pem is None:
        raise DemoError("the adapter did not start within 30 s")
    for obj in testing.apiservice_manifests(
        answers_module.GROUP, answers_module.VERSION, namespace=NAMESPACE, service=adapter.settings.service_name,
        port=adapter.port, ca_bundle_pem=adapter.ca_pem.decode(),
    ):
        plural = {"Service": f"/api/v1/namespaces/{NAMESPACE}/services",
                  "Endpoints": f"/api/v1/namespaces/{NAMESPACE}/endpoints",
                  "APIService": "/apis/apiregistration.k8s.io/v1/apiservices"}[obj["kind"]]
        await _create(kube, plural, obj)
    deadline = time.monotonic() + 15
    while True:
        _, body = await _json(kube, f"/apis/apiregistration.k8s.io/v1/apiservices/{API_SERVICE}")
        conditions = ((body or {}).get("status") or {}).get("conditions") or []
        available: Mapping[str, Any] = next((c for c in conditions if c.get("type") == "Available"), {})
        if available.get("status") == "True":
            return
        if time.monotonic() > deadline:
            raise DemoError(f"APIService {API_SERVICE} not Available within 15 s: {available.get('message')}")
        await asyncio.sleep(0.1)


async def _watch(
    kube: aiohttp.ClientSession,
    decisions_url: str,
    workload: Workload,
    timeline: demo_timeline.Timeline,
    emit: Callable[[str], None],
    stop: asyncio.Event,
    operator_task: asyncio.Task[None],
    *,
    deadline: float,
    hpa_mode: bool = False,
) -> int:
    """Look every POLL_EVERY s until the cycle completes, the deadline, `stop` or the operator ends; the
    number of 200 answers from the decision endpoint."""
    answers = 0
    path = f"{DEPLOYMENTS}/{NAME}"
    lagging_since: float | None = None
    async with aiohttp.ClientSession() as plain:
        while not (timeline.completed or stop.is_set() or operator_task.done() or time.monotonic() > deadline):
            # The Deployment first: a tick writes /scale before it records its decision, so a decision read
            # after the Deployment is at least as new as the replicas seen.
            code, target = await _json(kube, path)
            code_decisions, body = await _json(plain, f"{decisions_url}?limit=1")
            latest: Mapping[str, Any] | None = None
            if code_decisions == 200 and body is not None:
                answers += 1
                latest = body["decisions"][-1] if body["decisions"] else None
            if code == 200 and target is not None:
                replicas = int((target.get("spec") or {}).get("replicas") or 0)
                # The write landed but its decision is not recorded yet: wait a poll rather than print the
                # new replicas beside the previous decision (unless it stays so: someone else scaled it).
                hpa_step = None
                if hpa_mode and replicas > 0 and latest is not None and latest.get("replicas") not in (None, replicas):
                    # 1↔N is the HPA controller's: say what it read through the adapter.
                    hpa_step = await _hpa_step(kube)
                elif latest is not None and latest.get("replicas") != replicas:
                    lagging_since = lagging_since or time.monotonic()
                    if time.monotonic() - lagging_since < DECISION_LAG:
                        await _pause(stop)
                        continue
                lagging_since = None
                observation = _observation(workload, latest, replicas, target)
                if hpa_step is not None:
                    observation = dataclasses.replace(observation, reason="HPA", explanation=hpa_step)
                line = timeline.observe(observation)
                if line is not None:
                    emit(line)
            await _pause(stop)
    return answers


async def _hpa_step(kube: aiohttp.ClientSession) -> str | None:
    """The HPA's last step, from its status: desired replicas and the metric it read through the adapter."""
    code, body = await _json(kube, f"/apis/autoscaling/v2/namespaces/{NAMESPACE}/horizontalpodautoscalers/keda-hpa-{NAME}")
    if code != 200 or body is None:
        return None
    status = body.get("status") or {}
    metrics = []
    for metric in status.get("currentMetrics") or []:
        external = metric.get("external") or {}
        current = external.get("current") or {}
        metrics.append(f"{(external.get('metric') or {}).get('name')} averageValue "
                       f"{current.get('averageValue', current.get('value'))} per pod (target {TARGET_VALUE})")
    return (f"HPA controller: desiredReplicas {status.get('desiredReplicas')} from "
            f"{', '.join(metrics) or 'no metric yet'}, read through the adapter")


def _observation(
    workload: Workload, latest: Mapping[str, Any] | None, replicas: int, target: Mapping[str, Any]
) -> demo_timeline.Observation:
    reason, explanation = None, ""
    if latest is not None:
        # In direct mode the explanation already says what the HPA calculation did.
        reason, explanation = str(latest["reason"]), str(latest["explanation"])
    return demo_timeline.Observation(
        elapsed=workload.elapsed(),
        depth=workload.depth(),
        reason=reason,
        explanation=explanation,
        replicas=replicas,
        ready=int((target.get("status") or {}).get("readyReplicas") or 0),
    )


async def _pause(stop: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), POLL_EVERY)

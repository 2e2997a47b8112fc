"""The HPA controller of kube-controller-manager, for `autoscaling/v2` HPAs with External metrics.

It is a client of the sandbox like any other: it calls the API over HTTP with its own identity (a token
of ServiceAccount `kube-system/horizontal-pod-autoscaler`, bound to ClusterRole
`system:controller:horizontal-pod-autoscaler` as in kube-controller-manager with
`--use-service-account-credentials`), so RBAC, the aggregation layer and the metrics adapter behind it
are exercised exactly as a cluster exercises them. Every `sync_period` seconds (15 by default, as
`--horizontal-pod-autoscaler-sync-period`) it reconciles every HPA:

1. GET the target's `/scale` (the kind is mapped to its resource through discovery);
2. unless the target is at 0 replicas with minReplicas ≠ 0 (then it is left alone: ScalingDisabled;
   scale-to-zero and back is the operator's job), or outside [minReplicas, maxReplicas], read each
   External metric from `/apis/external.metrics.k8s.io/v1beta1/namespaces/NS/<metric name, lowercased
   as client-go does>?labelSelector=…` and, for Value targets, count the Running and Ready pods of the
   scale's selector;
3. compute with `scaler.core.hpa.sync` — Ebb's pure port of `reconcileAutoscaler` (tolerance,
   stabilization, behavior policies, the max(2×current, 4) clamp) — keeping the controller's in-memory
   recommendations and scale events per HPA;
4. PUT the new `/scale` (optimistic concurrency on its resourceVersion) and emit `SuccessfulRescale`;
5. PUT the HPA's `/status` when it changed: currentReplicas, desiredReplicas, currentMetrics,
   lastScaleTime, observedGeneration, and the conditions AbleToScale / ScalingActive / ScalingLimited
   with the controller's reasons and messages (lastTransitionTime kept while a condition's status holds).

Why it lives in the sandbox and imports `scaler.core.hpa`: a cluster runs its HPA controller by itself, so
`ebb sandbox` and every test harness get it by starting the sandbox (no second thing to compose); the
algorithm is Ebb's faithful, separately tested port of Kubernetes' code and a pure module (no I/O, no
Ebb runtime), so the sandbox still depends on nothing of Ebb's that runs. Only Resource and Pods metrics
are not computed (the sandbox has no metrics-server); such a metric counts as invalid.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import math
import ssl
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import yarl

from kube_sandbox import selectors
from scaler.core import hpa, quantities

log = logging.getLogger(__name__)

DEFAULT_SYNC_PERIOD = float(hpa.DEFAULT_SYNC_PERIOD)
COMPONENT = "horizontal-pod-autoscaler"
_HPAS = "/apis/autoscaling/v2/horizontalpodautoscalers"
_EXTERNAL = "/apis/external.metrics.k8s.io/v1beta1"


class CallFailed(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class _Condition:
    type: str
    status: str
    reason: str
    message: str


def _go_selector(selector: Mapping[str, Any] | None) -> str:
    """`%+v` of a *metav1.LabelSelector, as the controller prints it in its rescale reason."""
    if not selector:
        return "nil"
    labels = selector.get("matchLabels") or {}
    rendered = "".join(f"{k}: {labels[k]}," for k in sorted(labels))
    expressions = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key')},Operator:{e.get('operator')},Values:[]string{{"
        + ",".join(str(v) for v in e.get("values") or []) + "},},"
        for e in selector.get("matchExpressions") or [])
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{rendered}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}")


class Controller:
    def __init__(self, base_url: str, token: str, sync_period: float = DEFAULT_SYNC_PERIOD, *,
                 tolerance: float = hpa.DEFAULT_TOLERANCE,
                 downscale_stabilization: int = hpa.DEFAULT_DOWNSCALE_STABILIZATION,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        if sync_period <= 0:
            raise ValueError(f"the HPA sync period must be positive, got {sync_period}")
        self.base_url = base_url
        self._token = token
        self.sync_period = sync_period
        self.tolerance = tolerance
        self.downscale_stabilization = downscale_stabilization
        self._ssl = ssl_context
        self._states: dict[str, hpa.HpaState] = {}
        self._plurals: dict[tuple[str, str], str] = {}
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.syncs = 0

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sandbox-hpa-controller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self.sync_all()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("HPA controller sync failed")
            self.syncs += 1
            await asyncio.sleep(max(0.0, self.sync_period - (loop.time() - started)))

    # --- HTTP ----------------------------------------------------------------------------------------------

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self._ssl) if self._ssl is not None else None
            self._session = aiohttp.ClientSession(connector=connector, headers={"Authorization": f"Bearer {self._token}",
                                                           "User-Agent": "kube-controller-manager/v1.35.0 (sandbox)"})
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"} if data else {"Accept": "application/json"}
        url = yarl.URL(self.base_url + path, encoded=True)  # the query escaped as Go's url.Values.Encode does
        async with self._session.request(method, url, data=data, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=30)) as response:
            raw = await response.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            if response.status >= 300:
                message = parsed.get("message") if isinstance(parsed, dict) else raw.decode(errors="replace").strip()
                raise CallFailed(response.status, str(message or f"HTTP {response.status}"))
            return parsed

    async def _plural(self, api_version: str, kind: str) -> str:
        key = (api_version, kind)
        if key not in self._plurals:
            prefix = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
            listing = await self._call("GET", prefix)
            for entry in listing.get("resources") or []:
                if entry.get("kind") == kind and "/" not in str(entry.get("name")):
                    self._plurals[key] = str(entry["name"])
                    break
            else:
                raise CallFailed(404, f'no matches for kind "{kind}" in version "{api_version}"')
        return self._plurals[key]

    # --- reconcile ---------------------------------------------------------------------------------------------

    async def sync_all(self) -> None:
        listing = await self._call("GET", _HPAS)
        alive: set[str] = set()
        for item in listing.get("items") or []:
            uid = str(item["metadata"].get("uid"))
            alive.add(uid)
            where = f'{item["metadata"].get("namespace")}/{item["metadata"].get("name")}'
            try:
                await self.sync_one(item)
            except CallFailed as exc:
                log.info("HPA %s: %s", where, exc.message)
            except (KeyError, TypeError, ValueError, aiohttp.ClientError) as exc:  # one bad HPA never stops the rest
                log.warning("HPA %s: sync failed: %s: %s", where, type(exc).__name__, exc)
        for uid in set(self._states) - alive:
            del self._states[uid]  # deleting an HPA forgets its recommendations and events

    async def sync_one(self, obj: Mapping[str, Any]) -> None:
        meta = obj["metadata"]
        ns, _name, uid = str(meta["namespace"]), str(meta["name"]), str(meta["uid"])
        spec = obj.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        previous = dict(obj.get("status") or {})
        conditions: list[_Condition] = []
        try:
            plural = await self._plural(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""))
            prefix = f"/apis/{ref['apiVersion']}" if "/" in str(ref.get("apiVersion")) else f"/api/{ref.get('apiVersion')}"
            scale_path = f"{prefix}/namespaces/{ns}/{plural}/{ref.get('name')}/scale"
            scale = await self._call("GET", scale_path)
        except CallFailed as exc:
            conditions.append(_Condition("AbleToScale", "False", "FailedGetScale",
                                         f"the HPA controller was unable to get the target's current scale: {exc.message}"))
            await self._event(obj, "Warning", "FailedGetScale", exc.message)
            await self._write_status(obj, previous, conditions, current=previous.get("currentReplicas", 0),
                                     desired=previous.get("desiredReplicas", 0), metrics=previous.get("currentMetrics"),
                                     scaled=False)
            return
        conditions.append(_Condition("AbleToScale", "True", "SucceededGetScale",
                                     "the HPA controller was able to get the target's current scale"))
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        status_replicas = int((scale.get("status") or {}).get("replicas") or 0)
        selector = str((scale.get("status") or {}).get("selector") or "")
        min_replicas = int(spec.get("minReplicas", 1))
        max_replicas = int(spec.get("maxReplicas") or 0)
        metric_specs = [m for m in spec.get("metrics") or [] if isinstance(m, Mapping)]
        reads = not (current == 0 and min_replicas != 0) and min_replicas <= current <= max_replicas
        readings = [await self._reading(ns, m) if reads else _unread(m) for m in metric_specs]
        ready = total = 0
        if reads and any(r.target_type == hpa.VALUE for r in readings) and current != 0:
            if not selector:
                conditions.append(_Condition("ScalingActive", "False", "InvalidSelector",
                                             "the HPA target's scale is missing a selector"))
                await self._write_status(obj, previous, conditions, current=current,
                                         desired=previous.get("desiredReplicas", 0), metrics=None, scaled=False)
                return
            ready, total = await self._pods(ns, selector)
        if not readings:
            readings = [hpa.MetricReading("(none)", hpa.VALUE, 1.0, None, "the HPA has no metrics")]
        now = asyncio.get_running_loop().time()
        try:
            result = hpa.sync(metrics=readings, spec_replicas=current, status_replicas=status_replicas,
                              ready_pods=ready, total_pods=total, min_replicas=min_replicas, max_replicas=max_replicas,
                              behavior=spec.get("behavior"), state=self._states.get(uid, hpa.HpaState()), now=now,
                              tolerance=self.tolerance, downscale_stabilization=self.downscale_stabilization)
        except (ValueError, hpa.BehaviorError) as exc:
            conditions.append(_Condition("ScalingActive", "False", "InvalidMetricSourceType", str(exc)))
            await self._write_status(obj, previous, conditions, current=current,
                                     desired=previous.get("desiredReplicas", 0), metrics=None, scaled=False)
            return
        conditions += [_Condition(c.type, "True" if c.status else "False", c.reason,
                                  _metric_message(c.message, result, metric_specs) if c.reason == "ValidMetricFound"
                                  else c.message)
                       for c in result.conditions]
        metrics_status = _metric_statuses(readings, metric_specs, result, status_replicas) if result.proposals else None
        if result.reason is hpa.Reason.FAILED_GET_EXTERNAL_METRIC:
            failed = next(p for p in result.proposals if p.replicas is None)
            await self._event(obj, "Warning", "FailedGetExternalMetric", str(failed.error))
            await self._event(obj, "Warning", "FailedComputeMetricsReplicas",
                              f"invalid metrics ({sum(1 for p in result.proposals if p.replicas is None)} invalid out of "
                              f"{len(result.proposals)}), first error is: {failed.error}")
            await self._write_status(obj, previous, conditions, current=current,
                                     desired=previous.get("desiredReplicas", 0), metrics=metrics_status, scaled=False)
            self._states[uid] = result.state
            return
        scaled = False
        if result.rescale:
            body = dict(scale, spec={"replicas": result.replicas})
            try:
                await self._call("PUT", scale_path, body)
            except CallFailed as exc:
                self._states[uid] = result.state_if_write_fails
                conditions.append(_Condition("AbleToScale", "False", "FailedUpdateScale",
                                             f"the HPA controller was unable to update the target scale: {exc.message}"))
                await self._event(obj, "Warning", "FailedRescale",
                                  f"New size: {result.replicas}; reason: {_rescale_reason(current, result, metric_specs)}; "
                                  f"error: {exc.message}")
                await self._write_status(obj, previous, conditions, current=current,
                                         desired=previous.get("desiredReplicas", 0), metrics=metrics_status, scaled=False)
                return
            scaled = True
            conditions.append(_Condition("AbleToScale", "True", "SucceededRescale",
                                         f"the HPA controller was able to update the target scale to {result.replicas}"))
            await self._event(obj, "Normal", "SuccessfulRescale",
                              f"New size: {result.replicas}; reason: {_rescale_reason(current, result, metric_specs)}")
        self._states[uid] = result.state
        desired = 0 if result.reason is hpa.Reason.SCALING_DISABLED else result.replicas
        await self._write_status(obj, previous, conditions, current=current, desired=desired,
                                 metrics=metrics_status, scaled=scaled)

    async def _reading(self, ns: str, metric: Mapping[str, Any]) -> hpa.MetricReading:
        if metric.get("type") != "External":
            return hpa.MetricReading(str(metric.get("type")), hpa.VALUE, 1.0, None,
                                     f"the sandbox's HPA controller computes External metrics only, not {metric.get('type')}")
        external = metric.get("external") or {}
        ident = external.get("metric") or {}
        target = external.get("target") or {}
        name = str(ident.get("name") or "")
        target_type = str(target.get("type") or "")
        raw_target = target.get("value") if target_type == hpa.VALUE else target.get("averageValue")
        try:
            target_value = hpa.parse_quantity(raw_target) if raw_target is not None else math.nan
        except ValueError as exc:
            return hpa.MetricReading(name, target_type, 1.0, None, f"invalid external metric target: {exc}")
        if raw_target is None:
            return hpa.MetricReading(name, target_type, 1.0, None, "invalid external metric source: neither a value target nor an average value target was set")
        label_selector = selectors.render(selectors.from_label_selector_object(ident.get("selector")))
        query = f"?{urllib.parse.urlencode({'labelSelector': label_selector})}" if label_selector else ""
        path = f"{_EXTERNAL}/namespaces/{ns}/{urllib.parse.quote(name.lower(), safe='')}{query}"
        try:
            answer = await self._call("GET", path)
            values = tuple(hpa.parse_quantity(item.get("value")) for item in answer.get("items") or [])
        except (CallFailed, ValueError, AttributeError) as exc:
            why = exc.message if isinstance(exc, CallFailed) else str(exc)
            return hpa.MetricReading(name, target_type, target_value, None,
                                     f"unable to get external metric {ns}/{name}/{_go_selector(ident.get('selector'))}: "
                                     f"unable to fetch metrics from external metrics API: {why}")
        return hpa.MetricReading(name, target_type, target_value, values)

    async def _pods(self, ns: str, selector: str) -> tuple[int, int]:
        listing = await self._call("GET", f"/api/v1/namespaces/{ns}/pods?{urllib.parse.urlencode({'labelSelector': selector})}")
        ready = total = 0
        for pod in listing.get("items") or []:
            if (pod.get("metadata") or {}).get("deletionTimestamp"):
                continue
            total += 1
            status = pod.get("status") or {}
            if status.get("phase") == "Running" and any(
                    c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []):
                ready += 1
        return ready, total

    # --- writes ------------------------------------------------------------------------------------------------

    async def _event(self, obj: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
        meta = obj["metadata"]
        moment = _now_iso()
        event = {
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {"kind": "HorizontalPodAutoscaler", "namespace": meta["namespace"], "name": meta["name"],
                               "uid": meta["uid"], "apiVersion": "autoscaling/v2",
                               "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message, "type": kind, "count": 1,
            "source": {"component": COMPONENT}, "firstTimestamp": moment, "lastTimestamp": moment,
            "reportingComponent": COMPONENT, "reportingInstance": "",
        }
        with contextlib.suppress(CallFailed):
            await self._call("POST", f"/api/v1/namespaces/{meta['namespace']}/events", event)

    async def _write_status(self, obj: Mapping[str, Any], previous: Mapping[str, Any], conditions: Sequence[_Condition],
                            *, current: Any, desired: Any, metrics: Any, scaled: bool) -> None:
        status: dict[str, Any] = {"observedGeneration": obj["metadata"].get("generation")}
        if scaled:
            status["lastScaleTime"] = _now_iso()
        elif previous.get("lastScaleTime"):
            status["lastScaleTime"] = previous["lastScaleTime"]
        status["currentReplicas"] = current
        status["desiredReplicas"] = desired
        if metrics:
            status["currentMetrics"] = metrics
        status["conditions"] = _merge_conditions(previous.get("conditions") or [], conditions)
        if status == {k: v for k, v in previous.items() if k in status} and set(previous) <= set(status):
            return
        body = dict(obj, status=status)
        meta = obj["metadata"]
        with contextlib.suppress(CallFailed):  # a conflict: the next sync writes it
            await self._call("PUT", f"/apis/autoscaling/v2/namespaces/{meta['namespace']}/horizontalpodautoscalers/"
                                    f"{meta['name']}/status", body)


def _unread(metric: Mapping[str, Any]) -> hpa.MetricReading:
    external = metric.get("external") or {}
    return hpa.MetricReading(str((external.get("metric") or {}).get("name") or metric.get("type")), hpa.VALUE, 1.0,
                             None, "not read")


def _metric_statuses(readings: Sequence[hpa.MetricReading], specs: Sequence[Mapping[str, Any]],
                     result: hpa.SyncResult, status_replicas: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n, (reading, proposal) in enumerate(zip(readings, result.proposals, strict=True)):
        if proposal.replicas is None or reading.values is None:
            out.append({"type": ""})  # Go leaves a failed metric's status as the zero value
            continue
        total = min(sum(hpa.milli_value(v) for v in reading.values), 2**63 - 1)
        if reading.target_type == hpa.AVERAGE_VALUE:
            average = math.ceil(total / status_replicas) if status_replicas else total
            current = {"averageValue": quantities.format_milli(average)}
        else:
            current = {"value": quantities.format_milli(total)}
        metric: dict[str, Any] = {"name": reading.name}
        selector = ((specs[n].get("external") or {}).get("metric") or {}).get("selector") if n < len(specs) else None
        if selector:
            metric["selector"] = selector
        out.append({"type": "External", "external": {"metric": metric, "current": current}})
    return out


def _deciding_metric(result: hpa.SyncResult, metric_specs: Sequence[Mapping[str, Any]]) -> str:
    """`external metric NAME(SELECTOR)` of the metric whose proposal won, as the controller names it."""
    valid = [(p.replicas, i) for i, p in enumerate(result.proposals) if p.replicas is not None]
    best = max(valid, key=lambda ri: (ri[0], -ri[1]))[1] if valid else 0
    metric = ((metric_specs[best].get("external") or {}).get("metric") or {}) if best < len(metric_specs) else {}
    return f"external metric {metric.get('name')}({_go_selector(metric.get('selector'))})"


def _metric_message(message: str, result: hpa.SyncResult, metric_specs: Sequence[Mapping[str, Any]]) -> str:
    return f"the HPA was able to successfully calculate a replica count from {_deciding_metric(result, metric_specs)}"


def _rescale_reason(current: int, result: hpa.SyncResult, metric_specs: Sequence[Mapping[str, Any]]) -> str:
    if result.reason is hpa.Reason.ABOVE_MAX_REPLICAS:
        return "Current number of replicas above Spec.MaxReplicas"
    if result.reason is hpa.Reason.BELOW_MIN_REPLICAS:
        return "Current number of replicas below Spec.MinReplicas"
    if result.replicas < current:
        return "All metrics below target"
    return f"{_deciding_metric(result, metric_specs)} above target"


def _merge_conditions(previous: Sequence[Mapping[str, Any]], new: Sequence[_Condition]) -> list[dict[str, Any]]:
    """setCondition, in order: a condition replaces its type in place; lastTransitionTime moves on a change."""
    out = [dict(c) for c in previous if isinstance(c, Mapping)]
    moment = _now_iso()
    for condition in new:
        index = next((i for i, c in enumerate(out) if c.get("type") == condition.type), None)
        kept = out[index] if index is not None else None
        since = kept.get("lastTransitionTime") if kept and kept.get("status") == condition.status else moment
        rendered = {"type": condition.type, "status": condition.status, "lastTransitionTime": since,
                    "reason": condition.reason, "message": condition.message}
        if index is None:
            out.append(rendered)
        else:
            out[index] = rendered
    return out


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

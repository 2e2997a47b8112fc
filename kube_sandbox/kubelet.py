"""A toy controller-manager and kubelet: workloads get pods, pods become Ready, status follows.

When a Deployment's or StatefulSet's replicas change, pods (owned by the workload, labelled from its
template) are created or deleted; every pending pod turns Running and Ready after `ready_delay`
seconds; the workload's status (replicas, readyReplicas, availableReplicas, updatedReplicas,
observedGeneration, conditions) follows. Pods are owned directly by the workload (no ReplicaSets).
Writes go through the cluster's own semantics, so clients see ordinary watch events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kube_sandbox import cluster, storage

WORKLOADS = ("apps/deployments", "apps/statefulsets")
POD_KEY = "/pods"
NODE_NAME = "sandbox-node"

Schedule = Callable[[float, Callable[[], None]], None]


@dataclass
class Settings:
    enabled: bool = True
    # Seconds from a pod's creation to Running+Ready.
    ready_delay: float = 0.2


class Kubelet:
    def __init__(self, the_cluster: cluster.Cluster, settings: Settings, schedule: Schedule) -> None:
        self.cluster = the_cluster
        self.settings = settings
        self.schedule = schedule
        self._pending: set[tuple[str, str, str]] = set()
        self._ip = 0
        the_cluster.store.subscribe(self._on_event)

    def configure(self, *, enabled: bool | None = None, ready_delay: float | None = None) -> None:
        if ready_delay is not None:
            self.settings.ready_delay = ready_delay
        if enabled is not None:
            was = self.settings.enabled
            self.settings.enabled = enabled
            if enabled and not was:
                self.resync()

    def resync(self) -> None:
        for key in WORKLOADS:
            for record in list(self.cluster.store.items(key, None)):
                meta = record.obj["metadata"]
                self._queue(key, meta.get("namespace", ""), meta["name"])
        for record in list(self.cluster.store.items(POD_KEY, None)):
            self._maybe_start(record.obj)

    # --- events ------------------------------------------------------------------------------------

    def _on_event(self, event: storage.Event) -> None:
        if not self.settings.enabled:
            return
        obj = event.record.obj
        meta = obj["metadata"]
        if event.key in WORKLOADS:
            if event.type != "DELETED":
                self._queue(event.key, event.namespace, meta["name"])
        elif event.key == POD_KEY:
            if event.type == "ADDED":
                self._maybe_start(obj)
            for ref in meta.get("ownerReferences") or []:
                where = self.cluster.store.locate(str(ref.get("uid")))
                if where is not None and where[0] in WORKLOADS:
                    self._queue(*where)

    def _queue(self, key: str, ns: str, name: str) -> None:
        item = (key, ns, name)
        if item in self._pending:
            return
        self._pending.add(item)

        def run() -> None:
            self._pending.discard(item)
            if self.settings.enabled:
                self.reconcile(key, ns, name)

        self.schedule(0.0, run)

    def _maybe_start(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        if meta.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") not in (None, "Pending"):
            return
        ns, name, uid = meta.get("namespace", ""), meta["name"], meta["uid"]
        self.schedule(self.settings.ready_delay, lambda: self._start(ns, name, uid))

    def _start(self, ns: str, name: str, uid: str) -> None:
        if not self.settings.enabled:
            return
        record = self.cluster.store.get(POD_KEY, ns, name)
        if record is None or record.obj["metadata"]["uid"] != uid or record.obj["metadata"].get("deletionTimestamp"):
            return
        self._ip += 1
        ip = f"10.244.{(self._ip // 250) % 250}.{self._ip % 250 + 2}"
        now = self.cluster.now()

        def run(pod: dict[str, Any]) -> None:
            containers = (pod.get("spec") or {}).get("containers") or []
            pod.setdefault("spec", {}).setdefault("nodeName", NODE_NAME)
            pod["status"] = {
                "phase": "Running",
                "conditions": [
                    {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
                    for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
                ],
                "hostIP": "10.0.0.1",
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "startTime": now,
                "qosClass": "BestEffort",
                "containerStatuses": [
                    {"name": c.get("name"), "image": c.get("image"), "imageID": "", "ready": True, "started": True,
                     "restartCount": 0, "state": {"running": {"startedAt": now}}}
                    for c in containers if isinstance(c, dict)
                ],
            }

        self.cluster.internal_update(POD_KEY, ns, name, run, subresource="status", manager="kubelet")

    # --- workloads ---------------------------------------------------------------------------------

    def _owned_pods(self, uid: str) -> list[dict[str, Any]]:
        return [r.obj for r in self.cluster.store.dependents(uid) if r.obj["kind"] == "Pod"]

    def reconcile(self, key: str, ns: str, name: str) -> None:
        record = self.cluster.store.get(key, ns, name)
        if record is None or record.obj["metadata"].get("deletionTimestamp"):
            return
        workload = record.obj
        spec = workload.get("spec") or {}
        desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        pods = [p for p in self._owned_pods(workload["metadata"]["uid"]) if not p["metadata"].get("deletionTimestamp")]
        stateful = key == "apps/statefulsets"
        ordered = stateful and spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        if len(pods) < desired:
            self._scale_up(workload, pods, desired, stateful=stateful, ordered=ordered)
        elif len(pods) > desired:
            self._scale_down(key, pods, desired, stateful=stateful, ordered=ordered)
        self._update_status(key, ns, name)

    def _template_hash(self, workload: dict[str, Any]) -> str:
        template = (workload.get("spec") or {}).get("template") or {}
        return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]

    def _pod_for(self, workload: dict[str, Any], name: str, labels: dict[str, str]) -> dict[str, Any]:
        meta = workload["metadata"]
        template = (workload.get("spec") or {}).get("template") or {}
        tmeta = template.get("metadata") or {}
        pod_meta: dict[str, Any] = {
            "name": name,
            "labels": dict(tmeta.get("labels") or {}) | labels,
            "ownerReferences": [{
                "apiVersion": workload["apiVersion"], "kind": workload["kind"], "name": meta["name"],
                "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True,
            }],
        }
        if tmeta.get("annotations"):
            pod_meta["annotations"] = dict(tmeta["annotations"])
        return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": dict(template.get("spec") or {})}

    def _scale_up(self, workload: dict[str, Any], pods: list[dict[str, Any]], desired: int, *, stateful: bool,
                  ordered: bool) -> None:
        pod_rt = self.cluster.rt("", "v1", "pods")
        meta = workload["metadata"]
        ns = meta.get("namespace")
        opts = cluster.WriteOptions(manager="kube-controller-manager")
        if stateful:
            existing = {p["metadata"]["name"] for p in pods}
            if ordered and any(not _ready(p) for p in pods):
                return  # OrderedReady: the next ordinal waits for the previous ones to be Ready
            for ordinal in range(desired):
                pod_name = f"{meta['name']}-{ordinal}"
                if pod_name in existing:
                    continue
                labels = {"statefulset.kubernetes.io/pod-name": pod_name,
                          "controller-revision-hash": f"{meta['name']}-{self._template_hash(workload)}",
                          "apps.kubernetes.io/pod-index": str(ordinal)}
                self._create(pod_rt, ns, self._pod_for(workload, pod_name, labels), opts)
                if ordered:
                    return
            return
        template_hash = self._template_hash(workload)
        for _ in range(desired - len(pods)):
            suffix = "".join(self.cluster.rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            pod_name = f"{meta['name']}-{template_hash}-{suffix}"
            self._create(pod_rt, ns, self._pod_for(workload, pod_name, {"pod-template-hash": template_hash}), opts)

    def _create(self, rt: Any, ns: str | None, pod: dict[str, Any], opts: cluster.WriteOptions) -> None:
        try:
            self.cluster.create(rt, ns, pod, opts)
        except Exception:
            return

    def _scale_down(self, key: str, pods: list[dict[str, Any]], desired: int, *, stateful: bool, ordered: bool) -> None:
        if stateful:
            victims = sorted(pods, key=lambda p: _ordinal(p["metadata"]["name"]), reverse=True)
            victims = victims[: len(pods) - desired]
            if ordered:
                victims = victims[:1]
        else:
            # Not-ready pods go first, then the newest (what the ReplicaSet controller prefers).
            victims = sorted(pods, key=lambda p: (_ready(p), _neg_time(p)))[: len(pods) - desired]
        for pod in victims:
            self.cluster.internal_delete(POD_KEY, pod["metadata"].get("namespace", ""), pod["metadata"]["name"])

    def _update_status(self, key: str, ns: str, name: str) -> None:
        record = self.cluster.store.get(key, ns, name)
        if record is None:
            return
        workload = record.obj
        pods = [p for p in self._owned_pods(workload["metadata"]["uid"]) if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in pods if _ready(p))
        desired = int((workload.get("spec") or {}).get("replicas", 1) or 0)
        generation = workload["metadata"].get("generation", 1)
        now = self.cluster.now()
        stateful = key == "apps/statefulsets"

        def change(obj: dict[str, Any]) -> None:
            old_status = obj.get("status") or {}
            status: dict[str, Any] = {"observedGeneration": generation}
            if stateful:
                status |= {"replicas": len(pods), "readyReplicas": ready, "currentReplicas": len(pods),
                           "updatedReplicas": len(pods), "availableReplicas": ready,
                           "currentRevision": f"{name}-{self._template_hash(obj)}",
                           "updateRevision": f"{name}-{self._template_hash(obj)}", "collisionCount": 0}
            else:
                # Go's omitempty drops zero counts from DeploymentStatus.
                for field, value in (("replicas", len(pods)), ("updatedReplicas", len(pods)),
                                     ("readyReplicas", ready), ("availableReplicas", ready),
                                     ("unavailableReplicas", max(len(pods) - ready, 0))):
                    if value:
                        status[field] = value
                available = ready >= desired
                status["conditions"] = [
                    _condition(old_status, "Available", available,
                               "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                               "Deployment has minimum availability." if available
                               else "Deployment does not have minimum availability.", now),
                    _condition(old_status, "Progressing", True, "NewReplicaSetAvailable",
                               f'ReplicaSet "{name}-{self._template_hash(obj)}" has successfully progressed.', now),
                ]
            obj["status"] = status

        self.cluster.internal_update(key, ns, name, change, subresource="status")


def _condition(old_status: dict[str, Any], type_: str, ok: bool, reason: str, message: str, now: str) -> dict[str, Any]:
    status = "True" if ok else "False"
    previous = next((c for c in old_status.get("conditions") or [] if c.get("type") == type_), None)
    if previous is None or previous.get("status") != status:
        transition = update = now
    else:
        transition = previous.get("lastTransitionTime", now)
        update = now if previous.get("reason") != reason else previous.get("lastUpdateTime", now)
    return {"type": type_, "status": status, "lastUpdateTime": update, "lastTransitionTime": transition,
            "reason": reason, "message": message}


def _ready(pod: dict[str, Any]) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _ordinal(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def _neg_time(pod: dict[str, Any]) -> str:
    # Newest first among equals: invert the timestamp's characters' order by sorting key trick.
    stamp = pod["metadata"].get("creationTimestamp", "")
    return "".join(chr(0x10FFFF - ord(c)) for c in stamp)

"""Benchmark: the dashboard at 1,000 ScaledObjects, in process (no servers).

Fills a `kube.Watched` with 1,000 ScaledObjects and their Deployments and a `DecisionLog` with busy
decisions (every poll's value differs, so no run collapses them) at 1 s per object until the log's byte
budget bounds it; then measures:
* how far back an object page reaches (the time its kept decisions span) and what the log costs;
* one fleet document (`Dashboard.fleet`, all 1,000 rows built, one page returned) and its HTML;
* one object document and its HTML (charts and table over everything kept).

    .venv/bin/python bench/dashboard_fleet.py [--objects 1000] [--seconds 600]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import tracemalloc
from typing import Any

from scaler.operator import dashboard_server, decision_log, http_server, kube
from scaler.reports import dashboard, dashboard_pages

START = 1_800_000_000.0


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def entry(i: int, t: float) -> dict[str, Any]:
    value = (i * 7 + int(t)) % 50
    return {
        "time": "x", "timestamp": t, "mode": "direct", "reason": "ACTIVE",
        "explanation": f"s0-redis-jobs = {value} > activation 0: active; 1↔N in direct mode: HPA 3→{value // 5 + 1}",
        "active": True, "currentReplicas": 3, "replicas": value // 5 + 1, "written": False,
        "triggers": [{"index": 0, "name": None, "type": "redis", "metric": "s0-redis-jobs", "value": value,
                      "active": True, "error": None, "target": 5, "activation": 0, "latencySeconds": 0.001}],
        "metricValues": {"s0-redis-jobs": value}, "state": {"lastActiveTime": "2027-01-15T08:00:00Z"},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=600, help="seconds of polling at 1 s to record")
    args = parser.parse_args()
    watched = kube.Watched()
    log = decision_log.DecisionLog()
    clock = [START]
    board = dashboard_server.Dashboard(watched=watched, decisions=log, health=http_server.HealthState(leading=True),
                                       clock=lambda: clock[0])
    for i in range(args.objects):
        ns = f"team-{i % 10}"
        watched.put(kube.DEPLOYMENT, {"metadata": {"namespace": ns, "name": f"w-{i}"}, "spec": {"replicas": 3},
                                      "status": {"readyReplicas": 3}})
        watched.put(kube.SCALED_OBJECT, {
            "metadata": {"namespace": ns, "name": f"so-{i}"},
            "spec": {"scaleTargetRef": {"name": f"w-{i}"}, "maxReplicaCount": 10, "triggers": [{"type": "redis"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Active", "status": "True"}]}})
    tracemalloc.start()
    for second in range(args.seconds):
        t = START + second
        for i in range(args.objects):
            log.record(f"team-{i % 10}", f"so-{i}", entry(i, t))
    clock[0] = START + args.seconds
    kept = log.entries("team-0", "so-0")
    reach = kept[-1]["timestamp"] - kept[0]["timestamp"]
    print(f"decision log: {len(kept)} entries kept per object, reaching back {reach:.0f} s at 1 poll/s; "
          f"{log.nbytes / 2**20:.1f} MiB counted, {tracemalloc.get_traced_memory()[0] / 2**20:.1f} MiB traced")
    tracemalloc.stop()

    filters = dashboard.Filters()
    fleet_times, page_times = [], []
    for _ in range(5):
        began = time.perf_counter()
        doc = board.fleet(filters)
        fleet_times.append(time.perf_counter() - began)
        began = time.perf_counter()
        dashboard_pages.fleet_page(doc, filters, board.header(), "x")
        page_times.append(time.perf_counter() - began)
    print(f"fleet document ({args.objects} rows, 50 shown): first {fleet_times[0] * 1000:.0f} ms (every row built), "
          f"then median {statistics.median(fleet_times[1:]) * 1000:.0f} ms (rows of unchanged objects reused); "
          f"its HTML {statistics.median(page_times) * 1000:.1f} ms")
    obj_times, html_times = [], []
    for _ in range(5):
        began = time.perf_counter()
        one = board.scaled_object("team-0", "so-0", None, None)
        obj_times.append(time.perf_counter() - began)
        assert one is not None
        began = time.perf_counter()
        text = dashboard_pages.object_page(one, board.header(), "x", live=True, query="")
        html_times.append(time.perf_counter() - began)
    print(f"object document ({len(one['decisions'])} decisions): median {statistics.median(obj_times) * 1000:.1f} ms; "
          f"its HTML {statistics.median(html_times) * 1000:.0f} ms, {len(text) / 1024:.0f} KiB")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

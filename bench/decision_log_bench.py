"""Benchmark: the per-tick cost of the operator's periphery on the scale loop's hot path.

Measures, for 1,000 ScaledObjects with one trigger each (the issue's 1,000 loops at 1 s):
* `DecisionLog.record` of an entry shaped like the scale loop's (triggers, metric values, state), with
  and without a credential to mask, and the memory the full rings take (500 entries per object);
* one tick's `OperatorMetrics` calls (`trigger_observed`, `loop_drift`, `paused`, `decided`);
* one `/metrics` rendering of the resulting registry (`generate_latest`).

Prints microseconds per call, the share of one core that 1,000 loops at 1 s would spend on it, and the
machine. Target: the periphery costs under 5 % of one core at 1,000 objects/s.

    .venv/bin/python bench/decision_log_bench.py [--objects 1000] [--ticks 20]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
import tracemalloc
from typing import Any

import prometheus_client

from scaler.operator import decision_log, operator_metrics


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def entry(n: int, tick: int, error: str | None) -> dict[str, Any]:
    return {
        "time": f"2026-01-01T00:{tick // 60:02d}:{tick % 60:02d}Z",
        "timestamp": 1_767_225_600.0 + tick,
        "mode": "direct",
        "reason": "scaled-up" if error is None else "failing",
        "explanation": f"list orders-{n} has {tick * 3} items over target 5: 1 -> {tick % 7 + 1} replicas",
        "active": True,
        "currentReplicas": tick % 7,
        "replicas": tick % 7 + 1,
        "written": tick % 5 == 0,
        "triggers": [{
            "index": 0, "name": None, "type": "redis", "metric": f"s0-redis-orders-{n}", "value": tick * 3.0,
            "active": True, "error": error, "target": 5.0, "activation": 0.0, "latencySeconds": 0.00042,
        }],
        "metricValues": {f"s0-redis-orders-{n}": tick * 3.0},
        "state": {"lastActiveTime": "2026-01-01T00:00:00Z", "health": {"s0-redis-orders": {"numberOfFailures": 0}}},
    }


def per_call_us(seconds: float, calls: int) -> float:
    return seconds / calls * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=20)
    args = parser.parse_args()
    objects, ticks = args.objects, args.ticks

    # Build the entries first: the loop builds them anyway, the log's cost is recording them.
    plain = [[entry(n, t, None) for n in range(objects)] for t in range(ticks)]
    failing = [[entry(n, t, f"redis://:s3cret@redis-{n}:6379 refused") for n in range(objects)] for t in range(ticks)]

    log = decision_log.DecisionLog()
    gc.collect()
    started = time.perf_counter()
    for t in range(ticks):
        for n in range(objects):
            log.record("default", f"orders-{n}", plain[t][n])
    record_plain = per_call_us(time.perf_counter() - started, objects * ticks)

    masked_log = decision_log.DecisionLog()
    started = time.perf_counter()
    for t in range(ticks):
        for n in range(objects):
            masked_log.record("default", f"orders-{n}", failing[t][n])
    record_masked = per_call_us(time.perf_counter() - started, objects * ticks)
    assert "s3cret" not in repr(masked_log.entries("default", "orders-0"))
    del plain, failing, masked_log, log

    # Memory of full rings: 500 entries per object, entries built fresh as the loop does.
    gc.collect()
    tracemalloc.start()
    full = decision_log.DecisionLog(capacity_per_object=500)
    for t in range(500):
        for n in range(objects):
            full.record("default", f"orders-{n}", entry(n, t, None))
    gc.collect()
    ring_bytes, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del full

    metrics = operator_metrics.OperatorMetrics()
    started = time.perf_counter()
    for t in range(ticks):
        for n in range(objects):
            so = f"orders-{n}"
            metrics.trigger_observed("default", so, 0, "", "redis", f"s0-redis-orders-{n}", t * 3.0, True, 0.00042)
            metrics.loop_drift("default", so, 0.0012)
            metrics.paused("default", so, False)
            metrics.decided("default", so, "scaled-up")
    tick_metrics = per_call_us(time.perf_counter() - started, objects * ticks)

    started = time.perf_counter()
    scrapes = 5
    for _ in range(scrapes):
        size = len(prometheus_client.generate_latest(metrics.registry))
    scrape_ms = (time.perf_counter() - started) / scrapes * 1e3

    per_tick_us = record_plain + tick_metrics
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()} ({sys.platform})")
    print(f"objects: {objects}, ticks: {ticks}")
    print(f"DecisionLog.record, nothing to mask:        {record_plain:7.2f} µs/entry")
    print(f"DecisionLog.record, a URL password to mask: {record_masked:7.2f} µs/entry")
    print(f"full rings (500 entries x {objects} objects):  {ring_bytes / 2**20:7.1f} MiB")
    print(f"OperatorMetrics, one tick's four calls:      {tick_metrics:7.2f} µs/tick")
    print(f"/metrics rendering ({size / 1024:.0f} KiB):          {scrape_ms:7.2f} ms/scrape")
    print(f"periphery per tick (record + metrics):       {per_tick_us:7.2f} µs "
          f"= {per_tick_us * objects / 1e6 * 100:.1f} % of one core at {objects} objects/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

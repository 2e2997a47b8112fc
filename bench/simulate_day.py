"""Benchmark: `ebb simulate` replaying one simulated day at 1 s resolution, HPA mode.

A Redis-list ScaledObject with pollingInterval 1 and a synthetic day-long trace with one row per second
(a daily wave, bursts every few minutes, quiet nights that let the target go back to 0 and a few failed
readings), so the operator polls 86,400 times and the simulated HPA syncs 5,760 times. Prints the time
to parse the trace and the time of the simulation itself (best of N runs), and the machine.

    .venv/bin/python bench/simulate_day.py [--runs N]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from typing import Any

from scaler.core import decisions, hpa, simulation, specs, traces
from scaler.triggers import trigger_targets

DAY = 86_400

SCALED_OBJECT = {
    "apiVersion": "keda.sh/v1alpha1",
    "kind": "ScaledObject",
    "metadata": {"name": "bench", "namespace": "default"},
    "spec": {
        "scaleTargetRef": {"name": "worker"},
        "pollingInterval": 1,
        "cooldownPeriod": 300,
        "maxReplicaCount": 50,
        "triggers": [
            {
                "type": "redis",
                "name": "jobs",
                "metadata": {"address": "redis:6379", "listName": "jobs", "listLength": "10"},
            }
        ],
    },
}


def day_trace() -> str:
    lines = ["time,jobs"]
    for t in range(DAY):
        hour = t / 3600
        # Busy from about 07:00 to 22:00, idle at night; a burst for one minute every 7 minutes.
        wave = max(0.0, math.sin(math.pi * (hour - 7) / 15)) if 7 <= hour <= 22 else 0.0
        burst = 120 if (t // 60) % 7 == 0 and wave > 0 else 0
        value = int(200 * wave + burst)
        cell = "error" if t % 5000 == 4999 else str(value)
        lines.append(f"{t},{cell}")
    return "\n".join(lines) + "\n"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions; the best is reported (default 3)")
    args = parser.parse_args()

    spec = specs.parse_scaled_object(SCALED_OBJECT)
    text = day_trace()
    started = time.perf_counter()
    trace = traces.parse(text, "<synthetic day>")
    parse_seconds = time.perf_counter() - started

    options = simulation.Options(mode=simulation.Mode.HPA, duration=DAY - 1)
    best = best_cpu = math.inf
    result = None
    for _ in range(max(1, args.runs)):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = simulation.simulate(
            spec, trace, options, targets_for=trigger_targets.for_scaled_object(spec)
        )
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - started_cpu)
    assert result is not None
    polls = sum(1 for s in result.steps if s.source == simulation.OPERATOR)
    syncs = sum(1 for s in result.steps if s.source == simulation.HPA)

    print(
        f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()} ({sys.implementation.name})"
    )
    print(f"trace: {len(trace.rows)} rows, parsed in {parse_seconds:.3f} s")
    print(f"simulated: {DAY} s, {polls} operator polls + {syncs} HPA syncs = {len(result.steps)} steps")
    print(
        f"replica changes: {result.replica_changes}, peak {result.peak_replicas}, final {result.final_replicas}"
    )
    print(
        f"simulate (HPA mode, pollingInterval 1): {best:.3f} s wall, {best_cpu:.3f} s CPU "
        f"(best of {max(1, args.runs)}; target < 2 s; load average {os.getloadavg()[0]:.2f})"
    )
    decide_s, sync_s, total_s = breakdown(spec, trace, options)
    print(
        f"breakdown (one instrumented run, {total_s:.3f} s): decisions.decide {decide_s:.3f} s, "
        f"hpa.sync {sync_s:.3f} s, the simulator's own loop {total_s - decide_s - sync_s:.3f} s"
    )
    return 0


def breakdown(
    spec: specs.ScaledObjectSpec, trace: traces.Trace, options: simulation.Options
) -> tuple[float, float, float]:
    """Time spent in the decision core, in the HPA port and in the replay loop itself."""
    spent = {"decide": 0.0, "sync": 0.0}
    original_decide, original_sync = decisions.decide, hpa.sync

    def timed_decide(*args: Any, **kwargs: Any) -> decisions.Decision:
        started = time.perf_counter()
        try:
            return original_decide(*args, **kwargs)
        finally:
            spent["decide"] += time.perf_counter() - started

    def timed_sync(*args: Any, **kwargs: Any) -> hpa.SyncResult:
        started = time.perf_counter()
        try:
            return original_sync(*args, **kwargs)
        finally:
            spent["sync"] += time.perf_counter() - started

    decisions.decide, hpa.sync = timed_decide, timed_sync
    try:
        started = time.perf_counter()
        simulation.simulate(
            spec, trace, options, targets_for=trigger_targets.for_scaled_object(spec)
        )
        total = time.perf_counter() - started
    finally:
        decisions.decide, hpa.sync = original_decide, original_sync
    return spent["decide"], spent["sync"], total


if __name__ == "__main__":
    sys.exit(main())

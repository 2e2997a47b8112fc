"""Benchmark: the operator's `/metrics` rendering and its hot-path calls at 10,000 ScaledObjects, in-process.

Fills an `OperatorMetrics` the way 10,000 scale loops do after a few ticks (the issue's realistic mix: one
trigger each, every object registered, unpaused, with its loop drift and a "steady" decision; 10 % of them
also woke up, with an activation histogram and 2-3 decision reasons and a failed read), then prints:

- the machine (cores, CPU model, Python);
- rendering: CPU ms per whole exposition as `/metrics` makes it (every slice made and encoded; p50/max
  over `--renders`), its bytes and sample lines, the longest slice `/metrics` renders without yielding
  (the event loop's longest hold) and what one join of all slices would add (which `/metrics` avoids);
- per call (µs): `trigger_observed`, `loop_drift`, `decided` on existing series (the scale loops' steady
  state, once per tick each);
- the event loop while `/metrics` renders: a probe task asking to wake every 1 ms records how late it woke
  (max, p99), rendering in slices on the loop (`http_server.CachedExposition`) and rendering the same text
  in a thread (`asyncio.to_thread`, the way `/metrics` rendered before);
- "before": the same calls on prometheus_client's own instruments (`tests/operator_periphery/
  reference_metrics.py`, the implementation this replaced) and `prometheus_client.generate_latest`.

Target (issue 15): a rendering at 10,000 objects well under 100 ms of CPU, the loop never held more than
a few ms. Run (a plain script; the figures depend on what else the machine runs, see the load average):

    .venv/bin/python bench/metrics_exposition.py [--objects 10000] [--renders 10] [--before-renders 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import pathlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import prometheus_client

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import operator_scale as base  # noqa: E402  (after the path is set)
from scaler.operator import http_server, operator_metrics  # noqa: E402  (after the path is set)
from tests.operator_periphery.reference_metrics import ReferenceMetrics  # noqa: E402

Metrics = operator_metrics.OperatorMetrics | ReferenceMetrics


def names(count: int) -> Iterator[tuple[int, str, str, str]]:
    for i in range(count):
        name = f"orders-{i:05d}"
        yield i, f"team-{i % 20:02d}", name, f"s0-redis-{name}"


def fill(metrics: Metrics, count: int) -> None:
    """A few ticks of `count` scale loops: the series a fleet has at steady state."""
    for i, ns, name, metric in names(count):
        metrics.registered(ns, name, ["redis"])
        metrics.paused(ns, name, False)
        for tick in range(3):
            metrics.trigger_observed(ns, name, 0, None, "redis", metric, float(i % 50), i % 10 == 0, 0.0021)
            metrics.loop_drift(ns, name, 0.0004 * (tick + i % 7))
            metrics.decided(ns, name, "steady")
        if i % 10 == 0:  # the 10 % that woke up
            metrics.decided(ns, name, "scale-up")
            if i % 20 == 0:
                metrics.decided(ns, name, "cooldown")
            metrics.activation_latency(ns, name, 1.2 + i % 9)
            metrics.trigger_failed(ns, name, 0, None, "redis", metric)


def cpu_ms(render: Callable[[], object], times: int) -> list[float]:
    out = []
    for _ in range(times):
        gc.collect()
        started = time.thread_time()
        render()
        out.append((time.thread_time() - started) * 1000)
    return out


def per_call_us(metrics: Metrics, count: int, rounds: int) -> dict[str, float]:
    """Microseconds per call on existing series, over every object `rounds` times."""
    objects = list(names(count))
    calls: dict[str, Callable[[int, str, str, str], None]] = {
        "trigger_observed": lambda i, ns, name, metric: metrics.trigger_observed(
            ns, name, 0, None, "redis", metric, 3.0, True, 0.002),
        "loop_drift": lambda i, ns, name, metric: metrics.loop_drift(ns, name, 0.0012),
        "decided": lambda i, ns, name, metric: metrics.decided(ns, name, "steady"),
    }
    out = {}
    for label, call in calls.items():
        # The loop and lambda overhead, measured alone, is taken off.
        empty: Callable[[int, str, str, str], None] = lambda i, ns, name, metric: None  # noqa: E731
        spent = []
        for fn in (call, empty):
            started = time.perf_counter()
            for _ in range(rounds):
                for args in objects:
                    fn(*args)
            spent.append(time.perf_counter() - started)
        out[label] = (spent[0] - spent[1]) / (rounds * len(objects)) * 1e6
    return out


async def probe_lateness(render: Callable[[], Any], times: int) -> tuple[float, float, float]:
    """How late (ms) a task asking to wake every 1 ms woke while `render` ran `times` times: max, p99, and
    the wall time per rendering."""
    late: list[float] = []
    running = True

    async def probe() -> None:
        loop = asyncio.get_running_loop()
        while running:
            asked = loop.time()
            await asyncio.sleep(0.001)
            late.append((loop.time() - asked - 0.001) * 1000)

    task = asyncio.create_task(probe())
    await asyncio.sleep(0.02)
    late.clear()
    started = time.perf_counter()
    for _ in range(times):
        await render()
    wall = (time.perf_counter() - started) / times * 1000
    running = False
    await task
    late.sort()
    return late[-1], late[int(len(late) * 0.99)], wall


def holds_ms(metrics: operator_metrics.OperatorMetrics) -> tuple[float, float]:
    """The longest CPU time between two yields of a sliced rendering (a slice made and encoded, as
    `CachedExposition` does), and the final join's."""
    longest, parts, pieces = 0.0, [], iter(metrics.exposition_slices())
    while True:
        started = time.thread_time()
        text = next(pieces, None)
        if text is None:
            break
        parts.append(text.encode())
        longest = max(longest, time.thread_time() - started)
    started = time.thread_time()
    b"".join(parts)
    return longest * 1000, (time.thread_time() - started) * 1000


def stats(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.1f} ms, max {max(values):.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--renders", type=int, default=10)
    parser.add_argument("--before-renders", type=int, default=3, help="prometheus_client renderings (slow)")
    parser.add_argument("--rounds", type=int, default=20, help="calls per object for the per-call costs")
    args = parser.parse_args()
    print(f"machine: {base.machine()}; load average {os.getloadavg()[0]:.2f}")
    print(f"objects: {args.objects} (1 trigger each; 10 % with an activation histogram and 2-3 reasons)")

    after = operator_metrics.OperatorMetrics()
    fill(after, args.objects)
    text = after.render()
    lines = sum(1 for line in text.split(b"\n") if line and not line.startswith(b"#"))
    print(f"exposition: {len(text):,} bytes, {lines:,} sample lines, "
          f"{sum(1 for _ in after.exposition_slices())} slices")
    longest, join = holds_ms(after)
    # What /metrics does: every slice made and encoded (kept as slices, not joined).
    served = cpu_ms(lambda: tuple(text.encode() for text in after.exposition_slices()), args.renders)
    print(f"after:  rendering CPU {stats(served)}; longest slice {longest:.1f} ms "
          f"(joining the slices into one bytes would hold the loop {join:.1f} ms more: /metrics does not)")
    costs = per_call_us(after, args.objects, args.rounds)
    print("after:  per call " + ", ".join(f"{k} {v:.2f} µs" for k, v in costs.items()))

    exposition = http_server.CachedExposition(after)
    idle = asyncio.run(probe_lateness(lambda: asyncio.sleep(0.04), args.renders))
    sliced = asyncio.run(probe_lateness(exposition.chunks, args.renders))
    # The same work in a thread: the slices encoded, no join (as `CachedExposition` keeps them).
    threaded = asyncio.run(probe_lateness(
        lambda: asyncio.to_thread(lambda: tuple(text.encode() for text in after.exposition_slices())),
        args.renders))
    print(f"idle:   no rendering (the machine's noise): a 1 ms timer woke late by max {idle[0]:.1f} ms, "
          f"p99 {idle[1]:.1f} ms")
    for label, (worst, p99, wall) in (("sliced on the loop", sliced), ("in a thread", threaded)):
        print(f"after:  {label}: wall {wall:.1f} ms per rendering; a 1 ms timer woke late by "
              f"max {worst:.1f} ms, p99 {p99:.1f} ms")

    before = ReferenceMetrics()
    fill(before, args.objects)
    reference = prometheus_client.generate_latest(before.registry)
    same = "identical" if reference == text else "DIFFERENT"
    print(f"before: exposition {len(reference):,} bytes ({same} to the fast text)")
    print(f"before: generate_latest CPU {stats(cpu_ms(lambda: prometheus_client.generate_latest(before.registry), args.before_renders))}")
    costs = per_call_us(before, args.objects, max(1, args.rounds // 4))
    print("before: per call " + ", ".join(f"{k} {v:.2f} µs" for k, v in costs.items()))
    worst, p99, wall = asyncio.run(probe_lateness(
        lambda: asyncio.to_thread(prometheus_client.generate_latest, before.registry), 1))
    print(f"before: in a thread: wall {wall:.0f} ms per rendering; a 1 ms timer woke late by "
          f"max {worst:.1f} ms, p99 {p99:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: do 10 worst-case ScaledObjects slow down 1,000 normal ones? (issue 9)

The setup of `bench/operator_scale.py` (its helpers are reused): a private `redis-server`, the API
sandbox and `ebb operator --scaling-mode direct` as separate processes, 1,000 ScaledObjects (one Redis
list trigger each, pollingInterval 1 s; 10 % of the lists hold items). Once every loop ticks, two
windows of `--seconds` each are measured back to back:

1. **calm**: the 1,000 normal ScaledObjects alone;
2. **hostile**: right after 10 worst-case ScaledObjects are created beside them (two of each kind in
   `tests.hostile.documents.worst_case_objects`: a valid ~1.3 MB object at the per-value limit full of
   what masking regexes backtrack on, one with 32 cron triggers and a formula, a 40 KB parameter, a
   zone-database directory as time zone, `targetValue: "1e309"`), so the window includes reconciling
   them and their loops' ticks;
3. **settled**: the next window, with the worst-case objects' loops running beside the others.

For each window: the scale-loop drift of every tick (the operator's `ebb_scale_loop_drift_seconds`
histogram, read at the window's start and end; percentiles interpolated within buckets), ticks per
second, and the latency of `/healthz` asked every 50 ms. The two should be the same within noise.

    .venv/bin/python bench/hostile_neighbours.py [--objects 1000] [--seconds 20] [--hostile 10]

(needs the dev dependencies: it builds the worst-case objects with the test suite's module.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time
from typing import Any

import aiohttp
import redis

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import operator_scale as base  # noqa: E402  (after the path is set)
from tests.hostile import documents  # noqa: E402  (after the path is set)

HEADERS = {"Authorization": "Bearer sandbox"}


async def create_hostile(base_url: str, count: int, redis_address: str) -> list[str]:
    """`count` worst-case ScaledObjects (cycling through the kinds) and their Deployments; their names."""
    bodies: list[dict[str, Any]] = []
    round_ = 0
    while len(bodies) < count:
        bodies.extend(documents.worst_case_objects(f"hostile{round_}", redis_address=redis_address))
        round_ += 1
    bodies = bodies[:count]
    async with aiohttp.ClientSession(base_url=base_url, headers=HEADERS) as http:
        for body in bodies:
            name = body["metadata"]["name"]
            deployment = base.deployment(name)
            async with http.post(f"/apis/apps/v1/namespaces/{base.NAMESPACE}/deployments", json=deployment) as reply:
                assert reply.status == 201, await reply.text()
            payload = io.BytesIO(json.dumps(body).encode())
            async with http.post(f"/apis/keda.sh/v1alpha1/namespaces/{base.NAMESPACE}/scaledobjects", data=payload,
                                 headers={"Content-Type": "application/json"}) as reply:
                assert reply.status == 201, (await reply.text())[:300]
    return [b["metadata"]["name"] for b in bodies]


async def ready_states(base_url: str, names: list[str]) -> dict[str, str]:
    states: dict[str, str] = {}
    async with aiohttp.ClientSession(base_url=base_url, headers=HEADERS) as http:
        for name in names:
            async with http.get(f"/apis/keda.sh/v1alpha1/namespaces/{base.NAMESPACE}/scaledobjects/{name}") as reply:
                body = await reply.json()
            conditions = (body.get("status") or {}).get("conditions") or []
            states[name] = next((c.get("status", "?") for c in conditions if c.get("type") == "Ready"), "none")
    return states


async def window(http: aiohttp.ClientSession, seconds: float) -> dict[str, Any]:
    first = await base.scrape(http)
    began = time.monotonic()
    latencies: list[float] = []
    while time.monotonic() - began < seconds:
        sent = time.monotonic()
        async with http.get("/healthz") as reply:
            await reply.read()
        latencies.append(time.monotonic() - sent)
        await asyncio.sleep(0.05)
    last = await base.scrape(http)
    took = time.monotonic() - began
    histogram = {le: last.buckets.get(le, 0.0) - n for le, n in first.buckets.items()}
    latencies.sort()
    return {
        "seconds": took,
        "ticks_per_second": (last.decisions - first.decisions) / took,
        "drift_ms": [base.histogram_quantile(f, histogram) * 1000 for f in (0.5, 0.95, 0.99)],
        "healthz_ms": [base.percentile(latencies, f) * 1000 for f in (0.5, 0.95)] + [latencies[-1] * 1000],
    }


async def measure(args: argparse.Namespace, workdir: pathlib.Path, procs: Any) -> None:
    redis_port = base.free_port()
    redis_log = workdir / "redis.log"
    redis_proc = procs.start("redis-server", [
        shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(workdir), "--logfile", "",
    ], redis_log)  # fmt: skip
    base.wait_for_redis(redis_port, redis_proc, redis_log)
    client = redis.Redis(host="127.0.0.1", port=redis_port)
    active = round(args.objects * 0.1)
    with client.pipeline(transaction=False) as pipe:
        for i in range(active):
            pipe.rpush(f"jobs-{i * args.objects // max(active, 1):04d}", *range(23))
        pipe.execute()
    client.close()

    kubeconfig = workdir / "kubeconfig"
    sandbox_log = workdir / "sandbox.log"
    ebb = str(pathlib.Path(sys.executable).parent / "ebb")
    sandbox_proc = procs.start("sandbox", [ebb, "sandbox", "--port", "0", "--crds", str(ROOT / "crds"),
                                           "--kubeconfig", str(kubeconfig), "--no-kubelet"], sandbox_log)
    base_url = base.wait_for_sandbox(sandbox_proc, sandbox_log)
    redis_address = f"127.0.0.1:{redis_port}"
    created = await base.create_objects(base_url, args.objects, redis_address, 8)
    print(f"created {args.objects} Deployments and ScaledObjects in {created:.1f} s", flush=True)

    http_port = base.free_port()
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    operator_proc = procs.start("operator", [
        ebb, "operator", "--kubeconfig", str(kubeconfig), "--scaling-mode", "direct",
        "--http-address", f"127.0.0.1:{http_port}",
    ], workdir / "operator.log", env=env)  # fmt: skip
    began = time.monotonic()
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{http_port}") as http:
        last = base.Scrape({}, 0.0, 0.0)
        while len(last.drift) < args.objects:
            if operator_proc.poll() is not None:
                raise SystemExit((workdir / "operator.log").read_text()[-3000:])
            if time.monotonic() - began > 240:
                raise SystemExit(f"only {len(last.drift)} loops ticking after 240 s")
            await asyncio.sleep(2.0)
            with contextlib.suppress(aiohttp.ClientError):
                last = await base.scrape(http)
        print(f"all {args.objects} loops ticking {time.monotonic() - began:.0f} s after the operator started",
              flush=True)
        await asyncio.sleep(args.warmup)
        calm = await window(http, args.seconds)
        names = await create_hostile(base_url, args.hostile, redis_address)
        hostile = await window(http, args.seconds)
        settled = await window(http, args.seconds)
        if operator_proc.poll() is not None:
            raise SystemExit("the operator exited during the hostile window")
    states = await ready_states(base_url, names)

    print()
    print(f"machine: {base.machine()}")
    print(f"setup: {args.objects} ScaledObjects (redis list, pollingInterval 1 s, direct mode, {active} lists "
          f"non-empty); windows of {args.seconds:g} s")
    for label, result in (("calm (normal objects only)", calm),
                          (f"{args.hostile} worst-case objects created and reconciled", hostile),
                          ("then, with them running", settled)):
        d, h = result["drift_ms"], result["healthz_ms"]
        print(f"{label}: ticks {result['ticks_per_second']:.0f}/s; drift p50 {d[0]:.1f} ms  p95 {d[1]:.1f} ms  "
              f"p99 {d[2]:.1f} ms; /healthz p50 {h[0]:.1f} ms  p95 {h[1]:.1f} ms  max {h[2]:.1f} ms")
    print("worst-case objects' Ready: " + ", ".join(f"{n}={s}" for n, s in sorted(states.items())))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--objects", type=int, default=1000, help="normal ScaledObjects (default 1000)")
    parser.add_argument("--hostile", type=int, default=10, help="worst-case ScaledObjects (default 10)")
    parser.add_argument("--seconds", type=float, default=20.0, help="each window (default 20)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds after all loops tick (default 5)")
    args = parser.parse_args()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="ebb-hostile-bench-"))
    procs = base.Processes()
    try:
        asyncio.run(measure(args, workdir, procs))
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: 1,000 Redis-list triggers sharing one Redis, polled concurrently.

Starts a private `redis-server` on a free loopback port, fills 1,000 lists with random lengths, builds
one `redis` trigger per list through the scaler type (one shared `SharedClients`, as the operator and
`ebb probe` do), and polls all of them concurrently for N rounds. Prints polls per second, the p50 / p95 /
p99 time of a round, the added latency of a round over one plain LLEN round trip, the number of client
connections the server sees (`CLIENT LIST`), and the machine. Target: a round of 1,000 reads within 100 ms.

    .venv/bin/python bench/redis_poll.py [--triggers 1000] [--rounds 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import redis
from redis import asyncio as redis_asyncio

from scalers import base, connections, params, redis_lists


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def start_redis(workdir: str) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise SystemExit("redis-server did not start") from None
            time.sleep(0.02)
    client.close()
    return process, port


async def bench(port: int, triggers: int, rounds: int) -> None:
    rng = random.Random(42)
    lengths = [rng.randint(0, 50) for _ in range(triggers)]
    admin = redis.Redis(port=port, decode_responses=True)
    pipe = admin.pipeline(transaction=False)
    for i, length in enumerate(lengths):
        if length:
            pipe.rpush(f"bench:list:{i}", *range(length))
    pipe.execute()

    clients = connections.SharedClients()
    context = base.BuildContext(clients=clients, clock=time.monotonic)
    scalers = []
    for i in range(triggers):
        inputs = base.TriggerInputs(
            type="redis", index=0, metadata={"listName": f"bench:list:{i}", "address": f"127.0.0.1:{port}"}
        )
        parsed = params.parse(redis_lists.REDIS.params, inputs).value
        scalers.append(redis_lists.REDIS.build(parsed, inputs, context))

    first = await asyncio.gather(*(s.read() for s in scalers))  # warm-up: connect, load the script
    assert [r.value for r in first] == [float(n) for n in lengths], "wrong lengths read"

    round_times: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        await asyncio.gather(*(s.read() for s in scalers))
        round_times.append(time.perf_counter() - started)

    single = redis_asyncio.Redis(port=port)
    await single.llen("bench:list:0")
    single_times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await single.llen("bench:list:0")
        single_times.append(time.perf_counter() - started)
    await single.aclose()

    connections_seen = len(admin.client_list()) - 1  # minus this admin connection
    (key,) = list(clients._entries)
    pipelines = clients._entries[key].client.batcher.flushes

    for scaler in scalers:
        await scaler.aclose()
    admin.close()

    total = sum(round_times)
    p50, p95, p99 = (percentile(round_times, f) * 1000 for f in (0.50, 0.95, 0.99))
    single_p50 = statistics.median(single_times) * 1000
    print(f"triggers: {triggers}, rounds: {rounds} (after one warm-up round)")
    print(f"polls per second: {triggers * rounds / total:,.0f}")
    print(f"round time ms: p50 {p50:.2f}  p95 {p95:.2f}  p99 {p99:.2f}  max {max(round_times) * 1000:.2f}")
    print(f"single LLEN round trip ms: p50 {single_p50:.3f}")
    print(f"added latency of a 1,000-trigger round over one LLEN, ms: p50 {p50 - single_p50:.2f}")
    print(f"pipelines sent: {pipelines} for {rounds + 1} rounds")
    print(f"connections to the server (CLIENT LIST, excluding the admin one): {connections_seen}")
    print(f"target (1,000 triggers within 100 ms at p99): {'met' if p99 < 100 else 'NOT met'}")
    print(
        f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()} ({sys.platform})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="ebb-bench-redis-")
    process, port = start_redis(workdir)
    try:
        asyncio.run(bench(port, args.triggers, args.rounds))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

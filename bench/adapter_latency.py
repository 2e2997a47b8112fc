"""Benchmark: `ebb adapter` answering the HPA's external metric requests for 1,000 ScaledObjects.

Starts a Redis, the sandbox (`ebb sandbox`), `ebb operator --scaling-mode direct` and `ebb adapter
--secure-port P`, each a process of its own, with N ScaledObjects (one Redis list each, pollingInterval
1 s). The bench publishes a client CA in `kube-system/extension-apiserver-authentication` and asks as a
client certificate in `system:masters` over HTTPS, at a fixed rate (open loop: requests are sent on
schedule whether or not earlier ones have answered) spread over every ScaledObject, for the window.

Prints: requests answered and their codes, latency p50/p90/p99/max, the adapter's CPU (share of one core)
and RSS, and the source queries per second seen on Redis (`INFO commandstats`, script calls) against the
operator's own polling (N per second): the adapter must add none.

    .venv/bin/python bench/adapter_latency.py                     # 1,000 objects, 1,000 req/s, 60 s
    .venv/bin/python bench/adapter_latency.py --objects 200 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import pathlib
import shutil
import ssl
import statistics
import sys
import tempfile
import time
from typing import Any

import aiohttp
import redis

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metrics_adapter import answers, certs  # noqa: E402

_spec = importlib.util.spec_from_file_location("operator_scale", ROOT / "bench" / "operator_scale.py")
assert _spec is not None and _spec.loader is not None
base = importlib.util.module_from_spec(_spec)
sys.modules["operator_scale"] = base  # its dataclasses look their module up
_spec.loader.exec_module(base)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def script_calls(client: redis.Redis) -> int:
    info: dict[str, Any] = client.info("commandstats")
    return sum(int(v["calls"]) for k, v in info.items() if k.startswith(("cmdstat_eval", "cmdstat_fcall")))


async def create_auth(base_url: str, ca: certs.Pair) -> None:
    headers = {"Authorization": "Bearer sandbox"}
    async with aiohttp.ClientSession(base_url=base_url, headers=headers) as http:
        async with http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                         "metadata": {"name": "kube-system"}}) as reply:
            assert reply.status in (201, 409), await reply.text()
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
                "data": {"client-ca-file": ca.cert_pem.decode()}}
        # The sandbox publishes its own; the bench's client CA replaces it.
        path = "/api/v1/namespaces/kube-system/configmaps"
        async with http.get(f"{path}/extension-apiserver-authentication") as reply:
            existing = await reply.json() if reply.status == 200 else None
        if existing is None:
            async with http.post(path, json=body) as reply:
                assert reply.status == 201, await reply.text()
        else:
            body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            async with http.put(f"{path}/extension-apiserver-authentication", json=body) as reply:
                assert reply.status == 200, await reply.text()


async def measure(args: argparse.Namespace, workdir: pathlib.Path, procs: Any) -> None:
    redis_port = base.free_port()
    redis_log = workdir / "redis.log"
    redis_proc = procs.start("redis-server", [
        shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(workdir), "--logfile", "",
    ], redis_log)  # fmt: skip
    base.wait_for_redis(redis_port, redis_proc, redis_log)
    client = redis.Redis(host="127.0.0.1", port=redis_port)
    with client.pipeline(transaction=False) as pipe:
        for i in range(args.objects):
            pipe.rpush(f"jobs-{i:04d}", *range(1 + i % 17))
        pipe.execute()

    kubeconfig = workdir / "kubeconfig"
    sandbox_log = workdir / "sandbox.log"
    ebb = str(pathlib.Path(sys.executable).parent / "ebb")
    sandbox_proc = procs.start("sandbox", [ebb, "sandbox", "--port", "0", "--crds", str(ROOT / "crds"),
                                           "--kubeconfig", str(kubeconfig), "--no-kubelet"], sandbox_log)
    base_url = base.wait_for_sandbox(sandbox_proc, sandbox_log)
    client_ca = certs.authority("bench-client-ca")
    masters = certs.issue(client_ca, "bench", organizations=["system:masters"], client=True)
    await create_auth(base_url, client_ca)
    created = await base.create_objects(base_url, args.objects, f"127.0.0.1:{redis_port}", args.concurrency)
    print(f"created {args.objects} Deployments and ScaledObjects in {created:.1f} s", flush=True)

    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    procs.start("operator", [ebb, "operator", "--kubeconfig", str(kubeconfig), "--scaling-mode", "direct",
                             "--http-address", f"127.0.0.1:{base.free_port()}", "--log-level", "WARNING"],
                workdir / "operator.log", env=env)
    adapter_port = base.free_port()
    adapter_proc = procs.start("adapter", [ebb, "adapter", "--kubeconfig", str(kubeconfig), "--secure-port",
                                           str(adapter_port), "--bind-address", "127.0.0.1", "--log-level", "WARNING"],
                               workdir / "adapter.log", env=env)

    cert_path, key_path = certs.write_pair(masters, workdir, "client")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the adapter's self-signed certificate; the client certificate is what counts
    context.load_cert_chain(cert_path, key_path)
    connector = aiohttp.TCPConnector(ssl=context, limit=args.connections)
    request_timeout = aiohttp.ClientTimeout(total=10)
    names = [f"w{i:04d}" for i in range(args.objects)]

    async with aiohttp.ClientSession(
        f"https://127.0.0.1:{adapter_port}", connector=connector, timeout=request_timeout
    ) as http:

        async def ask(index: int) -> tuple[int, float]:
            which = index % len(names)
            name = names[which]
            path = answers.metric_path(base.NAMESPACE, f"s0-redis-jobs-{which:04d}")
            started = time.perf_counter()
            try:
                async with http.get(path, params={"labelSelector": f"{answers.SCALED_OBJECT_LABEL}={name}"}) as reply:
                    await reply.read()
                    return reply.status, time.perf_counter() - started
            except (aiohttp.ClientError, TimeoutError):
                return 0, time.perf_counter() - started

        # Warm-up: every ScaledObject answered once (its loop has ticked), within the start timeout.
        deadline = time.monotonic() + args.start_timeout
        pending = list(range(args.objects))
        while pending:
            if adapter_proc.poll() is not None:
                raise SystemExit(f"the adapter exited:\n{(workdir / 'adapter.log').read_text()}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{len(pending)} ScaledObjects still without a value after {args.start_timeout} s")
            results = await asyncio.gather(*(ask(i) for i in pending[:50]))
            pending = [i for i, (code, _) in zip(pending[:50], results, strict=True) if code != 200] + pending[50:]
            if pending:
                await asyncio.sleep(0.5)
        print(f"every ScaledObject served a value; measuring {args.rate} req/s for {args.duration:g} s", flush=True)

        cpu_start = base.cpu_seconds(adapter_proc.pid)
        queries_start = script_calls(client)
        began = time.perf_counter()
        tasks: list[asyncio.Task[tuple[int, float]]] = []
        total = int(args.rate * args.duration)
        for n in range(total):
            due = began + n / args.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(ask(n)))
        results = await asyncio.gather(*tasks)
        window = time.perf_counter() - began
        cpu = base.cpu_seconds(adapter_proc.pid) - cpu_start
        queries = script_calls(client) - queries_start
    rss = base.memory_kib(adapter_proc.pid, "VmRSS")
    client.close()

    codes: dict[int, int] = {}
    for code, _ in results:
        codes[code] = codes.get(code, 0) + 1
    latencies = [seconds * 1000 for code, seconds in results if code == 200]
    print(json.dumps({"codes": codes}))
    print(f"machine: {base.machine()}")
    print(f"{args.objects} ScaledObjects, {total} requests over {window:.1f} s ({total / window:.0f} req/s sent), "
          f"{args.connections} connections, HTTPS with a client certificate")
    if latencies:
        print(f"latency ms: p50 {statistics.median(latencies):.2f}, p90 {percentile(latencies, 0.9):.2f}, "
              f"p99 {percentile(latencies, 0.99):.2f}, max {max(latencies):.2f} (target p99 < 5 ms)")
    print(f"adapter: {100 * cpu / window:.0f} % of a core, RSS {rss / 1024:.0f} MiB")
    print(f"source queries: {queries / window:.0f}/s on Redis for {args.objects} triggers at pollingInterval 1 s "
          f"(the operator's polling alone: {args.objects}/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second (default 1000)")
    parser.add_argument("--duration", type=float, default=60.0, help="the measured window, seconds (default 60)")
    parser.add_argument("--connections", type=int, default=32, help="client connections (default 32)")
    parser.add_argument("--concurrency", type=int, default=32, help="parallel creates at setup")
    parser.add_argument("--start-timeout", type=float, default=300.0)
    args = parser.parse_args()
    procs = base.Processes()
    with tempfile.TemporaryDirectory(prefix="ebb-adapter-bench-") as scratch:
        try:
            asyncio.run(measure(args, pathlib.Path(scratch), procs))
        finally:
            procs.stop_all()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()

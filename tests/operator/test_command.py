"""`ebb operator` as a process: it finds the sandbox through a kubeconfig, serves /readyz, /metrics and
the decision log, and on SIGTERM stops cleanly within 10 s."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import subprocess
import sys
import time
from typing import Any

import aiohttp

from tests.operator import cluster
from tests.servers import ports
from tests.servers import redis_server as redis_fixtures


async def test_runs_from_a_kubeconfig_and_stops_on_sigterm_within_ten_seconds(
    api: cluster.Api, kubeconfig: pathlib.Path, redis_server: redis_fixtures.RedisServer, list_name: str,
    tmp_path: pathlib.Path,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
    ))
    port = ports.free_port()
    log_path = tmp_path / "operator.log"
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"} | {"KUBECONFIG": str(kubeconfig)}
    with log_path.open("wb") as log:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scaler", "operator", "--http-address", f"127.0.0.1:{port}",
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    try:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
            async def ready() -> bool:
                try:
                    async with http.get("/readyz") as reply:
                        return reply.status == 200
                except aiohttp.ClientError:
                    return child.returncode is not None and _fail(log_path)

            await cluster.until(ready, what="/readyz answering 200", within=30)

            async def so_ready() -> bool:
                return (await api.condition("orders", "Ready")).get("status") == "True"

            await cluster.until(so_ready, what="the ScaledObject Ready=True")

            async def decided() -> Any:
                async with http.get("/api/v1/scaledobjects/default/orders/decisions") as reply:
                    return (await reply.json())["decisions"] if reply.status == 200 else None

            decisions = await cluster.until(decided, what="recorded decisions")
            assert decisions[-1]["reason"] == "NO_CHANGE"
            async with http.get("/metrics") as reply:
                text = await reply.text()
            assert 'keda_scaler_active{' in text and 'scaledObject="orders"' in text
    finally:
        began = time.monotonic()
        child.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(child.wait(), 15)
        except TimeoutError:
            child.kill()
            await child.wait()
            raise
    took = time.monotonic() - began
    output = log_path.read_text()
    assert code == 0, output
    assert took < 10.0, f"shutdown took {took:.1f} s"
    assert "Traceback" not in output, output


def _fail(log_path: pathlib.Path) -> bool:
    raise AssertionError(f"the operator exited early:\n{log_path.read_text()}")

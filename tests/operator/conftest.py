"""Fixtures for the operator tests: the sandbox (in a thread, with Ebb's CRDs and the toy kubelet), an
async HTTP client for it, the operator running in-process in the test's loop against the sandbox
through a kubeconfig, and a Redis client on the suite's real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml

from kube_sandbox import testing
from scaler.operator import assembly
from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures

CRDS = pathlib.Path(__file__).resolve().parents[2] / "crds"


def crds() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in sorted(CRDS.glob("*.yaml"))]


@pytest.fixture
def sandbox() -> Iterator[testing.Sandbox]:
    with testing.Sandbox(ready_delay=0.05, crds=crds()) as running:
        yield running


@pytest.fixture
def kubeconfig(sandbox: testing.Sandbox, tmp_path: pathlib.Path) -> pathlib.Path:
    return sandbox.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
async def api(sandbox: testing.Sandbox) -> AsyncIterator[cluster.Api]:
    async with cluster.Api(sandbox.base_url) as client:
        yield client


@pytest.fixture
async def redis(redis_server: redis_fixtures.RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(host=redis_server.host, port=redis_server.port)
    yield client
    await client.aclose()


@pytest.fixture
def list_name() -> str:
    """A list of this test's own on the shared Redis."""
    return f"jobs-{uuid.uuid4().hex[:8]}"


class Running:
    """An operator started in the test's event loop; `stop()` shuts it down as SIGTERM would."""

    def __init__(self, settings: assembly.Settings) -> None:
        self.settings = settings
        self.operator = assembly.Operator(settings)
        self.stop_flag = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> Running:
        self.task = asyncio.create_task(self.operator.run(self.stop_flag))
        started = asyncio.create_task(self.operator.started.wait())
        await asyncio.wait({started, self.task}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if self.task.done():
            self.task.result()
        assert self.operator.started.is_set(), "the operator did not start within 20 s"
        return self

    async def stop(self) -> float:
        """Stop it; the seconds the shutdown took."""
        assert self.task is not None
        loop = asyncio.get_running_loop()
        began = loop.time()
        self.stop_flag.set()
        await asyncio.wait_for(self.task, 15)
        return loop.time() - began


@pytest.fixture
async def start_operator(kubeconfig: pathlib.Path) -> AsyncIterator[Callable[..., Any]]:
    running: list[Running] = []

    async def start(**overrides: Any) -> Running:
        settings = assembly.Settings(**{"kubeconfig": str(kubeconfig), "retry_delay": 1.0, **overrides})
        instance = await Running(settings).start()
        running.append(instance)
        return instance

    yield start
    for instance in running:
        if instance.task is not None and not instance.task.done():
            with contextlib.suppress(Exception):
                await instance.stop()

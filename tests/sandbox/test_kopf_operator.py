"""A kopf operator against the sandbox, in-process and with no workarounds: resume, create, update and
delete handlers, a daemon, status patches and finalizers behave as on a real cluster."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import kopf
import pytest

from kube_sandbox import testing
from tests.sandbox import objects

FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


def _kopf_crd() -> dict[str, Any]:
    # kopf stores handler results in status: the schema must keep unknown status fields, as on a cluster.
    crd = objects.widget_crd()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["x-kubernetes-preserve-unknown-fields"] = True
    return crd


@pytest.fixture
def sandbox_async() -> Iterator[testing.Sandbox]:
    # In its own thread: at exit kopf.operator cancels every task spawned during its run, which would
    # include the server's connection handlers if both shared this loop.
    with testing.Sandbox(ready_delay=0.05, crds=[_kopf_crd()]) as sandbox:
        yield sandbox


@pytest.fixture
async def http(sandbox_async: testing.Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox_async.base_url) as session:
        yield session


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 15.0) -> None:
    """Poll `check` (an HTTP read) until true; the state lives in another process's view, so no Event fits."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def _operator(registry: kopf.OperatorRegistry) -> AsyncIterator[None]:
    settings = kopf.OperatorSettings()
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 30
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(kopf.operator(registry=registry, settings=settings, standalone=True, clusterwide=True,
                                             stop_flag=stop, ready_flag=ready))
    await asyncio.wait_for(ready.wait(), 15)
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_kopf_handlers_daemon_status_and_finalizers(sandbox_async: testing.Sandbox,
                                                          http: aiohttp.ClientSession) -> None:
    widgets = objects.WIDGETS
    registry = kopf.OperatorRegistry()
    calls: list[tuple[str, str]] = []
    daemons: dict[str, str] = {}

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=sandbox_async.base_url, insecure=True, scheme="Bearer", token="x")

    @kopf.on.resume("example.com", "v1", "widgets", registry=registry)
    def resumed(name: str, **_: Any) -> None:
        calls.append(("resume", name))

    @kopf.on.create("example.com", "v1", "widgets", id="created", registry=registry)
    def created(name: str, spec: Any, patch: kopf.Patch, **_: Any) -> dict[str, Any]:
        calls.append(("create", name))
        patch.status["replicas"] = spec["replicas"]
        return {"seen": spec["color"]}

    @kopf.on.update("example.com", "v1", "widgets", field="spec.color", registry=registry)
    def updated(name: str, old: Any, new: Any, **_: Any) -> None:
        calls.append(("update", f"{name}:{old}->{new}"))

    @kopf.on.delete("example.com", "v1", "widgets", registry=registry)
    def deleted(name: str, **_: Any) -> None:
        calls.append(("delete", name))

    @kopf.daemon("example.com", "v1", "widgets", registry=registry, cancellation_timeout=5)
    async def watchdog(name: str, stopped: kopf.DaemonStopped, patch: kopf.Patch, **_: Any) -> None:
        daemons[name] = "running"
        while not stopped:
            await stopped.wait(0.5)
        daemons[name] = "stopped"

    async def widget(name: str) -> tuple[int, dict[str, Any]]:
        async with http.get(f"{widgets}/{name}") as reply:
            return reply.status, await reply.json()

    async def handled_object(name: str) -> bool:
        _, body = await widget(name)
        return bool(body.get("status", {}).get("created") == {"seen": "red"})

    # First run: an object is created and handled; the operator stops.
    async with _operator(registry):
        async with http.post(widgets, json=objects.widget("early")) as reply:
            assert reply.status == 201
        await _until(lambda: handled_object("early"))
    assert ("resume", "early") not in calls

    # Second run: the existing object is resumed, new ones are created, updated and deleted.
    async with _operator(registry):
        await _until(lambda: _true(("resume", "early") in calls))
        async with http.post(widgets, json=objects.widget("w", replicas=2)) as reply:
            assert reply.status == 201

        await _until(lambda: handled_object("w"))
        _, body = await widget("w")
        assert body["status"]["replicas"] == 2
        assert FINALIZER in body["metadata"]["finalizers"]
        await _until(lambda: _true(daemons.get("w") == "running"))

        async with http.patch(f"{widgets}/w", json={"spec": {"color": "blue"}},
                              headers={"Content-Type": "application/merge-patch+json"}) as reply:
            assert reply.status == 200
        await _until(lambda: _true(("update", "w:red->blue") in calls))

        async with http.delete(f"{widgets}/w") as reply:
            assert reply.status == 202  # held by kopf's finalizer

        async def gone() -> bool:
            status, _ = await widget("w")
            return status == 404
        await _until(gone)
        assert ("delete", "w") in calls
        assert daemons["w"] == "stopped"
    assert [c for c in calls if c[0] == "create"] == [("create", "early"), ("create", "w")]  # once each


async def _true(value: bool) -> bool:
    return value

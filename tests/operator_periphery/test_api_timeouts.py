"""`kube.ApiKube`'s request timeout bounds the server's silence, not the wait for a pooled connection:
with 1,000 ScaledObjects reconciled at start, hundreds of requests queue for the pool's 64 connections,
and a total-time limit failed them before they were even sent. A server that stops answering still
fails the request within the timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from scaler.operator import kube

ANSWER_SECONDS = 0.15


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(ANSWER_SECONDS)
        return web.json_response({"kind": "Status", "path": request.path})

    async def silent(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/slow/{n}", slow)
    app.router.add_get("/silent", silent)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_requests_queued_for_a_connection_do_not_time_out(server: str) -> None:
    api = kube.ApiKube(kube.Connection(server=server, namespace="default", source="test"), request_timeout=0.5)
    try:
        # 256 requests over 64 connections: four rounds of 0.15 s, well over the 0.5 s timeout in all.
        answers = await asyncio.gather(*(api.request("GET", f"/slow/{n}") for n in range(256)))
    finally:
        await api.aclose()
    assert [a["path"] for a in answers] == [f"/slow/{n}" for n in range(256)]


async def test_a_server_that_stops_answering_fails_the_request_within_the_timeout(server: str) -> None:
    api = kube.ApiKube(kube.Connection(server=server, namespace="default", source="test"), request_timeout=0.3)
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        with pytest.raises(kube.ApiError) as raised:
            await api.request("GET", "/silent")
    finally:
        await api.aclose()
    assert raised.value.status == 0
    assert "Timeout" in str(raised.value)
    assert loop.time() - began < 2.0

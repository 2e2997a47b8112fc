"""The adapter's HTTPS port is as quiet under garbage as the operator's: a malformed request after the TLS
handshake gets a 400 and at most one rate-limited DEBUG line, never an ERROR with a traceback."""

from __future__ import annotations

import asyncio
import logging
import pathlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from metrics_adapter import certs, server
from scaler.operator import quiet_logging
from tests.hostile import garbage

GARBAGE = [
    pytest.param(b"GARBAGE\r\n\r\n", id="bad-method"),
    pytest.param(b"GET /\x00\x01 HTTP/1.1\r\n\r\n", id="control-in-path"),
    pytest.param(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", id="negative-length"),
]


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


@pytest.fixture
async def port(tmp_path: pathlib.Path) -> AsyncIterator[int]:
    _, serving = certs.self_signed_serving()
    cert, key = certs.write_pair(serving, tmp_path, "serving")
    app = web.Application()
    app.router.add_get("/healthz", _ok)
    runner = await server.serve(app, "127.0.0.1", 0, server.server_ssl_context(str(cert), str(key), b""))
    try:
        yield server.bound_port(runner)
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("payload", GARBAGE)
async def test_a_malformed_request_gets_400_and_no_error_line(
    port: int, payload: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = await garbage.send(port, payload, tls=True)
    assert answer.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400")), answer
    await asyncio.sleep(0.05)
    loud = [r for r in caplog.records if r.levelno > logging.DEBUG or r.exc_info]
    assert loud == [], [r.getMessage() for r in loud]


async def test_a_flood_costs_at_most_one_debug_line_and_real_requests_still_work(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=quiet_logging.SERVER_LOGGER.name)
    for _ in range(20):
        assert (await garbage.send(port, b"GARBAGE\r\n\r\n", tls=True)).startswith(b"HTTP/1.0 400")
    assert b"200 OK" in await garbage.send(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", tls=True)
    lines = [r for r in caplog.records if r.name == quiet_logging.SERVER_LOGGER.name]
    assert len(lines) <= 1, [r.getMessage() for r in lines]

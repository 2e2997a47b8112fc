"""Helpers for the HTTP scaler tests (prometheus, metrics-api): trigger inputs, parse results, and a real local HTTP server that
records every request it gets and answers what the test tells it to."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from scalers import base, connections, params


def inputs(
    metadata: Mapping[str, str],
    auth: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    type_name: str,
    index: int = 0,
    metric_type: str = "AverageValue",
    timeout: float = 2.0,
) -> base.TriggerInputs:
    return base.TriggerInputs(
        type=type_name,
        index=index,
        metadata=dict(metadata),
        auth_params=dict(auth or {}),
        resolved_env=dict(env or {}),
        metric_type=metric_type,
        timeout=timeout,
    )


def problems_of(scaler_type: base.ScalerType[Any], trigger: base.TriggerInputs) -> list[str]:
    """The errors `params.parse` reports (empty when the trigger is accepted)."""
    try:
        params.parse(scaler_type.params, trigger)
    except base.ConfigError as error:
        return [str(p) for p in error.problems]
    return []


def warnings_of(scaler_type: base.ScalerType[Any], trigger: base.TriggerInputs) -> list[str]:
    return [str(p) for p in params.parse(scaler_type.params, trigger).warnings]


def assert_problems(found: list[str], expected: list[str]) -> None:
    """Each expected fragment is in its own reported problem, and nothing else was reported."""
    assert len(found) == len(expected), found
    for fragment, problem in zip(sorted(expected), sorted(found), strict=True):
        assert fragment in problem, (fragment, found)


def context(clients: connections.SharedClients, now: float | None = None) -> base.BuildContext:
    clock = (lambda: now) if now is not None else time.time
    return base.BuildContext(clients=clients, clock=clock)


@dataclasses.dataclass
class Recorded:
    path: str
    query: dict[str, str]
    raw_query: str
    headers: dict[str, str]


class RecordingServer:
    """A real aiohttp server on a free loopback port; `.answer(status, body, content_type)` sets what
    every path answers; `.requests` lists what arrived."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.status = 200
        self.body: bytes = b"{}"
        self.content_type = "application/json"
        self._runner: web.AppRunner | None = None
        self.port = 0

    def answer(self, status: int, body: str | bytes, content_type: str = "application/json") -> None:
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.content_type = content_type

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            Recorded(request.path, dict(request.query), request.query_string, dict(request.headers))
        )
        return web.Response(status=self.status, body=self.body, content_type=self.content_type)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

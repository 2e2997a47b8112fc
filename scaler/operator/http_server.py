"""The operator's HTTP server: `/metrics` (Prometheus, KEDA's names), `/healthz`, `/readyz` and the decision
log as JSON (`/api/v1/scaledobjects`, `/api/v1/scaledobjects/{namespace}/{name}/decisions`).

`make_app` builds the aiohttp application from the operator's metrics, decision log and `HealthState`;
`serve` starts it on a host and port (0 picks a free one) and `stop` shuts it down. Nothing served here
reads a Secret, and the decision log is redacted when recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import prometheus_client
from aiohttp import web

from scaler.operator import decision_log, operator_metrics, quiet_logging

METRICS_KEY = web.AppKey("metrics", operator_metrics.OperatorMetrics)
DECISIONS_KEY = web.AppKey("decisions", decision_log.DecisionLog)
# The classic text format (0.0.4): what KEDA serves and every Prometheus version scrapes.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# A `/metrics` rendering runs at least this long between yields to the scale loops …
RENDER_SLICE_SECONDS = 0.002
# … or, when a yield waited long for the others, this share of that wait.
RENDER_SHARE = 0.05


def _always() -> bool:
    return True


def _none() -> list[str]:
    return []


@dataclasses.dataclass
class HealthState:
    """What `/readyz` answers from; the operator updates it as it goes.

    Leader (or no leader election): ready once its reconciler runs, every watched resource has been listed once this
    term (`listed`), and no scale loop is stalled (`stalled`: loops whose tick is overdue). Standby: ready
    while its election runs — it serves `/metrics` and can take over at any moment, and a rolling update
    of the operator's Deployment must not wait for a replica that by design does not act.
    """

    synced: bool = False
    leading: bool = False
    standby: bool = False
    stopping: bool = False
    listed: Callable[[], bool] = _always
    stalled: Callable[[], list[str]] = _none

    def readiness(self) -> tuple[bool, str]:
        """Whether the operator is ready, and why (or why not), in one phrase."""
        if self.stopping:
            return False, "shutting down"
        if self.leading:
            if not self.synced:
                return False, "leading, waiting for the initial sync"
            if not self.listed():
                return False, "leading, waiting for every watched resource to be listed"
            stalled = self.stalled()
            if stalled:
                shown = ", ".join(stalled[:5]) + (f" and {len(stalled) - 5} more" if len(stalled) > 5 else "")
                return False, f"leading, scale loops not ticking: {shown}"
            return True, "leading"
        if self.standby:
            return True, "standby: another replica holds the lease"
        return False, "starting: neither leading nor a standby yet"


HEALTH_KEY = web.AppKey("health", HealthState)


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=lambda v: json.dumps(v, default=str))


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def _readyz(request: web.Request) -> web.Response:
    ready, why = request.app[HEALTH_KEY].readiness()
    return _json({"ready": ready, "reason": why}, status=200 if ready else 503)


def _limit(request: web.Request) -> int | None:
    raw = request.query.get("limit")
    if raw is None:
        return None
    try:
        limit = int(raw)
    except ValueError:
        limit = -1
    if limit < 0:
        raise web.HTTPBadRequest(text=json.dumps({"error": f"query parameter limit: expected a non-negative "
                                                           f"integer, got {raw!r}"}),
                                 content_type="application/json")
    return limit


async def _decisions(request: web.Request) -> web.Response:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    log = request.app[DECISIONS_KEY]
    limit = _limit(request)
    ref = f"{namespace}/{name}"
    if (namespace, name) not in log:
        return _json({"error": f"no decisions recorded for ScaledObject {ref}", "scaledObject": ref}, status=404)
    # The log keeps each entry as redacted JSON text: sent as it is, not parsed and dumped again.
    body = f'{{"scaledObject":{json.dumps(ref)},"decisions":{log.entries_json(namespace, name, limit)}}}'
    return web.Response(text=body, content_type="application/json")


async def _scaled_objects(request: web.Request) -> web.Response:
    log = request.app[DECISIONS_KEY]
    only = request.query.get("namespace")
    items = []
    for namespace, name in log.objects():
        if only is not None and namespace != only:
            continue
        items.append({
            "namespace": namespace,
            "name": name,
            "decisions": log.count(namespace, name),
            "lastDecision": log.last(namespace, name),
            "href": f"/api/v1/scaledobjects/{namespace}/{name}/decisions",
        })
    return _json({"scaledObjects": items})


class SlicedSource(Protocol):
    """What renders its exposition in slices (`operator_metrics.OperatorMetrics`)."""

    def exposition_slices(self) -> Iterator[str]: ...


class CachedExposition:
    """The `/metrics` text, rendered at most once per `max_age` seconds and shared.

    Concurrent scrapes await one rendering (single flight) instead of each rendering the registry, and a
    scrape within `max_age` of the last rendering is served the cached bytes without rendering again.
    `max_age` 0 keeps every scrape fresh (only concurrent ones share). `clock` is monotonic seconds
    (injectable for tests).

    A `SlicedSource` (the operator's metrics) is rendered on the event loop, yielding to the other tasks
    every `RENDER_SLICE_SECONDS` of rendering (longer, up to `RENDER_SHARE` of the wait, when a yield waited
    long behind a burst of ticks), and kept as the encoded slices (`chunks`), written to the socket one
    by one: at 10,000 objects the text is ~12 MB, and one contiguous copy of it alone (a join, or the
    socket buffer taking the unsent rest of one big body) holds the loop ~10 ms in page faults. A thread
    (as before) holds the GIL for 5 ms switch intervals that the loop waits out, for the same CPU
    (bench/metrics_exposition.py). Any other prometheus_client collector cannot be sliced and is rendered
    with `generate_latest` in a thread.
    """

    def __init__(self, source: prometheus_client.CollectorRegistry | SlicedSource, *, max_age: float = 0.0,
                 clock: Callable[[], float] | None = None, timer: Callable[[], float] = time.perf_counter) -> None:
        if max_age < 0:
            raise ValueError(f"metrics cache max_age: expected seconds >= 0, got {max_age!r}")
        self._source = source
        self._max_age = max_age
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        self._timer = timer  # measures the rendering's slices and yields (injectable for tests)
        self._rendered: tuple[bytes, ...] | None = None
        self._rendered_at = 0.0
        self._pending: asyncio.Future[tuple[bytes, ...]] | None = None
        self.renderings = 0
        self.yields = 0  # times a rendering gave way to the other tasks, for tests

    async def get(self) -> bytes:
        """The exposition in one piece."""
        return b"".join(await self.chunks())

    async def chunks(self) -> tuple[bytes, ...]:
        """The exposition as the encoded slices it was rendered in (in order)."""
        if self._pending is not None:
            return await asyncio.shield(self._pending)
        if self._rendered is not None and self._max_age > 0 and self._clock() - self._rendered_at < self._max_age:
            return self._rendered
        started = self._clock()
        self._pending = asyncio.ensure_future(self._render())
        try:
            output = await asyncio.shield(self._pending)
        finally:
            self._pending = None
        self.renderings += 1
        # Stamped with the start of the rendering: the bytes are no fresher than that.
        self._rendered, self._rendered_at = output, started
        return output

    async def _render(self) -> tuple[bytes, ...]:
        source = self._source
        if isinstance(source, prometheus_client.CollectorRegistry):
            return (await asyncio.to_thread(prometheus_client.generate_latest, source),)
        parts = []
        timer = self._timer
        budget = RENDER_SLICE_SECONDS
        began = timer()
        for text in source.exposition_slices():
            parts.append(text.encode())
            if timer() - began < budget:
                continue
            paused = timer()
            self.yields += 1
            await asyncio.sleep(0)
            resumed = timer()
            # A yield waits out every task already ready. When that took long (a takeover's thousands of
            # first ticks), render for a fixed share of it before yielding again: the scrape still costs the
            # ticks at most that share, and answers in a few turns of the loop rather than in dozens.
            budget = max(RENDER_SLICE_SECONDS, RENDER_SHARE * (resumed - paused))
            began = resumed
        return tuple(parts)


def _metrics_handler(exposition: CachedExposition) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        # Rendered in slices between the scale loops' steps, at most once per scrape window, and written
        # slice by slice (see `CachedExposition`).
        chunks = await exposition.chunks()
        response = web.StreamResponse(headers={"Content-Type": METRICS_CONTENT_TYPE})
        response.content_length = sum(len(chunk) for chunk in chunks)
        await response.prepare(request)
        if request.method != "HEAD":
            for chunk in chunks:
                await response.write(chunk)
        await response.write_eof()
        return response

    return handler


def make_app(*, metrics: operator_metrics.OperatorMetrics, decisions: decision_log.DecisionLog,
             health: HealthState, metrics_max_age: float = 0.0) -> web.Application:
    app = web.Application()
    app[METRICS_KEY] = metrics
    app[DECISIONS_KEY] = decisions
    app[HEALTH_KEY] = health
    app.router.add_get("/metrics", _metrics_handler(CachedExposition(metrics, max_age=metrics_max_age)))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/api/v1/scaledobjects", _scaled_objects)
    app.router.add_get("/api/v1/scaledobjects/{namespace}/{name}/decisions", _decisions)
    return app


async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> web.AppRunner:
    """Start `app` on `host:port` (0 picks a free port; see `bound_port`); stop it with `stop`."""
    # Malformed requests cost at most a rate-limited DEBUG line, not an ERROR traceback each.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0, logger=quiet_logging.SERVER_LOGGER)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port the running server listens on (the first address)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError("the HTTP server is not listening on a TCP port")


async def stop(runner: web.AppRunner) -> None:
    """Stop serving: close the listener, finish in-flight requests (bounded), free the port."""
    await runner.cleanup()

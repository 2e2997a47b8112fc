"""The dashboard on the operator's HTTP server: the pages, their JSON API and the optional bearer token.

Routes (registered by `install` on the app `http_server.make_app` built):

* `GET /` — the fleet page; `GET /scaledobjects/{namespace}/{name}` — one ScaledObject. Both take
  `fragment=1` for just their live part (what the page's script polls, with `If-None-Match`).
* `GET /api/v1/dashboard/fleet` — the fleet document (filters, sorting and paging in the query string);
  `GET /api/v1/dashboard/scaledobjects/{namespace}/{name}` — the object document (`from`, `to` in
  seconds since the epoch, or `last` seconds); `GET /api/v1/dashboard/status` — version and leadership.

The pages are rendered from the very documents the API serves (`scaler.reports.dashboard`), after the
decision log's masking ran over them once more. The data are the operator's watched ScaledObjects and
workloads, the decision log, and the ready-pod changes this module keeps per workload (`ReadyHistory`).

With a token (`--http-token-file`), the pages and every `/api/` path need `Authorization: Bearer TOKEN`
or the cookie that `?token=TOKEN` sets once; requests from loopback (which is where
`kubectl port-forward` arrives) are let through unless `token_on_loopback` is set. `/healthz`, `/readyz`
and `/metrics` stay open for probes and Prometheus, and `/api/v1/readings…` for `ebb adapter` (metric
values only, as `/metrics` has them).
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import importlib.metadata
import ipaddress
import json
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from scaler.operator import decision_log, http_server, kube
from scaler.reports import dashboard, dashboard_pages

READY_HISTORY = 128  # ready-pod changes kept per workload (only changes are stored)
COOKIE = "ebb-dashboard-token"
_OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# The readings `ebb adapter` follows (readings_service): metric values only, as `/metrics` shows them.
_OPEN_PREFIXES = ("/api/v1/readings",)


def version() -> str:
    try:
        return importlib.metadata.version("ebb-autoscaler")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class ReadyHistory:
    """When each watched Deployment/StatefulSet's ready pods changed: (time, readyReplicas), bounded."""

    def __init__(self, clock: Callable[[], float] = time.time, capacity: int = READY_HISTORY) -> None:
        self._clock = clock
        self._capacity = capacity
        self._rings: dict[tuple[str, str, str], collections.deque[tuple[float, int]]] = {}

    def listener(self, kind: str, body: Mapping[str, Any], deleted: bool) -> None:
        if kind not in (kube.DEPLOYMENT, kube.STATEFUL_SET):
            return
        meta = body.get("metadata") or {}
        key = (kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        if deleted:
            self._rings.pop(key, None)
            return
        ready = (body.get("status") or {}).get("readyReplicas") or 0
        ring = self._rings.get(key)
        if ring is None:
            ring = self._rings[key] = collections.deque(maxlen=self._capacity)
        if not ring or ring[-1][1] != ready:
            ring.append((self._clock(), int(ready)))

    def of(self, kind: str, namespace: str, name: str) -> list[tuple[float, int]]:
        return list(self._rings.get((kind, namespace, name), ()))


class Dashboard:
    """What the routes read: the watched objects, the decision log, the health state and the clock."""

    def __init__(self, *, watched: kube.Watched, decisions: decision_log.DecisionLog,
                 health: http_server.HealthState, clock: Callable[[], float] = time.time,
                 identity: str = "", default_mode: str = "hpa") -> None:
        self.watched = watched
        self.decisions = decisions
        self.health = health
        self.clock = clock
        self.identity = identity
        self.default_mode = default_mode
        self.ready = ReadyHistory(clock)
        # Each object's row, reused while its body, its workload's body and its decisions are unchanged
        # (Watched replaces a body on every change): the fleet page at 1,000 objects reads no entries then.
        self._rows: dict[tuple[str, str], tuple[Mapping[str, Any], Mapping[str, Any] | None, int, dashboard.Row]] = {}
        watched.subscribe(self.ready.listener)
        self.version = version()

    def header(self) -> dashboard_pages.Header:
        _ready, why = self.health.readiness()
        leader = "leading" if self.health.leading and not self.health.stopping else why
        return dashboard_pages.Header(version=self.version, leader=leader, identity=self.identity)

    def status(self) -> dict[str, Any]:
        ready, why = self.health.readiness()
        return {"version": self.version, "leading": self.health.leading, "standby": self.health.standby,
                "ready": ready, "reason": why, "identity": self.identity}

    def _workload_kind(self, body: Mapping[str, Any]) -> str:
        ref = (body.get("spec") or {}).get("scaleTargetRef") or {}
        return str(ref.get("kind") or kube.DEPLOYMENT)

    def _workload(self, body: Mapping[str, Any]) -> Mapping[str, Any] | None:
        meta = body.get("metadata") or {}
        ref = (body.get("spec") or {}).get("scaleTargetRef") or {}
        kind = self._workload_kind(body)
        if kind not in (kube.DEPLOYMENT, kube.STATEFUL_SET):
            return None
        return self.watched.get(kind, str(meta.get("namespace") or ""), str(ref.get("name") or ""))

    def row(self, body: Mapping[str, Any], now: float) -> dashboard.Row:
        meta = body.get("metadata") or {}
        ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        workload = self._workload(body)
        records = self.decisions.records(ns, name)
        cached = self._rows.get((ns, name))
        if cached is not None and cached[0] is body and cached[1] is workload and cached[2] == records:
            return cached[3]
        recent = self.decisions.entries(ns, name, limit=dashboard.FLAP_WINDOW)
        row = dashboard.fleet_row(body, workload, recent, now, self.default_mode)
        if row.why.kind is not dashboard.Why.COOLDOWN:  # its sentence counts down with the clock
            self._rows[(ns, name)] = (body, workload, records, row)
        return row

    def fleet(self, filters: dashboard.Filters) -> dict[str, Any]:
        now = self.clock()
        bodies = list(self.watched.items(kube.SCALED_OBJECT))
        if len(self._rows) > len(bodies):  # forget deleted objects
            present = {((b.get("metadata") or {}).get("namespace"), (b.get("metadata") or {}).get("name")) for b in bodies}
            self._rows = {key: value for key, value in self._rows.items() if key in present}
        rows = [self.row(body, now) for body in bodies]
        return decision_log.redact(dashboard.fleet_document(rows, filters, now))

    def scaled_object(self, namespace: str, name: str, since: float | None, until: float | None) -> dict[str, Any] | None:
        body = self.watched.get(kube.SCALED_OBJECT, namespace, name)
        if body is None:
            return None
        now = self.clock()
        ref = (body.get("spec") or {}).get("scaleTargetRef") or {}
        history = self.ready.of(self._workload_kind(body), namespace, str(ref.get("name") or ""))
        doc = dashboard.object_document(self.row(body, now), body, self.decisions.entries(namespace, name),
                                        history, now, since, until)
        return decision_log.redact(doc)


DASHBOARD_KEY = web.AppKey("dashboard", Dashboard)


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def _filters(request: web.Request) -> dashboard.Filters:
    try:
        return dashboard.parse_filters(request.query)
    except ValueError as error:
        raise _bad_request(str(error)) from None


def _range(request: web.Request, now: float) -> tuple[float | None, float | None]:
    values: dict[str, float] = {}
    for key in ("from", "to", "last"):
        raw = request.query.get(key)
        if raw is None:
            continue
        try:
            values[key] = float(raw)
        except ValueError:
            raise _bad_request(f"query parameter {key}: expected seconds (a number), got {raw!r}") from None
        if values[key] < 0:
            raise _bad_request(f"query parameter {key}: expected a non-negative number, got {raw!r}")
    if "last" in values and ("from" in values or "to" in values):
        raise _bad_request("query parameters last and from/to: give either last or from/to, not both")
    if "last" in values:
        return now - values["last"], None
    since, until = values.get("from"), values.get("to")
    if since is not None and until is not None and until < since:
        raise _bad_request(f"query parameter to: expected a time after from ({since:g}), got {until:g}")
    return since, until


def _etag(text: str) -> str:
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'


def _html(request: web.Request, text: str, etag: str) -> web.Response:
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers={"ETag": etag})
    return web.Response(text=text, content_type="text/html", headers={"ETag": etag, "Cache-Control": "no-store"})


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=lambda v: json.dumps(v, default=str),
                             headers={"Cache-Control": "no-store"})


def _other_query(request: web.Request) -> str:
    return urllib.parse.urlencode([(k, v) for k, v in request.query.items() if k not in ("fragment", "token")])


async def _fleet_page(request: web.Request) -> web.Response:
    board = request.app[DASHBOARD_KEY]
    filters = _filters(request)
    doc = board.fleet(filters)
    fragment = dashboard_pages.fleet_fragment(doc, filters)
    etag = _etag(fragment)
    if request.query.get("fragment") == "1":
        return _html(request, fragment, etag)
    return _html(request, dashboard_pages.fleet_page(doc, filters, board.header(), etag), etag)


async def _object_page(request: web.Request) -> web.Response:
    board = request.app[DASHBOARD_KEY]
    ns, name = request.match_info["namespace"], request.match_info["name"]
    since, until = _range(request, board.clock())
    doc = board.scaled_object(ns, name, since, until)
    if doc is None:
        text = dashboard_pages.not_found_page(board.header(), f"The operator watches no ScaledObject {ns}/{name}.")
        return web.Response(status=404, text=text, content_type="text/html")
    query = _other_query(request)
    body = dashboard_pages.object_body(doc, query)
    etag = _etag(body)
    if request.query.get("fragment") == "1":
        return _html(request, body, etag)
    page = dashboard_pages.object_page(doc, board.header(), etag, live=until is None, query=query)
    return _html(request, page, etag)


async def _fleet_api(request: web.Request) -> web.Response:
    board = request.app[DASHBOARD_KEY]
    return _json({**board.fleet(_filters(request)), "operator": board.status()})


async def _object_api(request: web.Request) -> web.Response:
    board = request.app[DASHBOARD_KEY]
    ns, name = request.match_info["namespace"], request.match_info["name"]
    since, until = _range(request, board.clock())
    doc = board.scaled_object(ns, name, since, until)
    if doc is None:
        return _json({"error": f"the operator watches no ScaledObject {ns}/{name}", "scaledObject": f"{ns}/{name}"},
                     status=404)
    return _json({**doc, "operator": board.status()})


async def _status_api(request: web.Request) -> web.Response:
    return _json(request.app[DASHBOARD_KEY].status())


def _loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def token_middleware(token: str, *, on_loopback: bool) -> Any:
    """Require `token` on every path but the probes, `/metrics` and the adapter's readings (see the module
    docstring)."""
    expected = token.encode()

    @web.middleware
    async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if (request.path in _OPEN_PATHS or request.path.startswith(_OPEN_PREFIXES)
                or (not on_loopback and _loopback(request.remote))):
            return await handler(request)
        given = request.query.get("token")
        if given is not None and hmac.compare_digest(given.encode(), expected):
            # Once from a link: keep it in a cookie and drop it from the address bar.
            keep = _other_query(request)
            response = web.HTTPSeeOther(request.path + ("?" + keep if keep else ""))
            response.set_cookie(COOKIE, given, httponly=True, samesite="Strict", path="/")
            raise response
        header = request.headers.get("Authorization", "")
        presented = header[7:] if header.startswith("Bearer ") else request.cookies.get(COOKIE, "")
        if presented and hmac.compare_digest(presented.encode(), expected):
            return await handler(request)
        return web.json_response(
            {"error": "this Ebb dashboard needs a bearer token: send 'Authorization: Bearer TOKEN' (the token "
                      "in --http-token-file) or open the page once with ?token=TOKEN"},
            status=401, headers={"WWW-Authenticate": 'Bearer realm="ebb"'})

    return middleware


def read_token(path: str) -> str:
    """The token in `path` (surrounding whitespace removed); `ValueError` naming the file if it is empty."""
    with open(path, encoding="utf-8") as handle:
        token = handle.read().strip()
    if not token:
        raise ValueError(f"--http-token-file {path}: expected a token, the file is empty")
    return token


def install(app: web.Application, board: Dashboard, *, token: str | None = None, token_on_loopback: bool = False) -> None:
    """Add the dashboard's routes (and the token check, when a token is given) to the operator's app."""
    app[DASHBOARD_KEY] = board
    if token is not None:
        app.middlewares.append(token_middleware(token, on_loopback=token_on_loopback))
    app.router.add_get("/", _fleet_page)
    app.router.add_get("/scaledobjects/{namespace}/{name}", _object_page)
    app.router.add_get("/api/v1/dashboard/fleet", _fleet_api)
    app.router.add_get("/api/v1/dashboard/status", _status_api)
    app.router.add_get("/api/v1/dashboard/scaledobjects/{namespace}/{name}", _object_api)

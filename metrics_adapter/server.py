"""The aggregated API server for `external.metrics.k8s.io/v1beta1` (aiohttp over TLS).

Routes: `/apis`, `/apis/external.metrics.k8s.io`, `/apis/external.metrics.k8s.io/v1beta1` (discovery, one
placeholder resource), `/apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{metric}` (the values),
`/openapi/v2`, `/openapi/v3` and `/openapi/v3/apis/external.metrics.k8s.io/v1beta1`, `/version`, `/`,
`/healthz`, `/livez`, `/readyz` and `/metrics` (the Go apiserver's `apiserver_request_total` and
`apiserver_request_duration_seconds`).

Every request passes `security`: the always-allowed paths need no credentials; any other request
without credentials is 401, and a denied one 403, with the Go server's Status bodies. Discovery,
OpenAPI and `/version` are open to every authenticated caller (what the `system:discovery` role grants
in every cluster; the aggregator's availability probe needs them); metrics and `/metrics` are authorized
per request by SubjectAccessReview.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import prometheus_client
from aiohttp import web

from metrics_adapter import answers, security, sources
from scaler.operator import kube, quiet_logging, readings

logger = logging.getLogger("ebb.adapter")

METRICS_PREFIX = f"/apis/{answers.GROUP_VERSION}/namespaces/"
DISCOVERY_PATHS = frozenset(
    {"/", "/apis", f"/apis/{answers.GROUP}", f"/apis/{answers.GROUP_VERSION}", "/version"}
)
BODY_CACHE_SIZE = 20_000
CONTENT_TYPE_METRICS = "text/plain; version=0.0.4; charset=utf-8"


def _version() -> str:
    try:
        return importlib.metadata.version("ebb-autoscaler")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


class AdapterMetrics:
    """The adapter's own metrics, named as the Go apiserver names them."""

    def __init__(self) -> None:
        self.registry = prometheus_client.CollectorRegistry(auto_describe=True)
        self.requests = prometheus_client.Counter(
            "apiserver_request_total",
            "Counter of apiserver requests broken out for each verb, group, version, resource and HTTP response code.",
            ["verb", "group", "version", "resource", "code"],
            registry=self.registry,
        )
        self.latency = prometheus_client.Histogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, group, version and resource.",
            ["verb", "group", "version", "resource"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.errors = prometheus_client.Counter(
            "ebb_adapter_metric_errors_total",
            "External metric requests answered with an error, by HTTP code.",
            ["code"],
            registry=self.registry,
        )

    def observe(self, resource: str, code: int, seconds: float) -> None:
        group, version = (answers.GROUP, answers.VERSION) if resource else ("", "")
        verb = "LIST" if resource else "GET"
        self.requests.labels(verb, group, version, resource, str(code)).inc()
        self.latency.labels(verb, group, version, resource).observe(seconds)


@dataclasses.dataclass
class Adapter:
    """Everything a request needs."""

    source: sources.Source
    authenticator: security.Authenticator
    authorizer: security.Authorizer
    metrics: AdapterMetrics = dataclasses.field(default_factory=AdapterMetrics)
    version: str = dataclasses.field(default_factory=_version)
    stopping: bool = False
    bodies: dict[tuple[str, str, str, float], bytes] = dataclasses.field(default_factory=dict)


ADAPTER_KEY = web.AppKey("adapter", Adapter)


def _json(document: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(document, separators=(",", ":")).encode(), status=status, content_type="application/json"
    )


def _failure(failure: answers.Failure) -> web.Response:
    return _json(failure.body(), failure.code)


def _peer_cert(request: web.Request) -> bytes | None:
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return bytes(der) if der else None


def _attributes(request: web.Request) -> security.Attributes | None:
    """What to authorize (None: open to any authenticated caller)."""
    path = request.path
    if path.startswith(METRICS_PREFIX):
        rest = path[len(METRICS_PREFIX):].split("/")
        if len(rest) == 2 and rest[0] and rest[1]:
            return security.Attributes("list", path, resource=rest[1], namespace=rest[0])
    if path in DISCOVERY_PATHS or path.startswith("/openapi/"):
        return None
    return security.Attributes(request.method.lower(), path)


@web.middleware
async def _guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    adapter = request.app[ADAPTER_KEY]
    started = time.perf_counter()
    attributes = _attributes(request)
    resource = attributes.resource or "" if attributes is not None else ""
    response = await _checked(request, handler, adapter, attributes)
    adapter.metrics.observe(resource, response.status, time.perf_counter() - started)
    if resource and response.status >= 400:
        adapter.metrics.errors.labels(str(response.status)).inc()
    return response


async def _checked(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    adapter: Adapter,
    attributes: security.Attributes | None,
) -> web.StreamResponse:
    if security.always_allowed(request.path, adapter.authenticator.config):
        return await handler(request)
    try:
        user = await adapter.authenticator.authenticate(
            _peer_cert(request), request.headers, lambda h: list(request.headers.getall(h, []))
        )
    except security.Unauthorized:
        user = None
    except kube.ApiError as error:
        return _failure(answers.Failure(500, answers.Reason.INTERNAL_ERROR, f"Internal error occurred: {error}"))
    if user is None:
        return _failure(answers.Failure(401, answers.Reason.UNAUTHORIZED, "Unauthorized"))
    if attributes is not None:
        try:
            allowed, reason = await adapter.authorizer.authorize(user, attributes)
        except kube.ApiError as error:
            return _failure(answers.Failure(500, answers.Reason.INTERNAL_ERROR, f"Internal error occurred: {error}"))
        if not allowed:
            return _failure(answers.Failure(403, answers.Reason.FORBIDDEN, attributes.forbidden_message(user, reason)))
    return await handler(request)


# --- handlers -----------------------------------------------------------------------------------------


async def _metric(request: web.Request) -> web.Response:
    adapter = request.app[ADAPTER_KEY]
    namespace, metric = request.match_info["namespace"], request.match_info["metric"]
    try:
        name = answers.select_scaled_object(request.query.get("labelSelector"))
        reading = await adapter.source.reading(namespace, name)
        # One reading is asked for many times (every HPA sync until the next tick): render it once.
        key = (namespace, name, metric, reading.taken_at)
        body = adapter.bodies.get(key)
        if body is None:
            body = json.dumps(answers.metric_list(reading, metric), separators=(",", ":")).encode()
            if len(adapter.bodies) >= BODY_CACHE_SIZE:
                adapter.bodies.clear()
            adapter.bodies[key] = body
        return web.Response(body=body, content_type="application/json")
    except answers.Failure as failure:
        return _failure(failure)
    except readings.NoSuchScaledObject as error:
        return _failure(answers.internal(str(error)))
    except readings.Unavailable as error:
        return _failure(answers.Failure(503, answers.Reason.SERVICE_UNAVAILABLE, str(error)))


def _fixed(document: Callable[[Adapter], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        return _json(document(request.app[ADAPTER_KEY]))

    return handle


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _readyz(request: web.Request) -> web.Response:
    adapter = request.app[ADAPTER_KEY]
    if adapter.stopping:
        return web.Response(text="[-]shutdown failed: the adapter is stopping\nreadyz check failed", status=500)
    ready, why = await adapter.source.readiness()
    if not ready:
        return web.Response(text=f"[-]readings failed: {why}\nreadyz check failed", status=500)
    return web.Response(text="ok")


async def _metrics(request: web.Request) -> web.Response:
    adapter = request.app[ADAPTER_KEY]
    return web.Response(
        body=prometheus_client.generate_latest(adapter.metrics.registry), headers={"Content-Type": CONTENT_TYPE_METRICS}
    )


def make_app(adapter: Adapter) -> web.Application:
    app = web.Application(middlewares=[_guard])
    app[ADAPTER_KEY] = adapter
    app.router.add_get("/", _fixed(lambda a: answers.root_paths()))
    app.router.add_get("/apis", _fixed(lambda a: answers.api_group_list()))
    app.router.add_get(f"/apis/{answers.GROUP}", _fixed(lambda a: answers.api_group()))
    app.router.add_get(f"/apis/{answers.GROUP_VERSION}", _fixed(lambda a: answers.api_resource_list()))
    app.router.add_get(f"/apis/{answers.GROUP_VERSION}/namespaces/{{namespace}}/{{metric}}", _metric)
    app.router.add_get("/openapi/v2", _fixed(lambda a: answers.openapi_v2(a.version)))
    app.router.add_get("/openapi/v3", _fixed(lambda a: answers.openapi_v3_index()))
    app.router.add_get(f"/openapi/v3/apis/{answers.GROUP_VERSION}", _fixed(lambda a: answers.openapi_v3(a.version)))
    app.router.add_get("/version", _fixed(lambda a: answers.version_info(a.version)))
    for path in ("/healthz", "/livez", "/healthz/ping", "/livez/ping"):
        app.router.add_get(path, _ok)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    return app


def server_ssl_context(cert_file: str, key_file: str, client_trust_pem: bytes) -> ssl.SSLContext:
    """TLS 1.2+, a client certificate verified when given (Go's VerifyClientCertIfGiven)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    trust = client_trust_pem.strip()
    if trust:
        context.load_verify_locations(cadata=trust.decode())
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


async def serve(app: web.Application, host: str, port: int, context: ssl.SSLContext) -> web.AppRunner:
    # Malformed requests (anyone who can reach the port can send them) cost at most a rate-limited DEBUG
    # line, as on the operator's port, instead of an ERROR with a traceback each.
    runner = web.AppRunner(app, access_log=None, handle_signals=False, logger=quiet_logging.SERVER_LOGGER)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=context, reuse_address=True)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    for site in runner.sites:
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            return int(server.sockets[0].getsockname()[1])
    raise RuntimeError("the adapter is not listening")

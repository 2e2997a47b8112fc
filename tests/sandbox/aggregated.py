"""A tiny real aggregated API server for the aggregation tests: aiohttp over TLS, in its own thread.

It serves `external.metrics.k8s.io/v1beta1` with values a test sets, trusts identity headers only behind a
client certificate that verifies against the sandbox's `requestheader-client-ca-file` and carries an
allowed CN (both read from `kube-system/extension-apiserver-authentication` over HTTP, as an aggregated
server does), and records every request it saw so tests can check what the sandbox sent.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

import trustme
from aiohttp import web

from tests.sandbox import rawhttp

GROUP_VERSION = "external.metrics.k8s.io/v1beta1"


@dataclass(frozen=True)
class Seen:
    """One request as the aggregated server saw it."""

    path: str
    query: str
    peer_cn: str | None  # the verified client certificate's CN, None without one
    trusted: bool  # peer verified against the requestheader CA and its CN allowed
    headers: dict[str, list[str]]

    def header(self, name: str) -> list[str]:
        return self.headers.get(name.lower(), [])


@dataclass
class AggregatedServer:
    """`with AggregatedServer(api, service_name="metrics", namespace="default") as server:`"""

    sandbox_api: rawhttp.Api
    service_name: str = "metrics"
    namespace: str = "default"
    values: dict[str, list[str]] = field(default_factory=dict)  # metric name -> item values
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert(f"{self.service_name}.{self.namespace}.svc")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._lock = threading.Lock()
        self._transports: set[asyncio.BaseTransport] = set()
        config = self.sandbox_api.get("/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication")
        assert config.status == 200, config.body
        data = config.body["data"]
        self.allowed_names = json.loads(data["requestheader-allowed-names"])
        self.user_headers = json.loads(data["requestheader-username-headers"])
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(self.context)
        self.context.verify_mode = ssl.CERT_OPTIONAL
        self.context.load_verify_locations(cadata=data["requestheader-client-ca-file"])

    @property
    def ca_pem(self) -> str:
        return self.ca.cert_pem.bytes().decode()

    def requests(self) -> list[Seen]:
        with self._lock:
            return list(self.seen)

    # --- serving ---------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.transport is not None:
            self._transports.add(request.transport)
        return await self._answer(request)

    async def _answer(self, request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        cn = None
        if peer:
            cn = next((value for rdn in peer.get("subject", ()) for key, value in rdn if key == "commonName"), None)
        trusted = cn is not None and (not self.allowed_names or cn in self.allowed_names)
        headers: dict[str, list[str]] = {}
        for key, value in request.headers.items():
            headers.setdefault(key.lower(), []).append(value)
        with self._lock:
            self.seen.append(Seen(request.path, request.rel_url.raw_query_string, cn, trusted, headers))
        user = next((request.headers[h] for h in self.user_headers if h in request.headers), None)
        if not trusted or not user:
            return web.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                      "message": "Unauthorized", "reason": "Unauthorized", "code": 401}, status=401)
        parts = [p for p in request.path.split("/") if p]
        if parts == ["apis", "external.metrics.k8s.io", "v1beta1"]:
            return web.json_response({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION,
                                      "resources": [{"name": "externalmetrics", "singularName": "", "namespaced": True,
                                                     "kind": "ExternalMetricValueList", "verbs": ["get"]}]})
        if len(parts) == 6 and parts[3] == "namespaces":
            metric = parts[5]
            with self._lock:
                values = self.values.get(metric)
            if values is None:
                return web.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                          "message": f'the server could not find the metric {metric} for ',
                                          "reason": "NotFound", "code": 404}, status=404)
            return web.json_response({"kind": "ExternalMetricValueList", "apiVersion": GROUP_VERSION, "metadata": {},
                                      "items": [{"metricName": metric, "metricLabels": None,
                                                 "timestamp": "2026-01-01T00:00:00Z", "value": v} for v in values]})
        return web.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": "the server could not find the requested resource", "reason": "NotFound",
                                  "code": 404}, status=404)

    def _abort_connections(self) -> None:
        """A stopped server drops its connections at once, without a TLS goodbye."""
        for transport in self._transports:
            if not transport.is_closing() and isinstance(transport, asyncio.Transport):
                transport.abort()

    def set_value(self, metric: str, *values: str) -> None:
        with self._lock:
            self.values[metric] = list(values)

    # --- lifecycle -----------------------------------------------------------------------------------------

    def __enter__(self) -> AggregatedServer:
        started = threading.Event()

        async def main() -> None:
            self._stop = asyncio.Event()
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", self.port, ssl_context=self.context, reuse_address=True)
            await site.start()
            server: Any = site._server
            self.port = server.sockets[0].getsockname()[1]
            started.set()
            await self._stop.wait()
            self._abort_connections()
            await runner.cleanup()
            # A connection accepted just before the stop may still be in its TLS handshake: let it finish
            # (the client is alive), then drop it too, so no socket outlives the loop.
            await asyncio.sleep(0.3)
            self._abort_connections()
            await asyncio.sleep(0)

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(main())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="aggregated-server", daemon=True)
        self._thread.start()
        assert started.wait(10), "the aggregated server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
            self._thread = None

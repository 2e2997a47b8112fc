"""API aggregation as kube-aggregator does it: APIServices, availability checks, the proxy, discovery.

An `apiregistration.k8s.io/v1` APIService with a `spec.service` makes the sandbox proxy every request
under `/apis/<group>/<version>` to that Service's endpoint, after authenticating and authorizing the
caller as for any request:
* over TLS, verifying the serving certificate against `spec.caBundle` for the name
  `<service>.<namespace>.svc` (unless `insecureSkipTLSVerify`);
* presenting the front-proxy client certificate (CN `front-proxy-client`, signed by the
  `requestheader-client-ca-file` published in `kube-system/extension-apiserver-authentication`);
* with the caller's identity in `X-Remote-User`, `X-Remote-Uid`, one `X-Remote-Group` per group and
  `X-Remote-Extra-<key>` (any such headers the caller sent are dropped, and so is its Authorization).

**How a Service maps to a loopback port.** As kube-apiserver with `--enable-aggregator-routing=true`, the
sandbox dials the Service's *endpoint*, not its ClusterIP (which nothing routes here): the
EndpointSlices labelled `kubernetes.io/service-name=<service>` (ready endpoints), else the Endpoints object
of the same name, on the endpoint port named as the Service port whose `port` is the APIService's
`spec.service.port` (default 443). A test or an adapter registers itself with a selector-less Service and
an Endpoints (or EndpointSlice) holding `127.0.0.1` and its real port. Only loopback addresses are
dialled.

Availability (`status.conditions[type=Available]`) is checked as kube-aggregator does: service present,
port known, an endpoint address, then `GET /apis/<group>/<version>` through the proxy path (identity
`system:kube-aggregator` in `system:masters`, 5 s timeout) answering 2xx. Reasons and messages are
kube-aggregator's (`Passed`, `ServiceNotFound`, `ServicePortError`, `EndpointsNotFound`,
`MissingEndpoints`, `FailedDiscoveryCheck`, `Local`). Checks run when an APIService, Service, Endpoints or
EndpointSlice changes and every `recheck` seconds. While `Available` is not True, requests are answered
`503 service unavailable` (text/plain, as kube-aggregator's `http.Error`), and so is a request whose
endpoint cannot be reached.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import logging
import ssl
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import yarl
from aiohttp import web

from kube_sandbox import cluster, identity, storage

log = logging.getLogger(__name__)

APISERVICES = "apiregistration.k8s.io/apiservices"
SERVICES = "/services"
ENDPOINTS = "/endpoints"
ENDPOINT_SLICES = "discovery.k8s.io/endpointslices"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
PROBE_TIMEOUT = 5.0
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                         "transfer-encoding", "upgrade", "host", "content-length"})


# --- availability --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


class Unresolved(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def resolve(store: storage.Store, namespace: str, name: str, port: int) -> Endpoint:
    """The loopback endpoint a Service port leads to, or Unresolved with kube-aggregator's reason."""
    service = store.get(SERVICES, namespace, name)
    if service is None:
        raise Unresolved("ServiceNotFound", f'service/{name} in "{namespace}" is not present')
    ports = [p for p in (service.obj.get("spec") or {}).get("ports") or [] if isinstance(p, Mapping)]
    match = next((p for p in ports if p.get("port") == port), None)
    if match is None:
        raise Unresolved("ServicePortError", f'service/{name} in "{namespace}" is not listening on port {port}')
    port_name = str(match.get("name") or "")
    candidates: list[Endpoint] = []
    slices = [r for r in store.items(ENDPOINT_SLICES, namespace)
              if (r.obj["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == name]
    for record in slices:
        numbers = [p.get("port") for p in record.obj.get("ports") or []
                   if isinstance(p, Mapping) and str(p.get("name") or "") == port_name]
        for endpoint in record.obj.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            candidates += [Endpoint(str(a), int(n)) for a in endpoint.get("addresses") or [] for n in numbers
                           if isinstance(n, int)]
    if not slices:
        endpoints = store.get(ENDPOINTS, namespace, name)
        if endpoints is None:
            raise Unresolved("EndpointsNotFound", f'cannot find endpoints for service/{name} in "{namespace}"')
        for subset in endpoints.obj.get("subsets") or []:
            numbers = [p.get("port") for p in subset.get("ports") or []
                       if isinstance(p, Mapping) and str(p.get("name") or "") == port_name]
            candidates += [Endpoint(str(a.get("ip")), int(n)) for a in subset.get("addresses") or [] for n in numbers
                           if isinstance(n, int)]
    loopback = [c for c in candidates if _is_loopback(c.host)]
    if not loopback:
        raise Unresolved("MissingEndpoints", f'endpoints for service/{name} in "{namespace}" have no addresses '
                                             f'with port name "{port_name}"')
    return loopback[0]


def _url(endpoint: Endpoint, path: str, query: str = "") -> str:
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    return f"https://{host}:{endpoint.port}{path}" + (f"?{query}" if query else "")


def identity_headers(user: identity.User) -> list[tuple[str, str]]:
    headers = [(identity.USERNAME_HEADERS[0], user.username)]
    if user.uid:
        headers.append((identity.UID_HEADERS[0], user.uid))
    headers += [(identity.GROUP_HEADERS[0], group) for group in user.groups]
    for key, values in user.extra.items():
        headers += [(identity.EXTRA_HEADER_PREFIXES[0] + urllib.parse.quote(key, safe=""), v) for v in values]
    return headers


def _is_identity_header(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("x-remote-") or lowered == "authorization" or lowered.startswith("impersonate-")


Now = Callable[[], str]


class Aggregator:
    """The APIServices' availability and the proxy, on the server's event loop."""

    def __init__(self, the_cluster: cluster.Cluster, authority: identity.Authority, *, recheck: float = 30.0) -> None:
        self.cluster = the_cluster
        self.authority = authority
        self.recheck = recheck
        self._session: aiohttp.ClientSession | None = None
        self._pending: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._contexts: dict[tuple[str, bool], ssl.SSLContext] = {}
        the_cluster.store.subscribe(self._on_event)

    # --- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        for record in self.cluster.store.items(APISERVICES, None):
            self._queue(record.obj["metadata"]["name"])
        self._arm()

    async def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()  # aiohttp aborts the pooled TLS connections

    def _arm(self) -> None:
        if self._closed or self.recheck <= 0:
            return
        loop = asyncio.get_running_loop()

        def tick() -> None:
            for record in self.cluster.store.items(APISERVICES, None):
                self._queue(record.obj["metadata"]["name"])
            self._arm()

        self._timer = loop.call_later(self.recheck, tick)

    def _session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        return self._session

    # --- events -----------------------------------------------------------------------------------------

    def _on_event(self, event: storage.Event) -> None:
        if self._closed:
            return
        if event.key == APISERVICES:
            if event.type != "DELETED" and (event.old is None or event.old.obj.get("spec") != event.record.obj.get("spec")):
                self._queue(event.record.obj["metadata"]["name"])
            return
        if event.key not in (SERVICES, ENDPOINTS, ENDPOINT_SLICES):
            return
        for record in self.cluster.store.items(APISERVICES, None):
            service = (record.obj.get("spec") or {}).get("service") or {}
            if service.get("namespace") == event.namespace:
                self._queue(record.obj["metadata"]["name"])

    def _queue(self, name: str) -> None:
        if name in self._pending or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._pending.add(name)
        task = loop.create_task(self._check(name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the check ----------------------------------------------------------------------------------------

    async def _check(self, name: str) -> None:
        await asyncio.sleep(0)
        self._pending.discard(name)
        record = self.cluster.store.get(APISERVICES, "", name)
        if record is None:
            return
        spec = record.obj.get("spec") or {}
        service = spec.get("service")
        if not isinstance(service, Mapping):
            self._set_available(name, True, "Local", "Local APIServices are always available")
            return
        group, version = str(spec.get("group") or ""), str(spec.get("version") or "")
        try:
            endpoint = resolve(self.cluster.store, str(service.get("namespace")), str(service.get("name")),
                               int(service.get("port") or 443))
        except Unresolved as exc:
            self._set_available(name, False, exc.reason, exc.message)
            return
        url = _url(endpoint, f"/apis/{group}/{version}")
        try:
            status = await self._probe(record.obj, endpoint, url)
        except Exception as exc:
            self._set_available(name, False, "FailedDiscoveryCheck", f"failing or missing response from {url}: {_describe(exc)}")
            return
        if not 200 <= status < 300:
            self._set_available(name, False, "FailedDiscoveryCheck",
                                f"failing or missing response from {url}: bad status from {url}: {status}")
            return
        self._set_available(name, True, "Passed", "all checks passed")

    async def _probe(self, apiservice: Mapping[str, Any], endpoint: Endpoint, url: str) -> int:
        session = self._session_for_loop()
        headers = identity_headers(identity.AGGREGATOR)
        async with session.get(url, ssl=self.client_context(apiservice), server_hostname=self.server_name(apiservice),
                               headers=headers, timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT)) as response:
            await response.read()
            return response.status

    def _set_available(self, name: str, available: bool, reason: str, message: str) -> None:
        status = "True" if available else "False"

        def change(obj: dict[str, Any]) -> None:
            current = dict(obj.get("status") or {})
            conditions = [dict(c) for c in current.get("conditions") or [] if isinstance(c, Mapping)]
            old = next((c for c in conditions if c.get("type") == "Available"), None)
            moment = self.cluster.now()
            new = {"type": "Available", "status": status,
                   "lastTransitionTime": old["lastTransitionTime"] if old and old.get("status") == status else moment,
                   "reason": reason, "message": message}
            conditions = [new if c.get("type") == "Available" else c for c in conditions] if old else [*conditions, new]
            current["conditions"] = conditions
            obj["status"] = current

        record = self.cluster.store.get(APISERVICES, "", name)
        if record is None:
            return
        before = next((c for c in (record.obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Available"), None)
        if before and (before.get("status"), before.get("reason"), before.get("message")) == (status, reason, message):
            return
        if not available:
            log.info("APIService %s unavailable: %s: %s", name, reason, message)
        self.cluster.internal_update(APISERVICES, "", name, change, subresource="status", manager="kube-apiserver")

    # --- TLS -----------------------------------------------------------------------------------------------

    @staticmethod
    def server_name(apiservice: Mapping[str, Any]) -> str:
        service = (apiservice.get("spec") or {}).get("service") or {}
        return f"{service.get('name')}.{service.get('namespace')}.svc"

    def client_context(self, apiservice: Mapping[str, Any]) -> ssl.SSLContext:
        spec = apiservice.get("spec") or {}
        key = (str(spec.get("caBundle") or ""), bool(spec.get("insecureSkipTLSVerify")))
        cached = self._contexts.get(key)
        if cached is not None:
            return cached
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if spec.get("insecureSkipTLSVerify"):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif spec.get("caBundle"):
            context.load_verify_locations(cadata=base64.b64decode(str(spec["caBundle"])).decode())
        self.authority.front_proxy_client.configure_cert(context)
        self._contexts[key] = context
        return context

    # --- serving -----------------------------------------------------------------------------------------------

    def remote(self, group: str, version: str) -> dict[str, Any] | None:
        """The APIService that sends group/version to a Service, if any."""
        record = self.cluster.store.get(APISERVICES, "", f"{version}.{group}")
        if record is None or not isinstance((record.obj.get("spec") or {}).get("service"), Mapping):
            return None
        return record.obj

    def groups(self) -> dict[str, list[tuple[int, str]]]:
        """Group -> [(versionPriority, version)] of every APIService that points at a Service."""
        out: dict[str, list[tuple[int, str]]] = {}
        for record in self.cluster.store.items(APISERVICES, None):
            spec = record.obj.get("spec") or {}
            if isinstance(spec.get("service"), Mapping) and spec.get("group"):
                out.setdefault(str(spec["group"]), []).append((int(spec.get("versionPriority") or 0), str(spec["version"])))
        for versions in out.values():
            versions.sort(key=lambda pv: (-pv[0], pv[1]))
        return out

    async def proxy(self, request: web.Request, apiservice: Mapping[str, Any], user: identity.User) -> web.StreamResponse:
        available = next((c for c in (apiservice.get("status") or {}).get("conditions") or []
                          if c.get("type") == "Available"), None)
        if available is None or available.get("status") != "True":
            return _unavailable("service unavailable")
        service = (apiservice.get("spec") or {}).get("service") or {}
        try:
            endpoint = resolve(self.cluster.store, str(service.get("namespace")), str(service.get("name")),
                               int(service.get("port") or 443))
        except Unresolved:
            return _unavailable("service unavailable")
        headers = [(k, v) for k, v in request.headers.items()
                   if k.lower() not in _HOP_BY_HOP and not _is_identity_header(k)]
        headers += identity_headers(user)
        body = await request.read() if request.can_read_body else None
        session = self._session_for_loop()
        url = yarl.URL(_url(endpoint, request.raw_path), encoded=True)  # the path and query exactly as sent
        try:
            upstream = await session.request(request.method, url, headers=headers, data=body,
                                             ssl=self.client_context(apiservice),
                                             server_hostname=self.server_name(apiservice), allow_redirects=False)
        except Exception as exc:
            return _unavailable(f"error trying to reach service: {_describe(exc)}")
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in _HOP_BY_HOP:
                    response.headers.add(key, value)
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response


def _unavailable(message: str) -> web.Response:
    return web.Response(status=503, text=message + "\n", content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "context deadline exceeded"
    text = str(exc) or type(exc).__name__
    return text

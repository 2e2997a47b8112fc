"""The HTTP face of the sandbox: aiohttp routes for discovery, resources, watches and the test controls.

Requests are parsed into (group, version, plural, namespace, name, subresource), checked against
injected faults, and handed to `cluster.Cluster`; answers are JSON (or `meta.k8s.io/v1` Tables when
kubectl asks). Private controls live under `/sandbox/` (faults, kubelet, review answers, stats).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hmac
import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from aiohttp import web

from kube_sandbox import (
    aggregation,
    cluster,
    errors,
    faults,
    hpa_controller,
    identity,
    kubelet,
    openapi,
    protobuf,
    rbac,
    resources,
    reviews,
    selectors,
    storage,
    tables,
    watching,
)

log = logging.getLogger(__name__)

VERSION_INFO = {
    "major": "1",
    "minor": "35",
    "gitVersion": "v1.35.0-ebb-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/livez", "/version", "/version/"})
JSON = "application/json"
USER = web.RequestKey("user", identity.User)
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 0
    # When set, requests must carry `Authorization: Bearer <token>`; otherwise any (or no) token is accepted.
    token: str | None = None
    history_size: int = 10_000
    bookmark_interval: float = 30.0
    kubelet: kubelet.Settings = field(default_factory=kubelet.Settings)
    crds: list[dict[str, Any]] = field(default_factory=list)
    seed: int | None = None
    # Enforce RBAC on every request (anonymous callers are `system:anonymous`). Off: any caller is allowed,
    # as before (identities are still recognised, for SelfSubjectAccessReview and the aggregation headers).
    rbac: bool = False
    # Run the HPA controller (autoscaling/v2, External metrics) every `hpa_sync_period` seconds.
    hpa_controller: bool = False
    hpa_sync_period: float = 15.0
    # Seconds between availability checks of every APIService (kube-aggregator re-checks periodically too).
    aggregation_recheck: float = 30.0
    # Serve HTTPS (a certificate from the cluster CA) and accept client certificates of the client CA as
    # identities. Needed for kubectl under RBAC: client-go sends no bearer token to a plain-HTTP server.
    tls: bool = False

    @property
    def admin_token(self) -> str:
        return self.token or identity.DEFAULT_ADMIN_TOKEN


def _bool(value: str | None, name: str) -> bool:
    if value is None or value == "":
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise errors.bad_request(f'{name}: Invalid value: "{value}": strconv.ParseBool: parsing "{value}": invalid syntax')


def _int(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f'{name}: Invalid value: "{value}": must be an integer') from None


def _json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    raw = body if isinstance(body, bytes) else storage.dumps(body)
    return web.Response(body=raw, status=status, content_type=JSON, headers=headers)


def _error_response(error: errors.ApiError) -> web.Response:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    return _json_response(error.status(), error.code, headers)


def _table_include(request: web.Request) -> str | None:
    """`includeObject` when the client asked for a Table (kubectl get), else None."""
    accept = request.headers.get("Accept", "")
    for part in accept.split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in part.split(";")[1:])}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return request.query.get("includeObject", "Metadata")
    return None


def _manager(request: web.Request) -> str:
    manager = request.query.get("fieldManager")
    if manager:
        return manager
    agent = request.headers.get("User-Agent", "unknown")
    return agent.split("/", 1)[0] or "unknown"


@dataclass(frozen=True)
class _Target:
    rt: resources.ResourceType
    namespace: str | None
    name: str | None
    subresource: str


class Server:
    """One sandbox: its state, its HTTP app, and its lifecycle on the current event loop."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self.faults = faults.Faults(seed=self.config.seed)
        self.reviews = reviews.Reviews()
        self.authority = identity.Authority()
        self.aggregator: aggregation.Aggregator | None = None
        self.hpa: hpa_controller.Controller | None = None
        self._aggregating = False
        self.kubelet_settings = self.config.kubelet
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        self.cluster: cluster.Cluster
        self.hub: watching.Hub
        self.kubelet: kubelet.Kubelet
        self._dropped: set[watching.Watcher] = set()

    @property
    def base_url(self) -> str:
        host = self.config.host
        scheme = "https" if self.config.tls else "http"
        return f"{scheme}://[{host}]:{self.port}" if ":" in host else f"{scheme}://{host}:{self.port}"

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        rng = random.Random(self.config.seed)
        self.cluster = cluster.Cluster(
            store=storage.Store(history_size=self.config.history_size),
            defer=lambda job: self._schedule(0.0, job),
            rng=rng,
            auth=self.reviews,
        )
        self.hub = watching.Hub(self.cluster.store, self.cluster.clock)
        self.cluster.resource_removed.append(self._resource_removed)
        self.kubelet = kubelet.Kubelet(self.cluster, self.kubelet_settings,
                                       lambda delay, job: self._schedule(delay, job))
        self.faults.watch_dropper = self._drop_all_watches_threadsafe
        crd_rt = self.cluster.rt("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        for crd in self.config.crds:
            self.cluster.create(crd_rt, None, crd, cluster.WriteOptions(manager="ebb-sandbox"))
        self._bootstrap_identity()
        self.aggregator = aggregation.Aggregator(self.cluster, self.authority, recheck=self.config.aggregation_recheck)
        app = web.Application(client_max_size=16 * 1024 * 1024, middlewares=[self._middleware])
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, reuse_address=True,
                           ssl_context=self.authority.serving_context() if self.config.tls else None)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.config.port
        self.aggregator.start()
        if self.config.hpa_controller:
            self.hpa = hpa_controller.Controller(
                self.base_url, self.controller_token(), self.config.hpa_sync_period,
                ssl_context=self.authority.trusting_context() if self.config.tls else None)
            self.hpa.start()

    def _bootstrap_identity(self) -> None:
        """What kube-apiserver creates at start: RBAC bootstrap policy, the auth ConfigMap, controller accounts."""
        self.reviews.authenticator = self._token_user
        self.reviews.authorizer = self._rbac_decision
        opts = cluster.WriteOptions(manager="kube-apiserver")
        for key, obj in rbac.bootstrap():
            group, plural = key.split("/", 1)
            self.cluster.create(self.cluster.rt(group, "v1", plural), obj["metadata"].get("namespace"), obj, opts)
        self.cluster.store.subscribe(self._on_rbac_event)
        self._aggregate_cluster_roles()
        self.cluster.create(self.cluster.rt("", "v1", "configmaps"), identity.AUTH_CONFIGMAP_NAMESPACE, {
            "metadata": {"name": identity.AUTH_CONFIGMAP_NAME, "namespace": identity.AUTH_CONFIGMAP_NAMESPACE},
            "data": self.authority.authentication_configmap_data()}, opts)
        apiservices = self.cluster.rt("apiregistration.k8s.io", "v1", "apiservices")
        for group, version, priority in _local_group_versions(self.cluster.registry):
            # kube-apiserver's autoregister controller: every built-in group/version is a Local APIService.
            self.cluster.create(apiservices, None, {
                "metadata": {"name": f"{version}.{group}",
                             "labels": {"kube-aggregator.kubernetes.io/automanaged": "onstart"}},
                "spec": {"group": group, "version": version, "groupPriorityMinimum": priority,
                         "versionPriority": 15}}, opts)
        self.cluster.create(self.cluster.rt("", "v1", "serviceaccounts"), rbac.HPA_CONTROLLER_NAMESPACE, {
            "metadata": {"name": rbac.HPA_CONTROLLER_ACCOUNT, "namespace": rbac.HPA_CONTROLLER_NAMESPACE}},
            cluster.WriteOptions(manager="kube-controller-manager"))

    def controller_token(self) -> str:
        """A token for the HPA controller's ServiceAccount (kube-system/horizontal-pod-autoscaler)."""
        return self.issue_token(rbac.HPA_CONTROLLER_NAMESPACE, rbac.HPA_CONTROLLER_ACCOUNT,
                                seconds=10 * 365 * 24 * 3600)

    def issue_token(self, namespace: str, name: str, *, audiences: tuple[str, ...] = identity.API_AUDIENCES,
                    seconds: int = identity.DEFAULT_TOKEN_SECONDS) -> str:
        """A ServiceAccount token (the TokenRequest API's answer); the account must exist. Loop thread only."""
        record = self.cluster.get(self.cluster.rt("", "v1", "serviceaccounts"), namespace, name)
        token, _ = self.authority.issue_token(record.obj, audiences=audiences, seconds=seconds, now=self.cluster.clock())
        return token

    def _account(self, namespace: str, name: str) -> storage.Record | None:
        return self.cluster.store.get("/serviceaccounts", namespace, name)

    def _token_user(self, token: str, audiences: Any) -> tuple[identity.User, tuple[str, ...]] | None:
        """The admin token or a ServiceAccount JWT; None for a token the sandbox never issued."""
        if identity.same_secret(token, self.config.admin_token):
            return identity.ADMIN, tuple(audiences)
        if token.count(".") != 2:
            return None
        return self.authority.verify_token(token, self._account, audiences=tuple(audiences))

    def _rbac_decision(self, attrs: rbac.Attributes) -> rbac.Decision | None:
        return rbac.authorize(self.cluster.store, attrs) if self.config.rbac else None

    def _on_rbac_event(self, event: storage.Event) -> None:
        if event.key == rbac.CLUSTER_ROLES and not self._aggregating:
            self._aggregating = True
            self.cluster.defer(self._aggregate_cluster_roles)

    def _aggregate_cluster_roles(self) -> None:
        """The clusterrole-aggregation controller: aggregated ClusterRoles carry their selected roles' rules."""
        self._aggregating = True
        try:
            for _ in range(10):  # roles aggregating aggregated roles settle in a few passes
                changed = False
                for record in list(self.cluster.store.items(rbac.CLUSTER_ROLES, None)):
                    rules = rbac.aggregated_rules(self.cluster.store, record.obj)
                    if rules is None or rules == record.obj.get("rules"):
                        continue

                    def change(obj: dict[str, Any], rules: list[dict[str, Any]] = rules) -> None:
                        obj["rules"] = rules

                    changed |= self.cluster.internal_update(rbac.CLUSTER_ROLES, "", record.obj["metadata"]["name"],
                                                            change, manager="clusterrole-aggregation-controller")
                if not changed:
                    break
        finally:
            self._aggregating = False

    def authenticate(self, request: web.Request) -> identity.User:
        """Who sent `request` (401 when its credentials are bad or required and missing)."""
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        given = given.strip()
        open_path = request.path in OPEN_PATHS
        peer = request.transport.get_extra_info("peercert") if request.transport is not None else None
        if peer:
            # Verified against the client CA by the TLS handshake (CERT_OPTIONAL); x509 comes before tokens.
            certified = identity.certificate_user(peer)
            if certified is not None:
                return certified
        if scheme.lower() != "bearer" or not given:
            if self.config.token is not None and not open_path:
                raise errors.ApiError(401, errors.Reason.UNAUTHORIZED, "Unauthorized")
            return identity.ANONYMOUS if self.config.rbac else identity.ADMIN
        user = self.reviews.lookup(given)
        if user is None:
            try:
                found = self._token_user(given, identity.API_AUDIENCES)
            except identity.TokenError:
                found = None
            user = found[0] if found else None
        if user is None:
            if open_path:
                return identity.ANONYMOUS
            if self.config.token is not None or self.config.rbac:
                raise errors.ApiError(401, errors.Reason.UNAUTHORIZED, "Unauthorized")
            return identity.ADMIN  # the permissive default: any token is the admin
        return user

    async def stop(self) -> None:
        if self._runner is None:
            return
        if self.hpa is not None:
            await self.hpa.stop()
            self.hpa = None
        if self.aggregator is not None:
            await self.aggregator.close()
        self.hub.close_all()
        await asyncio.sleep(0)
        await self._runner.cleanup()
        self._runner = None

    def _guarded(self, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:  # a controller step failing must not kill the loop; it is logged
            log.exception("sandbox background job failed")

    def _schedule(self, delay: float, job: Callable[[], None]) -> None:
        assert self._loop is not None
        if delay <= 0:
            self._loop.call_soon(self._guarded, job)
        else:
            self._loop.call_later(delay, self._guarded, job)

    def _resource_removed(self, rt: resources.ResourceType) -> None:
        if self.cluster.registry.by_storage_key(rt.storage_key) is None:
            self.hub.close_key(rt.storage_key)

    def _drop_all_watches_threadsafe(self) -> int:
        loop = self._loop
        if loop is None:
            return 0
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            return self._drop_all_watches()
        future = asyncio.run_coroutine_threadsafe(self._async_drop(), loop)
        return future.result(timeout=10)

    async def _async_drop(self) -> int:
        return self._drop_all_watches()

    def _drop_all_watches(self) -> int:
        count = 0
        for watchers in list(self.hub._by_key.values()):
            for watcher in list(watchers):
                self._dropped.add(watcher)
                self.hub.close(watcher)
                count += 1
        return count

    def configure_kubelet(self, *, enabled: bool | None = None, ready_delay: float | None = None) -> None:
        """Thread-safe: runs on the server's loop."""
        loop = self._loop
        if loop is None:
            if enabled is not None:
                self.kubelet_settings.enabled = enabled
            if ready_delay is not None:
                self.kubelet_settings.ready_delay = ready_delay
            return
        loop.call_soon_threadsafe(lambda: self.kubelet.configure(enabled=enabled, ready_delay=ready_delay))

    # --- middleware --------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        try:
            if request.path.startswith("/sandbox/") or request.path == "/sandbox":
                self._check_control_token(request)
            else:
                user = self.authenticate(request)
                request[USER] = user
                if self.config.rbac:
                    attrs = rbac.request_attributes(user, request.method, request.path, request.query)
                    decision = rbac.authorize(self.cluster.store, attrs)
                    if not decision.allowed:
                        raise rbac.forbidden(attrs, decision.reason)
            response: web.StreamResponse = await handler(request)
            return response
        except errors.ApiError as exc:
            return _error_response(exc)
        except web.HTTPException:
            raise
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.exception("sandbox request failed: %s %s", request.method, request.path)
            return _error_response(errors.ApiError(500, errors.Reason.INTERNAL_ERROR, f"internal error: {type(exc).__name__}"))

    def _check_control_token(self, request: web.Request) -> None:
        if self.config.token is None:
            return
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.config.token.encode()):
            raise errors.ApiError(401, errors.Reason.UNAUTHORIZED, "Unauthorized")

    # --- routing -----------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        segments = [s for s in path.split("/") if s]
        if path in ("/healthz", "/readyz", "/livez") or path.startswith(("/healthz/", "/readyz/", "/livez/")):
            return web.Response(text="ok", content_type="text/plain")
        if path in ("/version", "/version/"):
            return _json_response(VERSION_INFO)
        if not segments:
            return _json_response({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2",
                                             "/readyz", "/version"]})
        if segments[0] == "openapi":
            return self._openapi(request, segments)
        if segments[0] == "sandbox":
            return await self._control(request, segments[1:])
        if segments[0] in ("api", "apis"):
            return await self._api(request, segments)
        raise errors.unknown_path()

    def _openapi(self, request: web.Request, segments: list[str]) -> web.Response:
        if segments[1:] == ["v2"]:
            if "protobuf" in request.headers.get("Accept", "") and "json" not in request.headers.get("Accept", ""):
                raise errors.ApiError(406, errors.Reason.NOT_ACCEPTABLE, "only application/json is served")
            return _json_response({"swagger": "2.0", "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
                                   "paths": {}, "definitions": {}})
        if segments[1:] == ["v3"]:
            return _json_response(openapi.root(self.cluster.registry))
        if segments[1] == "v3" and len(segments) in (4, 5):
            rest = segments[2:]
            group, version = ("", rest[1]) if rest[0] == "api" else (rest[1], rest[2] if len(rest) > 2 else "")
            doc = openapi.group_version(self.cluster.registry, group, version)
            if doc is not None:
                return _json_response(doc)
        raise errors.unknown_path()

    async def _api(self, request: web.Request, segments: list[str]) -> web.StreamResponse:
        registry = self.cluster.registry
        if segments[0] == "api":
            if len(segments) == 1:
                return _json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.config.host}:{self.port}"}]})
            group, version, rest = "", segments[1], segments[2:]
        else:
            if len(segments) == 1:
                return _json_response(self._api_group_list())
            group = segments[1]
            assert self.aggregator is not None
            if len(segments) == 2:
                if not registry.has_group(group):
                    versions = self.aggregator.groups().get(group)
                    if not versions:
                        raise errors.unknown_path()
                    return _json_response(_aggregated_group(group, versions))
                return _json_response(registry.api_group(group))
            version, rest = segments[2], segments[3:]
            remote = self.aggregator.remote(group, version)
            if remote is not None:
                return await self.aggregator.proxy(request, remote, request[USER])
        if not registry.has_group_version(group, version):
            raise errors.unknown_path()
        if not rest:
            if request.method != "GET":
                raise errors.method_not_allowed()
            return _json_response(registry.resource_list(group, version))
        target = self._target(group, version, rest)
        return await self._resource(request, target)

    def _api_group_list(self) -> dict[str, Any]:
        """Served groups, then the aggregated ones (by APIService) that the sandbox does not serve itself."""
        listing = self.cluster.registry.api_group_list()
        assert self.aggregator is not None
        for group, versions in sorted(self.aggregator.groups().items()):
            if not self.cluster.registry.has_group(group):
                doc = _aggregated_group(group, versions)
                listing["groups"].append({k: v for k, v in doc.items() if k not in ("kind", "apiVersion")})
        return listing

    def _target(self, group: str, version: str, rest: list[str]) -> _Target:
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise errors.unknown_path()
        rt = self.cluster.registry.lookup(group, version, rest[0])
        if rt is None:
            raise errors.unknown_path()
        if namespace is not None and not rt.namespaced:
            raise errors.unknown_path()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        if sub == "finalize" and rt.plural == "namespaces":
            sub = "status"
        token = sub == "token" and rt.storage_key == "/serviceaccounts"
        if sub and not ((sub == "status" and rt.status) or (sub == "scale" and rt.scale is not None) or token):
            raise errors.unknown_path()
        if rt.namespaced and namespace is None and name is not None:
            raise errors.unknown_path()
        return _Target(rt, namespace, name, sub)

    def _verb(self, request: web.Request, target: _Target) -> str:
        method = request.method
        if method == "GET":
            if _bool(request.query.get("watch"), "watch"):
                return "watch"
            return "get" if target.name is not None else "list"
        if method == "POST" and target.name is None:
            return "create"
        if method == "PUT" and target.name is not None:
            return "update"
        if method == "PATCH" and target.name is not None:
            return "patch"
        if method == "DELETE":
            return "delete" if target.name is not None else "deletecollection"
        raise errors.method_not_allowed()

    async def _resource(self, request: web.Request, target: _Target) -> web.StreamResponse:
        if target.subresource == "token":
            if request.method != "POST" or target.name is None:
                raise errors.method_not_allowed()
            return await self._token_request(request, target)
        verb = self._verb(request, target)
        rt = target.rt
        allowed = rt.verbs if not target.subresource else resources.SUBRESOURCE_VERBS
        if verb not in allowed and not (verb == "watch" and "watch" in rt.verbs):
            raise errors.method_not_allowed()
        info = faults.RequestInfo(verb, rt.group, rt.plural, target.subresource, target.namespace, target.name)
        drop_after: int | None = None
        for rule in self.faults.match(info):
            if rule.action is faults.Action.LATENCY:
                await asyncio.sleep(rule.delay)
            elif rule.action is faults.Action.DROP_WATCH:
                drop_after = rule.after_events
            else:
                raise faults.error_for(rule, info)
        if verb == "watch":
            return await self._watch(request, target, drop_after)
        if verb == "get":
            return self._get(request, target)
        if verb == "list":
            return self._list(request, target)
        if verb == "deletecollection":
            return await self._delete_collection(request, target)
        if verb == "delete":
            return await self._delete(request, target)
        return await self._write(request, target, verb)

    # --- reads -------------------------------------------------------------------------------------

    def _now(self) -> datetime.datetime:
        return self.cluster.clock()

    def _get(self, request: web.Request, target: _Target) -> web.Response:
        assert target.name is not None
        rt = target.rt
        if target.subresource == "scale":
            return _json_response(self.cluster.get_scale(rt, target.namespace, target.name))
        record = self.cluster.get(rt, target.namespace, target.name)
        include = _table_include(request)
        if include is not None:
            return _json_response(tables.table(rt, [record.obj], self._now(), resource_version=str(record.rv),
                                               include=include))
        if record.obj.get("apiVersion") != rt.api_version:
            return _json_response(dict(record.obj, apiVersion=rt.api_version))
        return _json_response(record.raw)

    def _selectors(self, request: web.Request, rt: resources.ResourceType) -> tuple[selectors.LabelSelector, selectors.FieldSelector]:
        labels = selectors.parse_label_selector(request.query.get("labelSelector"))
        fields = selectors.parse_field_selector(request.query.get("fieldSelector"), rt.storage_key)
        return labels, fields

    def _list(self, request: web.Request, target: _Target) -> web.Response:
        rt = target.rt
        labels, fields = self._selectors(request, rt)
        limit = _int(request.query.get("limit"), "limit") or 0
        items, rv, token, remaining = self.cluster.list_records(rt, target.namespace, labels, fields, limit=limit,
                                                         continue_token=request.query.get("continue") or None)
        include = _table_include(request)
        if include is not None:
            return _json_response(tables.table(rt, [r.obj for r in items], self._now(), resource_version=str(rv),
                                               include=include, continue_token=token, remaining=remaining))
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if token:
            meta["continue"] = token
        if remaining is not None:
            meta["remainingItemCount"] = remaining
        head = storage.dumps({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})
        raws = [r.raw if r.obj.get("apiVersion") == rt.api_version else storage.dumps(dict(r.obj, apiVersion=rt.api_version))
                for r in items]
        body = head[:-1] + b',"items":[' + b",".join(raws) + b"]}"
        return _json_response(body)

    async def _watch(self, request: web.Request, target: _Target, drop_after: int | None) -> web.StreamResponse:
        rt = target.rt
        labels, fields = self._selectors(request, rt)
        if target.name is not None:
            fields = selectors.FieldSelector((*fields.requirements, selectors.FieldRequirement(("metadata", "name"), target.name, False)))
        raw_rv = request.query.get("resourceVersion", "")
        bookmarks = _bool(request.query.get("allowWatchBookmarks"), "allowWatchBookmarks")
        initial = _bool(request.query.get("sendInitialEvents"), "sendInitialEvents")
        if initial and not bookmarks:
            raise errors.invalid("ListOptions", "meta.k8s.io", "", [errors.FieldError(
                errors.CauseType.FORBIDDEN, "sendInitialEvents", "Forbidden: sendInitialEvents requires setting allowWatchBookmarks=true")])
        since: int | None = None
        if raw_rv not in ("", "0") and not initial:
            parsed = _int(raw_rv, "resourceVersion")
            assert parsed is not None
            since = parsed
        timeout = _int(request.query.get("timeoutSeconds"), "timeoutSeconds")
        response = web.StreamResponse(status=200, headers={"Content-Type": JSON})
        response.enable_chunked_encoding()
        try:
            watcher = self.hub.open(rt, target.namespace, labels, fields, since=since, initial_bookmark=initial,
                                    table_include=_table_include(request))
        except storage.TooOld as exc:
            await response.prepare(request)
            await response.write(watching.error_line(errors.expired(exc.requested, exc.oldest)))
            await response.write_eof()
            return response
        watcher.drop_after = drop_after
        await response.prepare(request)
        return await self._stream(request, response, watcher, timeout_seconds=timeout, bookmarks=bookmarks)

    async def _stream(self, request: web.Request, response: web.StreamResponse, watcher: watching.Watcher, *,
                      timeout_seconds: int | None, bookmarks: bool) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds if timeout_seconds else None
        interval = self.config.bookmark_interval
        dropped = False
        try:
            while True:
                if watcher.buffer:
                    lines = watcher.buffer
                    watcher.buffer = []
                    if watcher.drop_after is not None:
                        room = watcher.drop_after - watcher.delivered
                        if len(lines) >= room:
                            lines = lines[:room]
                            dropped = True
                    watcher.delivered += len(lines)
                    if lines:
                        await response.write(b"".join(lines))
                    if dropped:
                        break
                    continue
                if watcher.closed:
                    dropped = watcher in self._dropped or watcher.overflowed
                    break
                if watcher.drop_after is not None and watcher.delivered >= watcher.drop_after:
                    dropped = True
                    break
                watcher.wakeup.clear()
                wait = interval if bookmarks else 3600.0
                if deadline is not None:
                    wait = min(wait, deadline - loop.time())
                    if wait <= 0:
                        break
                try:
                    async with asyncio.timeout(wait):
                        await watcher.wakeup.wait()
                except TimeoutError:
                    if deadline is not None and loop.time() >= deadline:
                        break
                    if bookmarks and not watcher.buffer:
                        await response.write(watcher.bookmark(self.cluster.store.rv))
        except (ConnectionResetError, ConnectionError):
            dropped = True
        finally:
            self.hub.close(watcher)
            self._dropped.discard(watcher)
        if dropped:
            transport = request.transport
            if transport is not None:
                transport.abort()  # no terminating chunk: the client sees a broken stream
            return response
        # The client may hang up between the last event and the terminating chunk (a watch closed as the
        # client stops): that ends the stream as well, so it is nothing to report.
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

    # --- writes ------------------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        content_type = request.content_type
        if content_type == protobuf.MEDIA_TYPE:
            try:
                return protobuf.decode(raw)
            except protobuf.UnsupportedKind as exc:
                raise errors.unsupported_media_type(
                    f"{content_type} (of {exc}: the sandbox decodes protobuf for Secret, ConfigMap and DeleteOptions)",
                    [JSON, "application/yaml", *list(cluster.PatchType.ALL)]) from exc
            except protobuf.DecodeError as exc:
                raise errors.bad_request(f"error decoding the protobuf request body: {exc}") from exc
        if "protobuf" in content_type or "cbor" in content_type:
            raise errors.unsupported_media_type(content_type, [JSON, "application/yaml", *list(cluster.PatchType.ALL)])
        try:
            if "yaml" in content_type:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"error decoding the request body: {exc}") from exc

    def _options(self, request: web.Request) -> cluster.WriteOptions:
        dry_run = request.query.getall("dryRun", [])
        for value in dry_run:
            if value != "All":
                raise errors.bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
        validation = request.query.get("fieldValidation", "")
        if validation not in ("", "Ignore", "Warn", "Strict"):
            raise errors.bad_request(f'fieldValidation: Unsupported value: "{validation}": supported values: "Ignore", "Warn", "Strict"')
        return cluster.WriteOptions(dry_run=bool(dry_run), manager=_manager(request), field_validation=validation,
                                    force=_bool(request.query.get("force"), "force"))

    def _requester(self, request: web.Request) -> identity.User:
        return request.get(USER) or identity.ADMIN

    async def _token_request(self, request: web.Request, target: _Target) -> web.Response:
        """`POST …/serviceaccounts/NAME/token` (authentication.k8s.io/v1 TokenRequest)."""
        assert target.name is not None and target.namespace is not None
        body = await self._body(request) or {}
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a TokenRequest object")
        spec = dict(body.get("spec") or {})
        seconds = spec.get("expirationSeconds", identity.DEFAULT_TOKEN_SECONDS)
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < identity.MIN_TOKEN_SECONDS:
            raise errors.invalid("TokenRequest", "authentication.k8s.io", target.name, [errors.FieldError(
                errors.CauseType.INVALID, "spec.expirationSeconds",
                f"Invalid value: {seconds!r}: may not specify a duration less than 10 minutes")])
        audiences = tuple(str(a) for a in spec.get("audiences") or ()) or identity.API_AUDIENCES
        record = self.cluster.get(target.rt, target.namespace, target.name)
        token, expires = self.authority.issue_token(record.obj, audiences=audiences, seconds=seconds,
                                                    now=self.cluster.clock())
        return _json_response({
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": target.name, "namespace": target.namespace, "creationTimestamp": None},
            "spec": {"audiences": list(audiences), "expirationSeconds": seconds,
                     "boundObjectRef": spec.get("boundObjectRef")},
            "status": {"token": token, "expirationTimestamp": cluster.timestamp(expires)},
        }, 201)

    async def _write(self, request: web.Request, target: _Target, verb: str) -> web.Response:
        rt = target.rt
        body = await self._body(request)
        opts = self._options(request)
        if verb == "create":
            outcome = self.cluster.create(rt, target.namespace, body, opts, requester=self._requester(request))
            return self._answer(outcome, 201)
        assert target.name is not None
        if verb == "update":
            if target.subresource == "scale":
                outcome = self.cluster.write_scale(rt, target.namespace, target.name, body, opts)
            else:
                outcome = self.cluster.update(rt, target.namespace, target.name, body, opts, subresource=target.subresource)
            return self._answer(outcome, 200)
        patch_type = request.content_type
        if patch_type not in cluster.PatchType.ALL:
            raise errors.unsupported_media_type(patch_type, cluster.PatchType.ALL)
        if patch_type == cluster.PatchType.APPLY and not request.query.get("fieldManager"):
            # Apply never derives a manager from the User-Agent.
            opts = cluster.WriteOptions(dry_run=opts.dry_run, field_validation=opts.field_validation, force=opts.force)
        if body is None:
            raise errors.bad_request("the body of the request was empty")
        if target.subresource == "scale":
            outcome = self.cluster.write_scale(rt, target.namespace, target.name, body, opts, patch_type=patch_type)
        else:
            outcome = self.cluster.patch(rt, target.namespace, target.name, patch_type, body, opts,
                                         subresource=target.subresource)
        return self._answer(outcome, 201 if outcome.created else 200)

    def _answer(self, outcome: cluster.Outcome, status: int) -> web.Response:
        headers = {"Warning": ", ".join(f'299 - "{w}"' for w in outcome.warnings)} if outcome.warnings else None
        return _json_response(outcome.obj, status, headers)

    async def _delete_options(self, request: web.Request) -> tuple[str | None, dict[str, Any], bool]:
        body = await self._body(request) if request.can_read_body else None
        options = body if isinstance(body, dict) else {}
        policy = options.get("propagationPolicy") or request.query.get("propagationPolicy")
        if policy is None:
            orphan = options.get("orphanDependents")
            if orphan is None and request.query.get("orphanDependents") is not None:
                orphan = _bool(request.query.get("orphanDependents"), "orphanDependents")
            if orphan is True:
                policy = "Orphan"
        dry = options.get("dryRun") or request.query.getall("dryRun", [])
        return policy, dict(options.get("preconditions") or {}), bool(dry)

    async def _delete(self, request: web.Request, target: _Target) -> web.Response:
        assert target.name is not None
        rt = target.rt
        policy, preconditions, dry_run = await self._delete_options(request)
        outcome = self.cluster.delete(rt, target.namespace, target.name, propagation=policy,
                                      preconditions=preconditions, dry_run=dry_run)
        if not outcome.gone:
            return _json_response(outcome.obj, 202 if not dry_run else 200)
        if rt.returns_deleted_object:
            return _json_response(outcome.obj)
        meta = outcome.obj["metadata"]
        details = {"name": meta["name"], "kind": rt.plural, "uid": meta["uid"]}
        if rt.group:
            details["group"] = rt.group
        return _json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                               "details": details})

    async def _delete_collection(self, request: web.Request, target: _Target) -> web.Response:
        rt = target.rt
        labels, fields = self._selectors(request, rt)
        policy, _, dry_run = await self._delete_options(request)
        deleted = self.cluster.delete_collection(rt, target.namespace, labels, fields, propagation=policy, dry_run=dry_run)
        return _json_response({"kind": rt.list_kind, "apiVersion": rt.api_version,
                               "metadata": {"resourceVersion": str(self.cluster.store.rv)}, "items": deleted})

    # --- /sandbox controls -------------------------------------------------------------------------

    async def _control(self, request: web.Request, rest: list[str]) -> web.Response:
        method = request.method
        if rest == ["faults"]:
            if method == "GET":
                return _json_response({"rules": self.faults.describe()})
            if method == "POST":
                body = await self._body(request)
                rules = body if isinstance(body, list) else [body]
                parsed = [faults.parse_rule(r, f"rules[{n}]") for n, r in enumerate(rules)]
                ids = [self.faults.add(rule) for rule in parsed]
                return _json_response({"ids": ids}, 201)
            if method == "DELETE":
                self.faults.clear()
                return _json_response({"rules": []})
        if len(rest) == 2 and rest[0] == "faults":
            if rest[1] == "drop-watches" and method == "POST":
                return _json_response({"dropped": self._drop_all_watches()})
            if method == "DELETE":
                rule_id = _int(rest[1], "id")
                if rule_id is None or not self.faults.remove(rule_id):
                    raise errors.ApiError(404, errors.Reason.NOT_FOUND, f'fault rule "{rest[1]}" not found')
                return _json_response({"removed": rule_id})
        if rest == ["kubelet"]:
            if method == "PUT":
                body = await self._body(request)
                if not isinstance(body, dict) or set(body) - {"enabled", "readyDelay"}:
                    raise errors.bad_request('kubelet: expected an object with "enabled" (bool) and/or "readyDelay" (seconds)')
                enabled = body.get("enabled")
                delay = body.get("readyDelay")
                if enabled is not None and not isinstance(enabled, bool):
                    raise errors.bad_request("kubelet.enabled: expected true or false")
                if delay is not None and (not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0):
                    raise errors.bad_request("kubelet.readyDelay: expected a number of seconds >= 0")
                self.kubelet.configure(enabled=enabled, ready_delay=float(delay) if delay is not None else None)
            if method in ("GET", "PUT"):
                return _json_response({"enabled": self.kubelet_settings.enabled,
                                       "readyDelay": self.kubelet_settings.ready_delay})
        if rest == ["reviews"]:
            if method == "PUT":
                self._configure_reviews(await self._body(request))
            if method in ("GET", "PUT"):
                return _json_response(self.reviews.describe())
        if rest == ["stats"] and method == "GET":
            return _json_response({"resourceVersion": str(self.cluster.store.rv), "watchers": self.hub.count(),
                                   "historyFloor": self.cluster.store.floor})
        raise errors.unknown_path()

    def _configure_reviews(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise errors.bad_request("reviews: expected an object")
        unknown = set(body) - {"tokens", "authenticateUnknown", "rules", "defaultAllowed"}
        if unknown:
            raise errors.bad_request(f"reviews: unknown fields {sorted(unknown)}")
        tokens = body.get("tokens")
        if tokens is not None:
            if not isinstance(tokens, dict):
                raise errors.bad_request("reviews.tokens: expected a map of token to user")
            self.reviews.clear_tokens()
            for n, (token, user) in enumerate(tokens.items()):
                if not isinstance(user, dict) or not isinstance(user.get("username"), str):
                    raise errors.bad_request(f"reviews.tokens[{n}]: expected an object with a string username")
                self.reviews.add_token(token, reviews.User(user["username"], str(user.get("uid", "")),
                                                           tuple(str(g) for g in user.get("groups") or [])))
        if "authenticateUnknown" in body:
            if not isinstance(body["authenticateUnknown"], bool):
                raise errors.bad_request("reviews.authenticateUnknown: expected true or false")
            self.reviews.authenticate_unknown = body["authenticateUnknown"]
        if "rules" in body or "defaultAllowed" in body:
            raw_rules = body.get("rules") or []
            if not isinstance(raw_rules, list):
                raise errors.bad_request("reviews.rules: expected a list")
            default_allowed = body.get("defaultAllowed", True)
            if not isinstance(default_allowed, bool):
                raise errors.bad_request("reviews.defaultAllowed: expected true or false")
            self.reviews.set_rules([reviews.parse_rule(r, f"reviews.rules[{n}]") for n, r in enumerate(raw_rules)],
                                   default_allowed=default_allowed)


def _aggregated_group(group: str, versions: list[tuple[int, str]]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for _, v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": listed, "preferredVersion": listed[0]}


def _local_group_versions(registry: resources.Registry) -> list[tuple[str, str, int]]:
    """(group, version, groupPriorityMinimum) of every built-in group/version, core first."""
    seen: dict[tuple[str, str], int] = {}
    for rt in resources.BUILTINS:
        seen.setdefault((rt.group, rt.version), 18000 if not rt.group else 17000 - 100 * len(seen))
    return [(g, v, p) for (g, v), p in seen.items() if registry.has_group_version(g, v)]

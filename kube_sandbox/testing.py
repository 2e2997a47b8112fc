"""A handle on a running sandbox, for tests and for `ebb demo`: base URL, kubeconfig, faults, reviews.

Two ways to run one:
* `with Sandbox() as sandbox:` starts it in a background thread with its own event loop, so synchronous
  clients (the official `kubernetes` client, kubectl in a subprocess) can call it;
* `await sandbox.astart()` / `await sandbox.astop()` run it on the caller's running loop (aio clients).
  Not next to `kopf.operator` on the same loop: when it stops, kopf cancels every task spawned during its
  run, the server's connection handlers included; run the sandbox in its thread for kopf.

No pytest import here; the fixtures live in `tests/sandbox/conftest.py`.
"""

from __future__ import annotations

import asyncio
import base64
import os
import pathlib
import threading
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import yaml

from kube_sandbox import faults, identity, kubelet, reviews, server

DEFAULT_TOKEN = identity.DEFAULT_ADMIN_TOKEN
T = TypeVar("T")


class Sandbox:
    def __init__(
        self,
        *,
        token: str | None = None,
        kubelet_enabled: bool = True,
        ready_delay: float = 0.2,
        crds: Iterable[Mapping[str, Any]] = (),
        history_size: int = 10_000,
        bookmark_interval: float = 30.0,
        seed: int | None = None,
        port: int = 0,
        rbac: bool = False,
        hpa_controller: bool = False,
        hpa_sync_period: float = 15.0,
        aggregation_recheck: float = 30.0,
        tls: bool = False,
    ) -> None:
        self.config = server.Config(
            port=port,
            token=token,
            history_size=history_size,
            bookmark_interval=bookmark_interval,
            kubelet=kubelet.Settings(enabled=kubelet_enabled, ready_delay=ready_delay),
            crds=[dict(c) for c in crds],
            seed=seed,
            rbac=rbac,
            hpa_controller=hpa_controller,
            hpa_sync_period=hpa_sync_period,
            aggregation_recheck=aggregation_recheck,
            tls=tls,
        )
        self.server = server.Server(self.config)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    # --- what tests use ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def faults(self) -> faults.Faults:
        return self.server.faults

    @property
    def reviews(self) -> reviews.Reviews:
        return self.server.reviews

    def configure_kubelet(self, *, enabled: bool | None = None, ready_delay: float | None = None) -> None:
        self.server.configure_kubelet(enabled=enabled, ready_delay=ready_delay)

    @property
    def admin_token(self) -> str:
        """The bearer token of `system:admin` (group `system:masters`): what `kubeconfig()` carries."""
        return self.config.admin_token

    def front_proxy_ca_pem(self) -> str:
        """The CA that signs the aggregation layer's client certificate (`requestheader-client-ca-file`)."""
        return self.server.authority.front_proxy_ca_pem()

    def service_account_token(self, namespace: str, name: str, *, audiences: Iterable[str] = identity.API_AUDIENCES,
                              seconds: int = identity.DEFAULT_TOKEN_SECONDS) -> str:
        """A token for ServiceAccount NAMESPACE/NAME (created if missing), as the TokenRequest API issues it."""
        def work() -> str:
            the_cluster = self.server.cluster
            rt = the_cluster.rt("", "v1", "serviceaccounts")
            if the_cluster.store.get(rt.storage_key, namespace, name) is None:
                the_cluster.create(rt, namespace, {"metadata": {"name": name, "namespace": namespace}})
            return self.server.issue_token(namespace, name, audiences=tuple(audiences), seconds=seconds)
        return self._on_loop(work)

    def _on_loop(self, work: Callable[[], T]) -> T:
        loop = self._loop
        if loop is None:
            return work()  # astart mode: the caller runs on the server's loop

        async def run() -> T:
            return work()
        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=10)

    def kubeconfig(self, *, namespace: str = "default", token: str | None = None) -> dict[str, Any]:
        return kubeconfig_for(self.base_url, token=token or self.config.token or DEFAULT_TOKEN, namespace=namespace,
                              ca_pem=self.ca_pem)

    @property
    def ca_pem(self) -> str | None:
        """The CA of the serving certificate (with `tls=True`), else None."""
        return self.server.authority.client_ca_pem() if self.config.tls else None

    def client_certificate(self, user: str, group: str | None = None) -> tuple[str, str]:
        """(certificate PEM, key PEM) for USER in GROUP, signed by the client CA (`tls=True` accepts it)."""
        return self.server.authority.client_certificate(user, group)

    def write_kubeconfig(self, path: str | os.PathLike[str], *, namespace: str = "default") -> pathlib.Path:
        return write_kubeconfig(path, self.kubeconfig(namespace=namespace))

    # --- in a background thread --------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        self.start_in_thread()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop_thread()

    def start_in_thread(self, timeout: float = 10.0) -> None:
        started = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._stopping = asyncio.Event()
            try:
                await self.server.start()
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                started.set()
                return
            started.set()
            await self._stopping.wait()
            await self.server.stop()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(main())
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="kube-sandbox", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise RuntimeError(f"the Kubernetes API sandbox did not start within {timeout} s")
        if failure:
            raise RuntimeError(f"the Kubernetes API sandbox failed to start: {failure[0]}") from failure[0]

    def stop_thread(self, timeout: float = 10.0) -> None:
        loop, stopping, thread = self._loop, self._stopping, self._thread
        if loop is None or stopping is None or thread is None:
            return
        loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        self._thread = None
        self._loop = None

    # --- on the caller's loop ----------------------------------------------------------------------

    async def astart(self) -> Sandbox:
        await self.server.start()
        return self

    async def astop(self) -> None:
        await self.server.stop()

    async def __aenter__(self) -> Sandbox:
        return await self.astart()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.astop()


def kubeconfig_for(base_url: str, *, token: str, namespace: str = "default", name: str = "ebb-sandbox",
                   ca_pem: str | None = None) -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": base_url}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem.encode()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}],
        "current-context": name,
        "preferences": {},
    }


def write_kubeconfig(path: str | os.PathLike[str], config: Mapping[str, Any]) -> pathlib.Path:
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The file holds a bearer token: readable by its owner only.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(dict(config), handle, sort_keys=False)
    return target


def apiservice_manifests(group: str, version: str, *, namespace: str, service: str, port: int,
                         ca_bundle_pem: str | None = None, service_port: int = 443,
                         host: str = "127.0.0.1") -> list[dict[str, Any]]:
    """The objects that make the sandbox aggregate GROUP/VERSION to a server on HOST:PORT (loopback).

    A Service without a selector (port SERVICE_PORT, named "https"), its Endpoints with HOST and PORT,
    and the APIService `VERSION.GROUP` pointing at the Service: verified with CA_BUNDLE_PEM (the CA of the
    server's certificate, which must name `SERVICE.NAMESPACE.svc`), or `insecureSkipTLSVerify` without one.
    Create them in this order (a namespace other than the default ones must exist first).
    """
    spec: dict[str, Any] = {"group": group, "version": version, "groupPriorityMinimum": 100, "versionPriority": 100,
                            "service": {"namespace": namespace, "name": service, "port": service_port}}
    if ca_bundle_pem:
        spec["caBundle"] = base64.b64encode(ca_bundle_pem.encode()).decode()
    else:
        spec["insecureSkipTLSVerify"] = True
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": service, "namespace": namespace},
         "spec": {"ports": [{"name": "https", "port": service_port, "targetPort": port}]}},
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": service, "namespace": namespace},
         "subsets": [{"addresses": [{"ip": host}], "ports": [{"name": "https", "port": port}]}]},
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": f"{version}.{group}"},
         "spec": spec},
    ]

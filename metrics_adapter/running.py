"""Running the adapter: the cluster connection, the authentication configuration, the serving certificate,
the source of readings and the HTTPS server, put together (`ebb adapter` calls `Runner(settings).run`)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import pathlib
import tempfile

from aiohttp import web

from metrics_adapter import answers, certs, security, server, sources
from scaler.operator import api_service, kube

logger = logging.getLogger("ebb.adapter")


@dataclasses.dataclass(frozen=True)
class Settings:
    secure_port: int = 6443
    bind_address: str = "0.0.0.0"
    tls_cert_file: str | None = None
    tls_private_key_file: str | None = None
    flags: security.Flags = dataclasses.field(default_factory=security.Flags)
    kubeconfig: str | None = None
    context: str | None = None
    readings_namespace: str | None = None  # where the operator's readings Lease is (default: the connection's)
    # The Service in front of the adapter (namespace default: the connection's): the APIService should name it.
    service_name: str = api_service.DEFAULT_SERVICE
    service_namespace: str | None = None


class Runner:
    """After `started` is set: `port`, `adapter`, `ca_pem` (the CA of a generated serving certificate)."""

    def __init__(self, settings: Settings, *, connection: kube.Connection | None = None) -> None:
        self.settings = settings
        self.connection = connection
        self.port: int | None = None
        self.adapter: server.Adapter | None = None
        self.ca_pem: bytes | None = None
        self.registration: api_service.Outcome | None = None
        self.started = asyncio.Event()
        self._service_namespace = "default"

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.settings
        connection = self.connection or kube.discover(settings.kubeconfig, context=settings.context)
        api = kube.ApiKube(connection, user_agent="ebb-adapter")
        source = sources.Forwarding(api, settings.readings_namespace or connection.namespace)
        runner: web.AppRunner | None = None
        try:
            source.start()
            config_map = await self._auth_config_map(api)
            auth = security.resolve(settings.flags, config_map, lambda p: pathlib.Path(p).read_bytes())
            self._service_namespace = settings.service_namespace or connection.namespace
            with tempfile.TemporaryDirectory(prefix="ebb-adapter-") as scratch:
                cert_file, key_file = self._serving(pathlib.Path(scratch))
                context = server.server_ssl_context(cert_file, key_file, auth.trust_pem())
            self.adapter = server.Adapter(
                source=source,
                authenticator=security.Authenticator(auth, api),
                authorizer=security.Authorizer(api),
            )
            runner = await server.serve(server.make_app(self.adapter), settings.bind_address, settings.secure_port, context)
            self.port = server.bound_port(runner)
            logger.info("adapter: serving external.metrics.k8s.io/v1beta1 on https://%s:%d (cluster %s)",
                        settings.bind_address, self.port, connection.server)
            await self._register(api, settings.service_namespace or connection.namespace)
            self.started.set()
            await stop.wait()
        finally:
            if self.adapter is not None:
                self.adapter.stopping = True
            if runner is not None:
                with contextlib.suppress(Exception):
                    await runner.cleanup()
            await source.aclose()
            await api.aclose()

    async def _register(self, api: kube.ApiKube, namespace: str) -> None:
        try:
            outcome = await api_service.check(api, ca_pem=self.ca_pem, service=(namespace, self.settings.service_name))
        except kube.ApiError as error:
            logger.warning("adapter: cannot check APIService %s: %s", answers.API_SERVICE_NAME, error)
            return
        self.registration = outcome
        if outcome.warning:
            logger.warning("adapter: %s", outcome.warning)
        else:
            logger.info("adapter: %s", outcome.note)

    async def _auth_config_map(self, api: kube.ApiKube) -> dict[str, object] | None:
        try:
            return await api.get_config_map(security.AUTH_CONFIG_MAP_NAMESPACE, security.AUTH_CONFIG_MAP_NAME)
        except kube.ApiError as error:
            # Go's server fails only when the flags do not cover what the ConfigMap would; so does Ebb:
            # `resolve` then reports no CA, and only tokens and the always-allowed paths work.
            logger.warning("adapter: cannot read ConfigMap %s/%s: %s", security.AUTH_CONFIG_MAP_NAMESPACE,
                           security.AUTH_CONFIG_MAP_NAME, error)
            return None

    def _serving(self, scratch: pathlib.Path) -> tuple[str, str]:
        settings = self.settings
        if settings.tls_cert_file and settings.tls_private_key_file:
            return settings.tls_cert_file, settings.tls_private_key_file
        if settings.tls_cert_file or settings.tls_private_key_file:
            raise ValueError("--tls-cert-file and --tls-private-key-file: give both or neither")
        service, namespace = settings.service_name, self._service_namespace
        # localhost for direct callers, the Service's DNS names for kube-apiserver's proxy (which verifies
        # `<service>.<namespace>.svc` against the APIService's caBundle).
        ca, serving = certs.self_signed_serving((
            "localhost", "127.0.0.1", service, f"{service}.{namespace}", f"{service}.{namespace}.svc",
            f"{service}.{namespace}.svc.cluster.local",
        ))
        self.ca_pem = ca.cert_pem
        cert_path, key_path = certs.write_pair(serving, scratch, "apiserver")
        logger.info("adapter: no --tls-cert-file given: serving with a self-signed certificate for localhost and "
                    "Service %s/%s", namespace, service)
        return str(cert_path), str(key_path)

"""Fixtures for the adapter tests: the sandbox with Ebb's CRDs, the operator in-process, `ebb adapter`'s
runner in-process over real HTTPS, a PKI made per test (a client CA, a front-proxy CA and their
certificates) published in ConfigMap `kube-system/extension-apiserver-authentication` as a cluster does,
and an HTTPS client presenting any of those certificates."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import pathlib
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from metrics_adapter import answers, certs, running
from scaler.operator import kube
from tests.operator import cluster
from tests.operator.conftest import api, kubeconfig, list_name, redis, sandbox, start_operator

__all__ = ["api", "kubeconfig", "list_name", "redis", "sandbox", "start_operator"]

FRONT_PROXY_CN = "front-proxy-client"


@dataclasses.dataclass(frozen=True)
class Pki:
    client_ca: certs.Pair
    front_proxy_ca: certs.Pair
    front_proxy: certs.Pair  # CN front-proxy-client: an allowed name
    intruder_proxy: certs.Pair  # signed by the front-proxy CA, but a CN not allowed
    masters: certs.Pair  # a client certificate: CN admin, O system:masters
    alice: certs.Pair  # a client certificate: CN alice, O dev
    stranger: certs.Pair  # a client certificate from a CA nobody trusts


@pytest.fixture(scope="session")
def pki() -> Pki:
    client_ca = certs.authority("client-ca")
    front_ca = certs.authority("front-proxy-ca")
    other_ca = certs.authority("other-ca")
    return Pki(
        client_ca=client_ca,
        front_proxy_ca=front_ca,
        front_proxy=certs.issue(front_ca, FRONT_PROXY_CN, client=True),
        intruder_proxy=certs.issue(front_ca, "intruder", client=True),
        masters=certs.issue(client_ca, "admin", organizations=["system:masters"], client=True),
        alice=certs.issue(client_ca, "alice", organizations=["dev"], client=True),
        stranger=certs.issue(other_ca, "mallory", organizations=["system:masters"], client=True),
    )


def auth_config_map(pki: Pki) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
        "data": {
            "client-ca-file": pki.client_ca.cert_pem.decode(),
            "requestheader-client-ca-file": pki.front_proxy_ca.cert_pem.decode(),
            "requestheader-allowed-names": json.dumps([FRONT_PROXY_CN]),
            "requestheader-username-headers": json.dumps(["X-Remote-User"]),
            "requestheader-group-headers": json.dumps(["X-Remote-Group"]),
            "requestheader-extra-headers-prefix": json.dumps(["X-Remote-Extra-"]),
        },
    }


@pytest.fixture
async def published_pki(api: cluster.Api, pki: Pki) -> Pki:
    status, body = await api.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                                  "metadata": {"name": "kube-system"}})
    assert status in (201, 409), body
    # The sandbox publishes its own front-proxy PKI in this ConfigMap; the test replaces it with its own.
    status, body = await api.call("PUT", "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication",
                                  auth_config_map(pki))
    assert status == 200, body
    return pki


class Adapter:
    """`ebb adapter` running in the test's loop; `url`, `ca_pem`, and `get` as a client with a certificate."""

    def __init__(self, runner: running.Runner, task: asyncio.Task[None], stop: asyncio.Event, tmp: pathlib.Path) -> None:
        self.runner, self.task, self.stop_flag, self.tmp = runner, task, stop, tmp
        self._sessions: list[aiohttp.ClientSession] = []

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.runner.port}"

    def client(self, cert: certs.Pair | None = None) -> aiohttp.ClientSession:
        assert self.runner.ca_pem is not None
        context = ssl.create_default_context(cadata=self.runner.ca_pem.decode())
        if cert is not None:
            stem = f"client-{len(self._sessions)}"
            cert_path, key_path = certs.write_pair(cert, self.tmp, stem)
            context.load_cert_chain(cert_path, key_path)
        session = aiohttp.ClientSession(base_url=self.url, connector=aiohttp.TCPConnector(ssl=context))
        self._sessions.append(session)
        return session

    async def get(
        self, path: str, *, cert: certs.Pair | None = None, headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        async with self.client(cert) as session, session.get(path, headers=headers, params=params) as reply:
            text = await reply.text()
            try:
                return reply.status, json.loads(text)
            except ValueError:
                return reply.status, text

    async def metric(self, metric: str, so: str | None, *, cert: certs.Pair, ns: str = "default") -> tuple[int, Any]:
        params = {"labelSelector": f"{answers.SCALED_OBJECT_LABEL}={so}"} if so is not None else None
        return await self.get(answers.metric_path(ns, metric), cert=cert, params=params)

    async def close(self) -> None:
        for session in self._sessions:
            await session.close()
        self.stop_flag.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def start_adapter(kubeconfig: pathlib.Path, tmp_path: pathlib.Path) -> AsyncIterator[Callable[..., Any]]:
    started: list[Adapter] = []

    async def start(**overrides: Any) -> Adapter:
        settings = running.Settings(secure_port=0, bind_address="127.0.0.1", kubeconfig=str(kubeconfig), **overrides)
        runner = running.Runner(settings, connection=kube.discover(str(kubeconfig)))
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        waiter = asyncio.create_task(runner.started.wait())
        await asyncio.wait({waiter, task}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        assert runner.started.is_set(), "the adapter did not start within 20 s"
        adapter = Adapter(runner, task, stop, tmp_path)
        started.append(adapter)
        return adapter

    yield start
    for adapter in started:
        await adapter.close()

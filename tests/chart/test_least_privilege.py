"""The chart's RBAC is enough, and no more than that shows: helm installs the chart into a sandbox that
enforces RBAC, serves HTTPS, aggregates APIs and runs the HPA controller; then `ebb operator` and
`ebb adapter` run with the command lines the chart renders, the chart's serving certificate and the tokens
of the chart's ServiceAccounts (not admin), and a ScaledObject in HPA mode goes 0 → 1 → N → 0 with no 403
anywhere. With one rule removed from the operator's ClusterRole, the 403 surfaces as a clear error (an Event on
the ScaledObject naming the user, the verb and the resource, as KEDA reports a failed scale), and the operator
keeps running."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import math
import pathlib
import re
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from kube_sandbox import testing
from metrics_adapter import running
from scaler.cli import build_parser
from scaler.cli.commands import adapter as adapter_command
from scaler.cli.commands import operator as operator_command
from scaler.operator import kube
from tests.chart import helm
from tests.operator import cluster
from tests.operator.conftest import Running, list_name, redis
from tests.servers import redis_server as redis_fixtures

__all__ = ["list_name", "redis"]

NAMESPACE = "ebb"
LIST_LENGTH = 5
APISERVICE = "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io"


@pytest.fixture
def sandbox() -> Iterator[testing.Sandbox]:
    with testing.Sandbox(
        rbac=True, tls=True, hpa_controller=True, hpa_sync_period=1.0, aggregation_recheck=0.2, ready_delay=0.05
    ) as running_sandbox:
        yield running_sandbox


@pytest.fixture
async def admin(sandbox: testing.Sandbox) -> AsyncIterator[cluster.Api]:
    async with cluster.Api(sandbox.base_url, ca_pem=sandbox.ca_pem) as client:
        yield client


def _install(sandbox: testing.Sandbox, home: pathlib.Path) -> helm.Rendered:
    kubeconfig = sandbox.write_kubeconfig(home / "admin-kubeconfig")
    done = helm.run(["install", "ebb", str(helm.CHART), "-n", NAMESPACE, "--create-namespace",
                     "--kubeconfig", str(kubeconfig)], home, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return helm.template(home, namespace=NAMESPACE)


def _args_of(rendered: helm.Rendered, deployment: str) -> list[str]:
    (container,) = [c for w, c in rendered.containers() if w["metadata"]["name"] == deployment]
    return list(container["args"])


def _kubeconfig_of(sandbox: testing.Sandbox, account: str, path: pathlib.Path) -> pathlib.Path:
    """What the kubelet mounts into the chart's pod: the ServiceAccount's token (and the cluster's CA)."""
    token = sandbox.service_account_token(NAMESPACE, account)
    return testing.write_kubeconfig(path, sandbox.kubeconfig(namespace=NAMESPACE, token=token))


async def _start_adapter(rendered: helm.Rendered, kubeconfig: pathlib.Path, admin: cluster.Api,
                         tmp: pathlib.Path) -> tuple[running.Runner, asyncio.Event, asyncio.Task[None]]:  # fmt: skip
    args = build_parser(["adapter"]).parse_args(_args_of(rendered, "ebb-adapter"))
    settings = adapter_command.settings_from(args)
    # The chart mounts its Secret at /var/run/ebb/certs; here the same Secret's files sit in tmp.
    secret = await admin.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/ebb-certs")
    for key in ("tls.crt", "tls.key"):
        (tmp / key).write_bytes(base64.b64decode(secret["data"][key]))
    assert (settings.tls_cert_file, settings.tls_private_key_file) == (
        "/var/run/ebb/certs/tls.crt", "/var/run/ebb/certs/tls.key")  # fmt: skip
    settings = dataclasses.replace(
        settings, secure_port=0, bind_address="127.0.0.1", kubeconfig=str(kubeconfig),
        tls_cert_file=str(tmp / "tls.crt"), tls_private_key_file=str(tmp / "tls.key"),
    )  # fmt: skip
    runner = running.Runner(settings, connection=kube.discover(str(kubeconfig)))
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    waiter = asyncio.create_task(runner.started.wait())
    await asyncio.wait({waiter, task}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    assert runner.started.is_set() and runner.port is not None
    # What the endpoints controller does for the adapter's pod: the chart's Service leads to it.
    status, body = await admin.call("POST", f"/api/v1/namespaces/{NAMESPACE}/endpoints", {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ebb-adapter", "namespace": NAMESPACE},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": runner.port}]}],
    })  # fmt: skip
    assert status == 201, body
    return runner, stop, task


async def _start_operator(rendered: helm.Rendered, kubeconfig: pathlib.Path) -> Running:
    args = build_parser(["operator"]).parse_args(_args_of(rendered, "ebb-operator"))
    settings = operator_command.settings_from(args)
    assert settings.leader_election and settings.lease_namespace == NAMESPACE
    # The pod's port, but on loopback here; the rest is the chart's command line.
    settings = dataclasses.replace(settings, kubeconfig=str(kubeconfig), http_host="127.0.0.1", http_port=0,
                                   retry_delay=1.0)  # fmt: skip
    return await Running(settings).start()


async def _workload(admin: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str) -> None:
    await admin.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    await admin.create(cluster.DEPLOYMENT_BASE.format(ns="shop"), cluster.deployment("worker"))
    so = cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        list_length=str(LIST_LENGTH), cooldown_period=5,
        advanced={"horizontalPodAutoscalerConfig": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 1}}}},
    )  # fmt: skip
    so["metadata"]["namespace"] = "shop"
    await admin.create(cluster.SO_BASE.format(ns="shop"), so)


def _forbidden(records: list[logging.LogRecord]) -> list[str]:
    # A word of its own: "403" inside a port number (https://127.0.0.1:45403) is no denial.
    return [r.getMessage() for r in records if re.search(r"\b403\b|[Ff]orbidden", r.getMessage())]


async def test_the_charts_service_accounts_scale_zero_to_n_and_back_with_no_403(
    sandbox: testing.Sandbox, admin: cluster.Api, redis: aioredis.Redis,
    redis_server: redis_fixtures.RedisServer, list_name: str, tmp_path: pathlib.Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.INFO)
    rendered = _install(sandbox, tmp_path)
    operator_config = _kubeconfig_of(sandbox, "ebb-operator", tmp_path / "operator-kubeconfig")
    adapter_config = _kubeconfig_of(sandbox, "ebb-adapter", tmp_path / "adapter-kubeconfig")
    _, stop_adapter, adapter_task = await _start_adapter(rendered, adapter_config, admin, tmp_path)
    operator = await _start_operator(rendered, operator_config)
    try:
        async def available() -> bool:
            conditions = (await admin.get(APISERVICE)).get("status", {}).get("conditions", [])
            return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)

        await cluster.until(available, what="the chart's APIService Available (its caBundle verifies the adapter)")
        await _workload(admin, redis_server, list_name)

        async def ready() -> bool:
            return (await admin.condition("orders", "Ready", ns="shop")).get("status") == "True"

        await cluster.until(ready, what="Ready=True", within=30)
        length = 23
        await redis.rpush(list_name, *[f"job-{i}" for i in range(length)])
        n = math.ceil(length / LIST_LENGTH)

        async def at(replicas: int) -> bool:
            return await admin.replicas("worker", ns="shop") == replicas

        await cluster.until(lambda: at(n), what=f"worker at {n} replicas (the HPA, via the adapter)", within=40)
        await redis.delete(list_name)
        await cluster.until(lambda: at(0), what="worker back at 0 after the cooldown", within=40)
        assert _forbidden(caplog.records) == []
    finally:
        await operator.stop()
        stop_adapter.set()
        await asyncio.wait_for(adapter_task, 15)


async def test_a_missing_rule_surfaces_as_a_clear_403_and_the_operator_keeps_running(
    sandbox: testing.Sandbox, admin: cluster.Api, redis: aioredis.Redis,
    redis_server: redis_fixtures.RedisServer, list_name: str, tmp_path: pathlib.Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.INFO)
    rendered = _install(sandbox, tmp_path)
    role_path = "/apis/rbac.authorization.k8s.io/v1/clusterroles/ebb-ebb-operator"
    role = await admin.get(role_path)
    role["rules"] = [r for r in role["rules"] if r["resources"] != ["*/scale"]]
    status, body = await admin.call("PUT", role_path, role)
    assert status == 200, body
    operator = await _start_operator(rendered, _kubeconfig_of(sandbox, "ebb-operator", tmp_path / "kubeconfig"))
    try:
        await _workload(admin, redis_server, list_name)
        await redis.rpush(list_name, "job")

        async def reported() -> list[str] | None:
            # As KEDA does: the failed scale is an Event on the ScaledObject with the API server's message.
            _, events = await admin.call("GET", "/api/v1/namespaces/shop/events")
            found = [e["message"] for e in events.get("items", []) if e.get("reason") == "KEDAScaleTargetActivationFailed"]
            return found or None

        messages = await cluster.until(reported, what="the 403 on deployments/scale as an Event", within=30)
        assert any('User "system:serviceaccount:ebb:ebb-operator" cannot' in m and '"deployments/scale"' in m
                   for m in messages), messages  # fmt: skip
        assert operator.task is not None and not operator.task.done(), "the operator must keep running"
        assert await admin.replicas("worker", ns="shop") == 0
    finally:
        await operator.stop()

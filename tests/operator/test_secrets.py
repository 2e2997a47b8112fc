"""Credentials from Secrets: resolved through a TriggerAuthentication, picked up again when the Secret
changes (no restart), and never shown — not in Events, status, the HPA, metrics, the decision log or the
operator's logs — even while the wrong one makes every poll fail."""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import prometheus_client
import pytest
import redis.asyncio as aioredis

from tests.operator import cluster
from tests.servers import probes, process
from tests.servers import redis_server as redis_fixtures


class PasswordRedis(redis_fixtures.RedisServer):
    """The suite's Redis with `requirepass`: only the right password reads the list."""

    def __init__(self, password: str) -> None:
        super().__init__(redis_fixtures.redis_binary())
        self.password = password

    def _launch(self) -> process.Launch:
        launch = super()._launch()
        return dataclasses.replace(launch, argv=[*launch.argv, "--requirepass", self.password])

    def _is_ready(self) -> bool:
        reply = probes.exchange(self.host, self.port, b"PING\r\n", expect=7)
        return reply.startswith(b"-NOAUTH")


@pytest.fixture
def locked_redis() -> Iterator[PasswordRedis]:
    password = f"right-Pa55-{uuid.uuid4().hex}"
    server = process.start_with_retries(lambda: PasswordRedis(password))
    yield server
    server.close()


async def test_a_changed_secret_is_used_without_restart_and_never_shown(
    api: cluster.Api, locked_redis: PasswordRedis, list_name: str, start_operator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = f"wrong-Pa55-{uuid.uuid4().hex}"
    right = locked_redis.password
    secrets_path = cluster.SECRET_BASE.format(ns="default")
    await api.create(secrets_path, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "redis-auth"},
                                    "stringData": {"password": wrong}})
    await api.create(cluster.TA_BASE.format(ns="default"), {
        "apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication", "metadata": {"name": "redis-auth"},
        "spec": {"secretTargetRef": [{"parameter": "password", "name": "redis-auth", "key": "password"}]},
    })
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{locked_redis.host}:{locked_redis.port}", list_name=list_name,
        auth="redis-auth",
    ))
    running = await start_operator()

    # The wrong password: every poll fails, the ScaledObject says so.
    failures = await api.events_with("orders", "KEDAScalerFailed")
    assert failures[0]["type"] == "Warning"

    async def trigger_error() -> bool:
        return (await api.condition("orders", "Ready")).get("reason") == "TriggerError"

    await cluster.until(trigger_error, what="Ready=False TriggerError")

    # The right password, written to the Secret: picked up by the running loop.
    await api.patch(f"{secrets_path}/redis-auth", {"stringData": {"password": right}})
    writer = aioredis.Redis(host=locked_redis.host, port=locked_redis.port, password=right)
    try:
        await writer.rpush(list_name, "job")
        await cluster.until(lambda: _replicas_are(api, 1), what="worker at 1 with the new password")
    finally:
        await writer.aclose()

    # Neither password shows anywhere.
    shown = [
        json.dumps(await api.get(cluster.EVENT_BASE.format(ns="default"))),
        json.dumps(await api.scaled_object("orders")),
        json.dumps((await api.hpa("keda-hpa-orders"))[1]),
        prometheus_client.generate_latest(running.operator.metrics.registry).decode(),
        json.dumps(running.operator.decisions.entries("default", "orders")),
        caplog.text,
    ]
    assert any("WRONGPASS" in text or "invalid username-password" in text for text in shown), "the failure was reported"
    for text in shown:
        assert wrong not in text
        assert right not in text


async def _replicas_are(api: cluster.Api, expected: int) -> bool:
    return await api.replicas("worker") == expected

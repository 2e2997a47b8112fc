"""What the HPA reads: the operator (in-process) and the adapter against the sandbox and a real Redis.
Values come from the scale loop's readings (fallback and scalingModifiers applied), with KEDA's errors
for a missing selector, a ScaledObject that does not exist and a metric it does not have; and the
sources are asked no more than once per trigger per pollingInterval however often the HPA asks."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import redis.asyncio as aioredis

from kube_sandbox import testing
from metrics_adapter import answers, sources
from tests.adapter.conftest import Pki
from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures


async def _value(adapter: Any, metric: str, so: str, pki: Pki) -> str | None:
    status, body = await adapter.metric(metric, so, cert=pki.masters)
    return body["items"][0]["value"] if status == 200 else None


async def test_values_and_keda_errors(
    sandbox: testing.Sandbox, api: cluster.Api, published_pki: Pki, redis: aioredis.Redis,
    redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any, start_adapter: Any,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await redis.rpush(list_name, *[f"job-{i}" for i in range(7)])
    so = cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name
    )
    await api.create(cluster.SO_BASE.format(ns="default"), so)
    await start_operator()
    adapter = await start_adapter()
    metric = f"s0-redis-{list_name}"

    async def seven() -> bool:
        return await _value(adapter, metric, "orders", published_pki) == "7"

    await cluster.until(seven, what="the adapter serving 7")
    # client-go lowercases names; any case is the same metric, and the item echoes the name asked for.
    status, body = await adapter.metric(metric.upper(), "orders", cert=published_pki.masters)
    assert status == 200, body
    assert body["kind"] == answers.LIST_KIND and body["apiVersion"] == answers.GROUP_VERSION
    assert body["metadata"] == {}
    [item] = body["items"]
    assert item["metricName"] == metric.upper() and item["metricLabels"] is None and item["value"] == "7"
    taken = time.mktime(time.strptime(item["timestamp"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(taken - time.time()) < 5
    # The readiness says where the values come from.
    status, text = await adapter.get("/readyz")
    assert status == 200 and text == "ok"

    # KEDA's errors, as the Go framework writes a provider error (500, no reason).
    for so_name, asked, message in (
        (None, metric, "scaledObject name is not specified"),
        ("nope", metric, 'scaledobjects.keda.sh "nope" not found'),
        ("orders", "s9-missing", "no matching metrics found for s9-missing"),
    ):
        status, body = await adapter.metric(asked, so_name, cert=published_pki.masters)
        assert (status, body) == (500, answers.status(500, answers.Reason.UNKNOWN, message)), so_name

    # The adapter's own metrics count the requests.
    status, text = await adapter.get("/metrics", cert=published_pki.masters)
    assert status == 200
    assert f'apiserver_request_total{{code="200",group="external.metrics.k8s.io",resource="{metric.upper()}"' in text


async def test_fallback_values_after_the_broker_stops(
    api: cluster.Api, published_pki: Pki, redis_server_factory: Any, list_name: str,
    start_operator: Any, start_adapter: Any,
) -> None:
    broker = redis_server_factory()
    client = aioredis.Redis(host=broker.host, port=broker.port)
    await client.rpush(list_name, "a", "b", "c")
    await client.aclose()
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker", replicas=2))
    so = cluster.scaled_object(
        "orders", target="worker", redis_address=f"{broker.host}:{broker.port}", list_name=list_name,
        min_replicas=1, fallback={"failureThreshold": 2, "replicas": 4},
    )
    await api.create(cluster.SO_BASE.format(ns="default"), so)
    await start_operator()
    adapter = await start_adapter()
    metric = f"s0-redis-{list_name}"

    async def three() -> bool:
        return await _value(adapter, metric, "orders", published_pki) == "3"

    await cluster.until(three, what="the adapter serving 3")
    broker.close()
    # Failing, below the threshold: the HPA gets KEDA's error (it keeps the replicas).
    async def failing() -> Any:
        status, body = await adapter.metric(metric, "orders", cert=published_pki.masters)
        return body if status == 500 else None

    body = await cluster.until(failing, what="an error while below failureThreshold")
    assert body["message"].startswith(f"error getting metric {metric} of ScaledObject default/orders: ")
    # Past failureThreshold 2: fallback feeds target 5 × 4 replicas = 20 (AverageValue).
    async def fallback() -> bool:
        return await _value(adapter, metric, "orders", published_pki) == "20"

    await cluster.until(fallback, what="the fallback value 20")


async def test_scaling_modifiers_composite_metric(
    api: cluster.Api, published_pki: Pki, redis: aioredis.Redis, redis_server: redis_fixtures.RedisServer,
    list_name: str, start_operator: Any, start_adapter: Any,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await redis.rpush(list_name, *[f"job-{i}" for i in range(6)])
    so = cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        advanced={"scalingModifiers": {"formula": "q * 2 + 0.5", "target": "4"}},
    )
    so["spec"]["triggers"][0]["name"] = "q"
    await api.create(cluster.SO_BASE.format(ns="default"), so)
    await start_operator()
    adapter = await start_adapter()

    async def composite() -> bool:
        return await _value(adapter, "composite-metric", "orders", published_pki) == "12500m"

    await cluster.until(composite, what="composite-metric 12.5")
    # With scalingModifiers the HPA sees only the composite metric.
    status, body = await adapter.metric(f"s0-redis-{list_name}", "orders", cert=published_pki.masters)
    assert status == 500 and body["message"] == f"no matching metrics found for s0-redis-{list_name}"


def _script_calls(info: dict[str, Any]) -> int:
    return sum(int(v["calls"]) for k, v in info.items() if k.startswith(("cmdstat_eval", "cmdstat_fcall")))


async def test_at_most_one_source_query_per_polling_interval_while_asked_every_200_ms(
    api: cluster.Api, published_pki: Pki, redis_server_factory: Any, list_name: str,
    start_operator: Any, start_adapter: Any,
) -> None:
    broker = redis_server_factory()  # a Redis of its own: every script call on it is this trigger's query
    client = aioredis.Redis(host=broker.host, port=broker.port)
    await client.rpush(list_name, "a", "b")
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    interval = 2
    so = cluster.scaled_object(
        "orders", target="worker", redis_address=f"{broker.host}:{broker.port}", list_name=list_name,
        polling_interval=interval,
    )
    await api.create(cluster.SO_BASE.format(ns="default"), so)
    await start_operator()
    adapter = await start_adapter()
    metric = f"s0-redis-{list_name}"

    async def two() -> bool:
        return await _value(adapter, metric, "orders", published_pki) == "2"

    await cluster.until(two, what="the adapter serving 2")
    assert adapter.runner.adapter is not None
    source = adapter.runner.adapter.source
    assert isinstance(source, sources.Forwarding)
    fetched, streamed = source.fetches, source.streamed
    before = _script_calls(await client.info("commandstats"))
    began = time.monotonic()
    answered = 0
    while time.monotonic() - began < 4 * interval:
        # Three HPAs asking at once, five times a second.
        values = await asyncio.gather(*(_value(adapter, metric, "orders", published_pki) for _ in range(3)))
        answered += sum(v == "2" for v in values)
        await asyncio.sleep(0.2)
    elapsed = time.monotonic() - began
    queries = _script_calls(await client.info("commandstats")) - before
    await client.aclose()
    assert answered >= 3 * 4 * interval * 2  # every answer was a value
    assert 1 <= queries <= math.ceil(elapsed / interval) + 1, (queries, elapsed)
    # The adapter answered from the operator's stream of readings (one per tick), not by asking the operator.
    assert source.streamed - streamed >= 3 and source.fetches == fetched, (source.streamed, source.fetches)


async def test_the_adapter_reads_an_operator_whose_http_server_needs_a_token(
    api: cluster.Api, published_pki: Pki, redis: aioredis.Redis, redis_server: redis_fixtures.RedisServer,
    list_name: str, start_operator: Any, start_adapter: Any, tmp_path: Any,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await redis.rpush(list_name, "a")
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name))
    token_file = tmp_path / "token"
    token_file.write_text("dashboard-token-0123456789\n")
    await start_operator(http_token_file=str(token_file), http_token_on_loopback=True)
    adapter = await start_adapter()

    async def one() -> bool:
        return await _value(adapter, f"s0-redis-{list_name}", "orders", published_pki) == "1"

    await cluster.until(one, what="the adapter serving 1 through a token-protected operator")

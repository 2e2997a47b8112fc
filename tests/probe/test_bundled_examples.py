"""`ebb probe` on the bundled examples, each pointed at the suite's real server after real writes.

Only the in-cluster address of each example is replaced (by the loopback server's); everything else —
trigger metadata, TriggerAuthentications, Secrets, `…FromEnv` references — is read as shipped.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from scaler import cli
from tests.scalers.kafka import kafka_helpers

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def probe_example(
    name: str, replacements: dict[str, str], tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict[str, Any]]]:
    text = (EXAMPLES / name).read_text()
    for old, new in replacements.items():
        assert old in text, f"{name} no longer contains {old!r}"
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    code = cli.main(["probe", "-o", "json", str(path)])
    out = capsys.readouterr().out
    return code, json.loads(out)["triggers"]


def probe_until(
    probe: Callable[[], tuple[int, list[dict[str, Any]]]],
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 30.0,
) -> tuple[int, dict[str, Any]]:
    """Probe again until the (single) row satisfies `done` (management stats and scrapes lag a little)."""
    deadline = time.monotonic() + timeout
    while True:
        code, rows = probe()
        assert len(rows) == 1, rows
        if done(rows[0]) or time.monotonic() > deadline:
            return code, rows[0]
        time.sleep(0.5)


def test_redis_lists_example(
    redis_server_factory: Any, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = redis_server_factory()
    admin = redis.Redis(host=server.host, port=server.port, decode_responses=True)
    admin.config_set("requirepass", "change-me")  # the example's Secret holds this password
    admin.close()
    client = redis.Redis(host=server.host, port=server.port, password="change-me")
    client.lpush("orders", *[f"order-{i}" for i in range(7)])
    client.close()

    code, rows = probe_example(
        "valid-redis-lists.yaml",
        {"redis.shop.svc.cluster.local:6379": f"{server.host}:{server.port}"},
        tmp_path,
        capsys,
    )
    assert code == 0, rows
    (row,) = rows
    assert (row["scaledObject"], row["name"], row["metricName"]) == (
        "ScaledObject/shop/order-worker",
        "orders",
        "s0-redis-orders",
    )
    assert (row["value"], row["target"], row["activationThreshold"], row["active"]) == (7, 10, 0, True)


def test_rabbitmq_example(
    rabbitmq_server: Any, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = rabbitmq_server.queue_path("invoices")
    status, _ = rabbitmq_server.management(queue, method="PUT", body={"durable": False})
    assert status in (201, 204)
    for number in range(5):
        status, answer = rabbitmq_server.management(
            "exchanges/%2F/amq.default/publish",
            method="POST",
            body={
                "properties": {},
                "routing_key": "invoices",
                "payload": f"invoice {number}",
                "payload_encoding": "string",
            },
        )
        assert status == 200 and answer == {"routed": True}
    try:
        code, row = probe_until(
            lambda: probe_example(
                "valid-rabbitmq.yaml",
                {
                    "http://invoices:change-me@rabbitmq.billing.svc.cluster.local:15672/": rabbitmq_server.management_url
                    + "/"
                },
                tmp_path,
                capsys,
            ),
            lambda row: row["value"] == 5,
        )
    finally:
        rabbitmq_server.management(queue, method="DELETE")
    assert code == 0, row
    assert (row["metricName"], row["value"], row["target"], row["activationThreshold"], row["active"]) == (
        "s0-rabbitmq-invoices",
        5,
        25,
        0,
        True,
    )
    assert "guest" not in json.dumps(row)


def test_kafka_example(kafka_server: Any, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def prepare() -> None:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_server.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic("events", 2, 1)])
        finally:
            await admin.close()
        await kafka_helpers.produce(kafka_server.bootstrap, "events", {0: 150, 1: 90})
        await kafka_helpers.commit(
            kafka_server.bootstrap, "events-consumer", {("events", 0): 30, ("events", 1): 90}
        )

    asyncio.run(prepare())
    code, rows = probe_example(
        "valid-kafka.yaml",
        {"kafka.analytics.svc.cluster.local:9092": kafka_server.bootstrap},
        tmp_path,
        capsys,
    )
    assert code == 0, rows
    (row,) = rows
    # lag 120 on partition 0 and 0 on partition 1; lagThreshold 100 caps at 2 partitions × 100 = 200.
    assert (row["metricName"], row["value"], row["target"], row["active"]) == (
        "s0-kafka-events",
        120,
        100,
        True,
    )


@pytest.fixture
def checkout_traffic(prometheus_server: Any) -> Iterator[None]:
    """`http_requests_total{service="checkout-api"}` rising by about 100 per second while the test runs."""
    stop = threading.Event()

    def count() -> None:
        while not stop.wait(0.25):
            prometheus_server.exporter.inc_counter("http_requests", 25, {"service": "checkout-api"})

    counting = threading.Thread(target=count, daemon=True)
    counting.start()
    yield
    stop.set()
    counting.join()
    prometheus_server.exporter.remove("http_requests")


def test_prometheus_example(
    prometheus_server: Any, checkout_traffic: None, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, row = probe_until(
        lambda: probe_example(
            "valid-prometheus.yaml",
            {"http://prometheus.monitoring.svc.cluster.local:9090": prometheus_server.url},
            tmp_path,
            capsys,
        ),
        lambda row: (row["value"] or 0) > 1,
    )
    assert code == 0, row
    assert (row["name"], row["metricName"], row["target"], row["activationThreshold"]) == (
        "requests",
        "s0-prometheus",
        50,
        1,
    )
    # rate() over [2m] of a counter rising ~100/s: low while the series is young (rate divides by the
    # window), never above the real rate.
    assert 1 < row["value"] < 150, row
    assert row["active"] is True

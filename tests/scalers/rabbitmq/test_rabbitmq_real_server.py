"""The `rabbitmq` scaler against a real RabbitMQ with the management plugin (the suite's `rabbitmq_server`):
queue length over AMQP and HTTP after real publishes, unacknowledged messages, the publish rate under a
steady load, regex matches over several queues, vhosts, shared connections, and errors that hide the
password. Management statistics lag about a second, so HTTP readings are polled with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
import rabbitmq_helpers as h

from scalers import base, connections
from tests.servers import ports

pytestmark = pytest.mark.servers


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def pool() -> AsyncIterator[connections.SharedClients]:
    clients = connections.SharedClients()
    yield clients
    await clients.aclose()


async def read_once(
    metadata: dict[str, str], pool: connections.SharedClients, auth: dict[str, str] | None = None
) -> base.Reading:
    scaler = h.build(metadata, pool, auth)
    try:
        return await scaler.read()
    finally:
        await scaler.aclose()


async def test_queue_length_over_amqp(rabbitmq_server: Any, pool: connections.SharedClients) -> None:
    queue = unique("amqp-len")
    await h.publish(rabbitmq_server.amqp_url, queue, 7)
    meta = {"queueName": queue, "host": rabbitmq_server.amqp_url, "mode": "QueueLength", "value": "5"}
    assert await read_once(meta, pool) == base.Reading(7, True)
    assert await read_once({**meta, "activationValue": "7"}, pool) == base.Reading(7, False)


async def test_queue_length_over_http(rabbitmq_server: Any, pool: connections.SharedClients) -> None:
    queue = unique("http-len")
    await h.publish(rabbitmq_server.amqp_url, queue, 9)
    scaler = h.build({"queueName": queue, "host": rabbitmq_server.management_url}, pool)
    try:
        reading = await h.eventually(scaler.read, lambda r: r.value == 9)
    finally:
        await scaler.aclose()
    assert reading.active and scaler.metric.target == 20  # the QueueLength/20 default


async def test_empty_queue_is_inactive(rabbitmq_server: Any, pool: connections.SharedClients) -> None:
    queue = unique("empty")
    await h.publish(rabbitmq_server.amqp_url, queue, 0)
    assert await read_once({"queueName": queue, "host": rabbitmq_server.amqp_url}, pool) == base.Reading(
        0, False
    )


@contextlib.asynccontextmanager
async def taken_without_ack(amqp_url: str, queue: str, count: int) -> AsyncIterator[None]:
    """Holds `count` messages delivered but unacknowledged while the block runs."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=count)
        declared = await channel.declare_queue(queue, passive=True)
        held: list[Any] = []
        for _ in range(count):
            message = await declared.get(no_ack=False, timeout=5)
            held.append(message)
        yield


async def test_exclude_unacknowledged(rabbitmq_server: Any, pool: connections.SharedClients) -> None:
    queue = unique("unacked")
    await h.publish(rabbitmq_server.amqp_url, queue, 10)
    async with taken_without_ack(rabbitmq_server.amqp_url, queue, 3):
        http = {"queueName": queue, "host": rabbitmq_server.management_url}
        both = h.build(http, pool)
        ready = h.build({**http, "excludeUnacknowledged": "true"}, pool)
        try:
            await h.eventually(both.read, lambda r: r.value == 10)
            await h.eventually(ready.read, lambda r: r.value == 7)
        finally:
            await both.aclose()
            await ready.aclose()
        # A passive declare over AMQP counts ready messages only (broker semantics).
        assert await read_once({"queueName": queue, "host": rabbitmq_server.amqp_url}, pool) == base.Reading(
            7, True
        )


async def test_message_rate_under_steady_publish(
    rabbitmq_server: Any, pool: connections.SharedClients
) -> None:
    queue = unique("rate")
    await h.publish(rabbitmq_server.amqp_url, queue, 0)
    stop = asyncio.Event()

    async def publish_steadily() -> None:
        connection = await aio_pika.connect(rabbitmq_server.amqp_url)
        async with connection:
            channel = await connection.channel()
            while not stop.is_set():
                await channel.default_exchange.publish(aio_pika.Message(b"r"), routing_key=queue)
                await asyncio.sleep(0.02)  # about 50 messages per second

    publisher = asyncio.create_task(publish_steadily())
    scaler = h.build(
        {"queueName": queue, "host": rabbitmq_server.management_url, "mode": "MessageRate", "value": "100"},
        pool,
    )
    try:
        reading = await h.eventually(scaler.read, lambda r: r.value > 10, within=30)
    finally:
        stop.set()
        await publisher
        await scaler.aclose()
    assert reading.active and reading.value < 200


async def test_regex_over_several_queues(rabbitmq_server: Any, pool: connections.SharedClients) -> None:
    prefix = unique("rx")
    for suffix, count in (("a", 1), ("b", 2), ("c", 6)):
        await h.publish(rabbitmq_server.amqp_url, f"{prefix}-{suffix}", count)
    await h.publish(rabbitmq_server.amqp_url, unique("other"), 50)
    base_meta = {"queueName": f"^{prefix}-.*$", "host": rabbitmq_server.management_url, "useRegex": "true"}
    expected = {"sum": 9, "max": 6, "avg": 3}
    for operation, value in expected.items():
        scaler = h.build({**base_meta, "operation": operation}, pool)
        try:
            await h.eventually(scaler.read, lambda r, v=value: r.value == v)
        finally:
            await scaler.aclose()


async def test_regex_matching_more_than_a_page_is_an_error(
    rabbitmq_server: Any, pool: connections.SharedClients
) -> None:
    prefix = unique("page")
    for suffix in "abc":
        await h.publish(rabbitmq_server.amqp_url, f"{prefix}-{suffix}", 1)
    meta = {
        "queueName": f"^{prefix}-",
        "host": rabbitmq_server.management_url,
        "useRegex": "true",
        "pageSize": "2",
    }
    with pytest.raises(base.SourceError, match="regex matches more queues than can be recovered at once"):
        await read_once(meta, pool)
    # The same pattern fits one page of 3.
    scaler = h.build({**meta, "pageSize": "3"}, pool)
    try:
        await h.eventually(scaler.read, lambda r: r.value == 3)
    finally:
        await scaler.aclose()


async def test_vhost_name_over_both_protocols(rabbitmq_server: Any, pool: connections.SharedClients) -> None:
    vhost = unique("vh")
    quoted = urllib.parse.quote(vhost, safe="")
    assert rabbitmq_server.management(f"vhosts/{quoted}", method="PUT", body={})[0] in (201, 204)
    permissions = {"configure": ".*", "write": ".*", "read": ".*"}
    assert rabbitmq_server.management(f"permissions/{quoted}/guest", method="PUT", body=permissions)[0] in (
        201,
        204,
    )
    queue = unique("inside")
    await h.publish(rabbitmq_server.amqp_url.rstrip("/") + "/" + quoted, queue, 4)
    amqp = {"queueName": queue, "host": rabbitmq_server.amqp_url, "vhostName": vhost}
    assert await read_once(amqp, pool) == base.Reading(4, True)
    scaler = h.build({"queueName": queue, "host": rabbitmq_server.management_url, "vhostName": vhost}, pool)
    try:
        await h.eventually(scaler.read, lambda r: r.value == 4)
    finally:
        await scaler.aclose()
    # Without the override the queue is looked up in "/" and is not there.
    with pytest.raises(base.SourceError, match="NOT_FOUND"):
        await read_once({"queueName": queue, "host": rabbitmq_server.amqp_url}, pool)


async def test_credentials_from_trigger_authentication(
    rabbitmq_server: Any, pool: connections.SharedClients
) -> None:
    queue = unique("auth")
    await h.publish(rabbitmq_server.amqp_url, queue, 2)
    anonymous_amqp = f"amqp://127.0.0.1:{rabbitmq_server.amqp_port}/"
    auth = {"username": rabbitmq_server.username, "password": rabbitmq_server.password}
    assert await read_once({"queueName": queue, "host": anonymous_amqp}, pool, auth) == base.Reading(2, True)
    anonymous_http = f"http://127.0.0.1:{rabbitmq_server.management_port}"
    scaler = h.build({"queueName": queue, "host": anonymous_http}, pool, auth)
    try:
        await h.eventually(scaler.read, lambda r: r.value == 2)
    finally:
        await scaler.aclose()


async def test_triggers_share_one_connection_per_server(
    rabbitmq_server: Any, pool: connections.SharedClients
) -> None:
    queues = [unique("shared") for _ in range(3)]
    for index, queue in enumerate(queues):
        await h.publish(rabbitmq_server.amqp_url, queue, index + 1)
    amqp = [
        h.build({"queueName": q, "host": rabbitmq_server.amqp_url}, pool, index=i)
        for i, q in enumerate(queues)
    ]
    http = [h.build({"queueName": q, "host": rabbitmq_server.management_url}, pool) for q in queues]
    readings = await asyncio.gather(*(s.read() for s in amqp + http))
    assert [r.value for r in readings[:3]] == [1, 2, 3]
    assert len(pool) == 2  # one AMQP connection and one HTTP session
    for scaler in amqp:
        await scaler.aclose()
    assert len(pool) == 1
    for scaler in http:
        await scaler.aclose()
    assert len(pool) == 0


@pytest.mark.parametrize("protocol", [pytest.param("amqp", id="amqp"), pytest.param("http", id="http")])
async def test_missing_queue_is_a_source_error(
    rabbitmq_server: Any, pool: connections.SharedClients, protocol: str
) -> None:
    host = rabbitmq_server.amqp_url if protocol == "amqp" else rabbitmq_server.management_url
    with pytest.raises(base.SourceError) as caught:
        await read_once({"queueName": unique("absent"), "host": host}, pool)
    message = str(caught.value)
    assert message.startswith("error inspecting RabbitMQ: ")
    assert ("NOT_FOUND" in message) if protocol == "amqp" else ("404 Not Found" in message)


@pytest.mark.parametrize("protocol", [pytest.param("amqp", id="amqp"), pytest.param("http", id="http")])
async def test_wrong_password_never_shown(
    rabbitmq_server: Any, pool: connections.SharedClients, protocol: str
) -> None:
    port = rabbitmq_server.amqp_port if protocol == "amqp" else rabbitmq_server.management_port
    host = f"{protocol}://guest:Wr0ngPassw0rd@127.0.0.1:{port}/"
    with pytest.raises(base.SourceError) as caught:
        await read_once({"queueName": "q", "host": host}, pool)
    message = str(caught.value)
    assert "Wr0ngPassw0rd" not in message and "user:password@" in message
    assert ("ACCESS_REFUSED" in message) if protocol == "amqp" else ("401" in message)


@pytest.mark.parametrize("protocol", [pytest.param("amqp", id="amqp"), pytest.param("http", id="http")])
async def test_unreachable_broker_is_a_source_error_with_the_password_masked(
    pool: connections.SharedClients, protocol: str
) -> None:
    port = ports.free_port()  # nothing listens there
    host = f"{protocol}://admin:T0pSecret@127.0.0.1:{port}/"
    with pytest.raises(base.SourceError) as caught:
        await read_once({"queueName": "q", "host": host}, pool)
    message = str(caught.value)
    assert message.startswith("error inspecting RabbitMQ: ")
    assert "T0pSecret" not in message and f"user:password@127.0.0.1:{port}" in message
    assert len(pool) == 0

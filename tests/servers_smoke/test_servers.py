"""The server fixtures work: one real operation per server through its real client, and a Redis outage
(stop, then start again on the same port)."""

import urllib.parse
import uuid
from collections.abc import Callable

import aio_pika
import aiokafka
import aiokafka.admin
import aiokafka.structs
import pytest
import redis.asyncio
import redis.exceptions

from tests.servers import (
    kafka_server,
    probes,
    prometheus_server,
    rabbitmq_server,
    redis_server,
)

pytestmark = pytest.mark.servers


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class TestRedis:
    @pytest.mark.parametrize("pushes", [pytest.param(1, id="one-item"), pytest.param(7, id="seven-items")])
    async def test_lpush_then_llen_counts_the_items(
        self, redis_server: redis_server.RedisServer, pushes: int
    ) -> None:
        key = unique("list")
        client = redis.asyncio.Redis.from_url(redis_server.url)
        try:
            await client.lpush(key, *[f"item-{n}" for n in range(pushes)])
            assert await client.llen(key) == pushes
        finally:
            await client.aclose()

    async def test_shared_server_is_unreachable_while_stopped_and_back_on_the_same_port(
        self, redis_server: redis_server.RedisServer
    ) -> None:
        port, key = redis_server.port, unique("outage")
        client = redis.asyncio.Redis.from_url(redis_server.url, socket_connect_timeout=1.0)
        try:
            await client.lpush(key, "before")
            with redis_server.stopped():
                assert not redis_server.running
                assert not probes.tcp_accepts(redis_server.host, port)
                with pytest.raises(redis.exceptions.ConnectionError):
                    await client.llen(key)
            assert redis_server.running and redis_server.port == port
            # Nothing is persisted, so the list is gone after the restart.
            assert await client.llen(key) == 0
        finally:
            await client.aclose()

    async def test_private_server_restarts_as_a_new_process_on_the_same_port(
        self, redis_server_factory: Callable[[], redis_server.RedisServer]
    ) -> None:
        server = redis_server_factory()
        first_pid, url = server.pid, server.url
        server.stop()
        assert server.pid is None and not server.running
        server.start()
        assert server.url == url
        assert server.pid is not None and server.pid != first_pid
        client = redis.asyncio.Redis.from_url(server.url)
        try:
            assert await client.ping()
        finally:
            await client.aclose()


class TestRabbitMQ:
    @pytest.mark.parametrize(
        "published", [pytest.param(1, id="one-message"), pytest.param(10, id="ten-messages")]
    )
    async def test_published_messages_are_counted_by_amqp_and_the_management_api(
        self, rabbitmq_server: rabbitmq_server.RabbitMQServer, published: int
    ) -> None:
        name = unique("queue")
        connection = await aio_pika.connect(rabbitmq_server.amqp_url)
        try:
            channel = await connection.channel()
            await channel.declare_queue(name, auto_delete=False)
            for n in range(published):
                await channel.default_exchange.publish(aio_pika.Message(f"m{n}".encode()), routing_key=name)
            passive = await channel.declare_queue(name, passive=True)
            assert passive.declaration_result.message_count == published

            stats = rabbitmq_server.wait_for_management(
                rabbitmq_server.queue_path(name),
                lambda queue: queue.get("messages") == published,
                timeout=15.0,
            )
            assert stats["messages_ready"] == published
            assert stats["messages_unacknowledged"] == 0
            await channel.queue_delete(name)
        finally:
            await connection.close()

    def test_urls_name_loopback_ports_with_the_guest_user(
        self, rabbitmq_server: rabbitmq_server.RabbitMQServer
    ) -> None:
        assert rabbitmq_server.amqp_url == f"amqp://guest:guest@127.0.0.1:{rabbitmq_server.amqp_port}/"
        assert (
            rabbitmq_server.management_url
            == f"http://guest:guest@127.0.0.1:{rabbitmq_server.management_port}"
        )
        status, overview = rabbitmq_server.management("overview")
        assert status == 200
        assert overview["node"] == rabbitmq_server.node_name

    async def test_a_new_vhost_is_usable_and_listed_by_rabbitmqctl(
        self, rabbitmq_server: rabbitmq_server.RabbitMQServer
    ) -> None:
        vhost, name = unique("vhost/with-slash"), unique("queue")
        rabbitmq_server.add_vhost(vhost)
        try:
            url = f"{rabbitmq_server.amqp_url}{urllib.parse.quote(vhost, safe='')}"
            connection = await aio_pika.connect(url)
            try:
                channel = await connection.channel()
                await channel.declare_queue(name)
                await channel.default_exchange.publish(aio_pika.Message(b"m"), routing_key=name)
            finally:
                await connection.close()
            rabbitmq_server.wait_for_management(
                rabbitmq_server.queue_path(name, vhost), lambda queue: queue.get("messages") == 1
            )
            listing = rabbitmq_server.rabbitmqctl("list_vhosts", "--quiet", "--no-table-headers")
            assert vhost in listing.split()
        finally:
            rabbitmq_server.management(f"vhosts/{urllib.parse.quote(vhost, safe='')}", method="DELETE")


class TestKafka:
    @pytest.mark.parametrize(
        ("committed", "expected_lag"),
        [
            pytest.param({0: 4, 1: 10, 2: 0}, {0: 6, 1: 0, 2: 10}, id="mixed-progress"),
            pytest.param({0: 10, 1: 10, 2: 10}, {0: 0, 1: 0, 2: 0}, id="all-caught-up"),
        ],
    )
    async def test_committed_offsets_give_the_lag_per_partition(
        self,
        kafka_server: kafka_server.KafkaServer,
        committed: dict[int, int],
        expected_lag: dict[int, int],
    ) -> None:
        topic, group = unique("topic"), unique("group")
        partitions = [aiokafka.structs.TopicPartition(topic, p) for p in range(3)]
        admin = aiokafka.admin.AIOKafkaAdminClient(bootstrap_servers=kafka_server.bootstrap)
        producer = aiokafka.AIOKafkaProducer(bootstrap_servers=kafka_server.bootstrap)
        consumer = aiokafka.AIOKafkaConsumer(
            bootstrap_servers=kafka_server.bootstrap, group_id=group, enable_auto_commit=False
        )
        await admin.start()
        try:
            await admin.create_topics(
                [aiokafka.admin.NewTopic(topic, num_partitions=3, replication_factor=1)]
            )
            await producer.start()
            # Batched sends: ten records per partition in flight at once.
            sent = [
                await producer.send(topic, f"r{n}".encode(), partition=tp.partition)
                for tp in partitions
                for n in range(10)
            ]
            for delivery in sent:
                await delivery
            await consumer.start()
            consumer.assign(partitions)
            await consumer.commit({tp: committed[tp.partition] for tp in partitions})

            offsets = await admin.list_consumer_group_offsets(group)
            ends = await consumer.end_offsets(partitions)
            lag = {tp.partition: ends[tp] - offsets[tp].offset for tp in partitions}
            assert lag == expected_lag
        finally:
            await consumer.stop()
            await producer.stop()
            await admin.close()


class TestPrometheus:
    @pytest.mark.parametrize("depth", [pytest.param(0.0, id="zero"), pytest.param(43.0, id="forty-three")])
    def test_a_gauge_set_on_the_exporter_is_returned_by_an_instant_query(
        self, prometheus_server: prometheus_server.PrometheusServer, depth: float
    ) -> None:
        name = unique("smoke_depth").replace("-", "_")
        prometheus_server.exporter.set_gauge(name, depth, {"queue": "orders"})
        try:
            result = prometheus_server.wait_for_query(
                f'sum({name}{{queue="orders"}})',
                lambda result: prometheus_server.value(result) == depth,
            )
            assert len(result) == 1
        finally:
            prometheus_server.exporter.remove(name)

    async def test_a_counter_is_scraped_with_its_total_suffix(
        self, prometheus_server: prometheus_server.PrometheusServer
    ) -> None:
        name = unique("smoke_requests").replace("-", "_")
        prometheus_server.exporter.inc_counter(name, 5)
        try:
            result = await prometheus_server.wait_for_query_async(
                f"{name}_total", lambda result: prometheus_server.value(result) == 5.0
            )
            assert result[0]["metric"]["job"] == "exporter"
        finally:
            prometheus_server.exporter.remove(name)

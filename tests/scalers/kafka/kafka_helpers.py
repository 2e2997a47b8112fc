"""Helpers for the `kafka` scaler tests: parsing trigger inputs, an injected offset source, and topic /
record / commit set-up on a real broker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from scalers import base, connections, kafka_lag, kafka_offsets, params

TP = tuple[str, int]


def inputs(
    metadata: Mapping[str, str],
    auth: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    index: int = 0,
) -> base.TriggerInputs:
    return base.TriggerInputs(
        type="kafka",
        index=index,
        metadata=dict(metadata),
        auth_params=dict(auth or {}),
        resolved_env=dict(env or {}),
    )


def parse(
    metadata: Mapping[str, str], auth: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None
) -> kafka_lag.KafkaParams:
    return params.parse(kafka_lag.KafkaParams, inputs(metadata, auth, env)).value


def problems(metadata: Mapping[str, str], auth: Mapping[str, str] | None = None) -> list[str]:
    try:
        params.parse(kafka_lag.KafkaParams, inputs(metadata, auth))
    except base.ConfigError as error:
        return [str(p) for p in error.problems]
    return []


def warnings(metadata: Mapping[str, str], auth: Mapping[str, str] | None = None) -> list[str]:
    return [str(p) for p in params.parse(kafka_lag.KafkaParams, inputs(metadata, auth)).warnings]


class FakeOffsets:
    """An injected `OffsetSource` over plain dictionaries that a test changes between polls."""

    def __init__(
        self,
        topics: dict[str, list[int]],
        committed: dict[TP, int] | None = None,
        latest: dict[TP, int] | None = None,
        error: Exception | None = None,
    ) -> None:
        self.topics = topics
        self.committed_offsets = dict(committed or {})
        self.latest_offsets = dict(latest or {})
        self.error = error
        self.describe_answer: dict[str, list[int]] | None = None
        self.described: list[list[str]] = []
        self.closed = False

    async def describe(self, topics: Sequence[str]) -> dict[str, list[int]]:
        if self.error is not None:
            raise self.error
        self.described.append(list(topics))
        if self.describe_answer is not None:
            return self.describe_answer
        unknown = [t for t in topics if t not in self.topics]
        if unknown:
            raise kafka_offsets.KafkaProblem(
                f"error describing topics: UnknownTopicOrPartitionError (topic {unknown[0]})"
            )
        return {t: list(self.topics[t]) for t in topics}

    async def group_topics(self, group: str) -> list[str]:
        return sorted({t for t, _ in self.committed_offsets})

    async def committed(self, group: str, partitions: Sequence[TP]) -> dict[TP, int]:
        return {tp: self.committed_offsets.get(tp, -1) for tp in partitions}

    async def latest(self, partitions: Sequence[TP]) -> dict[TP, int]:
        return {tp: self.latest_offsets[tp] for tp in partitions if tp in self.latest_offsets}

    async def aclose(self) -> None:
        self.closed = True


def fake_scaler(
    metadata: Mapping[str, str], source: FakeOffsets, auth: Mapping[str, str] | None = None
) -> kafka_lag.KafkaScaler:
    meta = {"bootstrapServers": "broker:9092", "consumerGroup": "g", **metadata}
    return kafka_lag.KafkaScaler(parse(meta, auth), inputs(meta, auth), source)


def build(
    metadata: Mapping[str, str], pool: connections.SharedClients, auth: Mapping[str, str] | None = None
) -> kafka_lag.KafkaScaler:
    trigger = inputs(metadata, auth)
    parsed = params.parse(kafka_lag.KafkaParams, trigger).value
    scaler = kafka_lag.KAFKA.build(parsed, trigger, base.BuildContext(clients=pool, clock=time.monotonic))
    assert isinstance(scaler, kafka_lag.KafkaScaler)
    return scaler


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def create_topic(bootstrap: str, partitions: int) -> str:
    topic = unique("topic")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    return topic


async def produce(bootstrap: str, topic: str, per_partition: Mapping[int, int]) -> None:
    """Produce records, batched (noida's high watermark is right with batches)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    try:
        for partition, count in per_partition.items():
            for number in range(count):
                await producer.send(topic, f"r{number}".encode(), partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


async def commit(bootstrap: str, group: str, offsets: Mapping[TP, int]) -> None:
    """Commit these offsets for the group (manual assignment, no group join)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(t, p) for t, p in offsets])
        await consumer.commit({TopicPartition(t, p): o for (t, p), o in offsets.items()})
    finally:
        await consumer.stop()


async def consume_and_commit(bootstrap: str, group: str, topic: str, count: int) -> int:
    """Join the group, consume `count` records from the earliest offset and commit; how many were read."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    read = 0
    try:
        deadline = time.monotonic() + 20
        while read < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=count - read)
            read += sum(len(records) for records in batches.values())
        await consumer.commit()
    finally:
        await consumer.stop()
    return read

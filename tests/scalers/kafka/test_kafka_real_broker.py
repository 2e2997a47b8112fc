"""The `kafka` scaler against a real Kafka-protocol broker (noida-db, the suite's `kafka_server`): lag,
value and activity after records are produced and offsets committed; a group without commits under
each offsetResetPolicy; partitionLimitation; the partition cap; allowIdleConsumers;
limitToPartitionsWithLag; persistent lag; no topic; shared clients; unknown topics and brokers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import kafka_helpers as h
import pytest

from scalers import base, connections
from tests.servers import ports

pytestmark = pytest.mark.servers

# 3 partitions with 10 records each; the group has committed 10 (all), 4 and 0: lags 0, 6 and 10.
RECORDS = {0: 10, 1: 10, 2: 10}


@pytest.fixture
async def pool() -> AsyncIterator[connections.SharedClients]:
    clients = connections.SharedClients()
    yield clients
    await clients.aclose()


@pytest.fixture
async def topic(kafka_server: Any) -> str:
    name = await h.create_topic(kafka_server.bootstrap, 3)
    await h.produce(kafka_server.bootstrap, name, RECORDS)
    return name


@pytest.fixture
async def group(kafka_server: Any, topic: str) -> str:
    name = h.unique("group")
    await h.commit(kafka_server.bootstrap, name, {(topic, 0): 10, (topic, 1): 4, (topic, 2): 0})
    return name


async def read(metadata: dict[str, str], pool: connections.SharedClients) -> tuple[base.Reading, Any]:
    scaler = h.build(metadata, pool)
    try:
        reading = await scaler.read()
        return reading, scaler.last_lag
    finally:
        await scaler.aclose()


def trigger(kafka_server: Any, group: str, topic: str | None, **extra: str) -> dict[str, str]:
    metadata = {"bootstrapServers": kafka_server.bootstrap, "consumerGroup": group, **extra}
    if topic is not None:
        metadata["topic"] = topic
    return metadata


@pytest.mark.parametrize(
    ("extra", "value", "active"),
    [
        pytest.param({"lagThreshold": "5"}, 16, True, id="16-below-cap-of-15-by-integer-division"),
        pytest.param({"lagThreshold": "2"}, 6, True, id="capped-at-3-partitions"),
        pytest.param(
            {"lagThreshold": "2", "allowIdleConsumers": "true"}, 16, True, id="idle-consumers-uncapped"
        ),
        pytest.param(
            {"lagThreshold": "1", "limitToPartitionsWithLag": "true"}, 2, True, id="limit-to-2-lagging"
        ),
        pytest.param(
            {"lagThreshold": "100", "activationLagThreshold": "16"}, 16, False, id="activation-strict"
        ),
        pytest.param({"lagThreshold": "100", "activationLagThreshold": "15"}, 16, True, id="activation-15"),
        pytest.param(
            {"lagThreshold": "100", "partitionLimitation": "1-2"},
            16,
            True,
            id="limitation-lagging-partitions",
        ),
        pytest.param(
            {"lagThreshold": "100", "partitionLimitation": "0"}, 0, False, id="limitation-caught-up-partition"
        ),
        pytest.param(
            {"lagThreshold": "4", "ensureEvenDistributionOfPartitions": "true"},
            12,
            True,
            id="even-distribution-16-over-3-partitions",
        ),
    ],
)
async def test_lag_value_and_activity(
    kafka_server: Any,
    pool: connections.SharedClients,
    topic: str,
    group: str,
    extra: dict[str, str],
    value: int,
    active: bool,
) -> None:
    reading, _ = await read(trigger(kafka_server, group, topic, **extra), pool)
    assert reading == base.Reading(value, active)


@pytest.mark.parametrize(
    ("extra", "value", "active"),
    [
        pytest.param({}, 3, True, id="latest-1-per-partition"),
        pytest.param({"scaleToZeroOnInvalidOffset": "true"}, 0, False, id="latest-scale-to-zero"),
        pytest.param({"offsetResetPolicy": "earliest"}, 30, True, id="earliest-whole-topic"),
        pytest.param(
            {"offsetResetPolicy": "earliest", "scaleToZeroOnInvalidOffset": "true"},
            0,
            False,
            id="earliest-scale-to-zero",
        ),
    ],
)
async def test_group_without_commits(
    kafka_server: Any,
    pool: connections.SharedClients,
    topic: str,
    extra: dict[str, str],
    value: int,
    active: bool,
) -> None:
    metadata = trigger(kafka_server, h.unique("fresh"), topic, lagThreshold="100", **extra)
    reading, lag = await read(metadata, pool)
    assert reading == base.Reading(value, active)
    assert lag.total_partitions == 3


async def test_consumed_in_a_group_and_committed(
    kafka_server: Any, pool: connections.SharedClients, topic: str
) -> None:
    group = h.unique("consumers")
    consumed = await h.consume_and_commit(kafka_server.bootstrap, group, topic, 12)
    assert consumed == 12
    reading, lag = await read(trigger(kafka_server, group, topic, lagThreshold="100"), pool)
    assert reading == base.Reading(30 - 12, True)
    assert lag.total_lag_with_persistent == 18


async def test_without_topic_counts_the_groups_topics(
    kafka_server: Any, pool: connections.SharedClients, topic: str, group: str
) -> None:
    other = await h.create_topic(kafka_server.bootstrap, 1)
    await h.produce(kafka_server.bootstrap, other, {0: 5})
    await h.commit(kafka_server.bootstrap, group, {(other, 0): 1})
    scaler = h.build(trigger(kafka_server, group, None, lagThreshold="100"), pool)
    try:
        reading = await scaler.read()
        assert scaler.metric.name == f"s0-kafka-{group}-topics"
    finally:
        await scaler.aclose()
    assert reading == base.Reading(16 + 4, True)


async def test_persistent_lag_across_polls(
    kafka_server: Any, pool: connections.SharedClients, topic: str, group: str
) -> None:
    scaler = h.build(
        trigger(kafka_server, group, topic, lagThreshold="100", excludePersistentLag="true"), pool
    )
    try:
        assert await scaler.read() == base.Reading(16, True)
        assert await scaler.read() == base.Reading(0, True)  # nothing consumed since: persistent
        await h.commit(kafka_server.bootstrap, group, {(topic, 1): 7})
        assert await scaler.read() == base.Reading(3, True)  # partition 1 moved (3 left); partition 2 did not
    finally:
        await scaler.aclose()


async def test_new_records_raise_the_lag(
    kafka_server: Any, pool: connections.SharedClients, topic: str, group: str
) -> None:
    scaler = h.build(trigger(kafka_server, group, topic, lagThreshold="100"), pool)
    try:
        assert (await scaler.read()).value == 16
        await h.produce(kafka_server.bootstrap, topic, {0: 50})
        assert (await scaler.read()).value == 66
    finally:
        await scaler.aclose()


async def test_triggers_share_one_client(
    kafka_server: Any, pool: connections.SharedClients, topic: str, group: str
) -> None:
    scalers = [h.build(trigger(kafka_server, group, topic, lagThreshold=str(n)), pool) for n in (100, 200)]
    readings = [await s.read() for s in scalers]
    assert [r.value for r in readings] == [16, 16]
    assert len(pool) == 1
    for scaler in scalers:
        await scaler.aclose()
    assert len(pool) == 0


async def test_unknown_topic_is_an_error_and_not_created(
    kafka_server: Any, pool: connections.SharedClients
) -> None:
    missing = h.unique("missing")
    for _ in range(2):  # a second look must not find a topic auto-created by the first
        with pytest.raises(base.SourceError, match="UnknownTopicOrPartitionError"):
            await read(trigger(kafka_server, h.unique("g"), missing), pool)


async def test_unreachable_broker_is_a_source_error(pool: connections.SharedClients) -> None:
    port = ports.free_port()  # nothing listens there
    metadata = {
        "bootstrapServers": f"127.0.0.1:{port}",
        "consumerGroup": "g",
        "topic": "t",
        "sasl": "plaintext",
    }
    scaler = h.build(metadata, pool, {"username": "app", "password": "N0tShown"})
    try:
        with pytest.raises(base.SourceError) as caught:
            await scaler.read()
    finally:
        await scaler.aclose()
    message = str(caught.value)
    assert message.startswith("error reading Kafka lag: ") and f"127.0.0.1:{port}" in message
    assert "N0tShown" not in message
    assert len(pool) == 0

"""The `redis-streams` scalers: KEDA's parameters and modes, and real XADD / XREADGROUP / XACK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis_helpers as h

from scalers import base, connections, params, redis_connections, redis_streams

STREAMS = redis_streams.REDIS_STREAMS


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        pytest.param({}, ['missing required parameter "stream"'], id="nothing"),
        pytest.param({"stream": "s"}, [redis_connections.NO_ADDRESSES], id="no-address"),
        pytest.param({"hosts": "a, b, c", "ports": "1, 2", "stream": "s"}, [redis_connections.UNEQUAL_HOSTS_AND_PORTS], id="unequal"),
        pytest.param({"hosts": "a, b, c", "ports": "1, 2, 3", "pendingEntriesCount": "5"}, ['"stream"'], id="no-stream"),
        pytest.param({"address": "a:1", "stream": "s", "pendingEntriesCount": "x"}, ["pendingEntriesCount: expected an integer"], id="bad-pending"),
        pytest.param({"address": "a:1", "stream": "s", "streamLength": "1.5"}, ["streamLength: expected an integer"], id="bad-length"),
        pytest.param({"address": "a:1", "stream": "s", "consumerGroup": "g", "lagCount": "x"}, ["lagCount: expected an integer"], id="bad-lag"),
        pytest.param({"address": "a:1", "stream": "s", "activationLagCount": "x"}, ["activationLagCount: expected an integer"], id="bad-activation"),
        pytest.param({"address": "a:1", "stream": "s", "databaseIndex": "x"}, ["databaseIndex: expected an integer"], id="bad-db"),
        pytest.param({"address": "a:1", "stream": "s", "enableTLS": "x"}, ["enableTLS: expected a boolean"], id="bad-tls"),
        pytest.param({"addressFromEnv": "REDIS_SERVICE", "stream": "s", "consumerGroup": "g", "lagCount": "5",
                      "activationLagCount": "3", "usernameFromEnv": "REDIS_USERNAME", "passwordFromEnv": "REDIS_PASSWORD",
                      "databaseIndex": "0", "enableTLS": "true"}, [], id="keda-lag-example"),
    ],
)  # fmt: skip
def test_parameters_are_accepted_or_rejected_as_keda_does(
    metadata: dict[str, str], expected: list[str]
) -> None:
    env = {"REDIS_SERVICE": "myredis:6379", "REDIS_USERNAME": "foobarred", "REDIS_PASSWORD": "foobarred"}
    found = h.problems_of(STREAMS, h.inputs(metadata, {}, env, type_name="redis-streams"))
    assert len(found) == len(expected), found
    for problem, wanted in zip(found, expected, strict=True):
        assert wanted in problem


@pytest.mark.parametrize(
    ("metadata", "mode", "target"),
    [
        pytest.param({}, redis_streams.Mode.STREAM_LENGTH, 5, id="length-default"),
        pytest.param(
            {"streamLength": "7", "pendingEntriesCount": "9"},
            redis_streams.Mode.STREAM_LENGTH,
            7,
            id="length",
        ),
        pytest.param({"consumerGroup": "g"}, redis_streams.Mode.PENDING_ENTRIES, 5, id="pending-default"),
        pytest.param(
            {"consumerGroup": "g", "pendingEntriesCount": "9"},
            redis_streams.Mode.PENDING_ENTRIES,
            9,
            id="pending",
        ),
        pytest.param(
            {"consumerGroup": "g", "lagCount": "0"},
            redis_streams.Mode.PENDING_ENTRIES,
            5,
            id="lag-zero-is-unset",
        ),
        pytest.param({"consumerGroup": "g", "lagCount": "12"}, redis_streams.Mode.LAG, 12, id="lag"),
        pytest.param({"lagCount": "12"}, redis_streams.Mode.STREAM_LENGTH, 5, id="lag-without-group"),
    ],
)
def test_mode_and_target_follow_keda(metadata: dict[str, str], mode: redis_streams.Mode, target: int) -> None:
    trigger = h.inputs({"address": "a:1", "stream": "orders/eu", **metadata}, index=2)
    parsed = params.parse(redis_streams.RedisStreamParams, trigger).value
    assert parsed.mode is mode
    spec = STREAMS.metric(parsed, trigger)
    assert (spec.name, spec.target) == ("s2-redis-streams-orders-eu", float(target))


@pytest.mark.parametrize(
    ("reply", "group", "expected"),
    [
        pytest.param([{"name": "g", "lag": 4}], "g", (True, 4), id="found"),
        pytest.param([{"name": "g", "lag": None}], "g", (True, 0), id="null-lag"),
        pytest.param([{"name": "other", "lag": 4}], "g", (False, 0), id="missing"),
        pytest.param([], "g", (False, 0), id="no-groups"),
    ],
)
def test_lag_of_an_xinfo_groups_reply(reply: Any, group: str, expected: tuple[bool, int]) -> None:
    assert redis_streams.lag_of(reply, group) == expected


@pytest.mark.parametrize(
    ("count", "activation", "active"),
    [
        pytest.param(0, 0, False, id="zero"),
        pytest.param(3, 3, False, id="at"),
        pytest.param(4, 3, True, id="above"),
    ],
)
async def test_activity_is_strictly_above_activation_lag_count(
    count: int, activation: int, active: bool
) -> None:
    async def source() -> int:
        return count

    async def close() -> None:
        return None

    metric = base.MetricSpec("s0-redis-streams-s", "AverageValue", 5.0, float(activation))
    assert (await redis_connections.CountScaler(metric, source, close).read()).active is active


# --- against a real Redis ---------------------------------------------------------------------------


@pytest.fixture
def db(redis_server: Any) -> Iterator[redis.Redis]:
    client = redis.Redis(host=redis_server.host, port=redis_server.port, db=5, decode_responses=True)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


async def test_three_modes_after_real_writes(redis_server: Any, db: redis.Redis) -> None:
    address = f"{redis_server.host}:{redis_server.port}"
    clients = connections.SharedClients()

    def scaler(**metadata: str) -> base.Scaler:
        return h.build(
            STREAMS,
            h.inputs({"address": address, "databaseIndex": "5", "stream": "jobs", **metadata}),
            clients,
        )

    length = scaler()
    pending = scaler(consumerGroup="workers", activationLagCount="1")
    lag = scaler(consumerGroup="workers", lagCount="2")
    try:
        # Nothing yet: XLEN of a missing stream is 0; the lag of a missing stream is 0; XPENDING errors.
        assert await length.read() == base.Reading(0.0, False)
        assert await lag.read() == base.Reading(0.0, False)
        with pytest.raises(base.SourceError, match="XPENDING"):
            await pending.read()
        for i in range(6):
            db.xadd("jobs", {"n": str(i)})
        assert await length.read() == base.Reading(6.0, True)
        # The group does not exist yet: the lag is the whole stream (XLEN).
        assert await lag.read() == base.Reading(6.0, True)
        db.xgroup_create("jobs", "workers", id="0")
        delivered = db.xreadgroup("workers", "w1", {"jobs": ">"}, count=4)
        ids = [entry_id for entry_id, _ in delivered[0][1]]
        assert await pending.read() == base.Reading(4.0, True)
        assert await lag.read() == base.Reading(2.0, True)  # 6 written, 4 delivered
        db.xack("jobs", "workers", *ids[:3])
        assert await pending.read() == base.Reading(1.0, False)  # 1 is not above activationLagCount 1
        db.xreadgroup("workers", "w1", {"jobs": ">"})
        assert await lag.read() == base.Reading(0.0, False)
        assert await pending.read() == base.Reading(3.0, True)
        assert len(clients) == 1
    finally:
        for s in (length, pending, lag):
            await s.aclose()
    assert len(clients) == 0

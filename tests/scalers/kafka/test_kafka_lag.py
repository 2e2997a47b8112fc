"""KEDA's Kafka lag computation over plain values (§3.4 steps 1–6), and the scaler with its offset source
injected: invalid offsets and the reset policy, missing partitions, persistent lag across polls, the
partition cap and its integer-division edge, limitToPartitionsWithLag, even distribution, activation on
the uncapped lag, and errors without secrets."""

from __future__ import annotations

import kafka_helpers as h
import pytest

from scalers import base, kafka_lag
from scalers.kafka_lag import LagRules, OffsetResetPolicy

T3 = {"t": [0, 1, 2]}
EARLIEST = OffsetResetPolicy.EARLIEST


def tps(topic: str, values: list[int]) -> dict[tuple[str, int], int]:
    return {(topic, p): v for p, v in enumerate(values)}


# --- the computation (steps 3–5) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("partitions", "committed", "latest", "rules", "total", "with_persistent", "with_lag", "count"),
    [
        pytest.param(T3, tps("t", [5, 5, 5]), tps("t", [10, 10, 10]), LagRules(), 15, 15, 3, 3, id="simple"),
        pytest.param(
            T3, tps("t", [10, 10, 10]), tps("t", [10, 10, 10]), LagRules(), 0, 0, 0, 3, id="caught-up"
        ),
        pytest.param(
            T3,
            tps("t", [0, 0, 0]),
            tps("t", [100, 100, 100]),
            LagRules(),
            30,
            300,
            3,
            3,
            id="capped-at-partitions-times-threshold",
        ),
        pytest.param(
            T3,
            tps("t", [0, 0, 0]),
            tps("t", [100, 100, 100]),
            LagRules(allow_idle_consumers=True),
            300,
            300,
            3,
            3,
            id="idle-consumers-not-capped",
        ),
        pytest.param(
            T3,
            tps("t", [0, 0, 0]),
            tps("t", [13, 13, 13]),
            LagRules(),
            39,
            39,
            3,
            3,
            id="integer-division-edge-39-not-capped",
        ),
        pytest.param(
            T3, tps("t", [0, 0, 0]), tps("t", [14, 13, 13]), LagRules(), 30, 40, 3, 3, id="40-is-capped"
        ),
        pytest.param(
            T3,
            tps("t", [-1, -1, -1]),
            tps("t", [50, 50, 50]),
            LagRules(),
            3,
            3,
            3,
            3,
            id="no-commit-latest-policy-lag-1-each",
        ),
        pytest.param(
            T3,
            tps("t", [-1, -1, -1]),
            tps("t", [50, 50, 50]),
            LagRules(scale_to_zero_on_invalid_offset=True),
            0,
            0,
            0,
            3,
            id="no-commit-latest-scale-to-zero",
        ),
        pytest.param(
            T3,
            tps("t", [-1, -1, -1]),
            tps("t", [5, 6, 7]),
            LagRules(offset_reset_policy=EARLIEST),
            18,
            18,
            3,
            3,
            id="no-commit-earliest-whole-partition",
        ),
        pytest.param(
            T3,
            tps("t", [-1, -1, -1]),
            tps("t", [5, 6, 7]),
            LagRules(offset_reset_policy=EARLIEST, scale_to_zero_on_invalid_offset=True),
            0,
            0,
            0,
            3,
            id="no-commit-earliest-scale-to-zero",
        ),
        pytest.param(
            T3,
            tps("t", [-1, 2, -1]),
            tps("t", [0, 8, 0]),
            LagRules(),
            8,
            8,
            3,
            3,
            id="no-commit-on-empty-partition-still-1",
        ),
        pytest.param(
            T3,
            tps("t", [1, 1, 1]),
            {("t", 0): 6, ("t", 1): 6},
            LagRules(lag_threshold=1),
            2,
            10,
            2,
            2,
            id="partition-missing-from-latest-not-counted",
        ),
        pytest.param(
            T3, tps("t", [15, 0, 0]), tps("t", [10, 3, 0]), LagRules(), -2, -2, 1, 3, id="negative-lag-summed"
        ),
        pytest.param(
            T3,
            tps("t", [0, 0, 0]),
            tps("t", [100, 0, 0]),
            LagRules(limit_to_partitions_with_lag=True),
            10,
            100,
            1,
            3,
            id="limit-to-partitions-with-lag",
        ),
        pytest.param(
            T3,
            tps("t", [0, 0, 0]),
            tps("t", [0, 0, 0]),
            LagRules(limit_to_partitions_with_lag=True),
            0,
            0,
            0,
            3,
            id="limit-with-no-lag",
        ),
        pytest.param(
            T3,
            tps("t", [0, 0, 0]),
            tps("t", [100, 0, 0]),
            LagRules(limit_to_partitions_with_lag=True, allow_idle_consumers=True),
            10,
            100,
            1,
            3,
            id="limit-caps-even-with-idle-consumers",
        ),
        pytest.param(
            {"a": [0], "b": [0, 1]},
            {("a", 0): 1, ("b", 0): 2, ("b", 1): 3},
            {("a", 0): 4, ("b", 0): 4, ("b", 1): 4},
            LagRules(lag_threshold=1),
            3,
            6,
            3,
            3,
            id="several-topics",
        ),
        pytest.param({}, {}, {}, LagRules(), 0, 0, 0, 0, id="nothing"),
    ],
)
def test_lag(
    partitions: dict[str, list[int]],
    committed: dict[tuple[str, int], int],
    latest: dict[tuple[str, int], int],
    rules: LagRules,
    total: int,
    with_persistent: int,
    with_lag: int,
    count: int,
) -> None:
    lag = kafka_lag.compute_lag(partitions, committed, latest, {}, rules)
    assert (lag.total_lag, lag.total_lag_with_persistent, lag.partitions_with_lag, lag.total_partitions) == (
        total,
        with_persistent,
        with_lag,
        count,
    )


SIX = {"t": [0, 1, 2, 3, 4, 5]}


@pytest.mark.parametrize(
    ("lag_per_partition", "allow_idle", "expected"),
    [
        pytest.param([0] * 6, False, 10, id="no-lag-still-one-consumer-worth"),
        pytest.param([25, 0, 0, 0, 0, 0], False, 30, id="25-rounds-up-to-3-consumers"),
        pytest.param([20, 0, 0, 0, 0, 0], False, 20, id="20-is-2-consumers"),
        pytest.param([45, 0, 0, 0, 0, 0], False, 60, id="45-rounds-up-to-6"),
        pytest.param([1000, 0, 0, 0, 0, 0], False, 60, id="beyond-partitions"),
        pytest.param([1000, 0, 0, 0, 0, 0], True, 60, id="even-distribution-caps-even-with-idle-consumers"),
    ],
)
def test_even_distribution(lag_per_partition: list[int], allow_idle: bool, expected: int) -> None:
    rules = LagRules(ensure_even_distribution_of_partitions=True, allow_idle_consumers=allow_idle)
    lag = kafka_lag.compute_lag(SIX, tps("t", [0] * 6), tps("t", lag_per_partition), {}, rules)
    assert lag.total_lag == expected
    assert lag.total_lag_with_persistent == sum(lag_per_partition)


def test_missing_committed_entry_is_an_error() -> None:
    with pytest.raises(kafka_lag.LagError, match="error finding offset block for topic t and partition 2"):
        kafka_lag.compute_lag(T3, {("t", 0): 0, ("t", 1): 0}, tps("t", [1, 1, 1]), {}, LagRules())


def test_persistent_lag_across_polls() -> None:
    rules = LagRules(exclude_persistent_lag=True, allow_idle_consumers=True)
    latest = tps("t", [10, 10, 10])
    first = kafka_lag.compute_lag(T3, tps("t", [2, 4, 10]), latest, {}, rules)
    assert (first.total_lag, first.total_lag_with_persistent) == (14, 14)
    assert first.previous == tps("t", [2, 4, 10])
    # Partition 0 did not move: its lag no longer counts for scaling, but still for activity.
    second = kafka_lag.compute_lag(T3, tps("t", [2, 6, 10]), latest, first.previous, rules)
    assert (second.total_lag, second.total_lag_with_persistent, second.partitions_with_lag) == (4, 12, 1)
    assert second.previous == tps("t", [2, 6, 10])
    third = kafka_lag.compute_lag(T3, tps("t", [3, 6, 10]), latest, second.previous, rules)
    assert (third.total_lag, third.total_lag_with_persistent) == (7, 11)


def test_invalid_offsets_are_not_recorded_for_persistent_lag() -> None:
    rules = LagRules(exclude_persistent_lag=True)
    lag = kafka_lag.compute_lag(T3, tps("t", [-1, -1, -1]), tps("t", [4, 4, 4]), {}, rules)
    assert lag.previous == {} and lag.total_lag == 3


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param(39, 10, 3, id="positive"),
        pytest.param(-5, 10, 0, id="toward-zero"),
        pytest.param(-15, 10, -1, id="neg"),
    ],
)
def test_go_integer_division(a: int, b: int, expected: int) -> None:
    assert kafka_lag.trunc_div(a, b) == expected


def test_factors() -> None:
    assert (
        kafka_lag.factors(12) == [1, 2, 3, 4, 6, 12]
        and kafka_lag.factors(1) == [1]
        and kafka_lag.factors(0) == []
    )


# --- step 1: partitions --------------------------------------------------------------------------------


def test_select_partitions_keeps_the_limitation() -> None:
    assert kafka_lag.select_partitions({"t": [0, 1, 2, 3]}, frozenset({1, 3, 9})) == {"t": [1, 3]}


def test_select_partitions_with_none_kept_is_an_error() -> None:
    with pytest.raises(
        kafka_lag.LagError, match="expected at least one active partition within the topic 't'"
    ):
        kafka_lag.select_partitions({"t": [0, 1]}, frozenset({5}))


# --- the scaler with an injected source --------------------------------------------------------------


async def test_reading_is_capped_lag_and_activity_uses_the_uncapped_lag() -> None:
    source = h.FakeOffsets(T3, tps("t", [0, 0, 0]), tps("t", [100, 100, 100]))
    scaler = h.fake_scaler({"topic": "t", "activationLagThreshold": "250"}, source)
    assert await scaler.read() == base.Reading(30, True)
    assert source.described == [["t"]]


@pytest.mark.parametrize(
    ("activation", "active"),
    [pytest.param("2", True, id="3-above-2"), pytest.param("3", False, id="3-not-above-3")],
)
async def test_activation_is_strict(activation: str, active: bool) -> None:
    source = h.FakeOffsets(T3, tps("t", [-1, -1, -1]), tps("t", [9, 9, 9]))
    reading = await h.fake_scaler({"topic": "t", "activationLagThreshold": activation}, source).read()
    assert reading == base.Reading(3, active)


async def test_persistent_lag_state_is_kept_between_polls() -> None:
    source = h.FakeOffsets(T3, tps("t", [0, 0, 0]), tps("t", [5, 5, 5]))
    scaler = h.fake_scaler({"topic": "t", "excludePersistentLag": "true", "lagThreshold": "1"}, source)
    assert await scaler.read() == base.Reading(3, True)  # 15, capped at 3 partitions × 1
    assert await scaler.read() == base.Reading(0, True)  # nobody moved: no scaling lag, still active
    source.committed_offsets[("t", 1)] = 2
    assert await scaler.read() == base.Reading(3, True)  # partition 1 moved: 3 of lag counts again


async def test_partition_limitation_is_applied() -> None:
    source = h.FakeOffsets(T3, tps("t", [0, 0, 0]), tps("t", [1, 2, 4]))
    reading = await h.fake_scaler(
        {"topic": "t", "partitionLimitation": "1-2", "lagThreshold": "100"}, source
    ).read()
    assert reading == base.Reading(6, True)


async def test_partition_limitation_keeping_nothing_is_a_source_error() -> None:
    source = h.FakeOffsets(T3, {}, {})
    with pytest.raises(base.SourceError, match="expected at least one active partition within the topic 't'"):
        await h.fake_scaler({"topic": "t", "partitionLimitation": "7"}, source).read()


async def test_topic_described_as_several_is_an_error() -> None:
    source = h.FakeOffsets(T3, {}, {})
    source.describe_answer = {"t": [0], "u": [0]}
    with pytest.raises(base.SourceError, match="expected only 1 topic metadata, got 2"):
        await h.fake_scaler({"topic": "t"}, source).read()


async def test_unknown_topic_is_a_source_error() -> None:
    with pytest.raises(base.SourceError, match="UnknownTopicOrPartitionError"):
        await h.fake_scaler({"topic": "nope"}, h.FakeOffsets(T3)).read()


async def test_without_topic_uses_the_groups_topics() -> None:
    topics = {"a": [0, 1], "b": [0], "unrelated": [0]}
    committed = {("a", 0): 1, ("a", 1): 1, ("b", 0): 0}
    latest = {("a", 0): 3, ("a", 1): 3, ("b", 0): 5, ("unrelated", 0): 1000}
    source = h.FakeOffsets(topics, committed, latest)
    scaler = h.fake_scaler({"lagThreshold": "100"}, source)
    assert await scaler.read() == base.Reading(9, True)
    assert source.described == [["a", "b"]]
    assert scaler.metric.name == "s0-kafka-g-topics"


async def test_without_topic_and_without_commits_there_is_no_lag() -> None:
    # KEDA (sarama) describes every topic of the cluster here (kedacore/keda#8104); Ebb counts none.
    source = h.FakeOffsets({"unrelated": [0]}, {}, {("unrelated", 0): 1000})
    assert await h.fake_scaler({}, source).read() == base.Reading(0, False)
    assert source.described == []


async def test_errors_never_show_the_password() -> None:
    source = h.FakeOffsets(T3, error=ConnectionError("SASL authentication failed for app:Sup3rSecret@broker"))
    scaler = h.fake_scaler(
        {"topic": "t"}, source, {"sasl": "plaintext", "username": "app", "password": "Sup3rSecret"}
    )
    with pytest.raises(base.SourceError) as caught:
        await scaler.read()
    assert "Sup3rSecret" not in str(caught.value)
    assert str(caught.value).startswith("error reading Kafka lag: ")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_aclose_closes_the_source() -> None:
    source = h.FakeOffsets(T3)
    await h.fake_scaler({"topic": "t"}, source).aclose()
    assert source.closed

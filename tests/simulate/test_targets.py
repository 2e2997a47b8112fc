"""Each trigger type's metric name, target and activation as the scaler registry declares them (checked
against KEDA's defaults), and matching trace columns to triggers."""

from __future__ import annotations

from typing import Any

import pytest

from scaler.core import simulation, specs
from scaler.triggers import trigger_targets

from . import scenarios
from .scenarios import scaled_object, trace

REDIS = {"address": "r:6379", "listName": "jobs"}
STREAMS = {"address": "r:6379", "stream": "s"}
RABBIT = {"host": "amqp://rabbit:5672/"}
KAFKA = {"bootstrapServers": "k:9092", "consumerGroup": "g"}
PROM = {"serverAddress": "http://p:9090", "query": "up"}
API = {"url": "http://api/metrics", "valueLocation": "queue.depth"}
CRON = {"timezone": "Etc/UTC", "start": "0 * * * *", "end": "30 * * * *", "desiredReplicas": "3"}


def targets(kind: str, metadata: dict[str, str]) -> simulation.TriggerTargets | None:
    """The registry's answer for a ScaledObject whose only trigger is `kind` with `metadata`."""
    spec = specs.ScaledObjectSpec(
        name="worker",
        namespace="default",
        scale_target_ref=specs.ScaleTargetRef(name="worker"),
        triggers=(specs.Trigger(type=kind, metadata=metadata, index=0),),
    )
    return trigger_targets.for_scaled_object(spec)(spec.triggers[0])


@pytest.mark.parametrize(
    ("kind", "metadata", "expected"),
    [
        pytest.param("redis", REDIS, ("s0-redis-jobs", 5, 0), id="redis-defaults"),
        pytest.param("redis", {**REDIS, "listLength": "20", "activationListLength": "3"}, ("s0-redis-jobs", 20, 3),
                     id="redis-listLength-activationListLength"),
        pytest.param("redis-cluster", {**REDIS, "listLength": " 7 "}, ("s0-redis-jobs", 7, 0), id="redis-cluster-trimmed"),
        pytest.param("redis-streams", {**STREAMS}, ("s0-redis-streams-s", 5, 0), id="streams-length"),
        pytest.param("redis-streams", {**STREAMS, "consumerGroup": "g", "pendingEntriesCount": "9"},
                     ("s0-redis-streams-s", 9, 0), id="streams-pending"),
        pytest.param("redis-streams", {**STREAMS, "consumerGroup": "g", "lagCount": "4", "activationLagCount": "1"},
                     ("s0-redis-streams-s", 4, 1), id="streams-lag"),
        pytest.param("rabbitmq", {**RABBIT, "queueName": "q"}, ("s0-rabbitmq-q", 20, 0), id="rabbitmq-default-20"),
        pytest.param("rabbitmq", {**RABBIT, "queueName": "a/b", "mode": "QueueLength", "value": "7.5", "activationValue": "2"},
                     ("s0-rabbitmq-a-2Fb", 7.5, 2), id="rabbitmq-value-activationValue"),
        pytest.param("rabbitmq", {**RABBIT, "queueName": "q", "queueLength": "12"}, ("s0-rabbitmq-q", 12, 0),
                     id="rabbitmq-deprecated-queueLength"),
        pytest.param("kafka", {**KAFKA, "topic": "orders"}, ("s0-kafka-orders", 10, 0), id="kafka-defaults"),
        pytest.param("kafka", {**KAFKA, "lagThreshold": "50", "activationLagThreshold": "5"},
                     ("s0-kafka-g-topics", 50, 5), id="kafka-no-topic"),
        pytest.param("prometheus", {**PROM, "threshold": "2.5", "activationThreshold": "1"}, ("s0-prometheus", 2.5, 1),
                     id="prometheus"),
        pytest.param("metrics-api", {**API, "targetValue": "8", "activationTargetValue": "2"},
                     ("s0-metric-api-queue-depth", 8, 2), id="metrics-api"),
        pytest.param("cron", CRON, ("s0-cron-Etc-UTC-0xxxx-30xxxx", 1, 0), id="cron-target-one"),
    ],
)  # fmt: skip
def test_table(kind: str, metadata: dict[str, str], expected: tuple[str, float | None, float]) -> None:
    got = targets(kind, metadata)
    assert got is not None
    assert (got.metric_name, got.target, got.activation) == expected


@pytest.mark.parametrize("kind", ["cpu", "memory"])
def test_resource_triggers_are_not_replayed(kind: str) -> None:
    assert targets(kind, {"value": "50"}) is None


@pytest.mark.parametrize(
    ("kind", "metadata", "field", "text"),
    [
        pytest.param("prometheus", PROM, "metadata.threshold", 'missing required parameter "threshold"', id="prometheus-threshold-missing"),
        pytest.param("prometheus", {**PROM, "threshold": "ten"}, "metadata.threshold", 'expected a number, got "ten"',
                     id="prometheus-threshold-bad"),
        pytest.param("redis", {**REDIS, "listLength": "5.5"}, "metadata.listLength", "expected an integer",
                     id="redis-listLength-not-integer"),
        pytest.param("kafka", {**KAFKA, "lagThreshold": "0"}, "metadata.lagThreshold", "must be at least 1, got 0",
                     id="kafka-lagThreshold-zero"),
        pytest.param("rabbitmq", {**RABBIT, "queueName": "q", "queueLength": "5", "value": "5"}, "metadata.queueLength",
                     "deprecated", id="rabbitmq-queueLength-with-value"),
        pytest.param("rabbitmq", {**RABBIT, "queueName": "q", "mode": "QueueLength"}, "metadata.value", "value must be specified",
                     id="rabbitmq-mode-without-value"),
        pytest.param("azure-queue", {}, "type", 'unknown trigger type "azure-queue"', id="unknown-type"),
    ],
)  # fmt: skip
def test_table_errors(kind: str, metadata: dict[str, str], field: str, text: str) -> None:
    with pytest.raises(simulation.TargetError, match=text) as caught:
        targets(kind, metadata)
    assert caught.value.field == field


def test_simulation_error_names_object_and_field() -> None:
    spec = scaled_object([{"type": "prometheus", "metadata": PROM}])
    with pytest.raises(simulation.SimulationError) as caught:
        scenarios.simulate(spec, trace("time,s0\n0,1\n"))
    assert str(caught.value) == (
        'ScaledObject/default/worker: spec.triggers[0].metadata.threshold: missing required parameter "threshold" in [triggerMetadata]'
    )


def test_targets_for_is_a_seam() -> None:
    def table(t: specs.Trigger) -> simulation.TriggerTargets:
        return simulation.TriggerTargets("custom-metric", 4.0, 1.0)

    spec = scaled_object([{"type": "something-new", "metadata": {}}], minReplicaCount=1)
    result = simulation.simulate(spec, trace("time,s0\n0,8\n"), simulation.Options(duration=0.5, initial_replicas=1),
                                 targets_for=table)  # fmt: skip
    assert result.targets == {"custom-metric": 4.0}
    assert result.steps[-1].replicas == 2


TWO = [
    {"type": "redis", "name": "orders", "metadata": REDIS},
    {"type": "redis", "metadata": {**REDIS, "listName": "other"}},
]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("time,orders,s1", ("s0-redis-jobs", "s1-redis-other"), id="by-name-and-index"),
        pytest.param("time,s1,s0", ("s0-redis-jobs", "s1-redis-other"), id="by-index-any-order"),
    ],
)
def test_columns_match_triggers(header: str, expected: tuple[str, ...]) -> None:
    result = scenarios.simulate(
        scaled_object(TWO), trace(f"{header}\n0,1,2\n"), simulation.Options(duration=1)
    )
    assert result.metric_names == expected
    values = dict(zip(header.split(",")[1:], (1.0, 2.0), strict=True))
    first = result.steps[0].metrics
    assert first["s0-redis-jobs"] == values.get("orders", values.get("s0"))


@pytest.mark.parametrize(
    ("triggers", "header", "message"),
    [
        pytest.param(TWO, "time,orders,s1,queue", 'trace.csv:1: column "queue": ScaledObject/default/worker has no '
                     "trigger of that name: expected one of orders, s0, s1", id="unknown-column"),
        pytest.param(TWO, "time,orders", 'trace.csv: no column for spec.triggers[1] (redis): add a column named "s1"',
                     id="missing-column"),
        pytest.param(TWO, "time,orders,s0,s1", 'trace.csv:1: columns "orders" and "s0" both name spec.triggers[0]',
                     id="same-trigger-twice"),
        pytest.param([TWO[0], {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}}],
                     "time,orders,s1", 'trace.csv:1: column "s1": spec.triggers[1] is a cpu trigger',
                     id="cpu-column"),
    ],
)  # fmt: skip
def test_column_errors(triggers: list[dict[str, Any]], header: str, message: str) -> None:
    cells = ",".join(["0"] * len(header.split(",")))
    with pytest.raises(simulation.SimulationError) as caught:
        scenarios.simulate(scaled_object(triggers, minReplicaCount=1), trace(f"{header}\n{cells}\n"))
    assert str(caught.value).startswith(message)

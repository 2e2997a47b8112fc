"""The operator's Prometheus instruments: KEDA's names and label sets, values read back from the registry,
series removed on `forget`, and Ebb's own decision and activation metrics."""

from __future__ import annotations

import enum

import prometheus_client
import pytest
from prometheus_client import parser

from scaler.operator import operator_metrics

NS, SO = "default", "orders"
KEDA_TRIGGER_LABELS = {"namespace", "metric", "scaledObject", "scaler", "triggerIndex", "type"}


def trigger_labels(scaler: str = "redisScaler", index: int = 0, metric: str = "s0-redis-orders") -> dict[str, str]:
    return {"namespace": NS, "metric": metric, "scaledObject": SO, "scaler": scaler, "triggerIndex": str(index),
            "type": "scaledobject"}


def observe(metrics: operator_metrics.OperatorMetrics, *, index: int = 0, name: str | None = None,
            scaler_type: str = "redis", metric: str = "s0-redis-orders", value: float = 7.0, active: bool = True,
            latency: float = 0.004) -> None:
    metrics.trigger_observed(NS, SO, index, name, scaler_type, metric, value, active, latency)


def families(metrics: operator_metrics.OperatorMetrics) -> dict[str, parser.Metric]:
    text = prometheus_client.generate_latest(metrics.registry).decode()
    return {family.name: family for family in parser.text_string_to_metric_families(text)}


@pytest.fixture
def metrics() -> operator_metrics.OperatorMetrics:
    return operator_metrics.OperatorMetrics()


# --- names and labels as KEDA has them ----------------------------------------------------------------------


def test_the_exposition_has_kedas_names_types_and_labels(metrics: operator_metrics.OperatorMetrics) -> None:
    observe(metrics)
    metrics.trigger_failed(NS, SO, 0, None, "redis", "s0-redis-orders")
    metrics.paused(NS, SO, False)
    metrics.loop_drift(NS, SO, 0.01)
    metrics.decided(NS, SO, "scale-up")
    metrics.activation_latency(NS, SO, 1.5)
    metrics.registered(NS, SO, ["redis"])
    found = families(metrics)
    expected = {
        # family name (the parser drops `_total` from counters) -> (type, label names)
        "keda_scaler_metrics_value": ("gauge", KEDA_TRIGGER_LABELS),
        "keda_scaler_metrics_latency_seconds": ("gauge", KEDA_TRIGGER_LABELS),
        "keda_scaler_active": ("gauge", KEDA_TRIGGER_LABELS),
        "keda_scaler_detail_errors": ("counter", KEDA_TRIGGER_LABELS),
        "keda_scaled_object_errors": ("counter", {"namespace", "scaledObject"}),
        "keda_scaled_object_paused": ("gauge", {"namespace", "scaledObject"}),
        "keda_internal_scale_loop_latency_seconds": ("gauge", {"namespace", "type", "resource"}),
        "keda_trigger_registered_total": ("gauge", {"type"}),
        "keda_resource_registered_total": ("gauge", {"type", "namespace"}),
        "keda_build_info": ("gauge", {"version", "git_commit", "goversion", "goos", "goarch"}),
        "ebb_scale_decisions": ("counter", {"namespace", "scaledObject", "reason"}),
        "ebb_activation_latency_seconds": ("histogram", {"namespace", "scaledObject"}),
    }
    for name, (kind, labels) in expected.items():
        assert name in found, f"{name} missing from /metrics"
        assert found[name].type == kind, name
        main = [s for s in found[name].samples if not s.name.endswith("_created")]
        assert main, name
        for sample in main:
            assert set(sample.labels) - {"le"} == labels, (name, sample.labels)


def test_no_created_series_as_kedas_go_client(metrics: operator_metrics.OperatorMetrics) -> None:
    observe(metrics)
    metrics.trigger_failed(NS, SO, 0, None, "redis", "s0-redis-orders")
    metrics.scaled_object_failed(NS, SO)
    metrics.decided(NS, SO, "NoChange")
    metrics.activation_latency(NS, SO, 0.2)
    text = prometheus_client.generate_latest(metrics.registry).decode()
    assert "keda_scaler_detail_errors_total{" in text
    assert "ebb_activation_latency_seconds_count{" in text
    assert "_created" not in text


def test_build_info_carries_ebbs_version() -> None:
    metrics = operator_metrics.OperatorMetrics(version="9.8.7", git_commit="abc1234")
    samples = families(metrics)["keda_build_info"].samples
    assert len(samples) == 1
    assert samples[0].labels["version"] == "9.8.7"
    assert samples[0].labels["git_commit"] == "abc1234"
    assert samples[0].labels["goversion"].startswith("cpython")
    assert samples[0].value == 1.0
    default = families(operator_metrics.OperatorMetrics())["keda_build_info"].samples[0]
    assert default.labels["version"] == operator_metrics.ebb_version() != "unknown"


@pytest.mark.parametrize(("scaler_type", "expected"), [
    pytest.param("redis", "redisScaler", id="redis"),
    pytest.param("redis-cluster", "redisScaler", id="redis-cluster"),
    pytest.param("redis-streams", "redisStreamsScaler", id="redis-streams"),
    pytest.param("redis-sentinel-streams", "redisStreamsScaler", id="redis-sentinel-streams"),
    pytest.param("rabbitmq", "rabbitMQScaler", id="rabbitmq"),
    pytest.param("kafka", "kafkaScaler", id="kafka"),
    pytest.param("apache-kafka", "apacheKafkaScaler", id="apache-kafka"),
    pytest.param("prometheus", "prometheusScaler", id="prometheus"),
    pytest.param("cron", "cronScaler", id="cron"),
    pytest.param("cpu", "cpuMemoryScaler", id="cpu"),
    pytest.param("memory", "cpuMemoryScaler", id="memory"),
    pytest.param("metrics-api", "metricsAPIScaler", id="metrics-api"),
    pytest.param("my-plugin_queue", "myPluginQueueScaler", id="third-party"),
    pytest.param("", "unknownScaler", id="empty"),
])
def test_an_unnamed_trigger_is_labelled_with_kedas_scaler_type_name(scaler_type: str, expected: str) -> None:
    assert operator_metrics.keda_scaler_name(scaler_type) == expected


def test_a_named_trigger_is_labelled_with_its_name(metrics: operator_metrics.OperatorMetrics) -> None:
    observe(metrics, name="orders-backlog", value=3)
    assert metrics.registry.get_sample_value("keda_scaler_metrics_value", trigger_labels(scaler="orders-backlog")) == 3
    assert metrics.registry.get_sample_value("keda_scaler_metrics_value", trigger_labels()) is None


# --- values -------------------------------------------------------------------------------------------------


def test_an_observation_sets_value_activity_and_latency(metrics: operator_metrics.OperatorMetrics) -> None:
    observe(metrics, value=42.5, active=True, latency=0.012)
    get = metrics.registry.get_sample_value
    assert get("keda_scaler_metrics_value", trigger_labels()) == 42.5
    assert get("keda_scaler_active", trigger_labels()) == 1.0
    assert get("keda_scaler_metrics_latency_seconds", trigger_labels()) == 0.012
    # Error counters exist at 0 from the first observation, so rate() works before the first error.
    assert get("keda_scaler_detail_errors_total", trigger_labels()) == 0.0
    assert get("keda_scaled_object_errors_total", {"namespace": NS, "scaledObject": SO}) == 0.0
    observe(metrics, value=0, active=False, latency=0.003)
    assert get("keda_scaler_metrics_value", trigger_labels()) == 0.0
    assert get("keda_scaler_active", trigger_labels()) == 0.0


def test_triggers_are_kept_apart_by_index_and_metric(metrics: operator_metrics.OperatorMetrics) -> None:
    observe(metrics, index=0, metric="s0-redis-orders", value=1)
    observe(metrics, index=1, scaler_type="kafka", metric="s1-kafka-orders", value=2)
    get = metrics.registry.get_sample_value
    assert get("keda_scaler_metrics_value", trigger_labels()) == 1
    assert get("keda_scaler_metrics_value", trigger_labels("kafkaScaler", 1, "s1-kafka-orders")) == 2


def test_a_failed_read_counts_for_the_trigger_and_the_object(metrics: operator_metrics.OperatorMetrics) -> None:
    observe(metrics, active=True)
    for _ in range(3):
        metrics.trigger_failed(NS, SO, 0, None, "redis", "s0-redis-orders")
    metrics.scaled_object_failed(NS, SO)
    get = metrics.registry.get_sample_value
    assert get("keda_scaler_detail_errors_total", trigger_labels()) == 3
    assert get("keda_scaled_object_errors_total", {"namespace": NS, "scaledObject": SO}) == 4
    assert get("keda_scaler_active", trigger_labels()) == 0.0


@pytest.mark.parametrize(("flags", "expected"), [
    pytest.param([True], 1.0, id="paused"),
    pytest.param([True, False], 0.0, id="unpaused"),
])
def test_paused(metrics: operator_metrics.OperatorMetrics, flags: list[bool], expected: float) -> None:
    for flag in flags:
        metrics.paused(NS, SO, flag)
    assert metrics.registry.get_sample_value("keda_scaled_object_paused", {"namespace": NS, "scaledObject": SO}) == expected


def test_loop_drift_is_kedas_internal_scale_loop_latency(metrics: operator_metrics.OperatorMetrics) -> None:
    metrics.loop_drift(NS, SO, 0.021)
    assert metrics.registry.get_sample_value(
        "keda_internal_scale_loop_latency_seconds", {"namespace": NS, "type": "scaledobject", "resource": SO}) == 0.021


def test_every_tick_lands_in_the_drift_histogram(metrics: operator_metrics.OperatorMetrics) -> None:
    for drift in (0.0005, 0.02, 0.04, 0.3):
        metrics.loop_drift(NS, SO, drift)
    metrics.loop_drift(NS, "other", 0.07)

    def bucket(le: str) -> float | None:
        return metrics.registry.get_sample_value("ebb_scale_loop_drift_seconds_bucket", {"le": le})

    assert (bucket("0.001"), bucket("0.05"), bucket("0.1"), bucket("+Inf")) == (1, 3, 4, 5)
    assert metrics.registry.get_sample_value("ebb_scale_loop_drift_seconds_count") == 5


class Reason(str, enum.Enum):
    SCALE_UP = "scale-up"


def test_decisions_are_counted_by_reason_and_enum_reasons_use_their_value(
        metrics: operator_metrics.OperatorMetrics) -> None:
    metrics.decided(NS, SO, Reason.SCALE_UP)
    metrics.decided(NS, SO, "scale-up")
    metrics.decided(NS, SO, "cooldown")
    get = metrics.registry.get_sample_value
    assert get("ebb_scale_decisions_total", {"namespace": NS, "scaledObject": SO, "reason": "scale-up"}) == 2
    assert get("ebb_scale_decisions_total", {"namespace": NS, "scaledObject": SO, "reason": "cooldown"}) == 1


def test_activation_latency_is_a_histogram(metrics: operator_metrics.OperatorMetrics) -> None:
    for seconds in (0.4, 1.5, 12.0):
        metrics.activation_latency(NS, SO, seconds)
    get = metrics.registry.get_sample_value
    labels = {"namespace": NS, "scaledObject": SO}
    assert get("ebb_activation_latency_seconds_count", labels) == 3
    assert get("ebb_activation_latency_seconds_sum", labels) == pytest.approx(13.9)
    assert get("ebb_activation_latency_seconds_bucket", labels | {"le": "0.5"}) == 1
    assert get("ebb_activation_latency_seconds_bucket", labels | {"le": "2.0"}) == 2
    assert get("ebb_activation_latency_seconds_bucket", labels | {"le": "+Inf"}) == 3


def test_registration_counts_objects_and_trigger_types(metrics: operator_metrics.OperatorMetrics) -> None:
    metrics.registered(NS, "orders", ["redis", "cron"])
    metrics.registered(NS, "orders", ["redis", "cron"])  # a second reconcile changes nothing
    metrics.registered(NS, "payments", ["redis"])
    metrics.registered("team-b", "queue", ["kafka"])
    get = metrics.registry.get_sample_value
    assert get("keda_trigger_registered_total", {"type": "redis"}) == 2
    assert get("keda_trigger_registered_total", {"type": "cron"}) == 1
    assert get("keda_resource_registered_total", {"type": "scaled_object", "namespace": NS}) == 2
    metrics.registered(NS, "orders", ["kafka"])  # spec changed
    assert get("keda_trigger_registered_total", {"type": "redis"}) == 1
    assert get("keda_trigger_registered_total", {"type": "cron"}) == 0
    assert get("keda_trigger_registered_total", {"type": "kafka"}) == 2
    metrics.resource_registered("trigger_authentication", NS, "redis-auth")
    metrics.resource_registered("trigger_authentication", NS, "redis-auth")
    assert get("keda_resource_registered_total", {"type": "trigger_authentication", "namespace": NS}) == 1
    metrics.resource_forgotten("trigger_authentication", NS, "redis-auth")
    metrics.resource_forgotten("trigger_authentication", NS, "redis-auth")
    assert get("keda_resource_registered_total", {"type": "trigger_authentication", "namespace": NS}) == 0


# --- forgetting and isolation -------------------------------------------------------------------------------


def test_forget_removes_every_series_of_the_object_and_only_those(metrics: operator_metrics.OperatorMetrics) -> None:
    for name in ("orders", "payments"):
        metrics.trigger_observed(NS, name, 0, None, "redis", "s0-redis-x", 5, True, 0.001)
        metrics.trigger_failed(NS, name, 0, None, "redis", "s0-redis-x")
        metrics.paused(NS, name, False)
        metrics.loop_drift(NS, name, 0.002)
        metrics.decided(NS, name, "steady")
        metrics.activation_latency(NS, name, 1.0)
        metrics.registered(NS, name, ["redis"])
    metrics.forget(NS, "orders")
    metrics.forget(NS, "orders")  # twice is harmless
    metrics.forget(NS, "never-seen")
    text = prometheus_client.generate_latest(metrics.registry).decode()
    series = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert not [line for line in series if '"orders"' in line]
    assert len([line for line in series if '"payments"' in line]) >= 9
    get = metrics.registry.get_sample_value
    assert get("keda_trigger_registered_total", {"type": "redis"}) == 1
    assert get("keda_resource_registered_total", {"type": "scaled_object", "namespace": NS}) == 1
    # Observing again after forgetting starts fresh.
    metrics.trigger_failed(NS, "orders", 0, None, "redis", "s0-redis-x")
    assert get("keda_scaled_object_errors_total", {"namespace": NS, "scaledObject": "orders"}) == 1


def test_each_instance_has_its_own_registry() -> None:
    first, second = operator_metrics.OperatorMetrics(), operator_metrics.OperatorMetrics()
    first.paused(NS, SO, True)
    assert second.registry.get_sample_value("keda_scaled_object_paused", {"namespace": NS, "scaledObject": SO}) is None
    assert prometheus_client.REGISTRY.get_sample_value("keda_scaled_object_paused",
                                                       {"namespace": NS, "scaledObject": SO}) is None


def test_a_given_registry_is_used_and_duplicates_are_refused() -> None:
    registry = prometheus_client.CollectorRegistry()
    metrics = operator_metrics.OperatorMetrics(registry)
    assert metrics.registry is registry
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        operator_metrics.OperatorMetrics(registry)

"""The `cpu` and `memory` trigger types: KEDA's parameter rules, the Resource / ContainerResource metric
they produce, what `read()` does (nothing is polled), and the Kubernetes quantity parser."""

from __future__ import annotations

import pytest

from scalers import base, connections, params, resource_metrics

CPU = resource_metrics.CPU
MEMORY = resource_metrics.MEMORY


def inputs(metadata: dict[str, str], metric_type: str, type_name: str = "cpu") -> base.TriggerInputs:
    return base.TriggerInputs(type=type_name, index=0, metadata=metadata, metric_type=metric_type)


def metric_or_problems(
    scaler_type: base.ScalerType[resource_metrics.ResourceParams], metadata: dict[str, str], metric_type: str
) -> base.MetricSpec | list[str]:
    trigger = inputs(metadata, metric_type, scaler_type.name)
    try:
        return scaler_type.metric(params.parse(scaler_type.params, trigger).value, trigger)
    except base.ConfigError as error:
        return [str(p) for p in error.problems]


@pytest.mark.parametrize(
    ("scaler_type", "metadata", "metric_type", "expected"),
    [
        pytest.param(
            CPU,
            {"value": "50"},
            "Utilization",
            base.MetricSpec("cpu", "Utilization", 50.0, source=base.MetricSource.RESOURCE, resource="cpu"),
            id="cpu-utilization",
        ),
        pytest.param(
            CPU,
            {"value": "500m"},
            "AverageValue",
            base.MetricSpec("cpu", "AverageValue", 0.5, source=base.MetricSource.RESOURCE, resource="cpu"),
            id="cpu-average-value-millicores",
        ),
        pytest.param(
            MEMORY,
            {"value": "256Mi", "containerName": "app"},
            "AverageValue",
            base.MetricSpec(
                "memory",
                "AverageValue",
                268435456.0,
                source=base.MetricSource.CONTAINER_RESOURCE,
                resource="memory",
                container="app",
            ),
            id="memory-container-resource",
        ),
        pytest.param(
            MEMORY,
            {"value": "75", "containerName": "  "},
            "Utilization",
            base.MetricSpec(
                "memory", "Utilization", 75.0, source=base.MetricSource.RESOURCE, resource="memory"
            ),
            id="blank-container-is-absent",
        ),
        pytest.param(
            CPU, {}, "Utilization", ['metadata.value: missing required parameter "value"'], id="no-value"
        ),
        pytest.param(
            CPU,
            {"value": "50", "type": "Utilization"},
            "Utilization",
            ["metadata.type: the 'type' setting was removed in KEDA v2.18"],
            id="deprecated-type",
        ),
        pytest.param(
            CPU,
            {"value": "50"},
            "Value",
            ['metricType: cpu triggers support Utilization or AverageValue, got "Value"'],
            id="value-type",
        ),
        pytest.param(
            CPU, {"value": "50"}, "", ["metricType: cpu triggers need metricType"], id="no-metric-type"
        ),
        pytest.param(
            CPU,
            {"value": "50.5"},
            "Utilization",
            ["metadata.value: metricType Utilization needs a whole percent"],
            id="fractional-percent",
        ),
        pytest.param(
            CPU,
            {"value": "0"},
            "Utilization",
            ["metadata.value: metricType Utilization needs a whole percent above 0"],
            id="zero-percent",
        ),
        pytest.param(
            CPU,
            {"value": "3000000000"},
            "Utilization",
            ["metadata.value: metricType Utilization"],
            id="percent-beyond-int32",
        ),
        pytest.param(
            MEMORY,
            {"value": "lots"},
            "AverageValue",
            ["metadata.value: metricType AverageValue needs a quantity"],
            id="not-a-quantity",
        ),
        pytest.param(
            MEMORY,
            {"value": "-1Gi"},
            "AverageValue",
            ["metadata.value: must be above 0"],
            id="negative-quantity",
        ),
    ],
)
def test_parameters_and_metric(
    scaler_type: base.ScalerType[resource_metrics.ResourceParams],
    metadata: dict[str, str],
    metric_type: str,
    expected: base.MetricSpec | list[str],
) -> None:
    found = metric_or_problems(scaler_type, metadata, metric_type)
    if isinstance(expected, list):
        assert isinstance(found, list), found
        assert len(found) == len(expected), found
        for fragment, problem in zip(expected, found, strict=True):
            assert fragment in problem
    else:
        assert found == expected


async def test_read_reports_that_the_metrics_server_serves_it() -> None:
    trigger = inputs({"value": "50"}, "Utilization")
    clients = connections.SharedClients()
    scaler = CPU.build(
        params.parse(CPU.params, trigger).value, trigger, base.BuildContext(clients, lambda: 0.0)
    )
    assert scaler.metric.source is base.MetricSource.RESOURCE
    with pytest.raises(
        resource_metrics.NotPolled, match="served to the HPA by the Kubernetes metrics-server"
    ):
        await scaler.read()
    # Not a SourceError: a cpu trigger never counts towards fallback.
    assert not issubclass(resource_metrics.NotPolled, base.SourceError)
    await scaler.aclose()
    assert len(clients) == 0


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("1", 1.0, id="integer"),
        pytest.param("1.5", 1.5, id="decimal"),
        pytest.param(".5", 0.5, id="leading-dot"),
        pytest.param("+2", 2.0, id="plus"),
        pytest.param("-2", -2.0, id="minus"),
        pytest.param("250m", 0.25, id="milli"),
        pytest.param("100u", 0.0001, id="micro"),
        pytest.param("5n", 5e-9, id="nano"),
        pytest.param("2k", 2000.0, id="kilo"),
        pytest.param("3M", 3e6, id="mega"),
        pytest.param("1G", 1e9, id="giga"),
        pytest.param("1Ki", 1024.0, id="kibi"),
        pytest.param("256Mi", 268435456.0, id="mebi"),
        pytest.param("1.5Gi", 1610612736.0, id="fractional-gibi"),
        pytest.param("1e3", 1000.0, id="exponent"),
        pytest.param("1.5E-3", 0.0015, id="negative-exponent"),
    ],
)
def test_quantities(text: str, value: float) -> None:
    assert resource_metrics.parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "m", "1mi", "1KB", "1 Gi", "abc", "1.2.3", "1e", "0x10", "1_000"])
def test_not_quantities(text: str) -> None:
    with pytest.raises(ValueError, match="is not a quantity"):
        resource_metrics.parse_quantity(text)

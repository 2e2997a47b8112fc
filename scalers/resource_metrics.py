"""The `cpu` and `memory` trigger types, and the Kubernetes quantity parser the HTTP scalers share.

These triggers feed the HPA a Resource metric (ContainerResource when `containerName` is set), which the
Kubernetes metrics-server serves; Ebb never polls them. KEDA's cpu/memory scaler returns no metric value
and `active = true` from `GetMetricsAndActivity`. A `Reading` always carries a number, so rather than
invent one, `read()` raises `NotPolled`: callers recognise these triggers by `metric.source`
(`Resource` / `ContainerResource`) and count them as active without reading them.

Parameters (KEDA `cpu_memory_scaler.go`): `value` (required), `containerName` (optional), the old
`type` metadata is an error (removed in KEDA v2.18), and the trigger's `metricType` must be
`Utilization` (an integer percent) or `AverageValue` (a quantity such as `500m` or `256Mi`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from scalers import base, params

# --- Kubernetes quantities -----------------------------------------------------------------------------

_QUANTITY = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))(.*)")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_EXPONENT = re.compile(r"[eE]([+-]?\d+)")


def parse_quantity(text: str) -> float:
    """A Kubernetes quantity (`"1.5"`, `"500m"`, `"256Mi"`, `"2e3"`) as a float. Raises ValueError."""
    match = _QUANTITY.fullmatch(text.strip())
    if match is None:
        raise ValueError(f'"{text}" is not a quantity')
    number_text, suffix = match.groups()
    try:
        number = Decimal(number_text)
    except InvalidOperation:  # pragma: no cover - the regex only lets numbers through
        raise ValueError(f'"{text}" is not a quantity') from None
    if suffix in _BINARY:
        return float(number * _BINARY[suffix])
    if suffix in _DECIMAL:
        return float(number * _DECIMAL[suffix])
    exponent = _EXPONENT.fullmatch(suffix)
    if exponent is not None:
        return float(number.scaleb(int(exponent.group(1))))
    raise ValueError(f'"{text}" is not a quantity (unknown suffix "{suffix}")')


# --- the trigger types -------------------------------------------------------------------------------

_INT32_MAX = 2**31 - 1


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResourceParams:
    value: str = params.param(
        "value", doc="the target: a percent for metricType Utilization, a quantity for AverageValue"
    )
    container_name: str | None = params.param(
        "containerName", default=None, doc="measure only this container (a ContainerResource metric)"
    )
    type: str | None = params.param(
        "type",
        default=None,
        deprecated="the 'type' setting was removed in KEDA v2.18; set the trigger's metricType instead",
        doc="removed: use the trigger's metricType",
    )


class NotPolled(base.ScalerError):
    """Raised by `read()` of a cpu/memory trigger: the metrics-server serves it, Ebb never reads it."""


def _target(resource: str, p: ResourceParams, inputs: base.TriggerInputs) -> tuple[str, float]:
    metric_type = inputs.metric_type
    if not metric_type:
        raise base.ConfigError(
            [
                base.ParamProblem(
                    "metricType", f"{resource} triggers need metricType Utilization or AverageValue"
                )
            ]
        )
    if metric_type == "Utilization":
        if not re.fullmatch(r"[+-]?\d+", p.value) or not 0 < int(p.value) <= _INT32_MAX:
            raise base.ConfigError(
                [
                    base.ParamProblem(
                        "metadata.value",
                        f'metricType Utilization needs a whole percent above 0, got "{p.value}"',
                    )
                ]
            )
        return "Utilization", float(int(p.value))
    if metric_type == "AverageValue":
        try:
            quantity = parse_quantity(p.value)
        except ValueError:
            raise base.ConfigError(
                [
                    base.ParamProblem(
                        "metadata.value",
                        f'metricType AverageValue needs a quantity such as "500m" or "256Mi", got "{p.value}"',
                    )
                ]
            ) from None
        if quantity <= 0:
            raise base.ConfigError([base.ParamProblem("metadata.value", f'must be above 0, got "{p.value}"')])
        return "AverageValue", quantity
    raise base.ConfigError(
        [
            base.ParamProblem(
                "metricType", f'{resource} triggers support Utilization or AverageValue, got "{metric_type}"'
            )
        ]
    )


def _metric_for(resource: str) -> Callable[[ResourceParams, base.TriggerInputs], base.MetricSpec]:
    def metric(p: ResourceParams, inputs: base.TriggerInputs) -> base.MetricSpec:
        target_type, target = _target(resource, p, inputs)
        return base.MetricSpec(
            name=resource,
            target_type=target_type,
            target=target,
            source=base.MetricSource.CONTAINER_RESOURCE if p.container_name else base.MetricSource.RESOURCE,
            resource=resource,
            container=p.container_name,
        )

    return metric


class ResourceScaler:
    """A built cpu/memory trigger: it only carries its metric; see the module docstring for `read`."""

    def __init__(self, metric: base.MetricSpec) -> None:
        self._metric = metric

    @property
    def metric(self) -> base.MetricSpec:
        return self._metric

    async def read(self) -> base.Reading:
        raise NotPolled(
            f"{self._metric.resource} is served to the HPA by the Kubernetes metrics-server; Ebb does not "
            "read it (KEDA counts cpu/memory triggers as always active)"
        )

    async def aclose(self) -> None:
        return None


def _build_for(
    resource: str,
) -> Callable[[ResourceParams, base.TriggerInputs, base.BuildContext], base.Scaler]:
    metric = _metric_for(resource)

    def build(p: ResourceParams, inputs: base.TriggerInputs, context: base.BuildContext) -> base.Scaler:
        return ResourceScaler(metric(p, inputs))

    return build


CPU: base.ScalerType[ResourceParams] = base.ScalerType(
    name="cpu",
    params=ResourceParams,
    metric=_metric_for("cpu"),
    build=_build_for("cpu"),
    doc="CPU of the target's pods (an HPA Resource metric served by the Kubernetes metrics-server).",
)

MEMORY: base.ScalerType[ResourceParams] = base.ScalerType(
    name="memory",
    params=ResourceParams,
    metric=_metric_for("memory"),
    build=_build_for("memory"),
    doc="Memory of the target's pods (an HPA Resource metric served by the Kubernetes metrics-server).",
)

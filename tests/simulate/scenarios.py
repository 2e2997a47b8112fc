"""Helpers for the simulator tests: ScaledObjects and traces built in a line or two."""

from __future__ import annotations

from typing import Any

from scaler.core import simulation, specs, traces
from scaler.triggers import trigger_targets


def scaled_object(
    triggers: list[dict[str, Any]] | None = None, annotations: dict[str, str] | None = None, **spec: Any
) -> specs.ScaledObjectSpec:
    metadata: dict[str, Any] = {"name": "worker", "namespace": "default"}
    if annotations:
        metadata["annotations"] = annotations
    body = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": metadata,
        "spec": {
            "scaleTargetRef": {"name": "worker"},
            "triggers": triggers
            or [
                {
                    "type": "redis",
                    "metadata": {"address": "redis:6379", "listName": "jobs", "listLength": "10"},
                }
            ],
            **spec,
        },
    }
    return specs.parse_scaled_object(body)


def trace(text: str) -> traces.Trace:
    return traces.parse(text, "trace.csv")


def at(result: simulation.Result, time: float, source: str) -> simulation.Step:
    (step,) = [s for s in result.steps if s.time == time and s.source == source]
    return step


def of(result: simulation.Result, source: str) -> list[simulation.Step]:
    return [s for s in result.steps if s.source == source]


def simulate(
    spec: specs.ScaledObjectSpec, trace: traces.Trace, options: simulation.Options | None = None
) -> simulation.Result:
    """`simulation.simulate` with each trigger's targets from the scaler registry, as `ebb simulate` does."""
    return simulation.simulate(spec, trace, options, targets_for=trigger_targets.for_scaled_object(spec))

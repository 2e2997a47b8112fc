"""Asking every trigger's event source once: what `ebb probe` prints.

`probe(report)` takes a `validating.Report` (ScaledObjects validated together with the Secrets,
ConfigMaps, workloads and (Cluster)TriggerAuthentications among the documents), builds each trigger of
each valid ScaledObject through the scaler registry with one shared `connections.SharedClients` (so
triggers on the same server share a connection and, for Redis, one pipeline), reads them all
concurrently, each within its trigger's timeout, and returns one `Row` per trigger: metric name, value,
target, activation threshold, whether it is active, or the error. An invalid ScaledObject gives one row
with its errors. Every message is masked: no value resolved from a Secret appears in a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from typing import Any

from scaler.core import auth_resolution, specs, validating
from scaler.triggers import trigger_checks
from scalers import base, connections, registry


@dataclasses.dataclass(frozen=True)
class Row:
    scaled_object: str
    index: int | None = None
    name: str | None = None
    type: str | None = None
    metric_name: str | None = None
    value: float | None = None
    target: float | None = None
    activation_threshold: float | None = None
    active: bool | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "scaledObject": self.scaled_object,
            "index": self.index,
            "name": self.name,
            "type": self.type,
            "metricName": self.metric_name,
            "value": self.value,
            "target": self.target,
            "activationThreshold": self.activation_threshold,
            "active": self.active,
            "error": self.error,
        }


@dataclasses.dataclass
class _Job:
    row: Row
    prepared: trigger_checks.Prepared | None = None
    scaler: base.Scaler | None = None


def _invalid(item: validating.ObjectReport) -> Row:
    return Row(
        scaled_object=item.ref, error="invalid ScaledObject: " + "; ".join(str(p) for p in item.errors)
    )


def _plan(
    so: specs.ScaledObjectSpec,
    trigger: specs.Trigger,
    cluster: validating.Cluster,
    scalers: registry.Registry,
    clients: connections.SharedClients,
) -> _Job:
    row = Row(scaled_object=so.ref, index=trigger.index, name=trigger.name, type=trigger.type)
    prepared = trigger_checks.prepare(
        so,
        trigger,
        auth_resolution.FileSource(cluster),
        cluster.workload(so),
        cluster_object_namespace=cluster.cluster_object_namespace,
    )
    try:
        resolved = prepared.resolve(scalers)
        metric = resolved.metric
        row = dataclasses.replace(
            row, metric_name=metric.name, target=metric.target, activation_threshold=metric.activation
        )
        context = base.BuildContext(clients=clients, clock=time.time)
        return _Job(row, prepared, resolved.build(prepared.inputs, context))
    except base.ScalerError as error:
        return _Job(dataclasses.replace(row, error=prepared.mask(str(error))), prepared)
    except Exception as error:  # a plugin's bug stays in its own row
        return _Job(dataclasses.replace(row, error=f"the scaler failed: {type(error).__name__}"), prepared)


async def _read(job: _Job) -> Row:
    if job.scaler is None or job.prepared is None:
        return job.row
    prepared = job.prepared
    if job.scaler.metric.source is not base.MetricSource.EXTERNAL:
        # cpu/memory are Resource metrics: the Kubernetes metrics-server serves them, nobody polls them,
        # and KEDA counts such triggers as always active.
        return dataclasses.replace(job.row, active=True)
    try:
        async with asyncio.timeout(prepared.inputs.timeout):
            reading = await job.scaler.read()
    except TimeoutError:
        return dataclasses.replace(job.row, error=f"no answer within {prepared.inputs.timeout:g}s")
    except base.ScalerError as error:
        return dataclasses.replace(job.row, error=prepared.mask(str(error)))
    except Exception as error:  # the text of an unknown error could quote a secret: its type only
        return dataclasses.replace(job.row, error=f"the scaler failed: {type(error).__name__}")
    return dataclasses.replace(job.row, value=reading.value, active=reading.active)


async def probe(report: validating.Report, *, scalers: registry.Registry | None = None) -> list[Row]:
    """One row per trigger of every ScaledObject in `report` (one row per invalid ScaledObject)."""
    scalers = scalers or registry.default()
    clients = connections.SharedClients()
    rows: list[Row | None] = []
    jobs: list[_Job] = []
    for item in report.scaled_objects:
        spec = item.spec
        if not item.valid or not isinstance(spec, specs.ScaledObjectSpec):
            rows.append(_invalid(item))
            continue
        for trigger in spec.triggers:
            jobs.append(_plan(spec, trigger, report.cluster, scalers, clients))
            rows.append(None)
    try:
        read = await asyncio.gather(*(_read(job) for job in jobs))
    finally:
        for job in jobs:
            if job.scaler is not None:
                with contextlib.suppress(Exception):  # closing must not hide the readings
                    await job.scaler.aclose()
        await clients.aclose()
    results = iter(read)
    return [row if row is not None else next(results) for row in rows]


def failed(rows: list[Row]) -> bool:
    return any(row.error is not None for row in rows)

"""Helpers shared by the Redis scaler tests: parsing a trigger, building scalers over shared clients."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from scalers import base, connections, params


def inputs(
    metadata: Mapping[str, str],
    auth: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    type_name: str = "redis",
    index: int = 0,
    timeout: float = 2.0,
) -> base.TriggerInputs:
    return base.TriggerInputs(
        type=type_name,
        index=index,
        metadata=dict(metadata),
        auth_params=dict(auth or {}),
        resolved_env=dict(env or {}),
        timeout=timeout,
    )


def problems_of(scaler_type: base.ScalerType[Any], trigger: base.TriggerInputs) -> list[str]:
    """The errors `params.parse` reports (empty when the trigger is accepted)."""
    try:
        params.parse(scaler_type.params, trigger)
    except base.ConfigError as error:
        return [str(p) for p in error.problems]
    return []


def warnings_of(scaler_type: base.ScalerType[Any], trigger: base.TriggerInputs) -> list[str]:
    return [str(p) for p in params.parse(scaler_type.params, trigger).warnings]


def build(
    scaler_type: base.ScalerType[Any], trigger: base.TriggerInputs, clients: connections.SharedClients
) -> base.Scaler:
    parsed = params.parse(scaler_type.params, trigger).value
    return scaler_type.build(parsed, trigger, base.BuildContext(clients=clients, clock=time.monotonic))

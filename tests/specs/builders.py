"""Small manifest builders for the spec tests: a valid base object and a deep-merge to vary it."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

DELETE = object()  # a merge value that removes the key


def merged(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `patch` merged in: mappings merge recursively, anything else (lists too) replaces."""
    result = copy.deepcopy(dict(base))
    for key, value in patch.items():
        if value is DELETE:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def redis_trigger(**extra: Any) -> dict[str, Any]:
    return {
        "type": "redis",
        "metadata": {"address": "redis:6379", "listName": "jobs", "listLength": "5"},
        **extra,
    }


def scaled_object(patch: Mapping[str, Any] | None = None) -> dict[str, Any]:
    base = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "orders", "namespace": "shop"},
        "spec": {"scaleTargetRef": {"name": "worker"}, "triggers": [redis_trigger()]},
    }
    return merged(base, patch or {})


def trigger_authentication(
    patch: Mapping[str, Any] | None = None, *, kind: str = "TriggerAuthentication"
) -> dict[str, Any]:
    metadata = (
        {"name": "redis-auth"}
        if kind == "ClusterTriggerAuthentication"
        else {"name": "redis-auth", "namespace": "shop"}
    )
    base = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": kind,
        "metadata": metadata,
        "spec": {"secretTargetRef": [{"parameter": "password", "name": "redis", "key": "password"}]},
    }
    return merged(base, patch or {})

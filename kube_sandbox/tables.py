"""`meta.k8s.io/v1` Table output, as `kubectl get` asks for it: printer columns and their cells.

CRDs bring `additionalPrinterColumns` (JSONPath); a few built-ins have the columns kubectl users know
(pods, deployments, ...); everything else gets NAME and AGE. Ages are rendered from `now` (injected).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kube_sandbox import resources

_TOKEN = re.compile(r"""\.(?P<name>[^.\[]+)|\[(?P<index>\*|-?\d+)\]|\[\?\(@\.(?P<fkey>[\w.]+)\s*==\s*(?P<fval>"[^"]*"|'[^']*'|[^)\s]+)\)\]""")


def jsonpath(obj: Any, path: str) -> list[Any]:
    """Evaluate the JSONPath subset printer columns use: `.a.b`, `[0]`, `[*]`, `[?(@.k=="v")]`."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if text.startswith("$"):
        text = text[1:]
    current = [obj]
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            return []
        pos = match.end()
        nxt: list[Any] = []
        for value in current:
            if match["name"] is not None:
                if isinstance(value, Mapping) and match["name"] in value:
                    nxt.append(value[match["name"]])
            elif match["index"] is not None:
                if isinstance(value, list):
                    if match["index"] == "*":
                        nxt.extend(value)
                    else:
                        i = int(match["index"])
                        if -len(value) <= i < len(value):
                            nxt.append(value[i])
            else:
                raw = match["fval"]
                wanted = raw[1:-1] if raw[:1] in "\"'" else raw
                if isinstance(value, list):
                    for item in value:
                        found = jsonpath(item, "." + match["fkey"])
                        if found and str(_plain(found[0])) == wanted:
                            nxt.append(item)
        current = nxt
    return current


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(value: Any, now: datetime.datetime) -> str:
    if not isinstance(value, str):
        return "<unknown>"
    try:
        moment = datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return "<unknown>"
    return human_duration((now - moment).total_seconds())


Cell = Callable[[Mapping[str, Any], datetime.datetime], Any]


def _name(obj: Mapping[str, Any], now: datetime.datetime) -> Any:
    return obj["metadata"]["name"]


def _created(obj: Mapping[str, Any], now: datetime.datetime) -> Any:
    return _age(obj["metadata"].get("creationTimestamp"), now)


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    current: Any = obj
    for step in path:
        current = current.get(step) if isinstance(current, Mapping) else None
    return current


def _pod_ready(obj: Mapping[str, Any], now: datetime.datetime) -> Any:
    statuses = _get(obj, "status", "containerStatuses") or []
    total = len(_get(obj, "spec", "containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_status(obj: Mapping[str, Any], now: datetime.datetime) -> Any:
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    return _get(obj, "status", "phase") or "Unknown"


def _restarts(obj: Mapping[str, Any], now: datetime.datetime) -> Any:
    return sum(int(s.get("restartCount", 0)) for s in _get(obj, "status", "containerStatuses") or [])


def _int(*path: str) -> Cell:
    return lambda obj, now: int(_get(obj, *path) or 0)


def _ready_of(obj: Mapping[str, Any], now: datetime.datetime) -> Any:
    return f"{int(_get(obj, 'status', 'readyReplicas') or 0)}/{int(_get(obj, 'spec', 'replicas') or 0)}"


def _str(*path: str, default: str = "<none>") -> Cell:
    def cell(obj: Mapping[str, Any], now: datetime.datetime) -> Any:
        value = _get(obj, *path)
        return default if value in (None, "") else str(value)
    return cell


def _data_count(obj: Mapping[str, Any], now: datetime.datetime) -> Any:
    return len(obj.get("data") or {}) + len(obj.get("binaryData") or {})


def _ports(obj: Mapping[str, Any], now: datetime.datetime) -> Any:
    ports = _get(obj, "spec", "ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _hpa_ref(obj: Mapping[str, Any], now: datetime.datetime) -> Any:
    ref = _get(obj, "spec", "scaleTargetRef") or {}
    return f"{ref.get('kind')}/{ref.get('name')}"


def _involved(obj: Mapping[str, Any], now: datetime.datetime) -> Any:
    ref = obj.get("involvedObject") or obj.get("regarding") or {}
    return f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}"


def _last_seen(obj: Mapping[str, Any], now: datetime.datetime) -> Any:
    return _age(obj.get("lastTimestamp") or obj.get("eventTime") or obj["metadata"].get("creationTimestamp"), now)


Column = tuple[str, str, Cell, int]  # name, type, cell, priority
_NAME: Column = ("Name", "string", _name, 0)
_AGE: Column = ("Age", "string", _created, 0)

BUILTIN_COLUMNS: dict[str, tuple[Column, ...]] = {
    "/pods": (_NAME, ("Ready", "string", _pod_ready, 0), ("Status", "string", _pod_status, 0),
              ("Restarts", "string", _restarts, 0), _AGE,
              ("IP", "string", _str("status", "podIP"), 1), ("Node", "string", _str("spec", "nodeName"), 1)),
    "apps/deployments": (_NAME, ("Ready", "string", _ready_of, 0), ("Up-to-date", "string", _int("status", "updatedReplicas"), 0),
                         ("Available", "string", _int("status", "availableReplicas"), 0), _AGE),
    "apps/statefulsets": (_NAME, ("Ready", "string", _ready_of, 0), _AGE),
    "/namespaces": (_NAME, ("Status", "string", _str("status", "phase"), 0), _AGE),
    "/configmaps": (_NAME, ("Data", "string", _data_count, 0), _AGE),
    "/secrets": (_NAME, ("Type", "string", _str("type"), 0), ("Data", "string", _data_count, 0), _AGE),
    "/services": (_NAME, ("Type", "string", _str("spec", "type"), 0), ("Cluster-IP", "string", _str("spec", "clusterIP"), 0),
                  ("External-IP", "string", _str("spec", "externalIP"), 0), ("Port(s)", "string", _ports, 0), _AGE),
    "autoscaling/horizontalpodautoscalers": (
        _NAME, ("Reference", "string", _hpa_ref, 0), ("MinPods", "string", _int("spec", "minReplicas"), 0),
        ("MaxPods", "string", _int("spec", "maxReplicas"), 0), ("Replicas", "string", _int("status", "currentReplicas"), 0), _AGE),
    "coordination.k8s.io/leases": (_NAME, ("Holder", "string", _str("spec", "holderIdentity", default=""), 0), _AGE),
    "/events": (("Last Seen", "string", _last_seen, 0), ("Type", "string", _str("type"), 0),
                ("Reason", "string", _str("reason"), 0), ("Object", "string", _involved, 0),
                ("Message", "string", _str("message"), 0)),
    "apiextensions.k8s.io/customresourcedefinitions": (_NAME, ("Created At", "date", _str("metadata", "creationTimestamp"), 0)),
}


def _crd_cell(column: resources.PrinterColumn) -> Cell:
    def cell(obj: Mapping[str, Any], now: datetime.datetime) -> Any:
        found = jsonpath(obj, column.json_path)
        if not found:
            return None
        value = found[0] if len(found) == 1 else ",".join(json.dumps(v) if isinstance(v, dict | list) else str(_plain(v)) for v in found)
        if column.type == "date":
            return _age(value, now)
        if column.type == "integer" and isinstance(value, int | float):
            return int(value)
        if column.type == "number" and isinstance(value, int | float):
            return value
        if column.type == "boolean" and isinstance(value, bool):
            return value
        return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(_plain(value))
    return cell


def columns_for(rt: resources.ResourceType) -> tuple[Column, ...]:
    if rt.crd is not None:
        if not rt.columns:
            return (_NAME, _AGE)
        return (_NAME, *tuple((c.name, "string" if c.type == "date" else c.type, _crd_cell(c), c.priority) for c in rt.columns))
    return BUILTIN_COLUMNS.get(rt.storage_key, (_NAME, _AGE))


def _column_definitions(columns: Sequence[Column], rt: resources.ResourceType) -> list[dict[str, Any]]:
    descriptions = {c.name: c.description for c in rt.columns}
    out = []
    for name, typ, _, priority in columns:
        out.append({"name": name, "type": typ, "format": "name" if name == "Name" else "",
                    "description": descriptions.get(name, name), "priority": priority})
    return out


def row(rt: resources.ResourceType, obj: Mapping[str, Any], now: datetime.datetime, include: str) -> dict[str, Any]:
    columns = columns_for(rt)
    out: dict[str, Any] = {"cells": [cell(obj, now) for _, _, cell, _ in columns]}
    if include == "Object":
        out["object"] = obj
    elif include != "None":
        out["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
    return out


def table(rt: resources.ResourceType, objects: Sequence[Mapping[str, Any]], now: datetime.datetime, *,
          resource_version: str, include: str = "Metadata", continue_token: str | None = None,
          remaining: int | None = None, definitions: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    if remaining is not None:
        meta["remainingItemCount"] = remaining
    out: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
    out["columnDefinitions"] = _column_definitions(columns_for(rt), rt) if definitions else []
    out["rows"] = [row(rt, o, now, include) for o in objects]
    return out

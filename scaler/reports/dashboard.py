"""The dashboard's model: fleet rows, filters and paging, the object document, and "why not scaling?".

Everything here is pure: it takes the bodies the operator watches (a ScaledObject, its workload) and the
decision log's entries as plain JSON-shaped mappings, plus `now`, and returns JSON-shaped documents.
The operator serves those documents as the dashboard's JSON API, and the pages
(`scaler.reports.dashboard_pages`) are rendered from the very same documents, so what a test reads from
the API is what a person sees.

`why_not_scaling(body, last, now)` is the one sentence at the top of an object page: the first that
applies of spec invalid, paused, a scaler erroring, the HPA unable to fetch metrics, cooldown running,
at max, below activation — or that nothing holds it back.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import itertools
import math
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from scaler.core import simulation, specs
from scaler.reports import charts

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
# Flapping: the replica count changed direction this many times among the object's recent decisions.
FLAP_REVERSALS = 3
FLAP_WINDOW = 12  # decisions looked at


class Why(str, enum.Enum):
    """Which case of "why not scaling?" applies (the first in this order)."""

    SPEC_INVALID = "spec-invalid"
    PAUSED = "paused"
    SCALER_ERROR = "scaler-error"
    HPA_NO_METRICS = "hpa-no-metrics"
    COOLDOWN = "cooldown"
    AT_MAX = "at-max"
    BELOW_ACTIVATION = "below-activation"
    NO_DECISION = "no-decision"
    SCALING = "scaling"


@dataclasses.dataclass(frozen=True)
class Verdict:
    kind: Why
    sentence: str

    def __post_init__(self) -> None:
        # Quoted messages often end with their own period: one is enough.
        object.__setattr__(self, "sentence", self.sentence.rstrip(". ") + ".")

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind.value, "sentence": self.sentence}


def _conditions(body: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for item in (body.get("status") or {}).get("conditions") or []:
        if isinstance(item, Mapping) and isinstance(item.get("type"), str):
            found[item["type"]] = item
    return found


def _annotations(body: Mapping[str, Any]) -> Mapping[str, str]:
    value = (body.get("metadata") or {}).get("annotations") or {}
    return value if isinstance(value, Mapping) else {}


def _spec_int(body: Mapping[str, Any], key: str, default: int) -> int:
    value = (body.get("spec") or {}).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _parse_time(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _num(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def _trigger_label(trigger: Mapping[str, Any]) -> str:
    name = trigger.get("name")
    kind = trigger.get("type") or "trigger"
    index = trigger.get("index")
    where = f"trigger {name!r}" if name else f"trigger #{index}"
    return f"{where} ({kind}, metric {trigger.get('metric')})"


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{math.ceil(seconds)} s"
    minutes, secs = divmod(math.ceil(seconds), 60)
    return f"{minutes} min {secs:02d} s"


_TRIGGER_READY_REASONS = frozenset({"TriggerError", "PartialTriggerError"})


def why_not_scaling(body: Mapping[str, Any], last: Mapping[str, Any] | None, now: float) -> Verdict:
    """One plain sentence on what holds the ScaledObject where it is, from its body (spec, annotations,
    status conditions) and its newest decision (already redacted)."""
    conditions = _conditions(body)
    ready = conditions.get("Ready") or {}
    # Ready=False TriggerError is a failing scaler (below, with the error itself), not an invalid spec.
    if ready.get("status") == "False" and ready.get("reason") not in _TRIGGER_READY_REASONS:
        return Verdict(Why.SPEC_INVALID, f"It cannot scale: the ScaledObject is not valid — {ready.get('message') or ready.get('reason')}.")
    annotations = _annotations(body)
    if specs.PAUSED_REPLICAS in annotations:
        value = annotations[specs.PAUSED_REPLICAS]
        return Verdict(Why.PAUSED, f"Paused: the annotation {specs.PAUSED_REPLICAS}={value} holds it at {value} "
                                   "replicas until it is removed.")
    if str(annotations.get(specs.PAUSED, "")).lower() == "true":
        return Verdict(Why.PAUSED, f"Paused: the annotation {specs.PAUSED}=true stops all scaling until it is "
                                   "removed or set to false.")
    reason = str(last.get("reason")) if last else ""
    if reason in ("PAUSED_SCALE_IN", "PAUSED_SCALE_OUT"):
        key = specs.PAUSED_SCALE_IN if reason == "PAUSED_SCALE_IN" else specs.PAUSED_SCALE_OUT
        way = "in" if reason == "PAUSED_SCALE_IN" else "out"
        return Verdict(Why.PAUSED, f"Paused: the annotation {key}=true blocks scaling {way}.")
    if last is None:
        return Verdict(Why.NO_DECISION, "No decision yet: the operator has not polled its triggers.")
    triggers = [t for t in last.get("triggers") or [] if isinstance(t, Mapping)]
    failing = [t for t in triggers if t.get("error")]
    if failing:
        first = failing[0]
        more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
        return Verdict(Why.SCALER_ERROR, f"A scaler is erroring: {_trigger_label(first)} failed to read: "
                                         f"{first['error']}{more}.")
    hpa_active = conditions.get("HPAActive") or {}
    if hpa_active.get("status") == "False":
        return Verdict(Why.HPA_NO_METRICS, f"The HPA cannot fetch its metrics ({hpa_active.get('reason')}): "
                                           f"{hpa_active.get('message') or 'no message'}.")
    replicas = last.get("replicas")
    max_replicas = _spec_int(body, "maxReplicaCount", 100)
    if reason in ("COOLDOWN", "INITIAL_COOLDOWN"):
        state = last.get("state") or {}
        period_key = "initialCooldownPeriod" if reason == "INITIAL_COOLDOWN" else "cooldownPeriod"
        period = _spec_int(body, period_key, 0 if reason == "INITIAL_COOLDOWN" else 300)
        since = _parse_time(state.get("lastActiveTime")) if reason == "COOLDOWN" else _parse_time(
            (body.get("metadata") or {}).get("creationTimestamp"))
        left = f"{_duration(since + period - now)} left" if since is not None else "time left unknown"
        return Verdict(Why.COOLDOWN, f"Cooldown running: no trigger is active, and it scales in only after "
                                     f"{period_key} {period} s without activity ({left}).")
    if last.get("active") and isinstance(replicas, int) and replicas >= max_replicas:
        readings = "; ".join(f"{_trigger_label(t)} reads {_num(t.get('value'))} against target "
                             f"{_num(t.get('target'))}" for t in triggers if t.get("active"))
        return Verdict(Why.AT_MAX, f"At maxReplicaCount {max_replicas}: it will not scale further"
                                   + (f" though {readings}." if readings else "."))
    if not last.get("active"):
        below = [t for t in triggers if t.get("value") is not None]
        readings = "; ".join(f"{_trigger_label(t)} reads {_num(t['value'])}, not above its activation "
                             f"threshold {_num(t.get('activation') or 0)}" for t in below)
        return Verdict(Why.BELOW_ACTIVATION, f"Below activation: {readings or 'no trigger is active'}; it "
                                             "stays at its idle size until a value rises above its threshold.")
    return Verdict(Why.SCALING, f"Nothing holds it back: {last.get('explanation') or reason}.")


# -- fleet rows ------------------------------------------------------------------------------------------


def _status(conditions: Mapping[str, Mapping[str, Any]], kind: str) -> str:
    return str((conditions.get(kind) or {}).get("status") or "Unknown")


def flapping(entries: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the replica count changed direction at least `FLAP_REVERSALS` times in these decisions."""
    counts = [e["replicas"] for e in entries if isinstance(e.get("replicas"), int)]
    reversals, direction = 0, 0
    for a, b in itertools.pairwise(counts):
        if b == a:
            continue
        step = 1 if b > a else -1
        if direction and step != direction:
            reversals += 1
        direction = step
    return reversals >= FLAP_REVERSALS


@dataclasses.dataclass(frozen=True)
class Row:
    """One ScaledObject on the fleet page."""

    namespace: str
    name: str
    target: str
    mode: str
    min_replicas: int
    max_replicas: int
    current: int | None
    desired: int | None
    ready_replicas: int | None
    ready: str
    active: str
    fallback: str
    paused: str
    hpa_active: str
    hpa_reason: str
    last_reason: str
    last_explanation: str
    last_time: float | None
    last_error: str
    flapping: bool
    why: Verdict

    @property
    def at_max(self) -> bool:
        return self.desired is not None and self.desired >= self.max_replicas

    @property
    def erroring(self) -> bool:
        return bool(self.last_error) or self.ready == "False" or self.hpa_active == "False"

    @property
    def is_paused(self) -> bool:
        return self.paused == "True" or self.why.kind is Why.PAUSED

    def as_json(self, now: float) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "href": f"/scaledobjects/{self.namespace}/{self.name}",
            "api": f"/api/v1/dashboard/scaledobjects/{self.namespace}/{self.name}",
            "target": self.target,
            "mode": self.mode,
            "minReplicas": self.min_replicas,
            "maxReplicas": self.max_replicas,
            "currentReplicas": self.current,
            "desiredReplicas": self.desired,
            "readyReplicas": self.ready_replicas,
            "conditions": {"Ready": self.ready, "Active": self.active, "Fallback": self.fallback,
                           "Paused": self.paused, "HPAActive": self.hpa_active},
            "hpaReason": self.hpa_reason,
            "lastDecision": None if self.last_time is None else {
                "reason": self.last_reason, "explanation": self.last_explanation, "timestamp": self.last_time,
                "ageSeconds": round(max(0.0, now - self.last_time), 1)},
            "lastError": self.last_error or None,
            "atMax": self.at_max,
            "flapping": self.flapping,
            "why": self.why.as_json(),
        }


def fleet_row(body: Mapping[str, Any], workload: Mapping[str, Any] | None,
              recent: Sequence[Mapping[str, Any]], now: float, default_mode: str = "hpa") -> Row:
    """The fleet row of one ScaledObject: its body, its workload's body (if watched) and its newest
    decisions, oldest first (already redacted)."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    conditions = _conditions(body)
    last = recent[-1] if recent else None
    errors = [str(t.get("error")) for t in (last.get("triggers") or []) if isinstance(t, Mapping) and t.get("error")] if last else []
    if last and last.get("writeError"):
        errors.append(str(last["writeError"]))
    wl_spec = (workload or {}).get("spec") or {}
    wl_status = (workload or {}).get("status") or {}
    current = wl_spec.get("replicas") if workload is not None else (last or {}).get("currentReplicas")
    ready_replicas = wl_status.get("readyReplicas", 0) if workload is not None else None
    annotations = _annotations(body)
    mode = str(annotations.get(specs.SCALING_MODE, "") or (last or {}).get("mode") or default_mode)
    hpa = conditions.get("HPAActive") or {}
    return Row(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        target=f"{ref.get('kind') or 'Deployment'}/{ref.get('name') or '?'}",
        mode=mode,
        min_replicas=_spec_int(body, "minReplicaCount", 0),
        max_replicas=_spec_int(body, "maxReplicaCount", 100),
        current=current if isinstance(current, int) else None,
        desired=last.get("replicas") if last and isinstance(last.get("replicas"), int) else None,
        ready_replicas=ready_replicas if isinstance(ready_replicas, int) else None,
        ready=_status(conditions, "Ready"),
        active=_status(conditions, "Active"),
        fallback=_status(conditions, "Fallback"),
        paused=_status(conditions, "Paused"),
        hpa_active=_status(conditions, "HPAActive") if hpa else "—",
        hpa_reason=str(hpa.get("reason") or ""),
        last_reason=str((last or {}).get("reason") or ""),
        last_explanation=str((last or {}).get("explanation") or ""),
        last_time=(last or {}).get("lastTimestamp") or (last or {}).get("timestamp"),
        last_error="; ".join(errors),
        flapping=flapping(recent),
        why=why_not_scaling(body, last, now),
    )


# -- filters, sorting, paging ------------------------------------------------------------------------


class Sort(str, enum.Enum):
    NAME = "name"
    NAMESPACE = "namespace"
    REPLICAS = "replicas"
    AGE = "age"  # of the last decision
    REASON = "reason"


@dataclasses.dataclass(frozen=True)
class Filters:
    namespace: str = ""
    search: str = ""
    errors: bool = False
    at_max: bool = False
    paused: bool = False
    flapping: bool = False
    sort: Sort = Sort.NAMESPACE
    descending: bool = False
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    def query(self, **changes: Any) -> str:
        """The query string of these filters with `changes` (for links that keep the others)."""
        values = dataclasses.replace(self, **changes)
        pairs = []
        for key, text in (("namespace", values.namespace), ("q", values.search)):
            if text:
                pairs.append((key, text))
        for key, flag in (("errors", values.errors), ("atMax", values.at_max), ("paused", values.paused),
                          ("flapping", values.flapping)):
            if flag:
                pairs.append((key, "1"))
        if values.sort is not Sort.NAMESPACE:
            pairs.append(("sort", values.sort.value))
        if values.descending:
            pairs.append(("order", "desc"))
        if values.page != 1:
            pairs.append(("page", str(values.page)))
        if values.page_size != DEFAULT_PAGE_SIZE:
            pairs.append(("pageSize", str(values.page_size)))
        return urllib.parse.urlencode(pairs)

    def as_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "q": self.search, "errors": self.errors, "atMax": self.at_max,
                "paused": self.paused, "flapping": self.flapping, "sort": self.sort.value,
                "order": "desc" if self.descending else "asc", "page": self.page, "pageSize": self.page_size}


_FLAG_VALUES = {"1": True, "true": True, "on": True, "yes": True, "0": False, "false": False, "off": False,
                "no": False, "": False}


def parse_filters(query: Mapping[str, str]) -> Filters:
    """Filters from a query string; `ValueError` names the parameter and what it expects."""

    def flag(key: str) -> bool:
        raw = query.get(key, "")
        if raw.lower() not in _FLAG_VALUES:
            raise ValueError(f"query parameter {key}: expected 1/true/on or 0/false/off, got {raw!r}")
        return _FLAG_VALUES[raw.lower()]

    def positive(key: str, default: int) -> int:
        raw = query.get(key)
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"query parameter {key}: expected a positive integer, got {raw!r}")
        return int(raw)

    sort_raw = query.get("sort", Sort.NAMESPACE.value)
    try:
        sort = Sort(sort_raw)
    except ValueError:
        raise ValueError(f"query parameter sort: expected one of {', '.join(s.value for s in Sort)}, "
                         f"got {sort_raw!r}") from None
    order = query.get("order", "asc")
    if order not in ("asc", "desc"):
        raise ValueError(f"query parameter order: expected asc or desc, got {order!r}")
    page_size = positive("pageSize", DEFAULT_PAGE_SIZE)
    if page_size not in PAGE_SIZES:
        raise ValueError(f"query parameter pageSize: expected one of {', '.join(map(str, PAGE_SIZES))}, "
                         f"got {page_size}")
    return Filters(namespace=query.get("namespace", ""), search=query.get("q", ""), errors=flag("errors"),
                   at_max=flag("atMax"), paused=flag("paused"), flapping=flag("flapping"), sort=sort,
                   descending=order == "desc", page=positive("page", 1), page_size=page_size)


def _matches(row: Row, filters: Filters) -> bool:
    return ((not filters.namespace or row.namespace == filters.namespace)
            and (not filters.search or filters.search.lower() in f"{row.namespace}/{row.name}".lower())
            and (not filters.errors or row.erroring)
            and (not filters.at_max or row.at_max)
            and (not filters.paused or row.is_paused)
            and (not filters.flapping or row.flapping))


def _sort_key(sort: Sort, now: float) -> Any:
    if sort is Sort.NAME:
        return lambda r: (r.name, r.namespace)
    if sort is Sort.REPLICAS:
        return lambda r: (r.desired if r.desired is not None else -1, r.namespace, r.name)
    if sort is Sort.AGE:
        return lambda r: (now - r.last_time if r.last_time is not None else math.inf, r.namespace, r.name)
    if sort is Sort.REASON:
        return lambda r: (r.last_reason, r.namespace, r.name)
    return lambda r: (r.namespace, r.name)


def fleet_document(rows: Sequence[Row], filters: Filters, now: float) -> dict[str, Any]:
    """The fleet page's JSON: counts over every object, the namespaces, and one page of the filtered,
    sorted rows."""
    matched = sorted((r for r in rows if _matches(r, filters)), key=_sort_key(filters.sort, now),
                     reverse=filters.descending)
    pages = max(1, math.ceil(len(matched) / filters.page_size))
    page = min(filters.page, pages)
    start = (page - 1) * filters.page_size
    counts = {
        "total": len(rows),
        "ready": sum(r.ready == "True" for r in rows),
        "active": sum(r.active == "True" for r in rows),
        "errors": sum(r.erroring for r in rows),
        "atMax": sum(r.at_max for r in rows),
        "paused": sum(r.is_paused for r in rows),
        "fallback": sum(r.fallback == "True" for r in rows),
        "flapping": sum(r.flapping for r in rows),
    }
    return {
        "generatedAt": round(now, 3),
        "counts": counts,
        "namespaces": sorted({r.namespace for r in rows}),
        "filters": dataclasses.replace(filters, page=page).as_json(),
        "matched": len(matched),
        "page": page,
        "pages": pages,
        "scaledObjects": [r.as_json(now) for r in matched[start:start + filters.page_size]],
    }


# -- the object page ---------------------------------------------------------------------------------


def object_document(row: Row, body: Mapping[str, Any], entries: Sequence[Mapping[str, Any]],
                    ready_history: Sequence[tuple[float, int]], now: float,
                    since: float | None = None, until: float | None = None) -> dict[str, Any]:
    """The object page's JSON: the fleet row, "why not scaling?", the spec's bounds and triggers, and the
    decisions (and ready-pod changes) within [since, until] (default: all the log keeps, up to now)."""
    spec = body.get("spec") or {}
    end = until if until is not None else now
    chosen = [e for e in entries if isinstance(e.get("timestamp"), int | float)
              and (since is None or (e.get("lastTimestamp") or e["timestamp"]) >= since) and e["timestamp"] <= end]
    start = since if since is not None else (chosen[0]["timestamp"] if chosen else end)
    triggers = []
    for index, trigger in enumerate(spec.get("triggers") or []):
        if isinstance(trigger, Mapping):
            triggers.append({"index": index, "type": trigger.get("type"), "name": trigger.get("name")})
    return {
        "namespace": row.namespace,
        "name": row.name,
        "generatedAt": round(now, 3),
        "scaledObject": row.as_json(now),
        "why": row.why.as_json(),
        "spec": {
            "minReplicaCount": row.min_replicas,
            "maxReplicaCount": row.max_replicas,
            "pollingInterval": _spec_int(body, "pollingInterval", 30),
            "cooldownPeriod": _spec_int(body, "cooldownPeriod", 300),
            "triggers": triggers,
        },
        "range": {"from": round(start, 3), "to": round(end, 3)},
        "decisions": list(chosen),
        "readyHistory": [[round(t, 3), n] for t, n in ready_history if t <= end],
    }


def _ready_at(history: Sequence[Sequence[float]], t: float, default: int) -> int:
    value = default
    for when, count in history:
        if when > t:
            break
        value = int(count)
    return value


def object_timeline(doc: Mapping[str, Any]) -> charts.Timeline:
    """The charts' timeline of an object document (what `charts.figures` and `decision_table` draw)."""
    origin = float(doc["range"]["from"])
    end = float(doc["range"]["to"])
    history = doc.get("readyHistory") or []
    steps: list[simulation.Step] = []
    repeats: dict[int, int] = {}
    run_ends: dict[float, float] = {}
    targets: dict[str, float] = {}
    activations: dict[str, float] = {}
    names: list[str] = []
    initial: int | None = None
    for entry in doc.get("decisions") or []:
        metrics: dict[str, float | None] = {}
        for trigger in entry.get("triggers") or []:
            metric = str(trigger.get("metric"))
            if metric not in names:
                names.append(metric)
            metrics[metric] = None if trigger.get("error") else trigger.get("value")
            if isinstance(trigger.get("target"), int | float):
                targets[metric] = float(trigger["target"])
            if isinstance(trigger.get("activation"), int | float):
                activations[metric] = float(trigger["activation"])
        t = max(0.0, float(entry["timestamp"]) - origin)
        replicas = int(entry.get("replicas") if entry.get("replicas") is not None else entry.get("currentReplicas") or 0)
        if initial is None:
            initial = int(entry.get("currentReplicas") or 0)
        if entry.get("repeated", 1) > 1:
            repeats[len(steps)] = int(entry["repeated"])
            if isinstance(entry.get("lastTimestamp"), int | float):
                run_ends[round(t, 3)] = max(0.0, min(float(entry["lastTimestamp"]), end) - origin)
        steps.append(simulation.Step(
            time=round(t, 3), source="operator", replicas=replicas,
            ready=_ready_at(history, float(entry["timestamp"]), int(entry.get("currentReplicas") or 0)), active=bool(entry.get("active")),
            reason=str(entry.get("reason")), explanation=str(entry.get("explanation") or ""), metrics=metrics))
    ready_points: list[tuple[float, int]] | None = None
    if history:
        first = initial or 0
        ready_points = [(0.0, _ready_at(history, origin, first))]
        ready_points += [(float(when) - origin, int(count)) for when, count in history if origin < float(when) <= end]
    spec = doc["spec"]
    return charts.Timeline(
        duration=max(end - origin, 1.0), initial_replicas=initial or 0,
        min_replicas=int(spec["minReplicaCount"]), max_replicas=int(spec["maxReplicaCount"]), steps=steps,
        metric_names=names, targets=targets, activations=activations, origin=origin, repeats=repeats,
        run_ends=run_ends, ready_points=ready_points)

"""Fault injection: rules that add latency, fail requests, drop watch streams or force write conflicts.

A rule matches requests by verb, resource (`deployments`, `deployments/scale`, `deployments/*`,
`scaledobjects.keda.sh`, `*`), namespace and name, fires at a rate (0..1, seeded) and optionally only
for the next `count` matching requests. Rules are set from Python (`Faults.add`) or over HTTP
(`/sandbox/faults`, parsed by `parse_rule`). Thread-safe: tests change rules from their own thread.
"""

from __future__ import annotations

import enum
import itertools
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kube_sandbox import errors


class Action(str, enum.Enum):
    ERROR = "error"          # answer `code` (500, 503, 429 ...) with a Status
    LATENCY = "latency"      # wait `delay` seconds, then serve normally
    CONFLICT = "conflict"    # answer 409 Conflict on a write
    DROP_WATCH = "dropWatch"  # close the watch stream after `after_events` events


VERBS = frozenset({"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"})
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
_REASONS = {
    429: errors.Reason.TOO_MANY_REQUESTS,
    500: errors.Reason.INTERNAL_ERROR,
    503: errors.Reason.SERVICE_UNAVAILABLE,
    504: errors.Reason.INTERNAL_ERROR,
    410: errors.Reason.GONE,
    401: errors.Reason.UNAUTHORIZED,
    403: errors.Reason.FORBIDDEN,
    404: errors.Reason.NOT_FOUND,
    409: errors.Reason.CONFLICT,
}


@dataclass(frozen=True)
class Rule:
    action: Action
    verbs: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()
    namespaces: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    code: int = 500
    retry_after: int | None = None
    delay: float = 0.0
    after_events: int = 0
    rate: float = 1.0
    count: int | None = None
    message: str = ""


@dataclass(frozen=True)
class RequestInfo:
    verb: str
    group: str
    plural: str
    subresource: str
    namespace: str | None
    name: str | None


def _resource_matches(patterns: frozenset[str], info: RequestInfo) -> bool:
    if not patterns:
        return True
    qualified = f"{info.plural}.{info.group}" if info.group else info.plural
    for pattern in patterns:
        if pattern == "*":
            return True
        base, _, sub = pattern.partition("/")
        if base not in (info.plural, qualified):
            continue
        if sub == "*" or sub == info.subresource:
            return True
    return False


@dataclass
class _Active:
    id: int
    rule: Rule
    remaining: int | None
    fired: int = 0


@dataclass
class Faults:
    """The active rules."""

    seed: int | None = None
    _rules: list[_Active] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _rng: random.Random = field(init=False)
    # Called to close every open watch stream (set by the server).
    watch_dropper: Callable[[], int] | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def add(self, rule: Rule) -> int:
        with self._lock:
            active = _Active(next(self._ids), rule, rule.count)
            self._rules.append(active)
            return active.id

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [render_rule(r.rule) | {"id": r.id, "remaining": r.remaining, "fired": r.fired} for r in self._rules]

    def drop_watches(self) -> int:
        """Close all open watch streams now; returns how many were closed."""
        return self.watch_dropper() if self.watch_dropper else 0

    def match(self, info: RequestInfo) -> list[Rule]:
        """The rules that fire for this request (counts are consumed)."""
        fired: list[Rule] = []
        with self._lock:
            for active in self._rules:
                rule = active.rule
                if rule.verbs and info.verb not in rule.verbs:
                    continue
                if rule.action is Action.CONFLICT and info.verb not in WRITE_VERBS:
                    continue
                if rule.action is Action.DROP_WATCH and info.verb != "watch":
                    continue
                if not _resource_matches(rule.resources, info):
                    continue
                if rule.namespaces and (info.namespace or "") not in rule.namespaces:
                    continue
                if rule.names and (info.name or "") not in rule.names:
                    continue
                if active.remaining is not None and active.remaining <= 0:
                    continue
                if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                    continue
                if active.remaining is not None:
                    active.remaining -= 1
                active.fired += 1
                fired.append(rule)
            self._rules = [r for r in self._rules if r.remaining is None or r.remaining > 0]
        return fired


def error_for(rule: Rule, info: RequestInfo) -> errors.ApiError:
    if rule.action is Action.CONFLICT:
        return errors.conflict(info.plural, info.group, info.name or "", rule.message or None)
    reason = _REASONS.get(rule.code, errors.Reason.INTERNAL_ERROR)
    message = rule.message or {
        429: "Too many requests, please try again later.",
        503: "the server is currently unable to handle the request",
    }.get(rule.code, "an error on the server (injected fault) has prevented the request from succeeding")
    return errors.ApiError(rule.code, reason, message, retry_after=rule.retry_after)


# --- JSON form -----------------------------------------------------------------------------------

_FIELDS = {"action", "verbs", "resources", "namespaces", "names", "code", "retryAfter", "delay", "afterEvents",
           "rate", "count", "message"}


def _strings(raw: Mapping[str, Any], key: str, where: str) -> frozenset[str]:
    value = raw.get(key)
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.bad_request(f"{where}.{key}: expected a list of strings")
    return frozenset(value)


def _number(raw: Mapping[str, Any], key: str, where: str, *, integer: bool = False, low: float = 0.0,
            high: float | None = None) -> Any:
    value = raw.get(key)
    if value is None:
        return None
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if not ok or isinstance(value, bool) or value < low or (high is not None and value > high):
        bound = f" between {low} and {high}" if high is not None else f" >= {low}"
        raise errors.bad_request(f"{where}.{key}: expected {'an integer' if integer else 'a number'}{bound}, got {value!r}")
    return value


def parse_rule(raw: Any, where: str = "rule") -> Rule:
    """A Rule from its JSON form, with errors naming the field and what was expected."""
    if not isinstance(raw, Mapping):
        raise errors.bad_request(f"{where}: expected an object")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise errors.bad_request(f"{where}: unknown fields {sorted(unknown)}; expected some of {sorted(_FIELDS)}")
    try:
        action = Action(raw.get("action"))
    except ValueError:
        raise errors.bad_request(
            f"{where}.action: expected one of {[a.value for a in Action]}, got {raw.get('action')!r}") from None
    verbs = _strings(raw, "verbs", where)
    if verbs - VERBS:
        raise errors.bad_request(f"{where}.verbs: unknown verbs {sorted(verbs - VERBS)}; expected some of {sorted(VERBS)}")
    code = _number(raw, "code", where, integer=True, low=400, high=599)
    return Rule(
        action=action,
        verbs=verbs,
        resources=_strings(raw, "resources", where),
        namespaces=_strings(raw, "namespaces", where),
        names=_strings(raw, "names", where),
        code=code if code is not None else (409 if action is Action.CONFLICT else 500),
        retry_after=_number(raw, "retryAfter", where, integer=True),
        delay=float(_number(raw, "delay", where) or 0.0),
        after_events=int(_number(raw, "afterEvents", where, integer=True) or 0),
        rate=float(r) if (r := _number(raw, "rate", where, high=1.0)) is not None else 1.0,
        count=_number(raw, "count", where, integer=True, low=1),
        message=str(raw.get("message", "")),
    )


def render_rule(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {"action": rule.action.value}
    for key, value in (("verbs", rule.verbs), ("resources", rule.resources), ("namespaces", rule.namespaces),
                       ("names", rule.names)):
        if value:
            out[key] = sorted(value)
    out |= {"code": rule.code, "rate": rule.rate}
    if rule.retry_after is not None:
        out["retryAfter"] = rule.retry_after
    if rule.delay:
        out["delay"] = rule.delay
    if rule.after_events:
        out["afterEvents"] = rule.after_events
    if rule.count is not None:
        out["count"] = rule.count
    if rule.message:
        out["message"] = rule.message
    return out

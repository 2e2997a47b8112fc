"""The decision log: the last decisions each ScaledObject's scale loop made, in a bounded ring per object.

Every tick the loop records one JSON-ready entry (time, inputs per trigger, state, action, reason, the
one-line explanation, replicas…); the HTTP server serves them as JSON for people and the dashboard. The
log lives in memory only: it explains recent behaviour, it is not an audit trail.

Recording is on the hot path (1,000 loops at 1 s), so it costs one ring append plus a scan of the
entry's strings for credentials (`redact`): a container is copied only when something in it was masked.
The log keeps a shallow copy of each entry's top level; nested values are shared with the caller, who
must not change them after recording (the loop builds a fresh entry each tick).

One asyncio loop owns a log; nothing here awaits, so no lock is needed.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Mapping
from typing import Any

DEFAULT_CAPACITY = 500
MASK = "***"

# `scheme://userinfo@`: the userinfo runs to the last `@` before the path, so an unencoded `@` in a
# password is masked whole.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s@?#]*(?:@[^/\s@?#]*)*)@")
# A bare `user:password@host` (an error message quoting a DSN without its scheme), after a space,
# a quote, `(`, `=` or at the start.
_BARE_USERINFO = re.compile(r"(?P<before>^|[\s\"'(=,\[{])(?P<user>[^\s/:@\"']+):(?P<password>[^\s/@\"']+)@(?=[\w\[])")
# Keys whose value is a credential whatever it looks like.
_SECRET_KEY = re.compile(r"pass(word|wd)?$|secret|token|api[-_]?key|authorization|credential|private[-_]?key",
                         re.IGNORECASE)


def _mask_url(match: re.Match[str]) -> str:
    userinfo = match.group("userinfo")
    masked = f"{MASK}:{MASK}" if ":" in userinfo else MASK
    return f"{match.group('scheme')}{masked}@"


def redact_text(text: str) -> str:
    """`text` with the userinfo of every URL (`scheme://user:pass@`, `scheme://:pass@`, `scheme://token@`)
    and every bare `user:pass@host` masked."""
    if "@" not in text:  # the common case, and cheap
        return text
    masked = _URL_USERINFO.sub(_mask_url, text)
    return _BARE_USERINFO.sub(lambda m: f"{m.group('before')}{MASK}:{MASK}@", masked)


def _redacted(value: Any) -> Any:
    """`value` with credentials masked; the same object when nothing needed masking."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            new_key = redact_text(key) if isinstance(key, str) else key
            if isinstance(key, str) and isinstance(item, str) and item and _SECRET_KEY.search(key):
                new_item: Any = MASK
            else:
                new_item = _redacted(item)
            if changed is None and (new_key is not key or new_item is not item):
                changed = {}
                for done_key, done_item in value.items():
                    if done_key is key:
                        break
                    changed[done_key] = done_item
            if changed is not None:
                changed[new_key] = new_item
        return value if changed is None else changed
    if isinstance(value, list | tuple):
        items = [_redacted(item) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items
    return value


def redact(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `entry` in which no credential survives: URL userinfo in any string (keys included) is
    masked, and string values under credential-like keys (`password`, `token`, `apiKey`…) are replaced.

    A safety net: the scale loop should never put a secret in an entry in the first place.
    """
    result = _redacted(entry)
    return dict(result) if result is entry else result


class DecisionLog:
    """The last `capacity_per_object` decisions of each ScaledObject, oldest first.

    >>> log = DecisionLog(capacity_per_object=2)
    >>> for n in range(3):
    ...     log.record("default", "orders", {"replicas": n})
    >>> log.entries("default", "orders")
    [{'replicas': 1}, {'replicas': 2}]
    """

    def __init__(self, capacity_per_object: int = DEFAULT_CAPACITY) -> None:
        if isinstance(capacity_per_object, bool) or not isinstance(capacity_per_object, int) or capacity_per_object < 1:
            raise ValueError(f"DecisionLog: capacity_per_object must be a positive integer, got {capacity_per_object!r}")
        self.capacity_per_object = capacity_per_object
        self._rings: dict[tuple[str, str], collections.deque[dict[str, Any]]] = {}

    def record(self, namespace: str, name: str, entry: Mapping[str, Any]) -> None:
        """Append one decision for `namespace/name`, dropping its oldest when the ring is full."""
        key = (namespace, name)
        ring = self._rings.get(key)
        if ring is None:
            ring = self._rings[key] = collections.deque(maxlen=self.capacity_per_object)
        ring.append(redact(entry))

    def entries(self, namespace: str, name: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The decisions kept for `namespace/name`, oldest first (the newest `limit` if given); [] if none."""
        ring = self._rings.get((namespace, name))
        if ring is None:
            return []
        if limit is None or limit >= len(ring):
            return list(ring)
        if limit <= 0:
            return []
        return list(ring)[-limit:]

    def last(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The newest decision for `namespace/name`, or None."""
        ring = self._rings.get((namespace, name))
        return ring[-1] if ring else None

    def __contains__(self, key: object) -> bool:
        return key in self._rings

    def objects(self) -> list[tuple[str, str]]:
        """Every `(namespace, name)` with at least one decision, sorted."""
        return sorted(self._rings)

    def forget(self, namespace: str, name: str) -> None:
        """Drop everything kept for `namespace/name` (the ScaledObject was deleted)."""
        self._rings.pop((namespace, name), None)

"""Object storage: current objects, the cluster-wide resourceVersion, the event history and indexes.

Stored objects are never modified after they are put: every write stores a new dict. That lets reads,
lists and watch fan-out share objects and their serialized bytes (each object is serialized once, at
write time) without copying. Listeners (the watch hub, the garbage collector, the toy kubelet) are told
of every event synchronously, in commit order.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str, str]  # (storage key, namespace or "", name)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def dumps(value: Any) -> bytes:
    return _dumps(value).encode()


class Record:
    """One stored object with its serialized form."""

    __slots__ = ("obj", "raw", "rv")

    def __init__(self, obj: dict[str, Any], rv: int) -> None:
        self.obj = obj
        self.rv = rv
        self.raw = dumps(obj)


class Event:
    """One change: ADDED, MODIFIED or DELETED of one object at one resourceVersion."""

    __slots__ = ("_line", "key", "namespace", "old", "record", "rv", "type")

    def __init__(self, type_: str, key: str, namespace: str, record: Record, old: Record | None) -> None:
        self.type = type_
        self.key = key
        self.namespace = namespace
        self.record = record
        self.old = old
        self.rv = record.rv
        self._line: bytes | None = None

    def line(self, type_: str | None = None) -> bytes:
        """The watch-stream line; serialized once per event and shared by every watcher."""
        if type_ is not None and type_ != self.type:
            return b'{"type":"' + type_.encode() + b'","object":' + self.record.raw + b"}\n"
        if self._line is None:
            self._line = b'{"type":"' + self.type.encode() + b'","object":' + self.record.raw + b"}\n"
        return self._line


class TooOld(Exception):
    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


Listener = Callable[[Event], None]


@dataclass
class Store:
    history_size: int = 10_000
    rv: int = 1
    _objects: dict[str, dict[str, dict[str, Record]]] = field(default_factory=dict)
    _by_uid: dict[str, Key] = field(default_factory=dict)
    _dependents: dict[str, set[Key]] = field(default_factory=dict)
    _history: collections.deque[Event] = field(default_factory=collections.deque)
    # The resourceVersion of the newest event no longer in the history (0: nothing evicted yet).
    floor: int = 0
    _listeners: list[Listener] = field(default_factory=list)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # --- reads -------------------------------------------------------------------------------------

    def get(self, key: str, namespace: str, name: str) -> Record | None:
        return self._objects.get(key, {}).get(namespace, {}).get(name)

    def locate(self, uid: str) -> Key | None:
        return self._by_uid.get(uid)

    def by_uid(self, uid: str) -> Record | None:
        where = self._by_uid.get(uid)
        return self.get(*where) if where else None

    def items(self, key: str, namespace: str | None) -> Iterator[Record]:
        """Records of one storage key (in one namespace, or all), sorted by namespace then name."""
        spaces = self._objects.get(key, {})
        if namespace is not None:
            names = spaces.get(namespace, {})
            for name in sorted(names):
                yield names[name]
            return
        for ns in sorted(spaces):
            names = spaces[ns]
            for name in sorted(names):
                yield names[name]

    def count(self, key: str, namespace: str) -> int:
        return len(self._objects.get(key, {}).get(namespace, {}))

    def dependents(self, owner_uid: str) -> list[Record]:
        out = []
        for where in sorted(self._dependents.get(owner_uid, ())):
            record = self.get(*where)
            if record is not None:
                out.append(record)
        return out

    def storage_keys(self) -> list[str]:
        return list(self._objects)

    # --- writes ------------------------------------------------------------------------------------

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def put(self, key: str, obj: dict[str, Any]) -> Record:
        """Store `obj` (whose metadata already carries the new resourceVersion from `next_rv`)."""
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        name = meta["name"]
        rv = int(meta["resourceVersion"])
        record = Record(obj, rv)
        names = self._objects.setdefault(key, {}).setdefault(namespace, {})
        old = names.get(name)
        names[name] = record
        where = (key, namespace, name)
        self._by_uid[meta["uid"]] = where
        self._reindex_owners(where, old.obj if old else None, obj)
        self._record(Event("MODIFIED" if old else "ADDED", key, namespace, record, old))
        return record

    def remove(self, key: str, final: dict[str, Any]) -> Record:
        """Remove an object; `final` is its last state with the deletion's resourceVersion."""
        meta = final["metadata"]
        namespace = meta.get("namespace", "")
        name = meta["name"]
        spaces = self._objects.get(key, {})
        names = spaces.get(namespace, {})
        old = names.pop(name, None)
        if not names:
            spaces.pop(namespace, None)
        where = (key, namespace, name)
        self._by_uid.pop(meta["uid"], None)
        self._reindex_owners(where, old.obj if old else None, None)
        record = Record(final, int(meta["resourceVersion"]))
        self._record(Event("DELETED", key, namespace, record, old))
        return record

    def _reindex_owners(self, where: Key, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        before = {r.get("uid") for r in (old or {}).get("metadata", {}).get("ownerReferences") or []}
        after = {r.get("uid") for r in (new or {}).get("metadata", {}).get("ownerReferences") or []}
        for uid in before - after:
            deps = self._dependents.get(str(uid))
            if deps is not None:
                deps.discard(where)
                if not deps:
                    del self._dependents[str(uid)]
        for uid in after - before:
            self._dependents.setdefault(str(uid), set()).add(where)

    def _record(self, event: Event) -> None:
        self._history.append(event)
        while len(self._history) > self.history_size:
            self.floor = self._history.popleft().rv
        for listener in list(self._listeners):
            listener(event)

    # --- history -----------------------------------------------------------------------------------

    def events_since(self, rv: int, key: str) -> list[Event]:
        """Events of `key` newer than `rv`; TooOld when some of them have left the history."""
        if rv < self.floor:
            oldest = self._history[0].rv if self._history else self.rv
            raise TooOld(rv, oldest)
        out: list[Event] = []
        # The history is ordered by rv; walk back from the newest until we pass `rv`.
        for event in reversed(self._history):
            if event.rv <= rv:
                break
            if event.key == key:
                out.append(event)
        out.reverse()
        return out

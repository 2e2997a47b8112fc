"""The watch hub: who watches what, replay from the event history, and fan-out of committed events.

Fan-out shares bytes: an event is serialized once (`storage.Event.line`) and the same line is appended
to every interested watcher's buffer. Only watchers that need a different rendering (a Table for
`kubectl get -w`, another API version, or an ADDED/DELETED rewrite when an object enters or leaves a
selector) serialize their own. Watchers live on the server's event loop; `offer` is synchronous.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from typing import Any

from kube_sandbox import errors, resources, selectors, storage, tables

MAX_BUFFERED = 100_000  # lines; a consumer this far behind is cut off, as the API cuts off slow watchers


class Watcher:
    """One open watch stream's filter and outbound buffer."""

    def __init__(self, rt: resources.ResourceType, namespace: str | None, labels: selectors.LabelSelector,
                 fields: selectors.FieldSelector, *, table_include: str | None, clock: Callable[[], datetime.datetime]) -> None:
        self.rt = rt
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.filtered = not labels.empty or bool(fields.requirements)
        self.table_include = table_include
        self.clock = clock
        self.buffer: list[bytes] = []
        self.wakeup = asyncio.Event()
        self.closed = False
        self.overflowed = False
        self.delivered = 0
        self.drop_after: int | None = None

    def matches(self, obj: dict[str, Any]) -> bool:
        if not self.labels.empty and not self.labels.matches(obj["metadata"].get("labels")):
            return False
        return not self.fields.requirements or self.fields.matches(obj)

    def _type_for(self, event: storage.Event) -> str | None:
        if self.namespace is not None and event.namespace != self.namespace:
            return None
        if not self.filtered:
            return event.type
        now_matches = self.matches(event.record.obj)
        if event.type == "MODIFIED":
            was = event.old is not None and self.matches(event.old.obj)
            if now_matches:
                return "MODIFIED" if was else "ADDED"
            return "DELETED" if was else None
        return event.type if now_matches else None

    def render(self, type_: str, record: storage.Record, event: storage.Event | None = None) -> bytes:
        obj = record.obj
        if self.table_include is not None:
            view = tables.table(self.rt, [obj], self.clock(), resource_version=obj["metadata"]["resourceVersion"],
                                include=self.table_include)
            return storage.dumps({"type": type_, "object": view}) + b"\n"
        if obj.get("apiVersion") != self.rt.api_version:
            return storage.dumps({"type": type_, "object": dict(obj, apiVersion=self.rt.api_version)}) + b"\n"
        if event is not None:
            return event.line(type_)
        return b'{"type":"' + type_.encode() + b'","object":' + record.raw + b"}\n"

    def push(self, line: bytes) -> None:
        if self.closed:
            return
        self.buffer.append(line)
        if len(self.buffer) > MAX_BUFFERED:
            self.overflowed = True
            self.close()
            return
        self.wakeup.set()

    def offer(self, event: storage.Event) -> None:
        type_ = self._type_for(event)
        if type_ is not None:
            self.push(self.render(type_, event.record, event))

    def bookmark(self, rv: int, *, initial_events_end: bool = False) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_events_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return storage.dumps({"type": "BOOKMARK", "object": {
            "kind": self.rt.kind, "apiVersion": self.rt.api_version, "metadata": meta}}) + b"\n"

    def close(self) -> None:
        self.closed = True
        self.wakeup.set()


def error_line(error: errors.ApiError) -> bytes:
    return storage.dumps({"type": "ERROR", "object": error.status()}) + b"\n"


class Hub:
    """Watchers by storage key; subscribed to the store."""

    def __init__(self, store: storage.Store, clock: Callable[[], datetime.datetime]) -> None:
        self.store = store
        self.clock = clock
        self._by_key: dict[str, set[Watcher]] = {}
        store.subscribe(self._on_event)

    def _on_event(self, event: storage.Event) -> None:
        watchers = self._by_key.get(event.key)
        if watchers:
            for watcher in list(watchers):
                watcher.offer(event)

    def open(self, rt: resources.ResourceType, namespace: str | None, labels: selectors.LabelSelector,
             fields: selectors.FieldSelector, *, since: int | None, initial_bookmark: bool = False,
             table_include: str | None = None) -> Watcher:
        """Register a watcher; `since` None replays current objects as ADDED, else history after `since`.

        Raises storage.TooOld when history after `since` is gone. Runs without awaiting, so no event can
        slip between the replay and the registration.
        """
        watcher = Watcher(rt, namespace, labels, fields, table_include=table_include, clock=self.clock)
        if since is None:
            for record in self.store.items(rt.storage_key, namespace):
                if watcher.matches(record.obj):
                    watcher.buffer.append(watcher.render("ADDED", record))
            if initial_bookmark:
                watcher.buffer.append(watcher.bookmark(self.store.rv, initial_events_end=True))
        else:
            for event in self.store.events_since(since, rt.storage_key):
                watcher.offer(event)
        if watcher.buffer:
            watcher.wakeup.set()
        self._by_key.setdefault(rt.storage_key, set()).add(watcher)
        return watcher

    def close(self, watcher: Watcher) -> None:
        watcher.close()
        watchers = self._by_key.get(watcher.rt.storage_key)
        if watchers is not None:
            watchers.discard(watcher)

    def close_key(self, key: str) -> int:
        watchers = self._by_key.pop(key, set())
        for watcher in watchers:
            watcher.close()
        return len(watchers)

    def close_all(self) -> int:
        count = 0
        for key in list(self._by_key):
            count += self.close_key(key)
        return count

    def count(self) -> int:
        return sum(len(w) for w in self._by_key.values())

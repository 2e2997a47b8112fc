"""The readings store: what each ScaledObject's scale loop last measured, as the HPA must see it.

Every tick of a scale loop puts one `Reading` here: the values the HPA is fed (after fallback and the
scalingModifiers formula, exactly `decisions.Decision.metric_values`), the error of each failing metric,
the time the triggers were read and the pollingInterval. The external metrics API (`metrics_adapter`)
answers from these readings and never queries a source on its own: a reading is served as is while it is
`fresh` (the loop's next tick is not overdue: younger than 2 × pollingInterval + 1 s, see `stale_after`),
and a missing or stale one is read again through `Readings.fresh`, which runs one read however many
requests wait for it (single-flight).

The store belongs to the operator, not to a loop: a loop restarted after a spec change keeps serving the
previous reading (with the time it was taken) until its first tick replaces it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

# A reading older than 2 × pollingInterval + GRACE_SECONDS is stale: a loop ticks every pollingInterval,
# but its first interval after a (re)start may be up to two (each loop's phase is spread over the
# interval), and a tick takes time.
GRACE_SECONDS = 1.0


def stale_after(polling_interval: float) -> float:
    """How old a reading may get before it is read again."""
    return 2 * polling_interval + GRACE_SECONDS


@dataclasses.dataclass(frozen=True)
class Reading:
    """One ScaledObject's values for the HPA, as of `taken_at` (wall clock, seconds since the epoch)."""

    namespace: str
    name: str
    taken_at: float
    polling_interval: float
    values: Mapping[str, float]  # metric name → the value the HPA is fed (natural units)
    errors: Mapping[str, str]  # metric name → why it has no value (failing, fallback not engaged)
    metrics: tuple[str, ...]  # every external metric name the ScaledObject's HPA may ask for

    def age(self, now: float) -> float:
        return max(0.0, now - self.taken_at)

    def fresh(self, now: float) -> bool:
        return self.age(now) <= stale_after(self.polling_interval)

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "takenAt": self.taken_at,
            "pollingInterval": self.polling_interval,
            "values": dict(self.values),
            "errors": dict(self.errors),
            "metrics": list(self.metrics),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reading:
        """The inverse of `to_json`; raises ValueError naming the field that is wrong."""

        def field(key: str, kind: type | tuple[type, ...]) -> Any:
            value = data.get(key)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"reading: field {key!r} must be {kind}, got {type(value).__name__}")
            return value

        values = field("values", dict)
        errors = field("errors", dict)
        metrics = field("metrics", list)
        taken_at = float(field("takenAt", (int, float)))
        polling = float(field("pollingInterval", (int, float)))
        if not math.isfinite(taken_at) or not polling > 0:
            raise ValueError("reading: takenAt must be finite and pollingInterval positive")
        parsed: dict[str, float] = {}
        for key, value in values.items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"reading: values[{key!r}] must be a number, got {type(value).__name__}")
            parsed[str(key)] = float(value)
        return cls(
            namespace=str(field("namespace", str)),
            name=str(field("name", str)),
            taken_at=taken_at,
            polling_interval=polling,
            values=parsed,
            errors={str(k): str(v) for k, v in errors.items()},
            metrics=tuple(str(m) for m in metrics),
        )


Refresh = Callable[[], Awaitable[Reading | None]]
SUBSCRIBER_LIMIT = 50_000


class Subscriber:
    """The readings put since `Readings.subscribe`, in order; `overflowed` once it fell too far behind."""

    def __init__(self, limit: int) -> None:
        self.queue: asyncio.Queue[Reading] = asyncio.Queue(maxsize=limit)
        self.overflowed = False

    def offer(self, reading: Reading) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(reading)
        except asyncio.QueueFull:
            self.overflowed = True

    def drain(self) -> list[Reading]:
        found = []
        while not self.queue.empty():
            found.append(self.queue.get_nowait())
        return found


class Readings:
    """The latest reading per ScaledObject, and single-flight re-reads of missing or stale ones."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._by_key: dict[tuple[str, str], Reading] = {}
        self._inflight: dict[tuple[str, str], asyncio.Task[Reading | None]] = {}
        self.refreshes = 0  # re-reads started (each is one read of the ScaledObject's triggers)
        self._subscribers: set[Subscriber] = set()

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Reading]:
        return iter(list(self._by_key.values()))

    def put(self, reading: Reading) -> None:
        key = (reading.namespace, reading.name)
        old = self._by_key.get(key)
        if old is None or reading.taken_at >= old.taken_at:
            self._by_key[key] = reading
            for subscriber in list(self._subscribers):
                subscriber.offer(reading)

    def subscribe(self, limit: int = SUBSCRIBER_LIMIT) -> Subscriber:
        """Every reading put from now on (a slow subscriber that falls `limit` behind is cut off)."""
        subscriber = Subscriber(limit)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def get(self, namespace: str, name: str) -> Reading | None:
        return self._by_key.get((namespace, name))

    def forget(self, namespace: str, name: str) -> None:
        self._by_key.pop((namespace, name), None)

    async def fresh(self, namespace: str, name: str, refresh: Refresh) -> Reading | None:
        """The reading if it is fresh; else the result of one `refresh()` shared by every concurrent caller
        (the stale reading when the refresh gives nothing)."""
        key = (namespace, name)
        current = self._by_key.get(key)
        if current is not None and current.fresh(self._clock()):
            return current
        task = self._inflight.get(key)
        if task is None:
            self.refreshes += 1
            task = asyncio.ensure_future(refresh())
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        # One caller giving up (a client timeout) must not cancel the read the others wait for.
        got = await asyncio.shield(task)
        return got if got is not None else self._by_key.get(key)

    def _settled(self, key: tuple[str, str], task: asyncio.Task[Reading | None]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled() and task.exception() is None:
            got = task.result()
            if got is not None:
                self.put(got)


class NoSuchScaledObject(LookupError):
    """The ScaledObject named does not exist (KEDA's error text is the message)."""

    def __init__(self, namespace: str, name: str) -> None:
        self.namespace, self.name = namespace, name
        super().__init__(f'scaledobjects.keda.sh "{name}" not found')


class Unavailable(Exception):
    """No reading can be given now (no acting operator, the scale loop not running yet); the message says why."""


# The Lease through which the acting operator tells adapters where its readings are served.
ADVERTISEMENT_LEASE = "ebb-operator-readings"
ADVERTISEMENT_ANNOTATION = "ebb.dev/readings-url"
ADVERTISEMENT_DURATION_SECONDS = 30
READINGS_PATH = "/api/v1/readings/{namespace}/{name}"
# Every reading, then each new one as it is taken: one JSON object per line (blank lines keep it alive).
STREAM_PATH = "/api/v1/readings-stream"
STREAM_HEARTBEAT_SECONDS = 5.0

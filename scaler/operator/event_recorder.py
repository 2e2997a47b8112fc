"""Posting KEDA's Events without making the reconcile wait for them, as client-go's event recorder does.

`EventRecorder.record(...)` queues an Event and returns at once; a few workers post them through the
`kube.Kube` port (the write fence applies: a replica that lost the Lease posts nothing). The queue is
sharded by object, so one ScaledObject's Events keep their order (`KEDAScalersStarted` before
`ScaledObjectReady`). It is bounded as client-go's is (1,000 Events): when a start-up of thousands of
ScaledObjects fills it, further Events are dropped and counted rather than slowing the controller down,
and a warning says how many. The conditions in each ScaledObject's status carry the same facts.

What must not be here: deciding which Events to post (`reconciling`, `scale_loop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging

from scaler.operator import kube

logger = logging.getLogger("ebb.events")

SHARDS = 4
# client-go's recorder queues at most 1,000 Events (`maxQueuedEvents`) and drops the rest: a start-up of
# 10,000 ScaledObjects asks for 20,000 (KEDAScalersStarted, ScaledObjectReady), which posted one by one
# took a third of the API server's CPU (the sandbox's) while the loops were coming up.
CAPACITY = 1_000


@dataclasses.dataclass(frozen=True)
class _Pending:
    about: kube.ObjectRef
    type_: str
    reason: str
    message: str


class EventRecorder:
    """A bounded, sharded queue of Events and its workers; `start()` per leadership term, `stop()` after."""

    def __init__(self, api: kube.Kube, *, shards: int = SHARDS, capacity: int = CAPACITY) -> None:
        self.api = api
        self._queues: list[asyncio.Queue[_Pending]] = [
            asyncio.Queue(maxsize=max(capacity // shards, 1)) for _ in range(shards)
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self.posted = 0
        self.dropped = 0
        self.failed = 0

    def record(self, about: kube.ObjectRef, type_: str, reason: str, message: str) -> None:
        """Queue an Event about `about` (never waits; dropped and counted when the queue is full)."""
        queue = self._queues[hash((about.namespace, about.name)) % len(self._queues)]
        try:
            queue.put_nowait(_Pending(about, type_, reason, message))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("Event queue full: %d Events dropped so far (this one: %s about %s/%s)",
                               self.dropped, reason, about.namespace, about.name)

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._post(q), name=f"events {n}") for n, q in enumerate(self._queues)]

    async def _post(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            event = await queue.get()
            try:
                await self.api.post_event(event.about, event.type_, event.reason, event.message)
                self.posted += 1
            except kube.NotLeading:
                self.failed += 1
            except kube.ApiError as error:
                self.failed += 1
                logger.warning("%s/%s: could not post Event %s: %s", event.about.namespace, event.about.name,
                               event.reason, error)
            except Exception as error:  # a connection error: this Event is lost, the next ones may pass
                self.failed += 1
                logger.warning("%s/%s: could not post Event %s: %r", event.about.namespace, event.about.name,
                               event.reason, error)
            finally:
                queue.task_done()

    def pending(self) -> int:
        return sum(q.qsize() for q in self._queues)

    async def stop(self, grace: float = 0.0) -> None:
        """Post what is queued for up to `grace` seconds, then drop the rest and stop the workers."""
        if grace > 0 and self._tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    for queue in self._queues:
                        await queue.join()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for queue in self._queues:
            while not queue.empty():
                queue.get_nowait()
                queue.task_done()

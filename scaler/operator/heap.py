"""Keeping Python's cyclic garbage collector from stalling the operator's event loop.

A full (generation 2) collection walks every container object the process holds. With 1,000
ScaledObjects that is a few hundred thousand objects — the imported modules, the watched bodies, the
loops — and one walk measured 230–340 ms on this project's 2-core machines, during which no scale loop
ticks: that alone put the 99th percentile of scale-loop drift above 200 ms (`bench/operator_scale.py`).

`HeapKeeper.settle()` runs one full collection and then moves every survivor into the collector's
permanent generation (`gc.freeze()`), which later collections skip; frozen objects are still freed by
reference counting as usual. The operator settles the heap once its set of scale loops has stopped
changing (after the start, after a burst of new ScaledObjects) and again every `refreeze_period`.

Full collections are the operator's alone: `take_over_full_collections()` raises the collector's third
threshold out of reach, so generation 2 is collected only when the heap is settled. Left automatic, it
ran every 5–9 s once thousands of ScaledObjects were up, each time walking every object not frozen (the
watched bodies the watch keeps replacing, the loops' latest status): at 10,000 ScaledObjects 0.3–1.6 s
per walk, 20 s of a 90 s start-up, every walk collecting nothing (`PauseWatch` logged it). Young
collections (generations 0 and 1) stay automatic: they catch almost all cyclic garbage, and what
survives them waits for the next settling.

Why not freeze more often, e.g. after every slow collection: an object frozen while in flight (a
request, a tick) that later dies inside a reference cycle is never collected until the objects are
handed back (`gc.unfreeze()`). Freezing every few seconds measured ~700,000 such objects (over 100 MiB)
in three minutes with 1,000 busy ScaledObjects; settling rarely bounds that to one instant's in-flight
objects, collected at the next settle. The collector's thresholds are left at Python's defaults: with
a young generation of 50,000 instead of 700, young collections took 60–140 ms each.

Young collections are also run by hand, every `YOUNG_COLLECTION_SECONDS` (`collect_young`). Python
starts one when allocations outnumber deallocations by 700, not after 700 allocations, and the operator
mostly replaces objects: each watch event's new body frees the old one. So every new body stayed in
generation 0, uncounted, until some burst of net allocation (a takeover's first ticks, a scrape)
started a collection that walked all of them at once: 100–250 ms, 0 collected, at 10,000
ScaledObjects (`PauseWatch`). Collected every 0.1 s, they are walked a few thousand at a time, once.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("ebb.heap")

# A collection pausing the event loop longer than this is logged (they show up as scale-loop drift).
SLOW_COLLECTION_SECONDS = 0.05
# Generation 1 collections before an automatic full collection: never, in practice (see above).
FULL_COLLECTIONS_BY_HAND = 1 << 30

# Hand the frozen objects back, collect everything once, freeze again: one long pause this often.
REFREEZE_PERIOD_SECONDS = 600.0
# Generations 0 and 1 are collected at least this often (see the module docstring).
YOUNG_COLLECTION_SECONDS = 0.1
# Settle once the set of loops has not changed for this long.
QUIET_SECONDS = 10.0


class HeapKeeper:
    """Decides when to settle the heap, from the number of loop (re)starts it is shown over time.

    `observe(starts, now)` is called periodically with a counter that rises whenever a scale loop starts
    (`scale_loop.Loops.starts`); it settles the heap when the counter has been still for `quiet` seconds
    after a change, and every `refreeze_period` seconds. `settle()` does one settling directly."""

    def __init__(
        self,
        *,
        quiet: float = QUIET_SECONDS,
        refreeze_period: float = REFREEZE_PERIOD_SECONDS,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.quiet = quiet
        self.refreeze_period = refreeze_period
        self._clock = clock
        self._seen_starts: int | None = None
        self._changed_at: float | None = None
        self._settled_at: float | None = None
        self.settlings = 0
        self.last_pause_seconds = 0.0
        self.frozen = 0
        self._thresholds: tuple[int, int, int] | None = None

    def observe(self, starts: int, now: float) -> bool:
        """Settle the heap if it is time to; True when it did."""
        if starts != self._seen_starts:
            self._seen_starts = starts
            self._changed_at = now
            return False
        quiet_after_change = self._changed_at is not None and now - self._changed_at >= self.quiet
        period_over = self._settled_at is not None and now - self._settled_at >= self.refreeze_period
        if not (quiet_after_change or period_over):
            return False
        self.settle()
        self._changed_at = None
        self._settled_at = now
        return True

    def collect_young(self) -> int:
        """Collect generations 0 and 1 now, whatever their counts say; how many objects were unreachable."""
        return gc.collect(1)

    def settle(self) -> None:
        """Collect everything once (frozen objects included), then freeze the survivors."""
        began = self._clock()
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.last_pause_seconds = self._clock() - began
        self.frozen = gc.get_freeze_count()
        self.settlings += 1
        logger.info("settled the heap in %.0f ms: %d objects frozen", self.last_pause_seconds * 1000, self.frozen)

    def take_over_full_collections(self) -> None:
        """From now on generation 2 is collected only by `settle` (the young generations stay automatic)."""
        if self._thresholds is None:
            self._thresholds = gc.get_threshold()
            young, middle, _ = self._thresholds
            gc.set_threshold(young, middle, FULL_COLLECTIONS_BY_HAND)

    def release(self) -> None:
        """Hand every frozen object back to the collector and its thresholds back (when the operator stops)."""
        gc.unfreeze()
        self.frozen = 0
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None


class PauseWatch:
    """Logs every cyclic collection that paused the process longer than `threshold` seconds (a
    `gc.callbacks` hook; `install()` / `remove()`): which generation, how long, how many objects it
    walked. Counts them in `slow` and keeps the longest in `longest`."""

    def __init__(
        self,
        threshold: float = SLOW_COLLECTION_SECONDS,
        clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        self.threshold = threshold
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._began = 0.0
        self._cpu_began = 0.0
        self.slow = 0
        self.longest = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = self._clock()
            self._cpu_began = self._cpu_clock()
            return
        took = self._clock() - self._began
        if took >= self.threshold:
            # The thread's CPU time tells the collector's own work from the process being descheduled
            # (a saturated machine) while it collected.
            cpu = self._cpu_clock() - self._cpu_began
            self.slow += 1
            self.longest = max(self.longest, took)
            # Not gc.get_freeze_count(): it walks every frozen object (30 ms at a million).
            logger.info("a generation-%s collection paused the process %.0f ms, %.0f ms of it on the CPU (%d collected)",
                        info.get("generation"), took * 1000, cpu * 1000, info.get("collected", 0))

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)

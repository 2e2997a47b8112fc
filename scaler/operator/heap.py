"""Keeping Python's cyclic garbage collector from stalling the operator's event loop.

A full (generation 2) collection walks every container object the process holds. With 1,000
ScaledObjects that is a few hundred thousand objects — the imported modules, the watched bodies, the
loops — and one walk measured 230–340 ms on this project's 2-core machines, during which no scale loop
ticks: that alone put the 99th percentile of scale-loop drift above 200 ms (`bench/operator_scale.py`).

`HeapKeeper.settle()` runs one full collection and then moves every survivor into the collector's
permanent generation (`gc.freeze()`), which later collections skip; frozen objects are still freed by
reference counting as usual. The operator settles the heap once its set of scale loops has stopped
changing (after the start, after a burst of new ScaledObjects) and again every `refreeze_period`.

Why not freeze more often, e.g. after every slow collection: an object frozen while in flight (a
request, a tick) that later dies inside a reference cycle is never collected until the objects are
handed back (`gc.unfreeze()`). Freezing every few seconds measured ~700,000 such objects (over 100 MiB)
in three minutes with 1,000 busy ScaledObjects; settling rarely bounds that to one instant's in-flight
objects, collected at the next settle. The collector's thresholds are left at Python's defaults: with
a young generation of 50,000 instead of 700, young collections took 60–140 ms each.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

# Hand the frozen objects back, collect everything once, freeze again: one long pause this often.
REFREEZE_PERIOD_SECONDS = 600.0
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

    def settle(self) -> None:
        """Collect everything once (frozen objects included), then freeze the survivors."""
        began = self._clock()
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.last_pause_seconds = self._clock() - began
        self.frozen = gc.get_freeze_count()
        self.settlings += 1

    def release(self) -> None:
        """Hand every frozen object back to the collector (when the operator stops)."""
        gc.unfreeze()
        self.frozen = 0

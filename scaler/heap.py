"""Keeping Python's cyclic garbage collector from stalling the operator's event loop.

A full (generation 2) collection walks every container object the process holds. With 1,000
ScaledObjects that is a few hundred thousand objects — the imported modules, the watched bodies, the
loops — and one walk measured 230–340 ms on this project's 2-core machines, during which no scale loop
ticks: that alone put the 99th percentile of scale-loop drift above 200 ms (`bench/operator_scale.py`).

`HeapKeeper` moves the objects that survived a slow full collection into the collector's permanent
generation (`gc.freeze()`), which later collections skip. Frozen objects are still freed by reference
counting as usual; what freezing gives up is finding *cycles* among them, so every `refreeze_period`
seconds the permanent generation is handed back (`gc.unfreeze()`): the next full collection walks
everything once, collects what became cyclic garbage meanwhile, and its survivors are frozen again.

The freeze happens in the collector's own "stop" callback of a full collection: at that instant every
tracked object has just been proven reachable, so nothing that is already garbage is frozen.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

# A full collection slower than this is worth avoiding next time.
SLOW_COLLECTION_SECONDS = 0.02
REFREEZE_PERIOD_SECONDS = 600.0


class HeapKeeper:
    """Freeze the survivors of slow full collections; unfreeze them now and then to collect their cycles.

    `install()` registers the collector callback, `uninstall()` removes it and unfreezes everything.
    `clock` is `time.perf_counter` in production; tests pass their own."""

    def __init__(
        self,
        *,
        slow_seconds: float = SLOW_COLLECTION_SECONDS,
        refreeze_period: float = REFREEZE_PERIOD_SECONDS,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.slow_seconds = slow_seconds
        self.refreeze_period = refreeze_period
        self._clock = clock
        self._started: float | None = None
        self._frozen_at: float | None = None
        self.freezes = 0
        self.full_collections = 0
        self.last_full_seconds = 0.0
        self.installed = False

    def install(self) -> None:
        if not self.installed:
            gc.callbacks.append(self._callback)
            self.installed = True

    def uninstall(self) -> None:
        if self.installed:
            gc.callbacks.remove(self._callback)
            self.installed = False
            gc.unfreeze()

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        # Runs inside the collector: no logging, no allocation-heavy work.
        if info.get("generation") != 2:
            return
        now = self._clock()
        if phase == "start":
            self._started = now
            return
        if self._started is None:
            return
        took = now - self._started
        self._started = None
        self.full_collections += 1
        self.last_full_seconds = took
        if self._frozen_at is not None and now - self._frozen_at >= self.refreeze_period:
            # Hand the frozen objects back so the next full collection can find cycles among them.
            gc.unfreeze()
            self._frozen_at = None
            return
        if took >= self.slow_seconds:
            gc.freeze()
            self.freezes += 1
            if self._frozen_at is None:  # the period runs from the first freeze since objects were handed back
                self._frozen_at = now

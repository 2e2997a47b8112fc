"""`scaler.operator.heap.HeapKeeper` against the real collector: it settles (collects everything once, then
freezes the survivors) when the loops stop changing and every refreeze period, never freezes garbage,
hands frozen objects back on each settle so cycles among them are found, and releases them all."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from scaler.operator import heap

ALIVE: weakref.WeakSet[Cycle] = weakref.WeakSet()


class Cycle:
    def __init__(self) -> None:
        self.me = self
        ALIVE.add(self)


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def cycles_alive() -> int:
    """Cycles not yet freed, frozen ones included (`gc.get_objects()` does not list frozen objects)."""
    return len(ALIVE)


@pytest.mark.parametrize(("observations", "settled_at"), [
    pytest.param([(5, 0.0), (5, 9.9)], [], id="never-quiet-long-enough"),
    pytest.param([(5, 0.0), (5, 10.0), (5, 20.0)], [1], id="settles-once-after-ten-quiet-seconds"),
    pytest.param([(5, 0.0), (6, 8.0), (6, 16.0), (6, 18.0)], [3], id="a-new-loop-restarts-the-quiet-time"),
    pytest.param([(5, 0.0), (5, 10.0), (5, 609.0), (5, 610.0), (5, 1210.0)], [1, 3, 4], id="and-every-refreeze-period"),
])
def test_when_it_settles(observations: list[tuple[int, float]], settled_at: list[int]) -> None:
    keeper = heap.HeapKeeper(quiet=10.0, refreeze_period=600.0)
    try:
        settled = [i for i, (starts, now) in enumerate(observations) if keeper.observe(starts, now)]
    finally:
        keeper.release()
    assert settled == settled_at
    assert keeper.settlings == len(settled_at)


def test_settling_freezes_the_survivors_and_collects_the_garbage() -> None:
    keeper = heap.HeapKeeper()  # the cycles below are unreachable at once, alive only through themselves
    ALIVE.clear()
    kept = Cycle()
    for _ in range(100):
        Cycle()
    keeper.settle()
    # Frozen objects are still freed by reference counting, so the count may drop by the time it is read.
    assert keeper.frozen > 0
    assert 0 < gc.get_freeze_count() <= keeper.frozen
    assert keeper.last_pause_seconds > 0
    keeper.release()
    assert gc.get_freeze_count() == 0
    assert cycles_alive() == 1
    del kept


def test_frozen_objects_that_become_cyclic_garbage_are_collected_at_the_next_settle() -> None:
    keeper = heap.HeapKeeper()
    ALIVE.clear()
    held = [Cycle() for _ in range(50)]
    keeper.settle()
    del held  # the cycles were frozen alive; now they are garbage the collector cannot see
    gc.collect()
    assert cycles_alive() == 50
    keeper.settle()
    assert cycles_alive() == 0
    keeper.release()


def test_young_objects_are_still_collected_between_settles() -> None:
    keeper = heap.HeapKeeper()
    keeper.settle()
    ALIVE.clear()
    for _ in range(100):
        Cycle()
    gc.collect()
    assert cycles_alive() == 0
    keeper.release()



def test_full_collections_are_left_to_the_settling_and_handed_back_on_release() -> None:
    before = gc.get_threshold()
    keeper = heap.HeapKeeper()
    keeper.take_over_full_collections()
    try:
        young, middle, full = gc.get_threshold()
        assert (young, middle) == before[:2], "the young generations keep their thresholds"
        assert full == heap.FULL_COLLECTIONS_BY_HAND, f"an automatic full collection is still possible: {full}"
        keeper.take_over_full_collections()  # idempotent: what is handed back is still the original
    finally:
        keeper.release()
    assert gc.get_threshold() == before


def test_a_slow_collection_is_logged_with_its_generation(caplog: pytest.LogCaptureFixture) -> None:
    watch = heap.PauseWatch(threshold=0.0)
    watch.install()
    try:
        with caplog.at_level("INFO", logger="ebb.heap"):
            gc.collect(1)
    finally:
        watch.remove()
    assert watch.slow >= 1 and watch.longest >= 0.0
    assert any("generation-1 collection paused the process" in r.getMessage() for r in caplog.records), caplog.text
    assert watch not in gc.callbacks


@pytest.mark.parametrize(
    ("wall", "cpu", "expected"),
    [
        pytest.param(0.120, 0.118, "paused the process 120 ms, 118 ms of it on the CPU", id="the-collector-worked"),
        pytest.param(0.150, 0.001, "paused the process 150 ms, 1 ms of it on the CPU", id="descheduled-while-collecting"),
    ],
)
def test_a_slow_collection_says_how_much_of_it_was_cpu(
    caplog: pytest.LogCaptureFixture, wall: float, cpu: float, expected: str
) -> None:
    clocks = {"wall": 10.0, "cpu": 3.0}
    watch = heap.PauseWatch(threshold=0.05, clock=lambda: clocks["wall"], cpu_clock=lambda: clocks["cpu"])
    with caplog.at_level("INFO", logger="ebb.heap"):
        watch("start", {"generation": 0})
        clocks["wall"] += wall
        clocks["cpu"] += cpu
        watch("stop", {"generation": 0, "collected": 0})
    assert [r.getMessage() for r in caplog.records] == [f"a generation-0 collection {expected} (0 collected)"]
    assert watch.slow == 1 and watch.longest == pytest.approx(wall)


def test_young_objects_that_replaced_others_are_collected_by_hand_not_left_uncounted() -> None:
    """Replacing objects (a watch event's body freeing the one before) never raises the young generation's
    count, so Python would leave them all for one long collection later; `collect_young` walks them now."""
    cache = {n: {"status": {"conditions": [{"type": "Ready"}]}} for n in range(1000)}
    gc.collect()
    for n in range(20_000):
        cache[n % 1000] = {"status": {"conditions": [{"type": "Ready"}]}}
    # The 1,000 bodies in the cache, three containers each, all still young.
    assert len(gc.get_objects(0)) >= 3_000, "the replacements were collected automatically: nothing to show"
    heap.HeapKeeper().collect_young()
    assert len(gc.get_objects(0)) + len(gc.get_objects(1)) < 100

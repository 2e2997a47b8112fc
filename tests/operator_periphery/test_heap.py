"""`scaler.heap.HeapKeeper` against the real collector: survivors of a slow full collection are frozen,
nothing that is garbage at that moment is, the freeze is handed back after the refreeze period, and
uninstalling leaves the collector as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from scaler import heap


class Clock:
    """A perf_counter the test moves: each reading advances by `step` seconds."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def keeper_factory() -> Iterator[list[heap.HeapKeeper]]:
    made: list[heap.HeapKeeper] = []
    yield made
    for keeper in made:
        keeper.uninstall()
    gc.unfreeze()


def make(made: list[heap.HeapKeeper], *, step: float, slow: float = 0.02, period: float = 600.0) -> heap.HeapKeeper:
    keeper = heap.HeapKeeper(slow_seconds=slow, refreeze_period=period, clock=Clock(step))
    made.append(keeper)
    keeper.install()
    return keeper


def test_a_slow_full_collection_freezes_its_survivors(keeper_factory: list[heap.HeapKeeper]) -> None:
    keeper = make(keeper_factory, step=0.05)  # every collection "takes" 50 ms
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert keeper.full_collections == 1
    assert keeper.freezes == 1
    assert keeper.last_full_seconds == pytest.approx(0.05)
    assert gc.get_freeze_count() > 0


def test_a_fast_full_collection_freezes_nothing(keeper_factory: list[heap.HeapKeeper]) -> None:
    keeper = make(keeper_factory, step=0.001)
    gc.collect()
    assert keeper.full_collections == 1
    assert keeper.freezes == 0
    assert gc.get_freeze_count() == 0


def test_young_collections_are_left_alone(keeper_factory: list[heap.HeapKeeper]) -> None:
    keeper = make(keeper_factory, step=1.0)
    gc.collect(0)
    gc.collect(1)
    assert keeper.full_collections == 0
    assert gc.get_freeze_count() == 0


def test_garbage_is_collected_not_frozen(keeper_factory: list[heap.HeapKeeper]) -> None:
    make(keeper_factory, step=0.05)
    for _ in range(1000):
        Cycle()  # unreachable at once, kept alive only by its own cycle
    gc.collect()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    gc.unfreeze()
    assert not any(isinstance(o, Cycle) for o in gc.get_objects())


def test_after_the_period_the_frozen_objects_are_handed_back_and_refrozen(
    keeper_factory: list[heap.HeapKeeper],
) -> None:
    keeper = make(keeper_factory, step=0.05, period=1.0)  # each reading +50 ms: the period passes in 20
    gc.collect()
    assert keeper.freezes == 1
    for _ in range(12):  # 12 × 2 readings × 50 ms > 1 s
        gc.collect(2)
        if gc.get_freeze_count() == 0:
            break
    assert gc.get_freeze_count() == 0, "the frozen objects were never handed back"
    freezes = keeper.freezes
    # A cycle made while the objects were frozen is collectable again once they are handed back.
    Cycle()
    gc.collect()
    assert keeper.freezes == freezes + 1
    assert not any(isinstance(o, Cycle) for o in gc.get_objects())


def test_uninstall_removes_the_callback_and_unfreezes(keeper_factory: list[heap.HeapKeeper]) -> None:
    keeper = make(keeper_factory, step=0.05)
    gc.collect()
    assert gc.get_freeze_count() > 0
    keeper.uninstall()
    assert keeper._callback not in gc.callbacks
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert keeper.full_collections == 1

"""`event_recorder.EventRecorder`: Events leave in the background, one object's in the order they were
recorded; a full queue drops (counted and logged) instead of making the reconcile wait; a replica that
lost the Lease posts nothing and says nothing about it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from scaler.operator import event_recorder, kube


class Port:
    """The `post_event` of the `Kube` port, recording what was posted; `gate` holds every post."""

    def __init__(self, *, leading: bool = True) -> None:
        self.posted: list[tuple[str, str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.leading = leading

    async def post_event(self, about: kube.ObjectRef, type_: str, reason: str, message: str) -> None:
        await self.gate.wait()
        if not self.leading:
            raise kube.NotLeading(f"POST Event {reason}")
        self.posted.append((about.name, reason))


def _about(name: str) -> kube.ObjectRef:
    return kube.ObjectRef("keda.sh/v1alpha1", "ScaledObject", "apps", name, f"uid-{name}")


async def test_each_objects_events_keep_their_order() -> None:
    port = Port()
    recorder = event_recorder.EventRecorder(port, shards=3)  # type: ignore[arg-type]  # the one method used
    recorder.start()
    for n in range(20):
        for reason in ("KEDAScalersStarted", "ScaledObjectReady"):
            recorder.record(_about(f"so-{n}"), "Normal", reason, "m")
    await recorder.stop(grace=5.0)
    assert len(port.posted) == 40 and recorder.posted == 40
    for n in range(20):
        mine = [reason for name, reason in port.posted if name == f"so-{n}"]
        assert mine == ["KEDAScalersStarted", "ScaledObjectReady"], (n, mine)


async def test_a_full_queue_drops_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    port = Port()
    port.gate.clear()  # the API answers nothing for now
    recorder = event_recorder.EventRecorder(port, shards=1, capacity=10)  # type: ignore[arg-type]
    recorder.start()
    with caplog.at_level(logging.WARNING, logger="ebb.events"):
        for n in range(25):
            recorder.record(_about(f"so-{n}"), "Normal", "ScaledObjectReady", "m")
    await asyncio.sleep(0)
    assert recorder.dropped >= 14, recorder.dropped  # 10 queued, at most one taken by the worker
    assert "Event queue full" in caplog.text
    port.gate.set()
    await recorder.stop(grace=5.0)
    assert recorder.posted + recorder.dropped == 25


async def test_a_replica_without_the_lease_posts_nothing(caplog: pytest.LogCaptureFixture) -> None:
    port = Port(leading=False)
    recorder = event_recorder.EventRecorder(port)  # type: ignore[arg-type]
    recorder.start()
    with caplog.at_level(logging.WARNING, logger="ebb.events"):
        recorder.record(_about("orders"), "Normal", "KEDAScalersStarted", "m")
        await recorder.stop(grace=5.0)
    assert port.posted == [] and recorder.failed == 1
    assert caplog.text == ""

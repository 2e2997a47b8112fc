"""Stopping hundreds of scale loops (a SIGTERM or a lost Lease at scale, issue 15): `Loops.stop_all` stops
them all at once, so it takes one `stop_timeout` at most (a tick in flight that never ends), not one per
loop, and leaves no loop running. The ticks are held in a `/scale` read of a fake `Kube` port
(`test_one_writer.HeldKube`) for as long as the case says."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from scaler.operator import kube, scale_loop
from scalers import connections, registry
from tests.operator import test_one_writer


class _HungKube(test_one_writer.HeldKube):
    """Every `/scale` read waits for `release` (never set when the case hangs the ticks)."""

    async def read_scale(self, target: kube.Target) -> kube.Scale:
        self.reads += 1
        self.entered.set()
        await self.release.wait()
        return kube.Scale(replicas=1, status_replicas=1, selector="", resource_version="7")


def _body(index: int) -> dict[str, Any]:
    body = test_one_writer._body(1, uid=f"uid-{index}")
    body["metadata"]["name"] = f"orders-{index:04d}"
    return body


STOP_TIMEOUT = 0.5


@pytest.mark.parametrize(
    ("count", "hung", "bound"),
    [
        # Idle loops (between ticks): cancelled at once.
        pytest.param(300, False, STOP_TIMEOUT, id="300-idle"),
        # Every tick hangs: all wait out one stop_timeout together, then are cancelled (serially: 150 s).
        pytest.param(300, True, STOP_TIMEOUT + 2.0, id="300-in-a-hung-tick"),
        pytest.param(600, True, STOP_TIMEOUT + 3.0, id="600-in-a-hung-tick"),
    ],
)
async def test_hundreds_of_loops_stop_within_one_stop_timeout(count: int, hung: bool, bound: float) -> None:
    port = _HungKube()
    if not hung:
        port.release.set()
    ctx = scale_loop.LoopContext(api=port, watched=kube.Watched(), scalers=registry.default(),
                                 clients=connections.SharedClients())
    loops = scale_loop.Loops(ctx, stop_timeout=STOP_TIMEOUT)
    for index in range(count):
        body = _body(index)
        await loops.ensure(test_one_writer._spec(body), body)
    await port.entered.wait()
    for _ in range(5):
        await asyncio.sleep(0)  # let the loops reach their first read
    began = time.monotonic()
    await loops.stop_all()
    took = time.monotonic() - began
    assert len(loops) == 0, f"scale loops left running after stop_all: expected none, got {len(loops)}"
    assert took < bound, f"stopping {count} scale loops (ticks hung: {hung}): expected < {bound:g} s, took {took:.2f} s"
    await ctx.clients.aclose()

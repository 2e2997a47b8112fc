"""What `/readyz` means for each role: a leader is ready once its reconciler runs, every watched resource has been
listed in this term and no scale loop is stalled; a standby is ready while its election runs; nobody is
ready while shutting down. A loop counts as stalled when its tick is overdue by more than two polling
intervals plus `scale_loop.STALL_SECONDS` (measured on the loops' own monotonic clock)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from scaler.operator import http_server, kube, scale_loop
from scalers import connections, registry
from tests.operator import test_one_writer


def _state(**fields: Any) -> http_server.HealthState:
    return http_server.HealthState(**fields)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        pytest.param(_state(), (False, "starting: neither leading nor a standby yet"), id="starting"),
        pytest.param(_state(leading=True), (False, "leading, waiting for the initial sync"), id="reconciler-not-running"),
        pytest.param(_state(leading=True, synced=True, listed=lambda: False),
                     (False, "leading, waiting for every watched resource to be listed"), id="not-listed"),
        pytest.param(_state(leading=True, synced=True, stalled=lambda: ["default/orders"]),
                     (False, "leading, scale loops not ticking: default/orders"), id="a-loop-stalled"),
        pytest.param(_state(leading=True, synced=True, stalled=lambda: [f"ns/so-{i}" for i in range(7)]),
                     (False, "leading, scale loops not ticking: ns/so-0, ns/so-1, ns/so-2, ns/so-3, ns/so-4 and 2 more"),
                     id="many-stalled-named-five"),
        pytest.param(_state(leading=True, synced=True), (True, "leading"), id="leading"),
        pytest.param(_state(standby=True), (True, "standby: another replica holds the lease"), id="standby"),
        pytest.param(_state(standby=True, listed=lambda: False),
                     (True, "standby: another replica holds the lease"), id="standby-lists-nothing"),
        pytest.param(_state(leading=True, synced=True, stopping=True), (False, "shutting down"), id="stopping"),
    ],
)
def test_readiness_by_role(state: http_server.HealthState, expected: tuple[bool, str]) -> None:
    assert state.readiness() == expected


async def test_a_loop_whose_tick_is_overdue_is_reported_stalled() -> None:
    port = test_one_writer.HeldKube()
    now = [1000.0]
    ctx = scale_loop.LoopContext(
        api=port, watched=kube.Watched(), scalers=registry.default(), clients=connections.SharedClients(),
        monotonic=lambda: now[0],
    )
    loops = scale_loop.Loops(ctx, stop_timeout=60)
    body = test_one_writer._body(1)
    await loops.ensure(test_one_writer._spec(body), body)
    await port.entered.wait()  # the first tick hangs in its /scale read
    interval = 1  # the ScaledObject's pollingInterval
    limit = 2 * interval + scale_loop.STALL_SECONDS
    try:
        for elapsed, stalled in ((0.0, []), (limit - 0.5, []), (limit + 0.5, ["default/orders"])):
            now[0] = 1000.0 + elapsed
            assert loops.stalled() == stalled, elapsed
    finally:
        port.release.set()
        await asyncio.sleep(0)
        await loops.stop_all()

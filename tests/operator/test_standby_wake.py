"""A standby's scale loop is prepared but does not tick; when the replica takes the Lease, `wake_all` makes
every prepared loop tick at once — not at its next turn of the pollingInterval — and says when all did."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

from scaler.operator import kube, scale_loop
from scalers import connections, redis_connections, registry
from tests.operator import test_one_writer
from tests.servers import redis_server as redis_fixtures


async def test_a_woken_standby_loop_ticks_at_once_not_at_its_next_turn(caplog: pytest.LogCaptureFixture) -> None:
    port = test_one_writer.HeldKube()
    port.release.set()  # no held read here
    leading = [False]
    ctx = scale_loop.LoopContext(
        api=port, watched=kube.Watched(), scalers=registry.default(), clients=connections.SharedClients(),
        leading=lambda: leading[0],
    )
    loops = scale_loop.Loops(ctx, stop_timeout=5)
    body = test_one_writer._body(1)
    body["spec"]["pollingInterval"] = 300  # its next turn is minutes away
    await loops.ensure(test_one_writer._spec(body), body)
    loop = loops.get(test_one_writer.KEY)
    assert loop is not None
    try:
        await asyncio.sleep(0.2)
        assert loop.ticks == 0 and port.reads == 0, "a standby's loop ticked"
        leading[0] = True
        with caplog.at_level(logging.INFO, logger="ebb.scale_loop"):
            all_ticked = asyncio.Event()
            handler = logging.Handler()
            handler.emit = lambda record: all_ticked.set()  # type: ignore[method-assign]
            logging.getLogger("ebb.scale_loop").addHandler(handler)
            try:
                assert loops.wake_all() == 1
                await asyncio.wait_for(all_ticked.wait(), 2.0)  # not 300 s
            finally:
                logging.getLogger("ebb.scale_loop").removeHandler(handler)
        assert loop.ticks == 1
        assert port.reads >= 1
        assert "every one of 1 woken scale loops ticked" in caplog.text, caplog.text
        assert loops.wake_all() == 0, "a leading loop is not napping: nothing to wake"
    finally:
        await loops.stop_all()


def test_a_taken_over_active_objects_last_active_refresh_is_spread_over_one_period() -> None:
    """The replica before saved lastActiveTime while the object was active. The new leader's refresh of it
    falls due in the second half of one refresh period, at a point set by the object's phase, so the first
    ticks after a takeover do not send one status write per active object at once."""
    now = 1_000_000.0
    ctx = scale_loop.LoopContext(
        api=test_one_writer.HeldKube(), watched=kube.Watched(), scalers=registry.default(),
        clients=connections.SharedClients(), clock=lambda: now,
    )
    due_after: list[float] = []
    for n in range(40):
        body = test_one_writer._body(1)
        body["metadata"]["name"] = f"orders-{n}"
        body["spec"]["cooldownPeriod"] = 40  # refreshed every 10 s
        body["status"] = {
            "lastActiveTime": "1970-01-12T13:46:20Z",  # 20 s before `now`: the Lease took that long
            "conditions": [{"type": "Active", "status": "True", "reason": "ScalerActive", "message": ""}],
        }
        loop = scale_loop.ScaleLoop(test_one_writer._spec(body), body, ctx)
        period = scale_loop.last_active_persist_seconds(loop.spec)
        assert period == 10.0
        waits = [w for w in range(0, 11) if loop._last_active_refresh_due(
            dataclasses.replace(loop.state, last_active_time=now + w))]
        assert waits, f"{loop.spec.name}: the refresh never fell due within one period"
        due_after.append(waits[0])
    assert min(due_after) >= 5, f"a refresh fell due in the first half period: {sorted(due_after)}"
    assert len(set(due_after)) >= 4, f"the refreshes all fall due together: {sorted(due_after)}"


async def test_a_standby_loop_holds_its_shared_connection_before_its_first_read(
    redis_server: redis_fixtures.RedisServer, list_name: str
) -> None:
    """Warm means the first tick after the takeover costs what any tick costs: the trigger's hold on the
    shared Redis client is taken while standing by, without a read."""
    clients = connections.SharedClients()
    ctx = scale_loop.LoopContext(
        api=test_one_writer.HeldKube(), watched=kube.Watched(), scalers=registry.default(), clients=clients,
        leading=lambda: False,
    )
    loops = scale_loop.Loops(ctx, stop_timeout=5)
    body = test_one_writer._body(1)
    body["spec"]["triggers"] = [{"type": "redis", "metadata": {
        "address": f"{redis_server.host}:{redis_server.port}", "listName": list_name, "listLength": "5"}}]
    await loops.ensure(test_one_writer._spec(body), body)
    loop = loops.get(test_one_writer.KEY)
    assert loop is not None
    try:
        for _ in range(50):
            if len(clients) == 1:
                break
            await asyncio.sleep(0.02)
        assert len(clients) == 1, "the standby's trigger took no hold on the shared client"
        assert loop.ticks == 0
        (built,) = loop.triggers._built.values()
        assert isinstance(built.scaler, redis_connections.CountScaler) and built.scaler.hold is not None
        connection = built.scaler.hold.__self__  # type: ignore[attr-defined]
        handle = await connection.handle()
        assert handle.batcher.flushes == 0, "the standby read Redis"
    finally:
        await loops.stop_all()
    assert len(clients) == 0, "stopping the loop let go of the client"


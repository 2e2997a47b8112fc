"""A standby's scale loop is prepared but does not tick; when the replica takes the Lease, `wake_all` makes
every prepared loop tick at once — not at its next turn of the pollingInterval — and says when all did."""

from __future__ import annotations

import asyncio
import logging

import pytest

from scaler.operator import kube, scale_loop
from scalers import connections, registry
from tests.operator import test_one_writer


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

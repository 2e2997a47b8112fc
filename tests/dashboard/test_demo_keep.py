"""`ebb demo` prints the dashboard's address, and with `--keep` keeps the sandbox, the operator and the
dashboard running after the cycle until it is stopped: the page answers then, with the whole cycle in
its decision table, and the demo ends cleanly when told to."""

from __future__ import annotations

import asyncio
import re

import aiohttp

from scaler.cli import demo


async def test_demo_keep_serves_the_dashboard_after_the_cycle() -> None:
    lines: list[str] = []
    kept = asyncio.Event()
    stop = asyncio.Event()

    def emit(line: str) -> None:
        lines.append(line)
        if line.startswith("--keep:"):
            kept.set()

    running = asyncio.create_task(demo.run(demo.Options(duration=22.0, ready_delay=0.2, keep=True), emit=emit,
                                           stop=stop))
    waiter = asyncio.create_task(kept.wait())
    await asyncio.wait({waiter, running}, timeout=40, return_when=asyncio.FIRST_COMPLETED)
    assert kept.is_set(), "\n".join(lines)
    url = next(m.group(1) for line in lines if (m := re.match(r"\s+dashboard: (http://\S+)", line)))
    assert url.endswith("/scaledobjects/demo/worker")
    await asyncio.sleep(1.5)  # still running after the cycle
    assert not running.done()
    async with aiohttp.ClientSession() as session, session.get(url) as reply:
        assert reply.status == 200
        page = await reply.text()
    for reason in ("ACTIVATED_FROM_ZERO", "ACTIVE", "SCALED_TO_ZERO"):
        assert reason in page, reason
    assert 'data-kind="below-activation"' in page
    stop.set()
    result = await asyncio.wait_for(running, 20)
    assert result.completed

"""`ebb demo`'s logic in-process on a shortened schedule: the sandbox, the operator over HTTP and the
metrics-api scaler on the generated queue take the Deployment 0 → 1 → N → 0, and the decision JSON the
operator serves answers during the run (checked here with a client of the test's own)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp

from scaler.cli import demo
from scaler.core import specs

DURATION = 22.0


async def _fetch_decisions(linked: asyncio.Event, lines: list[str], answers: list[dict[str, Any]]) -> None:
    """Wait for the printed link, then read the decision JSON until it holds decisions."""
    await linked.wait()
    url = next(m.group(0) for line in lines if (m := re.search(r"http://\S+/decisions", line)))
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(url) as reply:
                if reply.status == 200:
                    body = await reply.json()
                    if body["decisions"]:
                        answers.append(body)
                        return
            await asyncio.sleep(0.1)


async def test_the_demo_scales_from_zero_out_and_back_to_zero() -> None:
    lines: list[str] = []
    answers: list[dict[str, Any]] = []
    linked = asyncio.Event()

    def emit(line: str) -> None:
        lines.append(line)
        if "/decisions" in line:
            linked.set()

    reader = asyncio.create_task(_fetch_decisions(linked, lines, answers))
    result = await demo.run(demo.Options(duration=DURATION, ready_delay=0.2), emit=emit)
    reader.cancel()

    assert result.completed and not result.interrupted, "\n".join(lines)
    assert result.elapsed < DURATION
    replicas = [o.replicas for o in result.changes]
    # 0 → ≥1 → N>1 → 0, in that order.
    woke = next(i for i, r in enumerate(replicas) if r >= 1)
    assert replicas[:woke] == [0] * woke
    out = next(i for i, r in enumerate(replicas) if r > 1)
    assert woke < out
    assert replicas[-1] == 0 and result.changes[-1].ready == 0
    assert 3 <= max(replicas) <= 6  # a queue of 60 at targetValue 10: 6 at most, 2 pods a second up
    reasons = [o.reason for o in result.changes]
    assert reasons.index("ACTIVATED_FROM_ZERO") < reasons.index("ACTIVE") < reasons.index("COOLDOWN")
    assert reasons[-1] == "SCALED_TO_ZERO"

    # The demo's own reads of the decision JSON, and one by this test.
    assert result.decision_answers > 0 and result.decisions > 0
    assert result.decisions_url.endswith("/api/v1/scaledobjects/demo/worker/decisions")
    assert answers, "the decision JSON never answered with decisions"
    body = answers[0]
    assert body["scaledObject"] == "demo/worker"
    first = body["decisions"][0]
    assert first["mode"] == specs.ScalingMode.DIRECT.value
    assert first["triggers"][0]["type"] == "metrics-api"
    assert first["triggers"][0]["metric"] == "s0-metric-api-queue-depth"

    # One printed line per change, the summary at the end.
    change_lines = [line for line in lines if re.match(r"^\s+\d+\.\ds  queue", line)]
    assert len(change_lines) == len(result.changes)
    for line in change_lines:  # the direct-mode HPA step is told once, inside the explanation
        steps = re.findall(r"HPA \d+→\d+: ", line)
        assert len(steps) == len(set(steps)), line
    assert "cycle: complete" in lines


async def test_hpa_mode_goes_0_1_n_0_through_the_adapter_and_the_hpa_controller() -> None:
    lines: list[str] = []
    result = await demo.run(
        demo.Options(duration=40.0, mode=specs.ScalingMode.HPA, ready_delay=0.2), emit=lines.append
    )
    assert result.completed, "\n".join(lines)
    replicas = [o.replicas for o in result.changes]
    assert max(replicas) > 1 and replicas[-1] == 0 and 1 in replicas
    # 0 → 1 and 1 → 0 are the operator's decisions; every step in between is the HPA controller's.
    assert [o.reason for o in result.changes if o.replicas > 1 and o.explanation.startswith("HPA controller")]
    hpa_lines = [line for line in lines if "HPA: HPA controller: desiredReplicas" in line]
    assert hpa_lines and all("read through the adapter" in line for line in hpa_lines)
    assert any("through the APIService v1beta1.external.metrics.k8s.io (Available)" in line for line in lines)
    assert any("get --raw '/apis/external.metrics.k8s.io/v1beta1/namespaces/demo/s0-metric-api-queue-depth"
               "?labelSelector=scaledobject.keda.sh%2Fname%3Dworker'" in line for line in lines)
    assert result.hpa is not None and result.hpa.startswith(
        "HPA demo/keda-hpa-worker built by the operator: minReplicas 1, maxReplicas 10, external metric "
        "s0-metric-api-queue-depth (AverageValue 10); status: currentReplicas "
    )

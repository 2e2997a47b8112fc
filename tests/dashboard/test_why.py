"""Every "why not scaling?" case produced for real — by the operator against the sandbox and Redis — and
its sentence checked on the object page and in the JSON API; then the fleet page's filters on those
same objects. For the HPA case the sandbox runs its HPA controller (syncing every second) with no metrics
adapter registered: the controller cannot fetch the external metric and says so in the HPA's
`ScalingActive=False FailedGetExternalMetric`, which the operator mirrors into `HPAActive`."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from kube_sandbox import testing
from scaler.core import specs
from tests.dashboard.conftest import screenshot
from tests.operator import cluster
from tests.operator import conftest as operator_fixtures
from tests.servers import redis_server as redis_fixtures


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    kind: str
    words: tuple[str, ...]
    items: int = 0  # jobs pushed to its list
    list_length: str = "5"
    max_replicas: int = 10
    cooldown: int = 2
    annotations: tuple[tuple[str, str], ...] = ()
    extra: tuple[tuple[str, str], ...] = ()
    address: str | None = None  # default: the suite's Redis
    empty_after_active: bool = False  # push, wait until active, then empty the list


CASES = (
    Case("invalid", "spec-invalid", ("not valid", "listLength"), list_length="many"),
    Case("paused", "paused", (f"{specs.PAUSED}=true", "until it is removed"), annotations=((specs.PAUSED, "true"),)),
    Case("erroring", "scaler-error", ("A scaler is erroring", "trigger #0 (redis", "127.0.0.1:1")),
    Case("quiet", "below-activation", ("reads 2", "activation threshold 5"), items=2,
         extra=(("activationListLength", "5"),)),
    Case("busy", "at-max", ("maxReplicaCount 2", "reads 50 against target 5"), items=50, max_replicas=2),
    Case("cooling", "cooldown", ("cooldownPeriod 120 s", "left"), items=3, cooldown=120, empty_after_active=True),
    Case("hpa", "hpa-no-metrics", ("FailedGetExternalMetric", "unable to get external metric"), items=3,
         annotations=((specs.SCALING_MODE, "hpa"),)),
)


@pytest.fixture
def sandbox() -> Iterator[testing.Sandbox]:
    with testing.Sandbox(ready_delay=0.05, crds=operator_fixtures.crds(), hpa_controller=True,
                         hpa_sync_period=1.0) as running:
        yield running


async def _fleet(base: str, query: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/api/v1/dashboard/fleet?{query}") as reply:
        assert reply.status == 200, await reply.text()
        result: dict[str, Any] = await reply.json()
        return result


async def test_every_why_not_scaling_case_for_real(
    page: Any, api: cluster.Api, redis: aioredis.Redis, redis_server: redis_fixtures.RedisServer, list_name: str,
    start_operator: Any,
) -> None:
    for case in CASES:
        await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment(f"w-{case.name}"))
        address = case.address or f"{redis_server.host}:{redis_server.port}"
        if case.name == "erroring":
            address = "127.0.0.1:1"
        await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
            case.name, target=f"w-{case.name}", redis_address=address, list_name=f"{list_name}-{case.name}",
            list_length=case.list_length, max_replicas=case.max_replicas, cooldown_period=case.cooldown,
            annotations=dict(case.annotations) or None, extra_metadata=dict(case.extra) or None))
        if case.items:
            await redis.rpush(f"{list_name}-{case.name}", *[f"job-{i}" for i in range(case.items)])
    running = await start_operator(scaling_mode=specs.ScalingMode.DIRECT)
    base = f"http://127.0.0.1:{running.operator.port}"

    # The cooldown case: active first, then its list empties and the cooldown starts running.
    await cluster.until(lambda: api.replicas("w-cooling"), what="w-cooling scaled out")
    await redis.delete(f"{list_name}-cooling")
    for case in CASES:
        url = f"{base}/scaledobjects/default/{case.name}"
        await page.goto(url)
        try:
            await page.wait_for_function(
                f"document.querySelector('#why').dataset.kind === '{case.kind}'", timeout=15_000)
        except Exception as error:
            raise AssertionError(f"{case.name}: expected {case.kind}, the page says "
                                 f"{await page.locator('#why').inner_text()!r}") from error
        sentence = await page.locator("#why").inner_text()
        for word in case.words:
            assert word in sentence, (case.name, word, sentence)
        async with aiohttp.ClientSession() as session, session.get(
                f"{base}/api/v1/dashboard/scaledobjects/default/{case.name}") as reply:
            doc = await reply.json()
        assert doc["why"]["kind"] == case.kind, (case.name, doc["why"])
        assert f"Why not scaling? {doc['why']['sentence']}" == sentence or case.kind == "cooldown", (sentence, doc["why"])
        await screenshot(page, f"why-{case.kind}")

    # The fleet page's filters over these objects, in the browser and in the API.
    await page.goto(base + "/")
    assert await page.locator('[data-count="total"] b').inner_text() == str(len(CASES))
    await page.get_by_role("checkbox", name="errors only").check()
    started = time.monotonic()
    await page.get_by_role("button", name="Apply filters").click()
    await page.wait_for_url(lambda url: "errors=1" in url)
    shown = sorted(n.split("/")[1] for n in await page.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.name)"))
    assert shown == ["erroring", "hpa", "invalid"], shown
    assert time.monotonic() - started < 2.0
    for query, names in (("paused=1", ["paused"]), ("atMax=1", ["busy"]), ("errors=1", ["erroring", "hpa", "invalid"]),
                         ("q=o&sort=name", ["cooling", "erroring"])):
        doc = await _fleet(base, query)
        assert sorted(r["name"] for r in doc["scaledObjects"]) == names, (query, doc["scaledObjects"])
    await page.goto(base + "/?paused=1")
    assert await page.locator("tbody tr").count() == 1
    await screenshot(page, "fleet-filtered-paused")



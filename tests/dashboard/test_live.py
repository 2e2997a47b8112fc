"""The dashboard in a browser against the real operator, the sandbox and Redis: the fleet page with no
and with one ScaledObject, and an object page whose chart and decision table follow a live 0 → N → 0
cycle without a reload, reading the same JSON API the page's data come from."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from scaler.core import specs
from tests.dashboard.conftest import screenshot
from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures


async def _get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as reply:
        assert reply.status == 200, (url, reply.status, await reply.text())
        return await reply.json()


async def test_the_fleet_page_with_no_scaled_objects(page: Any, start_operator: Any) -> None:
    running = await start_operator()
    base = f"http://127.0.0.1:{running.operator.port}"
    await page.goto(base + "/")
    assert await page.locator("#empty").inner_text() == "No ScaledObjects yet: apply one and it appears here."
    assert await page.locator('[data-count="total"] b').inner_text() == "0"
    assert await page.locator("#leader").inner_text() == "leading"
    footer = await page.locator("footer").inner_text()
    assert "Ebb 0.1.0" in footer and "operator leading" in footer
    doc = await _get_json(base + "/api/v1/dashboard/fleet")
    assert doc["counts"]["total"] == 0 and doc["scaledObjects"] == []
    assert doc["operator"]["leading"] is True and doc["operator"]["version"] == "0.1.0"
    await screenshot(page, "fleet-empty")


async def test_an_object_page_follows_a_live_cycle_without_reload(
    page: Any, api: cluster.Api, redis: aioredis.Redis, redis_server: redis_fixtures.RedisServer, list_name: str,
    start_operator: Any,
) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name,
        list_length="5", max_replicas=10, cooldown_period=2))
    running = await start_operator(scaling_mode=specs.ScalingMode.DIRECT)
    base = f"http://127.0.0.1:{running.operator.port}"

    await page.goto(base + "/")
    row = page.locator('tr[data-name="default/orders"]')
    await row.wait_for()
    assert await page.locator('[data-count="total"] b').inner_text() == "1"
    assert "Deployment/worker" in await row.inner_text()
    await page.wait_for_function("document.querySelector('tr[data-name=\"default/orders\"]')"
                                 ".innerText.includes('NO_CHANGE')", timeout=10_000)
    # The row shows what the fleet document says.
    item = (await _get_json(base + "/api/v1/dashboard/fleet"))["scaledObjects"][0]
    cells = await row.locator("td, th").all_inner_texts()
    assert cells[0] == "default/orders" and cells[1] == item["target"] and cells[2] == item["mode"] == "direct"
    assert cells[3] == " / ".join(str(item[k]) for k in ("minReplicas", "currentReplicas", "desiredReplicas",
                                                          "maxReplicas"))
    assert cells[4:8] == [item["conditions"][k] for k in ("Ready", "Active", "Fallback", "Paused")]
    assert cells[9] == item["lastDecision"]["reason"]
    await screenshot(page, "fleet-one")

    await row.get_by_role("link", name="default/orders").click()
    await page.wait_for_url(base + "/scaledobjects/default/orders")
    await page.evaluate("window.__sameDocument = true")
    why = page.locator("#why")
    await page.wait_for_function("document.querySelector('#why').dataset.kind === 'below-activation'", timeout=10_000)
    assert "Below activation" in await why.inner_text()

    await redis.rpush(list_name, *[f"job-{i}" for i in range(40)])
    # 40 items at listLength 5 → 8 replicas, reached in a few HPA steps; the page updates by itself.
    await page.wait_for_function("document.querySelector('#decisions').innerText.includes('ACTIVATED_FROM_ZERO')",
                                 timeout=15_000)
    await page.wait_for_function("document.querySelector('#why').dataset.kind === 'scaling'", timeout=15_000)
    await page.wait_for_function("/desired 8 /.test(document.querySelector('dl.facts').innerText)", timeout=20_000)
    await screenshot(page, "object-scaled-out")

    await redis.delete(list_name)
    await page.wait_for_function("document.querySelector('#decisions').innerText.includes('SCALED_TO_ZERO')",
                                 timeout=20_000)
    await page.wait_for_function("document.querySelector('#why').dataset.kind === 'below-activation'", timeout=10_000)
    assert await page.evaluate("window.__sameDocument") is True, "the page was reloaded"

    # The chart drew every replica change; the table and the JSON API hold the same decisions.
    changes = await page.locator("figure").first.locator("circle").count()
    assert changes >= 3, changes
    doc = await _get_json(base + "/api/v1/dashboard/scaledobjects/default/orders")
    reasons = [e["reason"] for e in doc["decisions"]]
    assert {"ACTIVATED_FROM_ZERO", "ACTIVE", "COOLDOWN", "SCALED_TO_ZERO"} <= set(reasons), reasons
    assert max(e["replicas"] for e in doc["decisions"]) == 8
    table = await page.locator("#decisions tbody tr").all_inner_texts()
    assert len(table) == len(doc["decisions"])
    for text, decision in zip(table, reversed(doc["decisions"]), strict=True):
        assert decision["reason"] in text, (text, decision["reason"])
    assert doc["why"]["kind"] == "below-activation"
    assert json.dumps(doc["why"]["sentence"])[1:-1].split(":")[0] in await why.inner_text()
    await page.get_by_role("link", name="link to this range").click()
    assert "from=" in page.url and "to=" in page.url
    assert await page.locator("#live-status").inner_text() == "fixed time range: no live updates"
    await screenshot(page, "object-cycle")

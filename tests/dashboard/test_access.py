"""Using the dashboard without a mouse and with a screen reader: keyboard navigation through the filters,
the sort links, a row and the object page's time ranges; accessible names on every control; axe-core's
rules (bundled by axe-playwright-python, run offline) with no violation. And the optional bearer token:
required where configured, sent by the page's own polling, never needed by the probes or /metrics."""

from __future__ import annotations

import pathlib
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from axe_playwright_python.async_playwright import Axe

from scaler.core import specs
from tests.dashboard.conftest import screenshot
from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures

FOCUSED = """() => { const e = document.activeElement;
  return e.id || e.getAttribute('href') || e.tagName; }"""


async def _one_object(api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str) -> None:
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "orders", target="worker", redis_address=f"{redis_server.host}:{redis_server.port}", list_name=list_name))


async def _no_violations(page: Any, where: str) -> None:
    results = await Axe().run(page)
    violations = results.response["violations"]
    assert not violations, f"{where}: " + "; ".join(
        f"{v['id']}: {v['help']} ({[n['target'] for n in v['nodes']][:3]})" for v in violations)


async def test_keyboard_navigation_and_accessible_names(
    page: Any, api: cluster.Api, redis: aioredis.Redis, redis_server: redis_fixtures.RedisServer, list_name: str,
    start_operator: Any,
) -> None:
    await _one_object(api, redis_server, list_name)
    await redis.rpush(list_name, "a", "b")
    running = await start_operator(scaling_mode=specs.ScalingMode.DIRECT)
    base = f"http://127.0.0.1:{running.operator.port}"
    await page.goto(base + "/")
    await page.locator('tr[data-name="default/orders"]').wait_for()

    # Every control has an accessible name a screen reader announces.
    for role, name in (("combobox", "Namespace"), ("searchbox", "Name contains"), ("checkbox", "errors only"),
                       ("checkbox", "at max"), ("checkbox", "paused"), ("checkbox", "flapping"),
                       ("combobox", "Per page"), ("button", "Apply filters"), ("link", "default/orders"),
                       ("link", "Skip to content"), ("navigation", "Pages"), ("search", "Filter ScaledObjects")):
        assert await page.get_by_role(role, name=name, exact=True).count() == 1, (role, name)
    await _no_violations(page, "fleet page")

    # Tab walks skip link → header → filters → table, in reading order.
    order = []
    for _ in range(20):
        await page.keyboard.press("Tab")
        order.append(await page.evaluate(FOCUSED))
    expected = ["/", "f-namespace", "f-q", "f-errors", "f-atMax", "f-paused", "f-flapping", "f-size", "f-apply",
                "f-clear", "sort-namespace", "sort-replicas", "sort-reason", "sort-age", "so-default.orders"]
    assert order[0] == "#live", order  # the skip link first
    positions = [order.index(item) for item in expected]
    assert positions == sorted(positions), order

    # The focus stays on the row's link while the live part is swapped under it.
    await page.focus("#so-default\\.orders")
    before = await page.locator("tbody").inner_html()
    # A change the live part must show (22 items at listLength 5: more replicas), not one left to chance:
    # the object may already be settled by now.
    await redis.rpush(list_name, *[f"more-{i}" for i in range(20)])
    await page.wait_for_function("b => document.querySelector('tbody').innerHTML !== b", arg=before, timeout=15_000)
    assert await page.evaluate(FOCUSED) == "so-default.orders"

    # The keyboard alone filters: a checkbox toggled with Space, the form sent with Enter.
    await page.focus("#f-errors")
    await page.keyboard.press("Space")
    await page.focus("#f-apply")
    await page.keyboard.press("Enter")
    await page.wait_for_url(lambda url: "errors=1" in url)
    assert await page.locator("#empty").inner_text() == "No ScaledObject matches these filters."
    await page.goto(base + "/")
    await page.focus('a[href="/scaledobjects/default/orders"]')
    await page.keyboard.press("Enter")
    await page.wait_for_url(base + "/scaledobjects/default/orders")
    await page.locator("#why").wait_for()
    await page.wait_for_function("document.querySelector('#decisions tbody') !== null", timeout=10_000)
    assert await page.get_by_role("img", name="Replicas over time").count() == 1
    assert await page.get_by_role("img", name="Metric values (as the operator read them)").count() == 1
    assert await page.get_by_role("navigation", name="Time range").count() == 1
    await _no_violations(page, "object page")
    link = page.get_by_role("link", name="last 5 min")
    await link.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(lambda url: url.endswith("?last=300"))
    await screenshot(page, "object-keyboard")


async def test_the_bearer_token(
    browser: Any, api: cluster.Api, redis_server: redis_fixtures.RedisServer, list_name: str, start_operator: Any,
    tmp_path: pathlib.Path,
) -> None:
    await _one_object(api, redis_server, list_name)
    token = "dashboard-token-0123456789"
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    running = await start_operator(http_token_file=str(token_file), http_token_on_loopback=True)
    base = f"http://127.0.0.1:{running.operator.port}"
    # unsafe=True: keep cookies from an IP address, as browsers do.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        for path, expected in (("/", 401), ("/api/v1/dashboard/fleet", 401), ("/api/v1/scaledobjects", 401),
                               ("/scaledobjects/default/orders", 401), ("/healthz", 200), ("/metrics", 200)):
            async with session.get(base + path) as reply:
                assert reply.status == expected, (path, reply.status)
                if expected == 401:
                    assert reply.headers["WWW-Authenticate"] == 'Bearer realm="ebb"'
                    assert "--http-token-file" in (await reply.json())["error"]
        async with session.get(base + "/api/v1/dashboard/fleet", headers={"Authorization": "Bearer wrong"}) as reply:
            assert reply.status == 401
        async with session.get(base + "/api/v1/dashboard/fleet",
                               headers={"Authorization": f"Bearer {token}"}) as reply:
            assert reply.status == 200
            assert token not in await reply.text()
        # A link with ?token= sets a cookie once and drops the token from the address.
        async with session.get(base + f"/?token={token}&paused=1", allow_redirects=False) as reply:
            assert reply.status == 303 and reply.headers["Location"] == "/?paused=1"
        async with session.get(base + "/?paused=1") as reply:
            assert reply.status == 200
    # A browser sending the header: the page loads and its own polling is let through too.
    context = await browser.new_context(extra_http_headers={"Authorization": f"Bearer {token}"})
    page = await context.new_page()
    polled: list[int] = []
    page.on("response", lambda r: polled.append(r.status) if "fragment=1" in r.url else None)
    await page.goto(base + "/")
    await page.locator('tr[data-name="default/orders"]').wait_for()
    await page.wait_for_function("document.querySelector('#live-status').textContent.startsWith('live: updated')",
                                 timeout=10_000)
    assert polled and all(status in (200, 304) for status in polled), polled
    await context.close()


async def test_loopback_needs_no_token_by_default(
    api: cluster.Api, start_operator: Any, tmp_path: pathlib.Path,
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("another-token\n")
    running = await start_operator(http_token_file=str(token_file))
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{running.operator.port}/api/v1/dashboard/fleet") as reply:
        assert reply.status == 200  # as through kubectl port-forward, which arrives on loopback

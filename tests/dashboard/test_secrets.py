"""No secret on the dashboard: not in the HTML of its pages, not in any JSON or fragment the pages load,
not in the JSON API — while a wrong password from a Secret makes every poll fail and another
ScaledObject's address carries a password in its userinfo."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp

from scaler.core import specs
from tests.dashboard.conftest import screenshot
from tests.operator import cluster
from tests.operator.test_secrets import PasswordRedis, locked_redis  # noqa: F401 - a fixture


async def test_a_secret_is_absent_from_every_page_and_json(
    page: Any, api: cluster.Api, locked_redis: PasswordRedis, list_name: str, start_operator: Any,  # noqa: F811
) -> None:
    wrong = f"wrong-Pa55-{uuid.uuid4().hex}"
    in_url = f"url-Pa55-{uuid.uuid4().hex}"
    secrets = (wrong, locked_redis.password, in_url)
    await api.create(cluster.SECRET_BASE.format(ns="default"), {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "redis-auth"}, "stringData": {"password": wrong}})
    await api.create(cluster.TA_BASE.format(ns="default"), {
        "apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication", "metadata": {"name": "redis-auth"},
        "spec": {"secretTargetRef": [{"parameter": "password", "name": "redis-auth", "key": "password"}]}})
    for name in ("locked", "in-url"):
        await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment(f"w-{name}"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "locked", target="w-locked", redis_address=f"{locked_redis.host}:{locked_redis.port}", list_name=list_name,
        auth="redis-auth"))
    await api.create(cluster.SO_BASE.format(ns="default"), cluster.scaled_object(
        "in-url", target="w-in-url", redis_address=f"redis://worker:{in_url}@127.0.0.1:1", list_name=list_name))
    running = await start_operator(scaling_mode=specs.ScalingMode.DIRECT)
    base = f"http://127.0.0.1:{running.operator.port}"

    loaded: list[tuple[str, str]] = []

    async def keep(response: Any) -> None:
        if response.status == 200:
            loaded.append((response.url, await response.text()))

    page.on("response", keep)
    await page.goto(base + "/")
    await page.wait_for_function("document.querySelectorAll('tbody tr td.bad:not(:empty)').length >= 2",
                                 timeout=15_000)
    for name in ("locked", "in-url"):
        await page.goto(f"{base}/scaledobjects/default/{name}")
        await page.wait_for_function("['scaler-error', 'spec-invalid'].includes(document.querySelector('#why').dataset.kind)",
                                     timeout=15_000)
        await page.wait_for_timeout(2_500)  # let the page poll its live part a few times
        loaded.append((page.url, await page.content()))
    await screenshot(page, "secret-masked")
    async with aiohttp.ClientSession() as session:
        for path in ("/api/v1/dashboard/fleet", "/api/v1/dashboard/scaledobjects/default/locked",
                     "/api/v1/dashboard/scaledobjects/default/in-url", "/?errors=1&fragment=1",
                     "/api/v1/scaledobjects/default/locked/decisions"):
            async with session.get(base + path) as reply:
                assert reply.status == 200, path
                loaded.append((base + path, await reply.text()))
    fragments = [url for url, _ in loaded if "fragment=1" in url]
    assert fragments, "the pages polled no live part"
    errors = "".join(text for _, text in loaded)
    assert "WRONGPASS" in errors or "invalid password" in errors.lower() or "auth" in errors.lower(), \
        "the wrong password's failure is not shown at all"
    for url, text in loaded:
        for secret in secrets:
            assert secret not in text, f"a secret shows in {url}"

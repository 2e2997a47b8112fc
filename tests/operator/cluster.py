"""An async HTTP client for the tests to act on the sandbox as a user would (kubectl's requests), plus
builders for the objects the operator tests apply and a deadline-bound `until`."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")

MERGE = "application/merge-patch+json"
SO_BASE = "/apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects"
TA_BASE = "/apis/keda.sh/v1alpha1/namespaces/{ns}/triggerauthentications"
DEPLOYMENT_BASE = "/apis/apps/v1/namespaces/{ns}/deployments"
HPA_BASE = "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers"
EVENT_BASE = "/api/v1/namespaces/{ns}/events"
SECRET_BASE = "/api/v1/namespaces/{ns}/secrets"


class Api:
    """The sandbox over HTTP, as a user sees it. Every call returns (status, body)."""

    def __init__(self, base_url: str, *, ca_pem: str | None = None) -> None:
        self.base_url = base_url
        self.ca_pem = ca_pem  # the sandbox's serving CA, when it serves HTTPS (tls=True)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Api:
        connector = aiohttp.TCPConnector(ssl=ssl.create_default_context(cadata=self.ca_pem)) if self.ca_pem else None
        self._session = aiohttp.ClientSession(base_url=self.base_url, headers={"Authorization": "Bearer sandbox"},
                                              connector=connector)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._session is not None
        await self._session.close()

    async def call(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json") -> tuple[int, Any]:
        assert self._session is not None
        headers = {"Content-Type": content_type} if body is not None else {}
        async with self._session.request(method, path, json=body, headers=headers) as reply:
            return reply.status, await reply.json(content_type=None)

    async def get(self, path: str) -> dict[str, Any]:
        status, body = await self.call("GET", path)
        assert status == 200, (path, status, body)
        result: dict[str, Any] = body
        return result

    async def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        status, answer = await self.call("POST", path, dict(body))
        assert status == 201, (path, status, answer)
        result: dict[str, Any] = answer
        return result

    async def patch(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        status, answer = await self.call("PATCH", path, dict(body), content_type=MERGE)
        assert status == 200, (path, status, answer)
        result: dict[str, Any] = answer
        return result

    async def delete(self, path: str) -> int:
        status, _ = await self.call("DELETE", path)
        return status

    # -- shortcuts --------------------------------------------------------------------------------

    async def scaled_object(self, name: str, ns: str = "default") -> dict[str, Any]:
        return await self.get(f"{SO_BASE.format(ns=ns)}/{name}")

    async def deployment(self, name: str, ns: str = "default") -> dict[str, Any]:
        return await self.get(f"{DEPLOYMENT_BASE.format(ns=ns)}/{name}")

    async def replicas(self, name: str, ns: str = "default") -> int:
        return int((await self.deployment(name, ns))["spec"].get("replicas") or 0)

    async def hpa(self, name: str, ns: str = "default") -> tuple[int, Any]:
        return await self.call("GET", f"{HPA_BASE.format(ns=ns)}/{name}")

    async def events(self, involved: str, ns: str = "default") -> list[dict[str, Any]]:
        body = await self.get(EVENT_BASE.format(ns=ns))
        found = [e for e in body.get("items") or [] if e.get("involvedObject", {}).get("name") == involved]
        return sorted(found, key=lambda e: int(e["metadata"]["resourceVersion"]))

    async def reasons(self, involved: str, ns: str = "default") -> list[str]:
        return [e["reason"] for e in await self.events(involved, ns)]

    async def events_with(self, involved: str, reason: str, *, count: int = 1, ns: str = "default") -> list[dict[str, Any]]:
        """The Events of `reason` about `involved`, once there are at least `count` (Events are posted
        after the write they report, so they may trail it)."""

        async def found() -> list[dict[str, Any]]:
            events = [e for e in await self.events(involved, ns) if e["reason"] == reason]
            return events if len(events) >= count else []

        return await until(found, what=f"{count} {reason} Event(s) about {involved}")

    async def condition(self, so: str, kind: str, ns: str = "default") -> dict[str, Any]:
        body = await self.scaled_object(so, ns)
        for item in (body.get("status") or {}).get("conditions") or []:
            if item.get("type") == kind:
                result: dict[str, Any] = item
                return result
        return {}


async def until(check: Callable[[], Awaitable[T]], *, within: float = 20.0, what: str = "the condition") -> T:
    """Poll `check` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + within
    last: T | None = None
    while True:
        last = await check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what} (last: {last!r})")
        await asyncio.sleep(0.05)


def deployment(name: str, *, replicas: int = 0, env: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "worker", "image": "example/worker:1"}
    if env:
        container["env"] = env
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    }


def scaled_object(
    name: str,
    *,
    target: str,
    redis_address: str,
    list_name: str,
    list_length: str = "5",
    min_replicas: int = 0,
    max_replicas: int = 10,
    annotations: Mapping[str, str] | None = None,
    extra_metadata: Mapping[str, str] | None = None,
    auth: str | None = None,
    fallback: Mapping[str, Any] | None = None,
    advanced: Mapping[str, Any] | None = None,
    polling_interval: int = 1,
    cooldown_period: int = 5,
) -> dict[str, Any]:
    metadata = {"address": redis_address, "listName": list_name, "listLength": list_length, **(extra_metadata or {})}
    trigger: dict[str, Any] = {"type": "redis", "metadata": metadata}
    if auth:
        trigger["authenticationRef"] = {"name": auth}
    spec: dict[str, Any] = {
        "scaleTargetRef": {"name": target},
        "pollingInterval": polling_interval,
        "cooldownPeriod": cooldown_period,
        "minReplicaCount": min_replicas,
        "maxReplicaCount": max_replicas,
        "triggers": [trigger],
    }
    if fallback:
        spec["fallback"] = dict(fallback)
    if advanced:
        spec["advanced"] = dict(advanced)
    body: dict[str, Any] = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": name}, "spec": spec}
    if annotations:
        body["metadata"]["annotations"] = dict(annotations)
    return body

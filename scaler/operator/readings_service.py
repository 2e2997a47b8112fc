"""Serving the readings store to the external metrics API, and telling adapters where it is served.

`LocalReadings.reading(ns, name)` answers from the store: a fresh reading as is; a missing or stale one
read again once (`readings.Readings.fresh`, single-flight) through the ScaledObject's scale loop; a
ScaledObject without a loop is looked up in the API so that a missing one gets KEDA's NotFound text.
`add_routes` serves it as JSON on the operator's HTTP server at `GET /api/v1/readings/{ns}/{name}`
(200 with the reading, 404 for a ScaledObject that does not exist, 503 on a standby replica or before
the first reading).

`Advertiser` keeps the `coordination.k8s.io/v1` Lease `ebb-operator-readings` (in the operator's
namespace) pointing at the acting replica's readings URL (annotation `ebb.dev/readings-url`), renewed
every 10 s while acting: that is how `ebb adapter` and the standby replicas find the leader's values with
no flag. A replica that stops acting stops renewing; the next leader overwrites it when it starts.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import socket
from collections.abc import Callable, Mapping
from typing import Protocol

from aiohttp import web

from scaler.operator import kube, leader_election, readings

logger = logging.getLogger("ebb.readings")

RENEW_SECONDS = 10.0


class LoopLookup(Protocol):
    def get(self, key: tuple[str, str]) -> _Readable | None: ...


class _Readable(Protocol):
    async def read_now(self) -> readings.Reading | None: ...


class LocalReadings:
    """The readings of this process's scale loops (meaningful only while this replica acts)."""

    def __init__(
        self,
        store: readings.Readings,
        loops: Callable[[], LoopLookup | None],
        api: kube.ApiKube,
        acting: Callable[[], bool],
    ) -> None:
        self.store = store
        self._loops = loops
        self._api = api
        self.acting = acting

    async def reading(self, namespace: str, name: str) -> readings.Reading:
        if not self.acting():
            raise readings.Unavailable("this operator replica is a standby: another replica holds the lease")
        loops = self._loops()
        loop = loops.get((namespace, name)) if loops is not None else None
        if loop is None:
            body = await self._api.get_optional(
                f"/apis/keda.sh/v1alpha1/namespaces/{namespace}/scaledobjects/{name}"
            )
            if body is None:
                self.store.forget(namespace, name)
                raise readings.NoSuchScaledObject(namespace, name)
            kept = self.store.get(namespace, name)
            if kept is not None:
                return kept
            raise readings.Unavailable(
                f"ScaledObject {namespace}/{name}: no scale loop runs for it (see its Ready and Paused conditions)"
            )
        got = await self.store.fresh(namespace, name, loop.read_now)
        if got is None:
            raise readings.Unavailable(f"ScaledObject {namespace}/{name}: not read yet")
        return got


def advertised_url(host: str, port: int, environ: Mapping[str, str]) -> str:
    """Where other processes reach this operator's HTTP server: the bound host, or for a wildcard bind
    `POD_IP` (the downward API) else this host's address."""
    if host in ("0.0.0.0", "::", ""):
        host = environ.get("POD_IP") or _own_address()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _own_address() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def _json(payload: object, status: int) -> web.Response:
    return web.Response(text=json.dumps(payload), status=status, content_type="application/json")


def add_routes(app: web.Application, local: LocalReadings) -> None:
    async def handle(request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        try:
            got = await local.reading(namespace, name)
        except readings.NoSuchScaledObject as error:
            return _json({"message": str(error)}, 404)
        except readings.Unavailable as error:
            return _json({"message": str(error)}, 503)
        except kube.ApiError as error:
            return _json({"message": f"looking up ScaledObject {namespace}/{name}: {error}"}, 503)
        return _json(got.to_json(), 200)

    async def stream(request: web.Request) -> web.StreamResponse:
        if not local.acting():
            return _json({"message": "this operator replica is a standby: another replica holds the lease"}, 503)
        subscriber = local.store.subscribe()
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        try:
            await response.prepare(request)
            await response.write(b"".join(_line(r) for r in local.store))
            while local.acting() and not subscriber.overflowed:
                try:
                    first = await asyncio.wait_for(subscriber.queue.get(), readings.STREAM_HEARTBEAT_SECONDS)
                except TimeoutError:
                    await response.write(b"\n")
                    continue
                await response.write(b"".join(_line(r) for r in [first, *subscriber.drain()]))
        finally:
            local.store.unsubscribe(subscriber)
        return response

    app.router.add_get(readings.READINGS_PATH, handle)
    app.router.add_get(readings.STREAM_PATH, stream)


def _line(reading: readings.Reading) -> bytes:
    return json.dumps(reading.to_json(), separators=(",", ":")).encode() + b"\n"


class Advertiser:
    """Keeps the advertisement Lease pointing at `url` while `acting()`."""

    def __init__(
        self,
        api: kube.ApiKube,
        *,
        namespace: str,
        identity: str,
        url: str,
        acting: Callable[[], bool],
        renew_seconds: float = RENEW_SECONDS,
    ) -> None:
        self.api, self.namespace, self.identity, self.url = api, namespace, identity, url
        self._acting = acting
        self._renew = renew_seconds
        self.published = asyncio.Event()

    def body(self) -> dict[str, object]:
        now = leader_election.format_micro_time(datetime.datetime.now(datetime.UTC))
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": readings.ADVERTISEMENT_LEASE,
                "namespace": self.namespace,
                "annotations": {readings.ADVERTISEMENT_ANNOTATION: self.url},
            },
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": readings.ADVERTISEMENT_DURATION_SECONDS,
                "renewTime": now,
            },
        }

    async def publish(self) -> None:
        await self.api.put_lease(self.namespace, readings.ADVERTISEMENT_LEASE, self.body())
        self.published.set()

    async def run(self) -> None:
        while True:
            if self._acting():
                try:
                    await self.publish()
                except kube.ApiError as error:
                    logger.warning("readings: cannot publish Lease %s/%s: %s", self.namespace,
                                   readings.ADVERTISEMENT_LEASE, error)
            else:
                self.published.clear()
            await asyncio.sleep(self._renew if self.published.is_set() else 0.5)

"""Where the adapter's values come from: the acting operator's readings, found through the cluster.

The acting operator keeps the Lease `ebb-operator-readings` (in its namespace) pointing at its readings
URL (`scaler.operator.readings_service.Advertiser`). `Forwarding` reads that Lease, asks the URL for a
ScaledObject's reading and keeps each reading until it goes stale (`readings.Reading.fresh`), so a
thousand HPA requests in one pollingInterval cost the operator one request and the sources nothing;
concurrent requests for the same stale reading share one fetch. When the operator cannot be reached
(a leader killed, its successor not yet advertised), the last reading is served with its own timestamp
rather than an error, and the Lease is read again at most every `lease_recheck` seconds.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import Protocol

import aiohttp

from scaler.operator import kube, readings


class Source(Protocol):
    async def reading(self, namespace: str, name: str) -> readings.Reading:
        """Raises readings.NoSuchScaledObject or readings.Unavailable."""
        ...

    async def readiness(self) -> tuple[bool, str]: ...


def _parse_time(text: object) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class Forwarding:
    def __init__(
        self,
        api: kube.ApiKube,
        namespace: str,
        *,
        clock: Callable[[], float] = time.time,
        lease_recheck: float = 1.0,
        timeout: float = 5.0,
    ) -> None:
        self.api, self.namespace = api, namespace
        self.store = readings.Readings(clock)
        self._clock = clock
        self._recheck = lease_recheck
        self._url: str | None = None
        self._why_not = "the readings Lease was not read yet"
        self._url_read_at = -1e18
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self.fetches = 0

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def leader_url(self, *, force: bool = False) -> str | None:
        """The acting operator's readings URL from the Lease (read at most every `lease_recheck` s)."""
        now = self._clock()
        if not force and now - self._url_read_at < self._recheck:
            return self._url
        self._url_read_at = now
        where = f"Lease {self.namespace}/{readings.ADVERTISEMENT_LEASE}"
        try:
            lease = await self.api.get_lease(self.namespace, readings.ADVERTISEMENT_LEASE)
        except kube.ApiError as error:
            self._url, self._why_not = None, f"cannot read {where}: {error}"
            return None
        if lease is None:
            self._url, self._why_not = None, f"no operator advertises its readings: {where} does not exist"
            return None
        url = ((lease.get("metadata") or {}).get("annotations") or {}).get(readings.ADVERTISEMENT_ANNOTATION)
        spec = lease.get("spec") or {}
        renewed = _parse_time(spec.get("renewTime"))
        duration = spec.get("leaseDurationSeconds") or readings.ADVERTISEMENT_DURATION_SECONDS
        if not url:
            self._url, self._why_not = None, f"{where} has no annotation {readings.ADVERTISEMENT_ANNOTATION}"
        elif renewed is not None and renewed + float(duration) < now:
            self._url, self._why_not = None, f"{where}: the operator {spec.get('holderIdentity')!r} stopped renewing it"
        else:
            self._url = str(url)
        return self._url

    async def readiness(self) -> tuple[bool, str]:
        url = await self.leader_url()
        return (True, f"forwarding to {url}") if url else (False, self._why_not)

    async def reading(self, namespace: str, name: str) -> readings.Reading:
        got = await self.store.fresh(namespace, name, lambda: self._fetch(namespace, name))
        if got is None:
            raise readings.Unavailable(f"ScaledObject {namespace}/{name}: no reading: {self._why_not}")
        return got

    async def _fetch(self, namespace: str, name: str) -> readings.Reading | None:
        for attempt in range(2):
            url = await self.leader_url(force=attempt > 0)
            if url is None:
                return None
            self.fetches += 1
            path = readings.READINGS_PATH.format(namespace=namespace, name=name)
            try:
                async with self._session_now().get(url + path) as reply:
                    body = await reply.json(content_type=None)
                    if reply.status == 200:
                        return readings.Reading.from_json(body)
                    message = str((body or {}).get("message") or reply.reason)
                    if reply.status == 404:
                        self.store.forget(namespace, name)
                        raise readings.NoSuchScaledObject(namespace, name)
                    self._why_not = f"the operator at {url} answered {reply.status}: {message}"
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                self._why_not = f"the operator at {url} did not answer: {type(error).__name__}: {error}"
            # The Lease may name a replica that is gone: read it again once.
        return None

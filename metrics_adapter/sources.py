"""Where the adapter's values come from: the acting operator's readings, found through the cluster.

The acting operator keeps the Lease `ebb-operator-readings` (in its namespace) pointing at its readings
URL (`scaler.operator.readings_service.Advertiser`). `Forwarding.follow` reads that Lease and follows the
operator's stream of readings (every reading, then each one as its tick takes it), so the adapter answers
from its own copy and adds no request to the operator and no query to a source, however often HPAs ask.
A reading missing or stale in that copy (the stream broken, a ScaledObject just created) is fetched from
the operator once, shared by every concurrent request for it. When the operator cannot be reached
(a leader killed, its successor not yet advertised), the last reading is served with its own timestamp
rather than an error, and the Lease is read again at most every `lease_recheck` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import time
from collections.abc import Callable
from typing import Protocol

import aiohttp

from scaler.operator import kube, readings

logger = logging.getLogger("ebb.adapter")


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
        self.following: str | None = None  # the operator URL whose stream is being followed
        self.streamed = 0  # readings received through the stream
        self._follower: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start following the operator's stream in the background (`aclose` stops it)."""
        if self._follower is None:
            self._follower = asyncio.create_task(self.follow(), name="readings-stream")

    async def aclose(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
            self._follower = None
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
        if self.following:
            return True, f"following the readings of {self.following}"
        url = await self.leader_url()
        return (True, f"forwarding to {url}") if url else (False, self._why_not)

    async def follow(self) -> None:
        """Follow the acting operator's stream of readings until cancelled, reconnecting (and re-reading
        the Lease) whenever it ends."""
        while True:
            url = await self.leader_url(force=True)
            if url is None:
                await asyncio.sleep(self._recheck)
                continue
            try:
                timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=3 * readings.STREAM_HEARTBEAT_SECONDS)
                async with self._session_now().get(url + readings.STREAM_PATH, timeout=timeout) as reply:
                    if reply.status != 200:
                        self._why_not = f"the operator at {url} answered {reply.status} to the readings stream"
                    else:
                        self.following = url
                        async for line in reply.content:
                            if line.strip():
                                self.store.put(readings.Reading.from_json(json.loads(line)))
                                self.streamed += 1
                        self._why_not = f"the readings stream of {url} ended"
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                self._why_not = f"the readings stream of {url} failed: {type(error).__name__}: {error}"
            finally:
                self.following = None
            logger.info("adapter: %s; reconnecting", self._why_not)
            await asyncio.sleep(0.2)

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

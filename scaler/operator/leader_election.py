"""Leader election on a `coordination.k8s.io/v1` Lease: several operator replicas run, one acts.

Compare-and-swap over the API, as client-go's leader election does it:

* no Lease yet: create it with us as holder (POST; a 409 means another replica won the race);
* held by someone else: wait until its record has not changed for its `leaseDurationSeconds`, measured
  on *our* clock from when we first saw that record (no clock skew between nodes matters), then take it
  over with a PUT carrying the resourceVersion we read (a 409 means someone else was faster);
* held by us: renew every `retry_period` with a PUT carrying the resourceVersion of our last write. A 409
  means someone wrote the Lease since: read it again; if another holder is there, we lost. If renewing
  keeps failing for `renew_deadline` (shorter than the lease duration, so we stop acting before anyone
  may take over), we lost.
* on cancellation (shutdown) a leader releases the Lease (empty holder), so a successor takes over at
  its next retry instead of after the lease duration.

The API is a port (`LeaseApi`), so the elector knows no HTTP library; `scaler.operator.leases` implements it over
aiohttp. The clock, wall clock and sleep are injected for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

LEASE_API_VERSION = "coordination.k8s.io/v1"
DEFAULT_LEASE_DURATION = 15.0
DEFAULT_RENEW_DEADLINE = 10.0
DEFAULT_RETRY_PERIOD = 2.0


class LeaseError(Exception):
    """The API refused or failed a Lease request (other than a conflict)."""


class LeaseConflict(LeaseError):
    """409: the Lease was created or changed by someone else since we read it."""


class LeaseApi(Protocol):
    """Reading and writing one Lease as plain dicts (`coordination.k8s.io/v1` objects)."""

    async def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Lease, or None when it does not exist. Raises `LeaseError`."""
        ...

    async def create(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create the Lease; the stored object. Raises `LeaseConflict` if it exists, `LeaseError`."""
        ...

    async def replace(self, namespace: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the Lease (PUT; `body.metadata.resourceVersion` must match). Raises `LeaseConflict` on a
        stale resourceVersion, `LeaseError`."""
        ...


def format_micro_time(moment: datetime.datetime) -> str:
    """A Kubernetes MicroTime: RFC 3339 in UTC with microseconds."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LeaseRecord:
    """The part of a Lease's spec the election reads."""

    holder: str
    lease_duration_seconds: int | None
    acquire_time: str | None
    renew_time: str | None
    transitions: int

    @classmethod
    def from_lease(cls, lease: Mapping[str, Any]) -> LeaseRecord:
        spec = lease.get("spec") or {}
        duration = spec.get("leaseDurationSeconds")
        transitions = spec.get("leaseTransitions")
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            lease_duration_seconds=duration if isinstance(duration, int) and not isinstance(duration, bool) else None,
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            transitions=transitions if isinstance(transitions, int) and not isinstance(transitions, bool) else 0,
        )


def _resource_version(lease: Mapping[str, Any]) -> str | None:
    rv = (lease.get("metadata") or {}).get("resourceVersion")
    return str(rv) if rv is not None else None


Callback = Callable[[], Awaitable[None] | None]


class LeaderElector:
    """Campaigns for one Lease until cancelled; `leading` is set while this replica holds it.

    `lost` is set when a term ends (lease lost or released) and cleared when a new term starts.
    `on_started_leading` / `on_stopped_leading` (sync or async) run at the same moments: the start callback
    runs beside the renewals (and is cancelled if the term ends first); the stop callback is awaited, and
    on cancellation the Lease is released only after it returned.
    """

    def __init__(
        self,
        *,
        api: LeaseApi,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = DEFAULT_LEASE_DURATION,
        renew_deadline: float = DEFAULT_RENEW_DEADLINE,
        retry_period: float = DEFAULT_RETRY_PERIOD,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall_clock: Callable[[], datetime.datetime] | None = None,
        release_on_cancel: bool = True,
        on_started_leading: Callback | None = None,
        on_stopped_leading: Callback | None = None,
    ) -> None:
        if not identity:
            raise ValueError("LeaderElector: identity must be a non-empty string (the pod name, usually)")
        if not (lease_duration > renew_deadline > retry_period > 0):
            raise ValueError(
                "LeaderElector: expected lease_duration > renew_deadline > retry_period > 0, got "
                f"lease_duration={lease_duration}, renew_deadline={renew_deadline}, retry_period={retry_period}")
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock or (lambda: datetime.datetime.now(datetime.UTC))
        self.release_on_cancel = release_on_cancel
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.leading = asyncio.Event()
        self.lost = asyncio.Event()
        # What we last saw of the Lease, and when (our clock) that record first appeared.
        self._lease: dict[str, Any] | None = None
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0
        self._last_renewal = 0.0
        self._starting: asyncio.Task[None] | None = None

    # --- what the operator reads -----------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self.leading.is_set()

    def holds_lease(self) -> bool:
        """Whether this replica may act right now: it leads and its last renewal is younger than
        `renew_deadline` (so even a starved elector task never lets a write through after the point where
        it would have stepped down). The write fence of `scaler.operator.kube.Fenced`."""
        return self.is_leader and self._now() - self._last_renewal < self.renew_deadline

    @property
    def stop_margin(self) -> float:
        """How long a replica that lost the Lease has to stop acting before anyone else may take over."""
        return self.lease_duration - self.renew_deadline

    @property
    def leader(self) -> str | None:
        """The holder we last saw ('' when released), or None before the first read."""
        return self._observed.holder if self._observed is not None else None

    # --- the campaign ----------------------------------------------------------------------------------

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    async def run(self) -> None:
        """Acquire, lead, and on loss campaign again, until cancelled. On cancellation a leader steps down
        first and then releases the Lease (unless `release_on_cancel` is False)."""
        try:
            while True:
                while not await self._attempt(within=self.renew_deadline):
                    await self._sleep(self.retry_period)
                self._last_renewal = self._now()
                await self._start_term()
                await self._renew_until_lost()
                await self._end_term()
        except asyncio.CancelledError:
            was_leading = self.is_leader
            await self._end_term()
            if was_leading and self.release_on_cancel:
                await self._release()
            raise

    async def _renew_until_lost(self) -> None:
        while True:
            await self._sleep(self.retry_period)
            remaining = self._last_renewal + self.renew_deadline - self._now()
            if remaining > 0 and await self._attempt(within=remaining):
                self._last_renewal = self._now()
                continue
            if self._observed is not None and self._observed.holder not in ("", self.identity) \
                    and self._valid(self._observed):
                logger.warning("Lease %s/%s: %r holds it now; %r stops leading",
                               self.namespace, self.name, self._observed.holder, self.identity)
                return
            if self._now() - self._last_renewal >= self.renew_deadline:
                logger.warning("Lease %s/%s: not renewed within %.1f s; %r stops leading",
                               self.namespace, self.name, self.renew_deadline, self.identity)
                return

    async def _attempt(self, *, within: float) -> bool:
        """One try to acquire or renew; True when we hold the Lease afterwards."""
        try:
            async with asyncio.timeout(within):
                return await self._try_acquire_or_renew()
        except LeaseConflict:
            self._lease = None  # read it again next time
            return False
        except (LeaseError, TimeoutError) as exc:
            logger.info("Lease %s/%s: %s", self.namespace, self.name, exc or "request timed out")
            self._lease = None
            return False

    def _observe(self, lease: dict[str, Any]) -> LeaseRecord:
        record = LeaseRecord.from_lease(lease)
        if record != self._observed:
            self._observed = record
            self._observed_at = self._now()
        self._lease = lease
        return record

    def _valid(self, record: LeaseRecord) -> bool:
        duration = record.lease_duration_seconds or self.lease_duration
        return self._observed_at + duration > self._now()

    def _spec(self, previous: LeaseRecord | None) -> dict[str, Any]:
        now = format_micro_time(self._wall_clock())
        ours = previous is not None and previous.holder == self.identity
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": math.ceil(self.lease_duration),
            "acquireTime": previous.acquire_time if ours and previous and previous.acquire_time else now,
            "renewTime": now,
            "leaseTransitions": (previous.transitions if previous else 0) + (0 if ours or previous is None else 1),
        }

    async def _try_acquire_or_renew(self) -> bool:
        lease = self._lease
        if lease is None or not self.is_leader:
            # Leaders renew straight from their last write; everyone else reads first.
            lease = await self.api.get(self.namespace, self.name)
            if lease is None:
                created = await self.api.create(self.namespace, {
                    "apiVersion": LEASE_API_VERSION,
                    "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": self._spec(None),
                })
                self._observe(created)
                return True
        record = self._observe(lease)
        if record.holder and record.holder != self.identity and self._valid(record):
            return False
        body = {
            "apiVersion": LEASE_API_VERSION,
            "kind": "Lease",
            "metadata": {**(lease.get("metadata") or {}), "name": self.name, "namespace": self.namespace},
            "spec": {**(lease.get("spec") or {}), **self._spec(record)},
        }
        replaced = await self.api.replace(self.namespace, self.name, body)
        self._observe(replaced)
        return True

    async def _release(self) -> None:
        """Leave the Lease empty so a successor need not wait for it to expire. Best effort, bounded."""
        lease = self._lease
        if lease is None:
            return
        spec = {**(lease.get("spec") or {}), "holderIdentity": "", "leaseDurationSeconds": 1,
                "renewTime": format_micro_time(self._wall_clock())}
        body = {"apiVersion": LEASE_API_VERSION, "kind": "Lease", "metadata": dict(lease.get("metadata") or {}),
                "spec": spec}
        try:
            async with asyncio.timeout(self.retry_period):
                self._observe(await self.api.replace(self.namespace, self.name, body))
        except (LeaseError, TimeoutError) as exc:
            logger.info("Lease %s/%s: not released (%s); it expires on its own", self.namespace, self.name,
                        exc or "request timed out")

    # --- terms -----------------------------------------------------------------------------------------

    async def _start_term(self) -> None:
        logger.info("Lease %s/%s: %r is the leader", self.namespace, self.name, self.identity)
        self.lost.clear()
        self.leading.set()
        # The start callback may take long (an operator waiting for its watches to sync): it runs beside
        # the renewals, never in their way.
        self._starting = self._spawn(self.on_started_leading)

    async def _end_term(self) -> None:
        if not self.leading.is_set():
            return
        self.leading.clear()
        self.lost.set()
        starting, self._starting = self._starting, None
        if starting is not None and not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
        # Awaited: a leader that is cancelled releases the Lease only once it has stopped acting. A leader
        # that lost the Lease has lease_duration - renew_deadline (5 s by default) before anyone else may
        # take over; the stop callback should finish within that.
        await self._call(self.on_stopped_leading)

    def _spawn(self, callback: Callback | None) -> asyncio.Task[None] | None:
        if callback is None:
            return None
        try:
            result = callback()
        except Exception:
            logger.exception("Lease %s/%s: a leadership callback failed", self.namespace, self.name)
            return None
        if result is None:
            return None
        return asyncio.create_task(self._await_logged(result), name=f"lease-{self.name}-started-leading")

    async def _await_logged(self, awaitable: Awaitable[None]) -> None:
        try:
            await awaitable
        except Exception:
            logger.exception("Lease %s/%s: a leadership callback failed", self.namespace, self.name)

    async def _call(self, callback: Callback | None) -> None:
        # A failing callback must not end the campaign (nor keep a leader from stepping down).
        if callback is None:
            return
        try:
            result = callback()
            if result is not None:
                await result
        except Exception:
            logger.exception("Lease %s/%s: a leadership callback failed", self.namespace, self.name)

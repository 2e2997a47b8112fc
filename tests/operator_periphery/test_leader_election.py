"""Leader election against the sandbox API server over real HTTP, in virtual time (looptime): the default
timings (15 s lease, 10 s renew deadline, 2 s retry) cost nothing to wait for.

Every scenario also checks the safety property: two replicas never lead at the same (virtual) time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from kube_sandbox import faults, testing
from scaler.operator import leader_election, leases
from tests.operator_periphery import conftest

NAMESPACE = "kube-system"
LEASE = "ebb-operator"
LEASE_PATH = f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/{LEASE}"


@dataclass
class Timeline:
    """Leadership terms as (identity, start, end) in loop time, fed by the electors' callbacks."""

    terms: list[list[Any]] = field(default_factory=list)

    def started(self, identity: str) -> None:
        self.terms.append([identity, asyncio.get_running_loop().time(), None])

    def stopped(self, identity: str) -> None:
        for term in reversed(self.terms):
            if term[0] == identity and term[2] is None:
                term[2] = asyncio.get_running_loop().time()
                return
        raise AssertionError(f"{identity} stopped leading without having started")

    def assert_no_overlap(self) -> None:
        now = asyncio.get_running_loop().time()
        spans = sorted((start, end if end is not None else now, who) for who, start, end in self.terms)
        for (_, end_a, who_a), (start_b, _, who_b) in itertools.pairwise(spans):
            assert start_b >= end_a, f"{who_a} and {who_b} led at the same time: {self.terms}"

    def leaders(self) -> list[str]:
        return [term[0] for term in self.terms]


def make_elector(api: leader_election.LeaseApi, identity: str, timeline: Timeline, **options: Any) -> leader_election.LeaderElector:
    return leader_election.LeaderElector(
        api=api, namespace=NAMESPACE, name=LEASE, identity=identity,
        on_started_leading=lambda: timeline.started(identity),
        on_stopped_leading=lambda: timeline.stopped(identity),
        **options,
    )


@contextlib.asynccontextmanager
async def campaigning(*electors: leader_election.LeaderElector) -> AsyncIterator[dict[str, asyncio.Task[None]]]:
    tasks = {e.identity: asyncio.create_task(e.run(), name=f"elector-{e.identity}") for e in electors}
    try:
        yield tasks
    finally:
        for task in tasks.values():
            task.cancel()
        for task in tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def raw_lease(sandbox: testing.Sandbox) -> dict[str, Any]:
    """The Lease as the API server has it, read without the code under test."""
    headers = {"Authorization": f"Bearer {conftest.TOKEN}"}
    async with aiohttp.ClientSession() as session, session.get(sandbox.base_url + LEASE_PATH, headers=headers) as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def raw_put_holder(sandbox: testing.Sandbox, holder: str) -> None:
    """Another party (not an elector) writes the Lease: read-modify-write with its resourceVersion."""
    lease = await raw_lease(sandbox)
    lease["spec"]["holderIdentity"] = holder
    lease["spec"]["renewTime"] = "2030-01-01T00:00:00.000000Z"
    headers = {"Authorization": f"Bearer {conftest.TOKEN}"}
    async with aiohttp.ClientSession() as session, \
            session.put(sandbox.base_url + LEASE_PATH, json=lease, headers=headers) as response:
        assert response.status == 200, await response.text()


def now() -> float:
    return asyncio.get_running_loop().time()


# --- who leads ----------------------------------------------------------------------------------------------


@pytest.mark.looptime
async def test_exactly_one_of_two_leads_and_keeps_leading(sandbox: testing.Sandbox,
                                                          lease_api: leases.HttpLeaseApi) -> None:
    timeline = Timeline()
    a, b = make_elector(lease_api, "pod-a", timeline), make_elector(lease_api, "pod-b", timeline)
    async with campaigning(a, b):
        await asyncio.sleep(1)
        assert [a.is_leader, b.is_leader].count(True) == 1
        leader = a if a.is_leader else b
        first = await raw_lease(sandbox)
        assert first["spec"]["holderIdentity"] == leader.identity
        assert first["spec"]["leaseDurationSeconds"] == 15

        await asyncio.sleep(120)  # many renewals, each a PUT with the resourceVersion
        later = await raw_lease(sandbox)
        assert leader.is_leader
        assert timeline.leaders() == [leader.identity]
        assert later["spec"]["holderIdentity"] == leader.identity
        assert later["spec"]["renewTime"] > first["spec"]["renewTime"]
        assert later["spec"]["acquireTime"] == first["spec"]["acquireTime"]
        assert later["spec"].get("leaseTransitions", 0) == 0
        assert int(later["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
        assert (a if b is leader else b).leader == leader.identity
    timeline.assert_no_overlap()


@pytest.mark.looptime
async def test_simultaneous_creation_has_one_winner(lease_api: leases.HttpLeaseApi) -> None:
    timeline = Timeline()
    electors = [make_elector(lease_api, f"pod-{n}", timeline) for n in range(4)]
    async with campaigning(*electors):
        await asyncio.sleep(0.5)
        assert sum(e.is_leader for e in electors) == 1
        await asyncio.sleep(30)
        assert sum(e.is_leader for e in electors) == 1
    assert len(timeline.leaders()) == 1
    timeline.assert_no_overlap()


# --- handing over -------------------------------------------------------------------------------------------


@pytest.mark.looptime
async def test_cancelled_leader_releases_and_the_standby_takes_over_at_its_next_retry(
        sandbox: testing.Sandbox, lease_api: leases.HttpLeaseApi) -> None:
    timeline = Timeline()
    a = make_elector(lease_api, "pod-a", timeline)
    b = make_elector(lease_api, "pod-b", timeline)
    async with campaigning(a) as tasks:
        await asyncio.wait_for(a.leading.wait(), 1)
        async with campaigning(b):
            await asyncio.sleep(10)
            assert not b.is_leader
            cancelled_at = now()
            await stop(tasks["pod-a"])
            assert a.lost.is_set() and not a.is_leader
            released = await raw_lease(sandbox)
            assert released["spec"]["holderIdentity"] == ""

            await asyncio.wait_for(b.leading.wait(), b.retry_period + 0.5)
            assert now() - cancelled_at <= b.retry_period + 0.5
            taken = await raw_lease(sandbox)
            assert taken["spec"]["holderIdentity"] == "pod-b"
            assert taken["spec"]["leaseTransitions"] == 1
    assert timeline.leaders() == ["pod-a", "pod-b"]
    timeline.assert_no_overlap()


@pytest.mark.looptime
async def test_a_crashed_leader_is_replaced_once_its_lease_expires(lease_api: leases.HttpLeaseApi) -> None:
    timeline = Timeline()
    # A crash: the task ends without releasing the Lease, which must expire on the standby's clock.
    a = make_elector(lease_api, "pod-a", timeline, release_on_cancel=False)
    b = make_elector(lease_api, "pod-b", timeline)
    async with campaigning(a) as tasks:
        await asyncio.wait_for(a.leading.wait(), 1)
        async with campaigning(b):
            await asyncio.sleep(7)
            crashed_at = now()
            await stop(tasks["pod-a"])
            await asyncio.wait_for(b.leading.wait(), 30)
            waited = now() - crashed_at
            # The last renewal was at most one retry before the crash; the standby saw it at most one retry
            # after, and notices the expiry at its next retry.
            assert a.lease_duration - a.retry_period <= waited <= a.lease_duration + 2 * b.retry_period + 0.5
    timeline.assert_no_overlap()


@pytest.mark.looptime
async def test_a_lease_held_by_someone_else_is_respected_until_it_expires(lease_api: leases.HttpLeaseApi) -> None:
    await lease_api.create(NAMESPACE, {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": LEASE, "namespace": NAMESPACE},
        "spec": {"holderIdentity": "keda-operator-7d9", "leaseDurationSeconds": 30,
                 "renewTime": "2020-01-01T00:00:00.000000Z", "leaseTransitions": 4},
    })
    timeline = Timeline()
    a = make_elector(lease_api, "pod-a", timeline)
    started = now()
    async with campaigning(a):
        # Its renewTime is years old, but only our own clock counts: 30 s from when we first saw it.
        await asyncio.sleep(29)
        assert not a.is_leader
        assert a.leader == "keda-operator-7d9"
        await asyncio.wait_for(a.leading.wait(), 5)
        assert 30 <= now() - started <= 30 + a.retry_period + 0.5
        lease = await lease_api.get(NAMESPACE, LEASE)
        assert lease is not None
        assert lease["spec"]["leaseTransitions"] == 5


# --- losing ------------------------------------------------------------------------------------------------


@pytest.mark.looptime
async def test_a_leader_whose_lease_was_taken_steps_down_at_its_next_renewal(
        sandbox: testing.Sandbox, lease_api: leases.HttpLeaseApi) -> None:
    timeline = Timeline()
    a = make_elector(lease_api, "pod-a", timeline)
    async with campaigning(a):
        await asyncio.wait_for(a.leading.wait(), 1)
        await raw_put_holder(sandbox, "intruder")
        taken_at = now()
        # The renewal PUT carries a stale resourceVersion: 409, read again, someone else holds it.
        await asyncio.wait_for(a.lost.wait(), 2 * a.retry_period + 0.5)
        assert not a.is_leader
        assert now() - taken_at <= 2 * a.retry_period + 0.5
        assert a.leader == "intruder"
        # It saw the intruder's record as it lost, and waits out that lease before leading again.
        lost_at = now()
        await asyncio.sleep(a.lease_duration - a.retry_period)
        assert not a.is_leader
        await asyncio.wait_for(a.leading.wait(), 2 * a.retry_period + 0.5)
        assert a.lease_duration <= now() - lost_at <= a.lease_duration + a.retry_period + 0.5
    assert timeline.leaders() == ["pod-a", "pod-a"]


@pytest.mark.looptime
async def test_a_leader_that_cannot_renew_stops_before_its_lease_expires(
        sandbox: testing.Sandbox, lease_api: leases.HttpLeaseApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="scaler.operator.leader_election")
    timeline = Timeline()
    a = make_elector(lease_api, "pod-a", timeline)
    b = make_elector(lease_api, "pod-b", timeline)
    async with campaigning(a, b):
        await asyncio.sleep(1)
        leader = a if a.is_leader else b
        broken_at = now()
        rule = sandbox.faults.add(faults.Rule(action=faults.Action.ERROR, code=500, resources=frozenset({"leases"})))
        await asyncio.wait_for(leader.lost.wait(), leader.renew_deadline + 1)
        stepped_down = now() - broken_at
        assert leader.renew_deadline - leader.retry_period <= stepped_down <= leader.renew_deadline + 0.5
        # Nobody can write the Lease, so nobody leads.
        await asyncio.sleep(30)
        assert not a.is_leader and not b.is_leader
        sandbox.faults.remove(rule)
        await asyncio.sleep(a.lease_duration + 2 * a.retry_period + 1)
        assert [a.is_leader, b.is_leader].count(True) == 1
    assert "HTTP 500" in caplog.text
    assert conftest.TOKEN not in caplog.text
    timeline.assert_no_overlap()


# --- the elector's contract ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "message"), [
    pytest.param({"identity": ""}, "identity", id="empty-identity"),
    pytest.param({"renew_deadline": 15}, "lease_duration > renew_deadline", id="deadline-not-below-duration"),
    pytest.param({"retry_period": 10}, "renew_deadline > retry_period", id="retry-not-below-deadline"),
    pytest.param({"retry_period": 0}, "retry_period > 0", id="zero-retry"),
])
def test_inconsistent_settings_are_refused(lease_api: leases.HttpLeaseApi, options: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"api": lease_api, "namespace": NAMESPACE, "name": LEASE, "identity": "pod-a"} | options
    with pytest.raises(ValueError, match=message):
        leader_election.LeaderElector(**arguments)


@pytest.mark.looptime
async def test_async_callbacks_run_and_a_failing_callback_does_not_end_the_campaign(
        lease_api: leases.HttpLeaseApi, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    async def started() -> None:
        calls.append("started")
        raise RuntimeError("callback bug")

    async def stopped() -> None:
        calls.append("stopped")

    elector = leader_election.LeaderElector(api=lease_api, namespace=NAMESPACE, name=LEASE, identity="pod-a",
                                            on_started_leading=started, on_stopped_leading=stopped)
    async with campaigning(elector) as tasks:
        await asyncio.wait_for(elector.leading.wait(), 1)
        await asyncio.sleep(20)
        assert elector.is_leader  # still renewing despite the failed callback
        await stop(tasks["pod-a"])
    assert calls == ["started", "stopped"]
    assert "a leadership callback failed" in caplog.text


@pytest.mark.parametrize(("spec", "expected"), [
    pytest.param({}, leader_election.LeaseRecord("", None, None, None, 0), id="empty"),
    pytest.param({"holderIdentity": "a", "leaseDurationSeconds": 15, "leaseTransitions": 2,
                  "acquireTime": "t0", "renewTime": "t1"},
                 leader_election.LeaseRecord("a", 15, "t0", "t1", 2), id="full"),
    pytest.param({"holderIdentity": None, "leaseDurationSeconds": "15", "leaseTransitions": True},
                 leader_election.LeaseRecord("", None, None, None, 0), id="wrong-types-ignored"),
])
def test_lease_records_read_from_specs(spec: dict[str, Any], expected: leader_election.LeaseRecord) -> None:
    assert leader_election.LeaseRecord.from_lease({"spec": spec}) == expected


# --- the clock is injectable, and real time works too ------------------------------------------------------


class ManualClock:
    """A clock that moves only when the elector sleeps: each sleep jumps exactly by what was asked."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def test_an_injected_clock_and_sleep_decide_expiry(lease_api: leases.HttpLeaseApi) -> None:
    await lease_api.create(NAMESPACE, {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": LEASE, "namespace": NAMESPACE},
        "spec": {"holderIdentity": "someone-else", "leaseDurationSeconds": 20},
    })
    clock = ManualClock()
    started_at: list[float] = []
    elector = leader_election.LeaderElector(api=lease_api, namespace=NAMESPACE, name=LEASE, identity="pod-a",
                                            clock=clock, sleep=clock.sleep, retry_period=3,
                                            on_started_leading=lambda: started_at.append(clock.now))
    async with campaigning(elector):
        await asyncio.wait_for(elector.leading.wait(), 10)  # real seconds: only the requests take real time
    # First seen at 1000 and valid while 1000 + 20 > now: the tries at 1000, 1003 … 1018 lose, 1021 wins.
    assert started_at == [1021.0]
    assert clock.sleeps[:7] == [3, 3, 3, 3, 3, 3, 3]


async def test_handover_in_real_time_with_short_timings(sandbox: testing.Sandbox,
                                                        lease_api: leases.HttpLeaseApi) -> None:
    timings = {"lease_duration": 1.5, "renew_deadline": 1.0, "retry_period": 0.2}
    timeline = Timeline()
    a = make_elector(lease_api, "pod-a", timeline, **timings)
    b = make_elector(lease_api, "pod-b", timeline, **timings)
    async with campaigning(a) as tasks:
        await asyncio.wait_for(a.leading.wait(), 2)
        async with campaigning(b):
            await asyncio.sleep(0.6)
            assert not b.is_leader
            await stop(tasks["pod-a"])
            await asyncio.wait_for(b.leading.wait(), 1.0)
            assert (await raw_lease(sandbox))["spec"]["holderIdentity"] == "pod-b"
    timeline.assert_no_overlap()


# --- callbacks that take time ------------------------------------------------------------------------------


@pytest.mark.looptime
async def test_a_slow_start_callback_does_not_hold_up_renewals(sandbox: testing.Sandbox,
                                                               lease_api: leases.HttpLeaseApi) -> None:
    events: list[str] = []

    async def start_slowly() -> None:
        events.append("starting")
        await asyncio.sleep(60)  # e.g. an operator waiting for its watches to sync
        events.append("started")

    a = leader_election.LeaderElector(api=lease_api, namespace=NAMESPACE, name=LEASE, identity="pod-a",
                                      on_started_leading=start_slowly)
    timeline = Timeline()
    b = make_elector(lease_api, "pod-b", timeline)
    async with campaigning(a) as tasks:
        await asyncio.wait_for(a.leading.wait(), 1)
        async with campaigning(b):
            await asyncio.sleep(70)
            assert events == ["starting", "started"]
            assert a.is_leader and not b.is_leader
            assert timeline.leaders() == []
            await stop(tasks["pod-a"])
            await asyncio.wait_for(b.leading.wait(), b.retry_period + 0.5)


@pytest.mark.looptime
async def test_cancelling_mid_start_cancels_the_start_then_stops_then_releases(
        sandbox: testing.Sandbox, lease_api: leases.HttpLeaseApi) -> None:
    events: list[str] = []

    async def start_slowly() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            events.append("start cancelled")
            raise

    async def stop_slowly() -> None:
        await asyncio.sleep(3)  # stopping the scale loops takes a while
        holder = (await raw_lease(sandbox))["spec"]["holderIdentity"]
        events.append(f"stopped while the lease was held by {holder!r}")

    a = leader_election.LeaderElector(api=lease_api, namespace=NAMESPACE, name=LEASE, identity="pod-a",
                                      on_started_leading=start_slowly, on_stopped_leading=stop_slowly)
    async with campaigning(a) as tasks:
        await asyncio.wait_for(a.leading.wait(), 1)
        await asyncio.sleep(5)
        await stop(tasks["pod-a"])
    assert events == ["start cancelled", "stopped while the lease was held by 'pod-a'"]
    assert (await raw_lease(sandbox))["spec"]["holderIdentity"] == ""

"""The HTTP `LeaseApi` against the sandbox: compare-and-swap semantics, errors that name the request and
never the token."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from kube_sandbox import faults, testing
from scaler.operator import leader_election, leases
from tests.operator_periphery import conftest

NAMESPACE = "default"


def lease(name: str, holder: str = "pod-a") -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15},
    }


async def test_a_missing_lease_reads_as_none(lease_api: leases.HttpLeaseApi) -> None:
    assert await lease_api.get(NAMESPACE, "nobody") is None


async def test_create_then_get_round_trips(lease_api: leases.HttpLeaseApi) -> None:
    created = await lease_api.create(NAMESPACE, lease("one"))
    read = await lease_api.get(NAMESPACE, "one")
    assert read is not None
    assert read["spec"]["holderIdentity"] == "pod-a"
    assert read["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_creating_an_existing_lease_is_a_conflict(lease_api: leases.HttpLeaseApi) -> None:
    await lease_api.create(NAMESPACE, lease("one"))
    with pytest.raises(leader_election.LeaseConflict, match=r"POST .*/leases: HTTP 409"):
        await lease_api.create(NAMESPACE, lease("one", holder="pod-b"))


async def test_a_replace_with_a_stale_resource_version_loses(lease_api: leases.HttpLeaseApi) -> None:
    created = await lease_api.create(NAMESPACE, lease("one"))
    first = {**created, "spec": {**created["spec"], "holderIdentity": "pod-b"}}
    second = {**created, "spec": {**created["spec"], "holderIdentity": "pod-c"}}
    replaced = await lease_api.replace(NAMESPACE, "one", first)
    assert int(replaced["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    with pytest.raises(leader_election.LeaseConflict, match=r"PUT .*/leases/one: HTTP 409"):
        await lease_api.replace(NAMESPACE, "one", second)  # still carries the resourceVersion `first` replaced
    read = await lease_api.get(NAMESPACE, "one")
    assert read is not None and read["spec"]["holderIdentity"] == "pod-b"


async def test_server_errors_name_the_request_and_status(sandbox: testing.Sandbox,
                                                         lease_api: leases.HttpLeaseApi) -> None:
    sandbox.faults.add(faults.Rule(action=faults.Action.ERROR, code=503, resources=frozenset({"leases"}), count=1))
    with pytest.raises(leader_election.LeaseError, match=r"GET /apis/coordination.k8s.io/v1/namespaces/default/leases/one: HTTP 503") as caught:
        await lease_api.get(NAMESPACE, "one")
    assert not isinstance(caught.value, leader_election.LeaseConflict)


async def test_a_wrong_token_is_refused_without_echoing_it(sandbox: testing.Sandbox) -> None:
    wrong = "wrong-token-9a8b7c"
    async with leases.HttpLeaseApi(sandbox.base_url, token=lambda: wrong) as api:
        with pytest.raises(leader_election.LeaseError, match="HTTP 401") as caught:
            await api.get(NAMESPACE, "one")
    assert wrong not in str(caught.value)
    assert conftest.TOKEN not in str(caught.value)


async def test_an_unreachable_server_is_a_lease_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, with nobody listening now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with leases.HttpLeaseApi(f"http://127.0.0.1:{port}", timeout=2) as api:
        with pytest.raises(leader_election.LeaseError, match=r"GET .*ClientConnectorError"):
            await api.get(NAMESPACE, "one")


@pytest.mark.parametrize("base_url", [
    pytest.param("127.0.0.1:6443", id="no-scheme"),
    pytest.param("ftp://api:6443", id="wrong-scheme"),
    pytest.param("https://", id="no-host"),
])
def test_a_base_url_that_is_not_an_api_server_url_is_refused(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url must be an http"):
        leases.HttpLeaseApi(base_url)

"""Fixtures for the operator's periphery: a fresh sandbox API server on the test's own loop (so looptime's
virtual time covers the electors while their HTTP stays real), and a Lease API client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kube_sandbox import testing
from scaler.operator import leases

TOKEN = "periphery-test-token-5f2c"


@pytest.fixture
async def sandbox() -> AsyncIterator[testing.Sandbox]:
    running = testing.Sandbox(token=TOKEN, kubelet_enabled=False, seed=11)
    await running.astart()
    try:
        yield running
    finally:
        await running.astop()


@pytest.fixture
async def lease_api(sandbox: testing.Sandbox) -> AsyncIterator[leases.HttpLeaseApi]:
    async with leases.HttpLeaseApi(sandbox.base_url, token=TOKEN) as api:
        yield api

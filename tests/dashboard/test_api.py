"""The dashboard's JSON API and pages on the operator's HTTP server (its real app, a real `Watched` and
`DecisionLog`): bad query parameters answered 400 naming the parameter, unknown objects 404, the live
part answered 304 while nothing changed, and rows rebuilt exactly when their inputs change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from scaler.operator import dashboard_server, decision_log, http_server, kube, operator_metrics
from scaler.reports import dashboard

NOW = 1_800_000_000.0


def _so(name: str, ready: str = "True") -> dict[str, Any]:
    return {"metadata": {"namespace": "default", "name": name},
            "spec": {"scaleTargetRef": {"name": f"w-{name}"}, "maxReplicaCount": 4, "triggers": [{"type": "redis"}]},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}}


def _decision(replicas: int, t: float, value: float = 1.0) -> dict[str, Any]:
    return {"time": "t", "timestamp": t, "reason": "ACTIVE", "explanation": "e", "active": True,
            "currentReplicas": replicas, "replicas": replicas,
            "triggers": [{"index": 0, "metric": "m", "value": value, "target": 5, "activation": 0}]}


class Server:
    def __init__(self) -> None:
        self.watched = kube.Watched()
        self.log = decision_log.DecisionLog()
        self.clock = [NOW]
        self.board = dashboard_server.Dashboard(watched=self.watched, decisions=self.log,
                                                health=http_server.HealthState(leading=True, synced=True),
                                                clock=lambda: self.clock[0])
        self.base = ""


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    app = http_server.make_app(metrics=operator_metrics.OperatorMetrics(), decisions=state.log,
                               health=state.board.health)
    dashboard_server.install(app, state.board)
    runner = await http_server.serve(app)
    state.base = f"http://127.0.0.1:{http_server.bound_port(runner)}"
    yield state
    await http_server.stop(runner)


@pytest.mark.parametrize(("path", "status", "message"), [
    ("/api/v1/dashboard/fleet?sort=size", 400, "query parameter sort: expected one of"),
    ("/api/v1/dashboard/fleet?pageSize=13", 400, "query parameter pageSize: expected one of 25, 50, 100, 200"),
    ("/?errors=perhaps", 400, "query parameter errors: expected 1/true/on or 0/false/off, got 'perhaps'"),
    ("/api/v1/dashboard/scaledobjects/default/a?from=yesterday", 400, "query parameter from: expected seconds"),
    ("/api/v1/dashboard/scaledobjects/default/a?from=20&to=10", 400, "query parameter to: expected a time after from"),
    ("/api/v1/dashboard/scaledobjects/default/a?last=60&from=1", 400, "give either last or from/to"),
    ("/api/v1/dashboard/scaledobjects/default/nope", 404, "the operator watches no ScaledObject default/nope"),
    ("/scaledobjects/default/nope", 404, "The operator watches no ScaledObject default/nope."),
])
async def test_bad_requests_name_what_is_wrong(server: Server, path: str, status: int, message: str) -> None:
    server.watched.put(kube.SCALED_OBJECT, _so("a"))
    async with aiohttp.ClientSession() as session, session.get(server.base + path) as reply:
        assert reply.status == status
        assert message in await reply.text()


async def test_the_live_part_is_304_until_something_changes(server: Server) -> None:
    server.watched.put(kube.SCALED_OBJECT, _so("a"))
    server.log.record("default", "a", _decision(1, NOW - 5))
    url = server.base + "/scaledobjects/default/a?fragment=1"
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as reply:
            assert reply.status == 200
            etag = reply.headers["ETag"]
            assert "<html" not in await reply.text()
        async with session.get(url, headers={"If-None-Match": etag}) as reply:
            assert reply.status == 304
        server.log.record("default", "a", _decision(2, NOW - 4, value=9.0))
        async with session.get(url, headers={"If-None-Match": etag}) as reply:
            assert reply.status == 200
            assert reply.headers["ETag"] != etag
            assert "1 → 2" in await reply.text()


async def test_rows_are_rebuilt_when_their_inputs_change(server: Server) -> None:
    server.watched.put(kube.SCALED_OBJECT, _so("a"))
    server.log.record("default", "a", _decision(1, NOW - 5))
    first = server.board.fleet(dashboard.Filters())["scaledObjects"][0]
    assert first["desiredReplicas"] == 1 and first["conditions"]["Ready"] == "True"
    server.log.record("default", "a", _decision(1, NOW - 4))  # a repeat: the run grows
    assert server.log.records("default", "a") == 2 and server.log.count("default", "a") == 1
    server.log.record("default", "a", _decision(4, NOW - 3, value=30))
    row = server.board.fleet(dashboard.Filters())["scaledObjects"][0]
    assert row["desiredReplicas"] == 4 and row["atMax"] is True
    server.watched.put(kube.SCALED_OBJECT, _so("a", ready="False"))
    row = server.board.fleet(dashboard.Filters())["scaledObjects"][0]
    assert row["conditions"]["Ready"] == "False"
    server.watched.put(kube.DEPLOYMENT, {"metadata": {"namespace": "default", "name": "w-a"},
                                         "spec": {"replicas": 4}, "status": {"readyReplicas": 3}})
    row = server.board.fleet(dashboard.Filters())["scaledObjects"][0]
    assert (row["currentReplicas"], row["readyReplicas"]) == (4, 3)
    server.watched.delete(kube.SCALED_OBJECT, _so("a"))
    assert server.board.fleet(dashboard.Filters())["counts"]["total"] == 0

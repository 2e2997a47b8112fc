"""The dashboard's JSON API and pages on the operator's HTTP server (its real app, a real `Watched` and
`DecisionLog`): bad query parameters answered 400 naming the parameter, unknown objects 404, the live
part answered 304 while nothing changed, and rows rebuilt exactly when their inputs change."""

from __future__ import annotations

import dataclasses
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


def _operator_settings(*argv: str) -> Any:
    import argparse

    from scaler.cli.commands import operator as operator_command

    parser = argparse.ArgumentParser()
    operator_command.add_arguments(parser)
    return operator_command.settings_from(parser.parse_args(list(argv)))


def test_the_token_flags(tmp_path: Any) -> None:
    token = tmp_path / "token"
    token.write_text("  s3cret-token \n")
    got = _operator_settings("--http-token-file", str(token), "--http-token-on-loopback")
    assert (got.http_token_file, got.http_token_on_loopback) == (str(token), True)
    assert dashboard_server.read_token(str(token)) == "s3cret-token"
    assert _operator_settings().http_token_file is None


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: ("--http-token-file", str(d / "missing")), "--http-token-file {d}/missing: cannot read it: No such file or directory"),
    (lambda d: ("--http-token-file", str(d / "empty")), "--http-token-file {d}/empty: expected a token, the file is empty"),
    (lambda d: ("--http-token-on-loopback",), "--http-token-on-loopback: needs --http-token-file"),
])
def test_bad_token_flags_name_the_flag(tmp_path: Any, make: Any, message: str) -> None:
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError) as raised:
        _operator_settings(*make(tmp_path))
    assert str(raised.value) == message.format(d=tmp_path)


@pytest.mark.parametrize(("health", "shown"), [
    (http_server.HealthState(leading=True, synced=True), "leading"),
    (http_server.HealthState(standby=True), "standby: another replica holds the lease"),
    (http_server.HealthState(), "starting: neither leading nor a standby yet"),
    (http_server.HealthState(leading=True, stopping=True), "shutting down"),
])
async def test_the_header_shows_leadership(server: Server, health: http_server.HealthState, shown: str) -> None:
    for field in dataclasses.fields(health):
        setattr(server.board.health, field.name, getattr(health, field.name))
    async with aiohttp.ClientSession() as session:
        async with session.get(server.base + "/") as reply:
            page = await reply.text()
        async with session.get(server.base + "/api/v1/dashboard/status") as reply:
            status = await reply.json()
    assert f'id="leader">{shown}</span>' in page
    assert f"operator {shown}</span>" in page  # the footer
    assert status["leading"] is health.leading and status["standby"] is health.standby

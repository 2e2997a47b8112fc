"""The dashboard's pure model: "why not scaling?" for every case, fleet rows, filters, sorting and paging,
and the object document's time range — table-driven, from the bodies and decision entries the operator
really produces (shapes as in `scale_loop._record` and the ScaledObject status)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from scaler.core import specs
from scaler.reports import dashboard

NOW = 1_800_000_000.0


def _iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def so(name: str = "orders", *, ns: str = "default", annotations: dict[str, str] | None = None,
       conditions: list[dict[str, Any]] | None = None, max_replicas: int = 10, cooldown: int = 300) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "annotations": annotations or {},
                     "creationTimestamp": _iso(NOW - 3600)},
        "spec": {"scaleTargetRef": {"name": "worker"}, "minReplicaCount": 0, "maxReplicaCount": max_replicas,
                 "cooldownPeriod": cooldown, "triggers": [{"type": "redis", "metadata": {}}]},
        "status": {"conditions": conditions or [{"type": "Ready", "status": "True"}]},
    }


def entry(reason: str, *, active: bool, replicas: int, value: float | None = 0.0, error: str | None = None,
          activation: float = 0.0, target: float = 5.0, last_active: float | None = None, t: float = NOW - 1,
          current: int | None = None) -> dict[str, Any]:
    state = {"lastActiveTime": _iso(last_active)} if last_active is not None else {}
    return {
        "time": _iso(t), "timestamp": t, "mode": "direct", "reason": reason, "explanation": f"{reason} explained",
        "active": active, "currentReplicas": replicas if current is None else current, "replicas": replicas,
        "written": False, "state": state,
        "triggers": [{"index": 0, "name": "jobs", "type": "redis", "metric": "s0-redis-jobs", "value": value,
                      "active": active, "error": error, "target": target, "activation": activation}],
    }


CASES = [
    # (id, body, last decision, kind, words the sentence must hold)
    ("spec invalid", so(conditions=[{"type": "Ready", "status": "False", "reason": "ScaledObjectCheckFailed",
                                     "message": "spec.triggers[0].metadata.listLength: expected a number, got 'x'"}]),
     None, dashboard.Why.SPEC_INVALID, ["not valid", "spec.triggers[0].metadata.listLength"]),
    ("paused", so(annotations={specs.PAUSED: "true"}), entry("PAUSED", active=False, replicas=1),
     dashboard.Why.PAUSED, [specs.PAUSED + "=true"]),
    ("paused replicas", so(annotations={specs.PAUSED_REPLICAS: "3"}), entry("PAUSED_REPLICAS", active=False, replicas=3),
     dashboard.Why.PAUSED, [specs.PAUSED_REPLICAS + "=3", "at 3 replicas"]),
    ("paused scale-in", so(annotations={specs.PAUSED_SCALE_IN: "true"}),
     entry("PAUSED_SCALE_IN", active=False, replicas=2), dashboard.Why.PAUSED, [specs.PAUSED_SCALE_IN, "scaling in"]),
    ("scaler erroring", so(conditions=[{"type": "Ready", "status": "False", "reason": "TriggerError",
                                        "message": "Triggers defined in ScaledObject are not working correctly"}]),
     entry("TRIGGER_ERROR", active=False, replicas=0, value=None,
                                     error="connection refused to 127.0.0.1:1"),
     dashboard.Why.SCALER_ERROR, ["trigger 'jobs'", "connection refused to 127.0.0.1:1"]),
    ("hpa cannot fetch", so(conditions=[{"type": "Ready", "status": "True"},
                                        {"type": "HPAActive", "status": "False", "reason": "FailedGetExternalMetric",
                                         "message": "unable to get external metric s0-redis-jobs"}]),
     entry("ACTIVE", active=True, replicas=1, value=9), dashboard.Why.HPA_NO_METRICS,
     ["FailedGetExternalMetric", "unable to get external metric"]),
    ("cooldown", so(cooldown=300), entry("COOLDOWN", active=False, replicas=2, last_active=NOW - 100),
     dashboard.Why.COOLDOWN, ["cooldownPeriod 300 s", "3 min 20 s left"]),
    ("cooldown almost over", so(cooldown=30), entry("COOLDOWN", active=False, replicas=2, last_active=NOW - 25),
     dashboard.Why.COOLDOWN, ["cooldownPeriod 30 s", "5 s left"]),
    ("at max", so(max_replicas=4), entry("ACTIVE", active=True, replicas=4, value=100),
     dashboard.Why.AT_MAX, ["maxReplicaCount 4", "reads 100 against target 5"]),
    ("below activation", so(), entry("NO_CHANGE", active=False, replicas=0, value=3, activation=10),
     dashboard.Why.BELOW_ACTIVATION, ["reads 3", "activation threshold 10"]),
    ("no decision yet", so(), None, dashboard.Why.NO_DECISION, ["No decision yet"]),
    ("scaling", so(), entry("ACTIVE", active=True, replicas=2, value=9), dashboard.Why.SCALING,
     ["Nothing holds it back", "ACTIVE explained"]),
]


@pytest.mark.parametrize(("body", "last", "kind", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_why_not_scaling(body: dict[str, Any], last: dict[str, Any] | None, kind: dashboard.Why,
                         words: list[str]) -> None:
    verdict = dashboard.why_not_scaling(body, last, NOW)
    assert verdict.kind is kind, verdict
    for word in words:
        assert word in verdict.sentence, (word, verdict.sentence)
    assert verdict.sentence.endswith("."), verdict.sentence


@pytest.mark.parametrize(("replicas", "expected"), [
    ([0, 1, 2, 3, 3, 2, 1, 0], False),  # one up, one down: a cycle, not a flap
    ([1, 2, 1, 2, 1], True),  # three reversals
    ([1, 2, 2, 1, 1, 2], False),  # two reversals
    ([], False),
])
def test_flapping(replicas: list[int], expected: bool) -> None:
    entries = [entry("ACTIVE", active=True, replicas=n) for n in replicas]
    assert dashboard.flapping(entries) is expected


def _rows() -> list[dashboard.Row]:
    rows = []
    for i in range(30):
        ns = "team-a" if i % 2 else "team-b"
        annotations = {specs.PAUSED: "true"} if i % 10 == 0 else {}
        last = entry("TRIGGER_ERROR", active=False, replicas=0, value=None, error="boom") if i % 7 == 0 else \
            entry("ACTIVE", active=True, replicas=i % 5, value=i, t=NOW - i)
        rows.append(dashboard.fleet_row(so(f"so-{i:02d}", ns=ns, annotations=annotations, max_replicas=4), None,
                                        [last], NOW))
    return rows


@pytest.mark.parametrize(("query", "names"), [
    ({"namespace": "team-a", "pageSize": "25"}, [f"so-{i:02d}" for i in range(1, 30, 2)]),
    ({"errors": "1"}, ["so-00", "so-14", "so-28", "so-07", "so-21"]),
    ({"paused": "1"}, ["so-00", "so-10", "so-20"]),
    ({"atMax": "1"}, ["so-04", "so-09", "so-19", "so-24", "so-29"]),  # so-14 errs: it decided 0
    ({"q": "so-1", "namespace": "team-b"}, ["so-10", "so-12", "so-14", "so-16", "so-18"]),
])
def test_filters_pick_the_rows(query: dict[str, str], names: list[str]) -> None:
    doc = dashboard.fleet_document(_rows(), dashboard.parse_filters(query), NOW)
    assert sorted(r["name"] for r in doc["scaledObjects"]) == sorted(names)
    assert doc["matched"] == len(names)
    assert doc["counts"]["total"] == 30


def test_sorting_and_paging() -> None:
    rows = _rows()
    first = dashboard.fleet_document(rows, dashboard.parse_filters({"sort": "name", "pageSize": "25"}), NOW)
    assert [r["name"] for r in first["scaledObjects"]] == [f"so-{i:02d}" for i in range(25)]
    assert (first["page"], first["pages"]) == (1, 2)
    second = dashboard.fleet_document(rows, dashboard.parse_filters({"sort": "name", "pageSize": "25", "page": "2"}), NOW)
    assert [r["name"] for r in second["scaledObjects"]] == [f"so-{i:02d}" for i in range(25, 30)]
    beyond = dashboard.fleet_document(rows, dashboard.parse_filters({"page": "99"}), NOW)
    assert beyond["page"] == 1  # clamped to the last page
    newest = dashboard.fleet_document(rows, dashboard.parse_filters({"sort": "age", "order": "asc"}), NOW)
    ages = [r["lastDecision"]["ageSeconds"] for r in newest["scaledObjects"]]
    assert ages == sorted(ages)


@pytest.mark.parametrize(("query", "message"), [
    ({"errors": "maybe"}, "query parameter errors: expected 1/true/on or 0/false/off, got 'maybe'"),
    ({"sort": "size"}, "query parameter sort: expected one of name, namespace, replicas, age, reason, got 'size'"),
    ({"order": "up"}, "query parameter order: expected asc or desc, got 'up'"),
    ({"page": "0"}, "query parameter page: expected a positive integer, got '0'"),
    ({"pageSize": "7"}, "query parameter pageSize: expected one of 25, 50, 100, 200, got 7"),
])
def test_bad_filters_name_the_parameter(query: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        dashboard.parse_filters(query)
    assert str(caught.value) == message


def test_filter_links_round_trip() -> None:
    filters = dashboard.parse_filters({"namespace": "team-a", "errors": "1", "sort": "age", "order": "desc",
                                       "page": "3", "pageSize": "100", "q": "a b"})
    import urllib.parse

    again = dashboard.parse_filters(dict(urllib.parse.parse_qsl(filters.query())))
    assert again == filters


def test_the_object_document_keeps_the_range_and_draws_runs() -> None:
    entries = [entry("NO_CHANGE", active=False, replicas=0, t=NOW - 50),
               {**entry("ACTIVATED_FROM_ZERO", active=True, replicas=1, value=7, t=NOW - 30, current=0)},
               {**entry("ACTIVE", active=True, replicas=1, value=7, t=NOW - 29), "repeated": 5, "lastTimestamp": NOW - 25},
               entry("SCALED_TO_ZERO", active=False, replicas=0, t=NOW - 10, current=1)]
    body = so()
    row = dashboard.fleet_row(body, None, entries, NOW)
    doc = dashboard.object_document(row, body, entries, [(NOW - 29.5, 1), (NOW - 9, 0)], NOW, since=NOW - 35)
    assert [e["reason"] for e in doc["decisions"]] == ["ACTIVATED_FROM_ZERO", "ACTIVE", "SCALED_TO_ZERO"]
    assert doc["range"] == {"from": NOW - 35, "to": NOW}
    line = dashboard.object_timeline(doc)
    assert [s.replicas for s in line.steps] == [1, 1, 0]
    assert [s.ready for s in line.steps] == [0, 1, 1]  # ready pods as the workload reported them
    assert line.repeats == {1: 5}
    assert line.label(5) == datetime.datetime.fromtimestamp(NOW - 30, datetime.UTC).strftime("%H:%M:%S")
    pinned = dashboard.object_document(row, body, entries, [], NOW, since=NOW - 60, until=NOW - 40)
    assert [e["reason"] for e in pinned["decisions"]] == ["NO_CHANGE"]

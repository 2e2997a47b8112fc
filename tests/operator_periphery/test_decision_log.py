"""The decision log: bounded rings per ScaledObject, order, forgetting, and the credential safety net."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from scaler.operator import decision_log


def entry(n: int, **extra: Any) -> dict[str, Any]:
    return {"time": f"2026-01-01T00:00:{n:02d}Z", "action": "none", "reason": "steady", "replicas": n} | extra


# --- rings --------------------------------------------------------------------------------------------------


def test_entries_come_back_oldest_first() -> None:
    log = decision_log.DecisionLog()
    for n in range(5):
        log.record("default", "orders", entry(n))
    assert [e["replicas"] for e in log.entries("default", "orders")] == [0, 1, 2, 3, 4]


def test_each_object_keeps_only_its_newest_entries() -> None:
    log = decision_log.DecisionLog(capacity_per_object=3)
    for n in range(10):
        log.record("default", "orders", entry(n))
        log.record("default", "payments", entry(100 + n))
    assert [e["replicas"] for e in log.entries("default", "orders")] == [7, 8, 9]
    assert [e["replicas"] for e in log.entries("default", "payments")] == [107, 108, 109]


@pytest.mark.parametrize(("limit", "expected"), [
    pytest.param(None, [0, 1, 2, 3], id="all"),
    pytest.param(2, [2, 3], id="newest-two"),
    pytest.param(10, [0, 1, 2, 3], id="more-than-kept"),
    pytest.param(0, [], id="zero"),
])
def test_a_limit_returns_the_newest(limit: int | None, expected: list[int]) -> None:
    log = decision_log.DecisionLog()
    for n in range(4):
        log.record("default", "orders", entry(n))
    assert [e["replicas"] for e in log.entries("default", "orders", limit)] == expected


def test_objects_and_last() -> None:
    log = decision_log.DecisionLog()
    assert log.objects() == []
    assert log.last("default", "orders") is None
    log.record("team-b", "queue", entry(1))
    log.record("default", "orders", entry(2))
    log.record("default", "orders", entry(3))
    assert log.objects() == [("default", "orders"), ("team-b", "queue")]
    assert log.last("default", "orders") == entry(3)
    assert ("default", "orders") in log and ("default", "nope") not in log


def test_namespace_and_name_are_not_confused() -> None:
    log = decision_log.DecisionLog()
    log.record("a", "b-c", entry(1))
    log.record("a-b", "c", entry(2))
    assert log.entries("a", "b-c") == [entry(1)]
    assert log.entries("a-b", "c") == [entry(2)]


def test_forget_drops_one_object_only() -> None:
    log = decision_log.DecisionLog()
    log.record("default", "orders", entry(1))
    log.record("default", "payments", entry(2))
    log.forget("default", "orders")
    log.forget("default", "never-seen")  # no error
    assert log.entries("default", "orders") == []
    assert log.objects() == [("default", "payments")]


def test_a_recorded_entry_is_not_changed_by_the_caller_reusing_its_dict() -> None:
    log = decision_log.DecisionLog()
    reused = entry(1)
    log.record("default", "orders", reused)
    reused["replicas"] = 99
    assert log.entries("default", "orders")[0]["replicas"] == 1


def test_entries_returns_a_new_list() -> None:
    log = decision_log.DecisionLog()
    log.record("default", "orders", entry(1))
    log.entries("default", "orders").clear()
    assert len(log.entries("default", "orders")) == 1


@pytest.mark.parametrize("option", ["capacity_per_object", "max_bytes"])
@pytest.mark.parametrize("value", [
    pytest.param(0, id="zero"), pytest.param(-1, id="negative"), pytest.param(2.5, id="float"),
    pytest.param(True, id="bool"),
])
def test_bounds_that_are_not_positive_integers_are_refused(option: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"{option} must be a positive integer"):
        decision_log.DecisionLog(**{option: value})


def test_the_byte_budget_is_shared_fairly_between_objects() -> None:
    unbounded = decision_log.DecisionLog(capacity_per_object=500)
    for n in range(10, 60):
        unbounded.record("default", "busy", entry(n))
    budget = unbounded.nbytes * 4 // 5  # room for about 40 of the 50
    log = decision_log.DecisionLog(capacity_per_object=500, max_bytes=budget)
    for n in range(10, 60):
        log.record("default", "busy", entry(n))
    alone = log.count("default", "busy")
    assert 35 <= alone < 50  # alone, it may use the whole budget
    assert log.nbytes <= budget
    for n in range(10, 60):
        log.record("default", "busy", entry(n))
        log.record("default", "other", entry(n))
    # Two objects: each trims itself to about half the budget, the newest kept.
    busy, other = log.count("default", "busy"), log.count("default", "other")
    assert abs(busy - other) <= 2
    assert busy <= alone // 2 + 2
    assert log.nbytes <= budget
    assert log.entries("default", "busy")[-1] == entry(59)
    before = log.nbytes
    log.forget("default", "other")
    assert 0 < log.nbytes < before


def test_entries_are_kept_deflated() -> None:
    log = decision_log.DecisionLog()
    for n in range(100):
        log.record("default", "orders", entry(n, explanation=f"list has {n} items over target 5"))
    text = sum(len(json.dumps(e, separators=(",", ":"))) for e in log.entries("default", "orders"))
    assert log.nbytes < text / 2


def test_an_object_always_keeps_its_newest_entry_even_over_budget() -> None:
    log = decision_log.DecisionLog(max_bytes=10)
    log.record("default", "orders", entry(1))
    log.record("default", "orders", entry(2))
    assert log.entries("default", "orders") == [entry(2)]


def test_entries_json_is_the_stored_text() -> None:
    log = decision_log.DecisionLog()
    assert log.entries_json("default", "orders") == "[]"
    for n in range(3):
        log.record("default", "orders", entry(n))
    assert json.loads(log.entries_json("default", "orders")) == [entry(0), entry(1), entry(2)]
    assert json.loads(log.entries_json("default", "orders", 1)) == [entry(2)]


def test_values_that_are_not_json_are_shown_as_text() -> None:
    log = decision_log.DecisionLog()
    log.record("default", "orders", {"time": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
                                     "error": ConnectionError("refused")})
    assert log.entries("default", "orders") == [{"time": "2026-01-02 03:04:05+00:00", "error": "refused"}]


def test_changing_returned_entries_changes_nothing() -> None:
    log = decision_log.DecisionLog()
    log.record("default", "orders", entry(1, triggers=[{"value": 1}]))
    log.entries("default", "orders")[0]["triggers"][0]["value"] = 99
    last = log.last("default", "orders")
    assert last is not None and last["triggers"][0]["value"] == 1


# --- redaction ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("redis://user:hunter2@redis:6379/0", "redis://***:***@redis:6379/0", id="user-and-password"),
    pytest.param("redis://:hunter2@redis:6379", "redis://***:***@redis:6379", id="password-only"),
    pytest.param("https://ghp_abc123@github.com/x", "https://***@github.com/x", id="token-as-user"),
    pytest.param("amqp://guest:p@ss@rabbit:5672/vhost", "amqp://***:***@rabbit:5672/vhost", id="unencoded-at-in-password"),
    pytest.param("amqp://guest:p%40ss@rabbit/", "amqp://***:***@rabbit/", id="encoded-password"),
    pytest.param("dial kafka://a:b@k1:9092, then http://c:d@k2:80 failed",
                 "dial kafka://***:***@k1:9092, then http://***:***@k2:80 failed", id="two-urls"),
    pytest.param("connect to admin:s3cret@db.internal:5432 refused", "connect to ***:***@db.internal:5432 refused",
                 id="bare-user-password"),
    pytest.param("dsn='app:s3cret@db:5432'", "dsn='***:***@db:5432'", id="bare-in-quotes"),
    pytest.param("http://redis:6379/0?x=1", "http://redis:6379/0?x=1", id="no-userinfo"),
    pytest.param("mail ops@example.com at 12:30", "mail ops@example.com at 12:30", id="email-and-time-untouched"),
    pytest.param("queue depth 12 > 5", "queue depth 12 > 5", id="no-at-sign"),
])
def test_redact_text(text: str, expected: str) -> None:
    assert decision_log.redact_text(text) == expected


REDACTIONS = [
    pytest.param({"explanation": "redis://:pw@r:6379 timed out"}, {"explanation": "redis://***:***@r:6379 timed out"},
                 id="top-level-string"),
    pytest.param({"inputs": [{"trigger": 0, "error": "amqp://u:pw@q/ down"}]},
                 {"inputs": [{"trigger": 0, "error": "amqp://***:***@q/ down"}]}, id="nested-list-of-dicts"),
    pytest.param({"inputs": {"http://u:pw@h/m": 3}}, {"inputs": {"http://***:***@h/m": 3}}, id="dict-key"),
    pytest.param({"auth": {"password": "hunter2", "apiKey": "k-123", "host": "redis"}},
                 {"auth": {"password": "***", "apiKey": "***", "host": "redis"}}, id="credential-keys"),
    pytest.param({"tuple": ("http://a:b@h", 1)}, {"tuple": ["http://***:***@h", 1]}, id="tuple"),
    pytest.param({"replicas": 3, "active": True, "value": 1.5, "none": None, "passed": 1},
                 {"replicas": 3, "active": True, "value": 1.5, "none": None, "passed": 1}, id="nothing-to-mask"),
]


@pytest.mark.parametrize(("given", "expected"), REDACTIONS)
def test_redact_entries(given: dict[str, Any], expected: dict[str, Any]) -> None:
    assert decision_log.redact(given) == expected


@pytest.mark.parametrize(("given", "expected"), REDACTIONS)
def test_the_log_stores_entries_redacted_the_same_way(given: dict[str, Any], expected: dict[str, Any]) -> None:
    log = decision_log.DecisionLog()
    log.record("default", "orders", given)
    assert log.entries("default", "orders") == [json.loads(json.dumps(expected))]


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param('{"note":"he said \\"token\\":\\"x\\""}', '{"note":"he said \\"token\\":\\"x\\""}',
                 id="escaped-quotes-inside-a-value"),
    pytest.param('{"bearerToken":"a\\"b"}', '{"bearerToken":"***"}', id="escaped-quote-in-secret"),
    pytest.param('{"password":""}', '{"password":""}', id="empty-value-kept"),
    pytest.param('{"password":12}', '{"password":12}', id="number-kept"),
    pytest.param('{"passed":"yes","bypass":"x"}', '{"passed":"yes","bypass":"***"}', id="pass-suffix-only"),
])
def test_redact_json_edge_cases(text: str, expected: str) -> None:
    assert decision_log.redact_json(text) == expected


def test_recording_redacts_and_leaves_the_callers_entry_alone() -> None:
    log = decision_log.DecisionLog()
    given = {"reason": "failing", "inputs": [{"error": "redis://:topsecret@r:6379 refused"}]}
    log.record("default", "orders", given)
    assert "topsecret" not in json.dumps(log.entries("default", "orders"))
    assert given["inputs"][0]["error"] == "redis://:topsecret@r:6379 refused"


def test_unchanged_nested_values_are_not_copied() -> None:
    inputs = [{"trigger": 0, "value": 12.0}]
    redacted = decision_log.redact({"inputs": inputs})
    assert redacted["inputs"] is inputs


# --- runs of repeated decisions ---------------------------------------------------------------------


def tick(second: int, value: float = 0.0, latency: float = 0.001, **extra: Any) -> dict[str, Any]:
    """An entry as the scale loop records it: times first, a trigger with its poll latency."""
    return {
        "time": f"2026-01-01T00:00:{second:02d}Z",
        "timestamp": 1767225600 + second,
        "reason": "NoChange",
        "replicas": 0,
        "triggers": [{"index": 0, "metric": "s0-redis-jobs", "value": value, "latencySeconds": latency}],
    } | extra


def test_decisions_that_differ_only_in_their_times_are_one_run() -> None:
    log = decision_log.DecisionLog()
    for second in range(5):
        log.record("default", "orders", tick(second, latency=0.001 * (second + 1)))
    assert log.count("default", "orders") == 1
    [run] = log.entries("default", "orders")
    assert run["time"] == "2026-01-01T00:00:00Z"
    assert run["repeated"] == 5
    assert run["lastTime"] == "2026-01-01T00:00:04Z"
    assert run["lastTimestamp"] == 1767225604
    assert json.loads(log.entries_json("default", "orders")) == [run]
    assert log.last("default", "orders") == run


@pytest.mark.parametrize("changed", [
    pytest.param({"value": 3.0}, id="a-trigger-value"),
    pytest.param({"reason": "Activated"}, id="the-reason"),
    pytest.param({"replicas": 1}, id="the-replicas"),
    pytest.param({"writeError": "409"}, id="a-new-key"),
])
def test_any_other_difference_starts_a_new_entry_and_seals_the_run(changed: dict[str, Any]) -> None:
    log = decision_log.DecisionLog()
    for second in range(3):
        log.record("default", "orders", tick(second))
    value = changed.pop("value", 0.0)
    log.record("default", "orders", tick(3, value=value, **changed))
    log.record("default", "orders", tick(4))
    first, second, third = log.entries("default", "orders")
    assert (first["repeated"], first["lastTime"]) == (3, "2026-01-01T00:00:02Z")
    assert "repeated" not in second and second["time"] == "2026-01-01T00:00:03Z"
    assert "repeated" not in third


def test_the_byte_budget_accounts_for_everything_it_keeps() -> None:
    log = decision_log.DecisionLog(capacity_per_object=3)
    for second in range(6):
        log.record("default", "orders", tick(second, value=float(second % 2)))
        log.record("default", "idle", tick(second))  # one run
    log.record("default", "idle", tick(6, value=1.0))  # seals the run
    assert log.entries("default", "idle")[0]["repeated"] == 6
    assert log.nbytes > 0
    log.forget("default", "orders")
    log.forget("default", "idle")
    assert log.nbytes == 0


def test_a_run_survives_dropping_older_entries_and_forgetting_resets_it() -> None:
    log = decision_log.DecisionLog(capacity_per_object=2)
    log.record("default", "orders", tick(0, value=1.0))
    log.record("default", "orders", tick(1, value=2.0))
    log.record("default", "orders", tick(2))
    log.record("default", "orders", tick(3))
    assert [e.get("repeated") for e in log.entries("default", "orders")] == [None, 2]
    log.forget("default", "orders")
    log.record("default", "orders", tick(4))
    assert log.entries("default", "orders") == [tick(4)]


def test_a_caller_changing_its_dict_after_recording_does_not_make_a_false_repeat() -> None:
    log = decision_log.DecisionLog()
    reused = tick(0)
    log.record("default", "orders", reused)
    reused["replicas"] = 5
    reused["triggers"][0]["value"] = 9.0
    log.record("default", "orders", reused)
    assert [(e["replicas"], e["triggers"][0]["value"]) for e in log.entries("default", "orders")] == [(0, 0.0), (5, 9.0)]


def test_an_entry_handed_over_is_kept_as_given_and_still_compared() -> None:
    log = decision_log.DecisionLog()
    first = tick(0)
    log.record("default", "orders", first, handed_over=True)
    log.record("default", "orders", tick(0) | {"time": "later"}, handed_over=True)  # the same decision again
    log.record("default", "orders", tick(0) | {"replicas": 5}, handed_over=True)
    entries = log.entries("default", "orders")
    assert [(e["replicas"], e.get("repeated")) for e in entries] == [(0, 2), (5, None)]

"""ScaleState ↔ KEDA's `.status`: lastActiveTime (RFC 3339), health, and the conditions read back."""

from __future__ import annotations

from typing import Any

import pytest

from scaler.core import decisions
from tests.decisions.builders import decide, failed, fallback, metric, ok, so, state

T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(T0, "2024-05-01T12:00:00Z", id="whole-second"),
        pytest.param(T0 + 0.9, "2024-05-01T12:00:00Z", id="fraction-truncated-like-metav1-time"),
        pytest.param(0.0, "1970-01-01T00:00:00Z", id="epoch"),
    ],
)
def test_format_time(seconds: float, text: str) -> None:
    assert decisions.format_time(seconds) == text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("2024-05-01T12:00:00Z", T0, id="zulu"),
        pytest.param("2024-05-01T14:00:00+02:00", T0, id="offset"),
        pytest.param("2024-05-01T12:00:00.250Z", T0 + 0.25, id="fraction"),
        pytest.param("2024-05-01t12:00:00z", T0, id="lowercase"),
    ],
)
def test_parse_time(text: str, seconds: float) -> None:
    assert decisions.parse_time(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("yesterday", "is not an RFC 3339 time", id="words"),
        pytest.param("2024-05-01T12:00:00", "has no time zone", id="naive"),
    ],
)
def test_parse_time_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decisions.parse_time(text)


def test_to_status() -> None:
    st = decisions.ScaleState(creation_time=T0 - 60, last_active_time=T0, failures={"s1-b": 4, "s0-a": 0})
    assert st.to_status() == {
        "lastActiveTime": "2024-05-01T12:00:00Z",
        "health": {
            "s0-a": {"numberOfFailures": 0, "status": "Happy"},
            "s1-b": {"numberOfFailures": 4, "status": "Failing"},
        },
    }


def test_to_status_of_a_fresh_state_is_empty() -> None:
    assert decisions.ScaleState(creation_time=T0).to_status() == {}


def test_round_trip_through_status() -> None:
    st = decisions.ScaleState(creation_time=T0 - 60, last_active_time=T0, failures={"s0-a": 2})
    assert decisions.ScaleState.from_status(st.to_status(), creation_time=T0 - 60) == st


def test_from_status_reads_the_conditions() -> None:
    status = {
        "lastActiveTime": "2024-05-01T12:00:00Z",
        "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "Active", "status": "True"},
            {"type": "Fallback", "status": "True"},
            {"type": "Paused", "status": "False"},
        ],
    }
    st = decisions.ScaleState.from_status(status, creation_time=T0)
    assert (st.active, st.fallback_engaged, st.paused, st.last_active_time) == (True, True, False, T0)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(None, decisions.ScaleState(creation_time=T0), id="no-status"),
        pytest.param({}, decisions.ScaleState(creation_time=T0), id="empty-status"),
        pytest.param({"lastActiveTime": "not a time"}, decisions.ScaleState(creation_time=T0), id="bad-time"),
        pytest.param({"lastActiveTime": 17}, decisions.ScaleState(creation_time=T0), id="time-not-a-string"),
        pytest.param(
            {"health": {"s0": {"numberOfFailures": "3"}, "s1": {"numberOfFailures": -1}, "s2": "x"}},
            decisions.ScaleState(creation_time=T0),
            id="bad-health-entries-skipped",
        ),
        pytest.param(
            {"conditions": [{"type": "Active", "status": "Unknown"}, "junk"]},
            decisions.ScaleState(creation_time=T0, active=None),
            id="unknown-active",
        ),
    ],
)
def test_from_status_tolerates_unreadable_fields(
    status: dict[str, Any] | None, expected: decisions.ScaleState
) -> None:
    assert decisions.ScaleState.from_status(status, creation_time=T0) == expected


def test_decisions_chain_through_status() -> None:
    # What the operator does: persist decision.state in .status, read it back next tick.
    spec = so(fallback=fallback(threshold=1, replicas=4))
    first = decide(spec, [failed()], 2, state())
    status = first.state.to_status()
    status["conditions"] = [c.as_dict() for c in first.conditions.set()]
    restored = decisions.ScaleState.from_status(status, creation_time=first.state.creation_time)
    second = decide(spec, [failed()], 2, restored)
    assert second.state.failures == {metric(0): 2}
    assert second.reason is decisions.Reason.FALLBACK
    assert second.state.to_status()["health"] == {metric(0): {"numberOfFailures": 2, "status": "Failing"}}
    third = decide(spec, [ok(1)], 2, second.state)
    assert third.state.to_status()["health"] == {metric(0): {"numberOfFailures": 0, "status": "Happy"}}

"""The demo's pure parts: the queue-depth schedule fitted to a duration, and the timeline that prints one
line per change and knows when the cycle 0 → 1 → N → 0 is complete."""

from __future__ import annotations

import pytest

from scaler.cli import demo_timeline

SCHEDULE = demo_timeline.Schedule(idle=4.0, rise=2.0, hold=6.0, drain=10.0, peak=60)


@pytest.mark.parametrize(
    ("elapsed", "depth"),
    [
        pytest.param(0.0, 0, id="idle-at-start"),
        pytest.param(3.99, 0, id="idle-just-before-the-rise"),
        pytest.param(5.0, 30, id="halfway-up"),
        pytest.param(6.0, 60, id="at-the-peak"),
        pytest.param(11.9, 60, id="held"),
        pytest.param(17.0, 30, id="halfway-drained"),
        pytest.param(22.0, 0, id="empty-again"),
        pytest.param(500.0, 0, id="long-after"),
    ],
)
def test_schedule_depth(elapsed: float, depth: int) -> None:
    assert SCHEDULE.depth(elapsed) == depth


@pytest.mark.parametrize("duration", [pytest.param(20.0, id="shortest"), pytest.param(60.0, id="default")])
def test_schedule_fits_the_load_into_the_first_half(duration: float) -> None:
    schedule = demo_timeline.Schedule.for_duration(duration)
    assert schedule.empty_at == pytest.approx(duration / 2)
    assert schedule.depth(schedule.drain_at - 0.01) == 60
    # What is left covers the 5 s cooldown and a few polls.
    assert duration - schedule.empty_at >= 10


def test_schedule_refuses_a_duration_too_short() -> None:
    with pytest.raises(ValueError, match="duration: expected at least 20 s, got 5"):
        demo_timeline.Schedule.for_duration(5)


def _obs(t: float, depth: int, reason: str | None, replicas: int, ready: int, why: str = "") -> demo_timeline.Observation:
    return demo_timeline.Observation(t, depth, reason, why, replicas, ready)


def test_one_line_per_change_and_the_cycle_completes() -> None:
    timeline = demo_timeline.Timeline()
    stream = [
        _obs(0.0, 0, "NO_CHANGE", 0, 0, "idle"),
        _obs(0.2, 0, "NO_CHANGE", 0, 0, "idle"),  # the same facts: no line
        _obs(1.0, 20, "ACTIVATED_FROM_ZERO", 1, 0, "woke"),
        _obs(1.5, 30, "ACTIVATED_FROM_ZERO", 1, 1, "woke"),  # only readiness changed: no explanation again
        _obs(2.0, 60, "ACTIVE", 3, 1, "up"),
        _obs(3.0, 0, "COOLDOWN", 3, 3, "cooling"),
        _obs(9.0, 0, "SCALED_TO_ZERO", 0, 0, "down"),
    ]
    lines = [timeline.observe(o) for o in stream]
    assert lines[1] is None
    assert lines[2] == "   1.0s  queue  20  replicas 0→1    ready 0/1  ACTIVATED_FROM_ZERO: woke"
    assert lines[3] == "   1.5s  queue  30  replicas 1      ready 1/1  ACTIVATED_FROM_ZERO"
    assert lines[4] is not None and "replicas 1→3" in lines[4] and lines[4].endswith("ACTIVE: up")
    assert [o.replicas for o in timeline.changes] == [0, 1, 1, 3, 3, 0]
    assert timeline.completed
    assert (timeline.work_at, timeline.woke_at, timeline.ready_at, timeline.empty_at, timeline.zero_at) == (
        1.0, 1.0, 1.5, 3.0, 9.0
    )
    summary = timeline.summary(decisions=12)
    assert summary[0] == "cycle: complete"
    assert "peak: 3 replicas at 2.0 s" in summary[2]
    assert "to zero replicas: 6.0 s" in summary[3]


@pytest.mark.parametrize(
    ("scale_out", "completed"),
    [
        pytest.param(True, False, id="direct-mode-needs-more-than-one-replica"),
        pytest.param(False, True, id="hpa-mode-0-1-0-is-the-cycle"),
    ],
)
def test_what_counts_as_the_cycle(scale_out: bool, completed: bool) -> None:
    timeline = demo_timeline.Timeline(scale_out=scale_out)
    for o in [_obs(0, 0, None, 0, 0), _obs(1, 9, "ACTIVATED_FROM_ZERO", 1, 1), _obs(8, 0, "SCALED_TO_ZERO", 0, 0)]:
        timeline.observe(o)
    assert timeline.completed is completed
    assert timeline.summary(decisions=0)[0] == ("cycle: complete" if completed else "cycle: incomplete (awake)")

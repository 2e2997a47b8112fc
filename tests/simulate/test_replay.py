"""Replays with known outcomes: wake-up, HPA limits, cooldown, direct mode, pod startup, fallback, pause."""

from __future__ import annotations

from typing import Any

import pytest

from scaler.core import simulation

from . import scenarios
from .scenarios import at, of, scaled_object, trace

HPA, OPERATOR, DIRECT = simulation.HPA, simulation.OPERATOR, simulation.DIRECT
STEP = "time,s0\n0,0\n35,30\n100,0\n"


def step_spec(**extra: Any) -> Any:
    return scaled_object(pollingInterval=10, cooldownPeriod=60, maxReplicaCount=10, **extra)


class TestHpaMode:
    def run(self) -> simulation.Result:
        return scenarios.simulate(step_spec(), trace(STEP), simulation.Options(duration=250))

    def test_wakes_at_the_first_poll_after_the_rise(self) -> None:
        result = self.run()
        first = next(s for s in result.steps if s.replicas > 0)
        assert (first.time, first.source, first.replicas, first.reason) == (
            40,
            OPERATOR,
            1,
            "ACTIVATED_FROM_ZERO",
        )
        assert at(result, 30, OPERATOR).replicas == 0

    def test_hpa_is_idle_at_zero_then_scales_out(self) -> None:
        result = self.run()
        assert at(result, 30, HPA).reason == "ScalingDisabled"
        step = at(result, 45, HPA)
        assert (step.replicas, step.reason, step.desired) == (3, "DesiredWithinRange", 3)
        assert step.metrics == {"s0-redis-jobs": 30.0}

    def test_cooldown_respected_before_zero(self) -> None:
        result = self.run()
        assert at(result, 100, OPERATOR).reason == "COOLDOWN"
        assert at(result, 150, OPERATOR).reason == "COOLDOWN"  # last active 90 + 60 is not before 150
        down = at(result, 160, OPERATOR)
        assert (down.replicas, down.reason) == (0, "SCALED_TO_ZERO")
        # Meanwhile the HPA's 5-minute scale-down window held 3.
        assert {s.replicas for s in result.steps if 45 <= s.time < 160} == {3}

    def test_steps_are_time_ordered_with_polls_before_syncs(self) -> None:
        result = self.run()
        keys = [(s.time, 0 if s.source == OPERATOR else 1) for s in result.steps]
        assert keys == sorted(keys)
        assert len(of(result, OPERATOR)) == 26 and len(of(result, HPA)) == 17  # 0..250 s


def test_scale_up_limited_by_behavior_policy() -> None:
    spec = scaled_object(
        pollingInterval=5,
        minReplicaCount=1,
        maxReplicaCount=20,
        advanced={
            "horizontalPodAutoscalerConfig": {
                "behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 30}]}}
            }
        },
    )
    result = scenarios.simulate(
        spec, trace("time,s0\n0,100\n"), simulation.Options(duration=60, initial_replicas=1)
    )
    syncs = of(result, HPA)
    assert [s.replicas for s in syncs] == [2, 2, 3, 3, 4]
    assert {s.reason for s in syncs} == {"ScaleUpLimit"}


def test_direct_mode_scales_at_polls_without_hpa_syncs() -> None:
    result = scenarios.simulate(
        step_spec(), trace(STEP), simulation.Options(mode=simulation.Mode.DIRECT, duration=250)
    )
    assert {s.source for s in result.steps} == {DIRECT}
    assert [s.time for s in result.steps] == [10.0 * i for i in range(26)]
    assert (at(result, 40, DIRECT).replicas, at(result, 40, DIRECT).reason) == (1, "ACTIVATED_FROM_ZERO")
    step = at(result, 50, DIRECT)
    assert (step.replicas, step.reason, step.desired) == (3, "DesiredWithinRange", 3)
    assert "|" in step.explanation  # the decision's and the HPA's explanation
    assert at(result, 100, DIRECT).replicas == 3  # scale-down window
    assert (at(result, 160, DIRECT).replicas, at(result, 160, DIRECT).reason) == (0, "SCALED_TO_ZERO")


def test_scaling_mode_annotation_is_not_applied_by_options() -> None:
    # The command picks the mode from the annotation; Options() itself defaults to hpa.
    spec = step_spec()
    assert simulation.Options().mode is simulation.Mode.HPA
    assert spec.scaling_mode.value == "hpa"


class TestPodStartup:
    def spec(self) -> Any:
        return scaled_object(
            [
                {
                    "type": "prometheus",
                    "metricType": "Value",
                    "metadata": {"serverAddress": "http://p:9090", "query": "q", "threshold": "10"},
                }
            ],
            pollingInterval=15,
            minReplicaCount=1,
            maxReplicaCount=50,
        )

    def test_unready_pods_shrink_the_value_multiplier(self) -> None:
        options = simulation.Options(duration=60, initial_replicas=1, pod_startup=60)
        result = scenarios.simulate(self.spec(), trace("time,s0\n0,20\n"), options)
        syncs = of(result, HPA)
        assert [(s.time, s.replicas, s.ready) for s in syncs] == [
            (0, 2, 1),
            (15, 2, 1),
            (30, 2, 1),
            (45, 2, 1),
            (60, 4, 2),
        ]

    def test_ready_at_once_without_startup(self) -> None:
        options = simulation.Options(duration=30, initial_replicas=1)
        result = scenarios.simulate(self.spec(), trace("time,s0\n0,20\n"), options)
        assert [s.replicas for s in of(result, HPA)] == [2, 4, 8]


def test_failed_readings_engage_fallback() -> None:
    spec = scaled_object(
        [{"type": "kafka", "metadata": {"bootstrapServers": "k:9092", "consumerGroup": "g", "topic": "t"}}],
        pollingInterval=10,
        minReplicaCount=1,
        fallback={"failureThreshold": 2, "replicas": 5},
    )
    result = scenarios.simulate(
        spec, trace("time,s0\n0,10\n20,error\n"), simulation.Options(duration=60, initial_replicas=1)
    )
    assert at(result, 20, OPERATOR).reason == "FALLBACK_PENDING"
    assert at(result, 20, OPERATOR).metrics == {"s0-kafka-t": None}
    assert at(result, 30, HPA).reason == "FailedGetExternalMetric"
    fallback = at(result, 40, OPERATOR)
    assert (fallback.reason, fallback.active) == ("FALLBACK", True)
    assert "trace.csv:3" in at(result, 20, OPERATOR).explanation
    assert (at(result, 45, HPA).replicas, at(result, 45, HPA).metrics) == (4, {"s0-kafka-t": 50.0})
    assert at(result, 60, HPA).replicas == 5


def test_paused_object_has_no_hpa_and_holds() -> None:
    spec = step_spec(annotations={"autoscaling.keda.sh/paused": "true"})
    result = scenarios.simulate(spec, trace(STEP), simulation.Options(duration=100, initial_replicas=2))
    assert {s.source for s in result.steps} == {OPERATOR}
    assert {(s.reason, s.replicas) for s in result.steps} == {("PAUSED", 2)}


def test_scaling_modifiers_feed_the_composite_metric() -> None:
    spec = scaled_object(
        [
            {"type": "redis", "name": "a", "metadata": {"address": "r:6379", "listName": "a"}},
            {"type": "redis", "name": "b", "metadata": {"address": "r:6379", "listName": "b"}},
        ],
        minReplicaCount=1,
        advanced={"scalingModifiers": {"formula": "a + b", "target": "10"}},
    )
    result = scenarios.simulate(
        spec, trace("time,a,b\n0,10,15\n"), simulation.Options(duration=15, initial_replicas=1)
    )
    first = at(result, 0, HPA)
    assert first.metrics == {"composite-metric": 25.0}
    assert first.replicas == 3
    assert result.hpa_metrics == ("composite-metric",)
    assert at(result, 0, OPERATOR).metrics == {"s0-redis-a": 10.0, "s1-redis-b": 15.0}


def test_default_duration_covers_cooldown_and_scale_down_window() -> None:
    result = scenarios.simulate(step_spec(), trace(STEP), simulation.Options())
    assert result.duration == 100 + 600
    assert result.final_replicas == 0


def test_changes_keep_first_last_and_transitions() -> None:
    result = scenarios.simulate(step_spec(), trace(STEP), simulation.Options(duration=250))
    picked = simulation.changes(result.steps)
    assert picked[0] is result.steps[0] and picked[-1] is result.steps[-1]
    replica_steps = [s for s in result.steps if s.replicas != 0]
    assert replica_steps[0] in picked
    assert len(picked) < len(result.steps) / 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            simulation.Options(initial_replicas=-1), "initial replicas must be ≥ 0", id="negative-replicas"
        ),
        pytest.param(simulation.Options(pod_startup=-5), "pod startup must be ≥ 0", id="negative-startup"),
        pytest.param(simulation.Options(duration=0), "duration must be > 0", id="zero-duration"),
    ],
)
def test_bad_options(options: simulation.Options, message: str) -> None:
    with pytest.raises(simulation.SimulationError, match=message):
        scenarios.simulate(step_spec(), trace(STEP), options)

"""ScaledObject parsing: KEDA's defaults, every CRD and webhook rule, the annotations, warnings."""

from __future__ import annotations

from typing import Any

import pytest

from scaler.core import problems, specs
from tests.specs.builders import DELETE, redis_trigger, scaled_object

LONG_63 = "a" * 63


def errors_of(body: dict[str, Any]) -> list[problems.Problem]:
    with pytest.raises(problems.InvalidObject) as raised:
        specs.parse_scaled_object(body)
    return raised.value.problems


def warnings_of(body: dict[str, Any]) -> list[problems.Problem]:
    spec, found = specs.check_scaled_object(body)
    assert spec is not None, [str(p) for p in found]
    return [p for p in found if p.severity is problems.Severity.WARNING]


# -- defaults and values -------------------------------------------------------------------------------


def test_minimal_object_gets_keda_defaults() -> None:
    spec = specs.parse_scaled_object(scaled_object())
    assert spec.name == "orders"
    assert spec.namespace == "shop"
    assert spec.scale_target_ref == specs.ScaleTargetRef(
        name="worker", api_version="apps/v1", kind="Deployment"
    )
    assert (spec.polling_interval, spec.cooldown_period, spec.initial_cooldown_period) == (30, 300, 0)
    assert (spec.min_replica_count, spec.max_replica_count, spec.idle_replica_count) == (0, 100, None)
    assert spec.fallback is None
    assert spec.advanced == specs.Advanced()
    assert spec.pause == specs.Pause()
    assert spec.scaling_mode is specs.ScalingMode.HPA
    assert spec.hpa_name == "keda-hpa-orders"
    assert spec.ref == "ScaledObject/shop/orders"
    (trigger,) = spec.triggers
    assert trigger == specs.Trigger(
        type="redis",
        metadata={"address": "redis:6379", "listName": "jobs", "listLength": "5"},
        index=0,
        name=None,
        authentication_ref=None,
        metric_type=specs.MetricType.AVERAGE_VALUE,
        use_cached_metrics=False,
    )
    assert trigger.key == "s0"


def test_missing_namespace_uses_the_default_namespace() -> None:
    body = scaled_object({"metadata": {"namespace": DELETE}})
    assert specs.parse_scaled_object(body).namespace == "default"
    assert specs.parse_scaled_object(body, default_namespace="team-a").namespace == "team-a"


def test_every_field_is_read() -> None:
    body = scaled_object(
        {
            "metadata": {"labels": {"team": "shop"}, "annotations": {"note": "x"}},
            "spec": {
                "scaleTargetRef": {
                    "name": "db",
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "envSourceContainerName": "app",
                },
                "pollingInterval": 5,
                "cooldownPeriod": 60,
                "initialCooldownPeriod": 120,
                "idleReplicaCount": 0,
                "minReplicaCount": 2,
                "maxReplicaCount": 9,
                "fallback": {"failureThreshold": 3, "replicas": 4, "behavior": "currentReplicasIfHigher"},
                "advanced": {
                    "restoreToOriginalReplicaCount": True,
                    "horizontalPodAutoscalerConfig": {
                        "name": "db-hpa",
                        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
                    },
                    "scalingModifiers": {
                        "formula": "a + b",
                        "target": "2.5",
                        "activationTarget": "1",
                        "metricType": "Value",
                    },
                },
                "triggers": [
                    redis_trigger(name="a", metricType="Value", useCachedMetrics=True),
                    redis_trigger(
                        name="b", authenticationRef={"name": "cta", "kind": "ClusterTriggerAuthentication"}
                    ),
                ],
            },
        }
    )
    spec = specs.parse_scaled_object(body)
    assert spec.scale_target_ref == specs.ScaleTargetRef("db", "apps/v1", "StatefulSet", "app")
    assert (spec.polling_interval, spec.cooldown_period, spec.initial_cooldown_period) == (5, 60, 120)
    assert (spec.idle_replica_count, spec.min_replica_count, spec.max_replica_count) == (0, 2, 9)
    assert spec.fallback == specs.Fallback(3, 4, specs.FallbackBehavior.CURRENT_REPLICAS_IF_HIGHER)
    assert spec.advanced.restore_to_original_replica_count is True
    assert spec.advanced.horizontal_pod_autoscaler_config.name == "db-hpa"
    assert spec.advanced.horizontal_pod_autoscaler_config.behavior == {
        "scaleDown": {"stabilizationWindowSeconds": 60}
    }
    assert spec.advanced.scaling_modifiers == specs.ScalingModifiers(
        "a + b", 2.5, 1.0, specs.MetricType.VALUE
    )
    assert spec.hpa_name == "db-hpa"
    first, second = spec.triggers
    assert (first.name, first.metric_type, first.use_cached_metrics, first.key) == (
        "a",
        specs.MetricType.VALUE,
        True,
        "a",
    )
    assert second.authentication_ref == specs.AuthenticationRef(
        "cta", specs.AuthKind.CLUSTER_TRIGGER_AUTHENTICATION
    )
    assert spec.labels == {"team": "shop"}
    assert spec.annotations == {"note": "x"}


def test_empty_scaling_modifiers_block_means_none() -> None:
    spec = specs.parse_scaled_object(scaled_object({"spec": {"advanced": {"scalingModifiers": {}}}}))
    assert spec.advanced.scaling_modifiers is None


def test_status_from_kubectl_get_is_ignored() -> None:
    body = scaled_object({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert specs.parse_scaled_object(body).name == "orders"


# -- errors: one rule per row --------------------------------------------------------------------------

ERROR_CASES = [
    # type meta and metadata
    pytest.param(
        {"apiVersion": "keda.k8s.io/v1alpha1"},
        "apiVersion",
        "keda.k8s.io is KEDA v1",
        id="api-version-keda-v1",
    ),
    pytest.param({"kind": "ScaledJob"}, "kind", "must be ScaledObject", id="wrong-kind"),
    pytest.param({"metadata": {"name": DELETE}}, "metadata.name", "is required", id="name-missing"),
    pytest.param({"metadata": {"name": "Orders_1"}}, "metadata.name", "not a valid name", id="name-not-dns"),
    pytest.param({"metadata": {"name": "a" * 64}}, "metadata.name", "at most 63", id="name-longer-than-63"),
    pytest.param(
        {"metadata": {"name": "a" * 55}},
        "metadata.name",
        "HPA name derived",
        id="derived-hpa-name-longer-than-63",
    ),
    pytest.param(
        {
            "metadata": {"name": "short"},
            "spec": {"advanced": {"horizontalPodAutoscalerConfig": {"name": "h" * 64}}},
        },
        "spec.advanced.horizontalPodAutoscalerConfig.name",
        "at most 63",
        id="custom-hpa-name-longer-than-63",
    ),
    pytest.param(
        {"metadata": {"namespace": "Shop"}},
        "metadata.namespace",
        "not a valid namespace",
        id="namespace-not-dns",
    ),
    pytest.param(
        {"metadata": {"labels": {"tier": 1}}},
        "metadata.labels.tier",
        "must be strings",
        id="label-not-string",
    ),
    pytest.param({"metadata": {"uid2": "x"}}, "metadata.uid2", "unknown field", id="metadata-unknown-field"),
    # schema: spec shape
    pytest.param({"spec": DELETE}, "spec", "is required", id="spec-missing"),
    pytest.param(
        {"spec": {"pollingIntreval": 5}},
        "spec.pollingIntreval",
        "did you mean pollingInterval",
        id="unknown-spec-field",
    ),
    pytest.param({"extra": 1}, "extra", "unknown field", id="unknown-top-level-field"),
    pytest.param(
        {"spec": {"scaleTargetRef": DELETE}}, "spec.scaleTargetRef", "is required", id="target-missing"
    ),
    pytest.param(
        {"spec": {"scaleTargetRef": {"name": ""}}},
        "spec.scaleTargetRef.name",
        "must not be empty",
        id="target-name-empty",
    ),
    pytest.param(
        {"spec": {"scaleTargetRef": {"name": "w", "apiVersion": "a/b/c"}}},
        "spec.scaleTargetRef.apiVersion",
        "group/version",
        id="target-api-version-malformed",
    ),
    pytest.param(
        {"spec": {"scaleTargetRef": {"name": "w", "deploymentName": "w"}}},
        "spec.scaleTargetRef.deploymentName",
        "unknown field",
        id="target-keda-v1-field",
    ),
    pytest.param(
        {"spec": {"pollingInterval": 0}}, "spec.pollingInterval", "at least 1", id="polling-interval-below-1"
    ),
    pytest.param(
        {"spec": {"pollingInterval": "30"}},
        "spec.pollingInterval",
        "without quotes",
        id="polling-interval-quoted",
    ),
    pytest.param(
        {"spec": {"pollingInterval": 2.5}},
        "spec.pollingInterval",
        "must be an integer",
        id="polling-interval-float",
    ),
    pytest.param(
        {"spec": {"cooldownPeriod": -1}}, "spec.cooldownPeriod", "at least 0", id="cooldown-negative"
    ),
    pytest.param(
        {"spec": {"initialCooldownPeriod": -5}},
        "spec.initialCooldownPeriod",
        "at least 0",
        id="initial-cooldown-negative",
    ),
    pytest.param({"spec": {"minReplicaCount": -1}}, "spec.minReplicaCount", "at least 0", id="min-negative"),
    pytest.param({"spec": {"maxReplicaCount": 0}}, "spec.maxReplicaCount", "at least 1", id="max-zero"),
    pytest.param(
        {"spec": {"maxReplicaCount": 2**31}},
        "spec.maxReplicaCount",
        "at most 2147483647",
        id="max-beyond-int32",
    ),
    pytest.param(
        {"spec": {"idleReplicaCount": -1, "minReplicaCount": 2}},
        "spec.idleReplicaCount",
        "at least 0",
        id="idle-negative",
    ),
    pytest.param({"spec": {"triggers": DELETE}}, "spec.triggers", "is required", id="triggers-missing"),
    pytest.param({"spec": {"triggers": []}}, "spec.triggers", "at least one trigger", id="triggers-empty"),
    pytest.param(
        {"spec": {"triggers": {"type": "redis"}}}, "spec.triggers", "must be a list", id="triggers-not-list"
    ),
    pytest.param(
        {"spec": {"triggers": [{"metadata": {}}]}},
        "spec.triggers[0].type",
        "is required",
        id="trigger-type-missing",
    ),
    pytest.param(
        {"spec": {"triggers": [{"type": "", "metadata": {}}]}},
        "spec.triggers[0].type",
        "must not be empty",
        id="trigger-type-empty",
    ),
    pytest.param(
        {"spec": {"triggers": [{"type": "redis"}]}},
        "spec.triggers[0].metadata",
        "is required",
        id="trigger-metadata-missing",
    ),
    pytest.param(
        {"spec": {"triggers": [redis_trigger(metadata={"listName": "jobs", "listLength": 5})]}},
        "spec.triggers[0].metadata.listLength",
        'quote it in YAML (listLength: "…")',
        id="trigger-metadata-integer",
    ),
    pytest.param(
        {"spec": {"triggers": [redis_trigger(metadata={"enableTLS": True})]}},
        "spec.triggers[0].metadata.enableTLS",
        "got boolean",
        id="trigger-metadata-boolean",
    ),
    pytest.param(
        {"spec": {"triggers": [redis_trigger(metadata={"listName": None})]}},
        "spec.triggers[0].metadata.listName",
        "got null",
        id="trigger-metadata-null",
    ),
    pytest.param(
        {"spec": {"triggers": [redis_trigger(metadata={"x.y/z": 1})]}},
        'spec.triggers[0].metadata["x.y/z"]',
        "must be strings",
        id="trigger-metadata-odd-key-is-bracketed",
    ),
    pytest.param(
        {"spec": {"triggers": [redis_trigger(metricType="Average")]}},
        "spec.triggers[0].metricType",
        "one of AverageValue, Value, Utilization",
        id="metric-type-enum",
    ),
    pytest.param(
        {"spec": {"triggers": [redis_trigger(useCachedMetrics="yes")]}},
        "spec.triggers[0].useCachedMetrics",
        "must be a boolean",
        id="cached-metrics-not-bool",
    ),
    pytest.param(
        {"spec": {"triggers": [redis_trigger(authenticationRef={})]}},
        "spec.triggers[0].authenticationRef.name",
        "is required",
        id="auth-ref-name-missing",
    ),
    pytest.param(
        {"spec": {"triggers": [redis_trigger(authenticationRef={"name": "a", "kind": "Secret"})]}},
        "spec.triggers[0].authenticationRef.kind",
        "one of TriggerAuthentication, ClusterTriggerAuthentication",
        id="auth-ref-kind-enum",
    ),
    pytest.param(
        {"spec": {"triggers": [redis_trigger(authRef={"name": "a"})]}},
        "spec.triggers[0].authRef",
        "unknown field",
        id="trigger-unknown-field",
    ),
    # schema: HPA behavior (autoscaling/v2 rules)
    pytest.param(
        {
            "spec": {
                "advanced": {
                    "horizontalPodAutoscalerConfig": {
                        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 3700}}
                    }
                }
            }
        },
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds",
        "at most 3600",
        id="behavior-window-above-3600",
    ),
    pytest.param(
        {
            "spec": {
                "advanced": {
                    "horizontalPodAutoscalerConfig": {"behavior": {"scaleUp": {"selectPolicy": "Maximum"}}}
                }
            }
        },
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.selectPolicy",
        "one of Max, Min, Disabled",
        id="behavior-select-policy-enum",
    ),
    pytest.param(
        {
            "spec": {
                "advanced": {
                    "horizontalPodAutoscalerConfig": {
                        "behavior": {
                            "scaleUp": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 15}]}
                        }
                    }
                }
            }
        },
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.policies[0].value",
        "at least 1",
        id="behavior-policy-value-zero",
    ),
    pytest.param(
        {
            "spec": {
                "advanced": {
                    "horizontalPodAutoscalerConfig": {
                        "behavior": {
                            "scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 1801}]}
                        }
                    }
                }
            }
        },
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.policies[0].periodSeconds",
        "at most 1800",
        id="behavior-policy-period-above-1800",
    ),
    pytest.param(
        {
            "spec": {
                "advanced": {
                    "horizontalPodAutoscalerConfig": {
                        "behavior": {"scaleUp": {"policies": [{"value": 1, "periodSeconds": 15}]}}
                    }
                }
            }
        },
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.policies[0].type",
        "is required",
        id="behavior-policy-type-missing",
    ),
    pytest.param(
        {
            "spec": {
                "advanced": {
                    "horizontalPodAutoscalerConfig": {
                        "behavior": {
                            "scaleUp": {"policies": [{"type": "Nodes", "value": 1, "periodSeconds": 15}]}
                        }
                    }
                }
            }
        },
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.policies[0].type",
        "one of Pods, Percent",
        id="behavior-policy-type-enum",
    ),
    pytest.param(
        {"spec": {"advanced": {"restoreToOriginalReplicaCount": "true"}}},
        "spec.advanced.restoreToOriginalReplicaCount",
        "must be a boolean",
        id="restore-not-bool",
    ),
    # webhook: replica bounds (incorrect-replicas), including the min-0 quirk
    pytest.param(
        {"spec": {"minReplicaCount": 10, "maxReplicaCount": 5}},
        "spec.minReplicaCount",
        "greater than maxReplicaCount (5)",
        id="min-above-max",
    ),
    pytest.param(
        {"spec": {"minReplicaCount": 101}},
        "spec.minReplicaCount",
        "the default maxReplicaCount (100)",
        id="min-above-default-max",
    ),
    pytest.param(
        {"spec": {"idleReplicaCount": 0}},
        "spec.idleReplicaCount",
        "minReplicaCount is not set",
        id="idle-with-min-unset",
    ),
    pytest.param(
        {"spec": {"idleReplicaCount": 2, "minReplicaCount": 2}},
        "spec.idleReplicaCount",
        "must be less than minReplicaCount; got 2",
        id="idle-equal-to-min",
    ),
    pytest.param(
        {"spec": {"idleReplicaCount": 1, "minReplicaCount": 0}},
        "spec.idleReplicaCount",
        "counted as 1",
        id="idle-1-with-explicit-min-0",
    ),
    # webhook: triggers (incorrect-triggers)
    pytest.param(
        {"spec": {"triggers": [redis_trigger(name="q"), redis_trigger(name="q")]}},
        "spec.triggers[1].name",
        "duplicate trigger name 'q'",
        id="duplicate-trigger-names",
    ),
    pytest.param(
        {
            "spec": {
                "minReplicaCount": 1,
                "triggers": [
                    {
                        "type": "cpu",
                        "useCachedMetrics": True,
                        "metricType": "Utilization",
                        "metadata": {"value": "50"},
                    }
                ],
            }
        },
        "spec.triggers[0].useCachedMetrics",
        "not supported for cpu",
        id="cached-metrics-on-cpu",
    ),
    pytest.param(
        {
            "spec": {
                "minReplicaCount": 1,
                "triggers": [{"type": "memory", "useCachedMetrics": True, "metadata": {"value": "50"}}],
            }
        },
        "spec.triggers[0].useCachedMetrics",
        "not supported for memory",
        id="cached-metrics-on-memory",
    ),
    pytest.param(
        {"spec": {"triggers": [{"type": "cron", "useCachedMetrics": True, "metadata": {}}]}},
        "spec.triggers[0].useCachedMetrics",
        "not supported for cron",
        id="cached-metrics-on-cron",
    ),
    pytest.param(
        {"spec": {"triggers": [redis_trigger(metricType="Utilization")]}},
        "spec.triggers[0].metricType",
        "only for cpu and memory",
        id="utilization-on-redis",
    ),
    # webhook: scale-to-zero-requirements-not-met
    pytest.param(
        {"spec": {"triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}}]}},
        "spec.minReplicaCount",
        "cannot wake",
        id="cpu-only-min-unset",
    ),
    pytest.param(
        {"spec": {"minReplicaCount": 0, "triggers": [{"type": "memory", "metadata": {"value": "50"}}]}},
        "spec.minReplicaCount",
        "cannot wake",
        id="memory-only-min-zero",
    ),
    # webhook: fallback (incorrect-fallback, scaling-modifiers-fallback)
    pytest.param(
        {"spec": {"fallback": {"failureThreshold": -1, "replicas": 2}}},
        "spec.fallback.failureThreshold",
        "at least 0",
        id="fallback-threshold-negative",
    ),
    pytest.param(
        {"spec": {"fallback": {"failureThreshold": 3, "replicas": -2}}},
        "spec.fallback.replicas",
        "at least 0",
        id="fallback-replicas-negative",
    ),
    pytest.param(
        {"spec": {"fallback": {"replicas": 2}}},
        "spec.fallback.failureThreshold",
        "is required",
        id="fallback-threshold-missing",
    ),
    pytest.param(
        {"spec": {"fallback": {"failureThreshold": 3}}},
        "spec.fallback.replicas",
        "is required",
        id="fallback-replicas-missing",
    ),
    pytest.param(
        {"spec": {"fallback": {"failureThreshold": 3, "replicas": 2, "behavior": "dynamic"}}},
        "spec.fallback.behavior",
        "one of static, currentReplicas",
        id="fallback-behavior-enum",
    ),
    pytest.param(
        {
            "spec": {
                "minReplicaCount": 1,
                "fallback": {"failureThreshold": 3, "replicas": 2},
                "triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}}],
            }
        },
        "spec.fallback",
        "every trigger is cpu or memory",
        id="fallback-cpu-only",
    ),
    pytest.param(
        {"spec": {"fallback": {"failureThreshold": 3, "replicas": 2, "behavior": "scalingModifiers"}}},
        "spec.fallback.behavior",
        "needs spec.advanced.scalingModifiers.formula",
        id="fallback-behavior-modifiers-without-formula",
    ),
    # webhook: scalingModifiers (scaling-modifiers)
    pytest.param(
        {"spec": {"advanced": {"scalingModifiers": {"target": "2"}}}},
        "spec.advanced.scalingModifiers.formula",
        "is required",
        id="modifiers-formula-missing",
    ),
    pytest.param(
        {"spec": {"triggers": [redis_trigger(name="q")], "advanced": {"scalingModifiers": {"formula": "q"}}}},
        "spec.advanced.scalingModifiers.target",
        "is required",
        id="modifiers-target-missing",
    ),
    pytest.param(
        {
            "spec": {
                "triggers": [redis_trigger(name="q")],
                "advanced": {"scalingModifiers": {"formula": "q", "target": "0"}},
            }
        },
        "spec.advanced.scalingModifiers.target",
        "greater than 0",
        id="modifiers-target-zero",
    ),
    pytest.param(
        {
            "spec": {
                "triggers": [redis_trigger(name="q")],
                "advanced": {"scalingModifiers": {"formula": "q", "target": "ten"}},
            }
        },
        "spec.advanced.scalingModifiers.target",
        "got 'ten'",
        id="modifiers-target-not-number",
    ),
    pytest.param(
        {
            "spec": {
                "triggers": [redis_trigger(name="q")],
                "advanced": {"scalingModifiers": {"formula": "q", "target": " 2"}},
            }
        },
        "spec.advanced.scalingModifiers.target",
        "greater than 0",
        id="modifiers-target-with-space",
    ),
    pytest.param(
        {
            "spec": {
                "triggers": [redis_trigger(name="q")],
                "advanced": {"scalingModifiers": {"formula": "q", "target": 2}},
            }
        },
        "spec.advanced.scalingModifiers.target",
        "must be a string",
        id="modifiers-target-unquoted",
    ),
    pytest.param(
        {
            "spec": {
                "triggers": [redis_trigger(name="q")],
                "advanced": {"scalingModifiers": {"formula": "q", "target": "2", "activationTarget": "low"}},
            }
        },
        "spec.advanced.scalingModifiers.activationTarget",
        "must be a number",
        id="modifiers-activation-not-number",
    ),
    pytest.param(
        {
            "spec": {
                "triggers": [redis_trigger(name="q")],
                "advanced": {
                    "scalingModifiers": {"formula": "q", "target": "2", "metricType": "Utilization"}
                },
            }
        },
        "spec.advanced.scalingModifiers.metricType",
        "AverageValue or Value",
        id="modifiers-utilization",
    ),
    pytest.param(
        {
            "spec": {
                "triggers": [redis_trigger(name="q")],
                "advanced": {"scalingModifiers": {"formula": "q", "target": "2", "metricType": "Average"}},
            }
        },
        "spec.advanced.scalingModifiers.metricType",
        "got 'Average'",
        id="modifiers-metric-type-enum",
    ),
    pytest.param(
        {"spec": {"advanced": {"scalingModifiers": {"formula": "q", "target": "2", "extra": "1"}}}},
        "spec.advanced.scalingModifiers.extra",
        "unknown field",
        id="modifiers-unknown-field",
    ),
    # annotations
    pytest.param(
        {"metadata": {"annotations": {"autoscaling.keda.sh/paused-replicas": "two"}}},
        'metadata.annotations["autoscaling.keda.sh/paused-replicas"]',
        "whole number",
        id="paused-replicas-not-int",
    ),
    pytest.param(
        {"metadata": {"annotations": {"autoscaling.keda.sh/paused-replicas": "-1"}}},
        'metadata.annotations["autoscaling.keda.sh/paused-replicas"]',
        "0 or more",
        id="paused-replicas-negative",
    ),
    pytest.param(
        {"metadata": {"annotations": {"autoscaling.keda.sh/paused-replicas": "1.5"}}},
        'metadata.annotations["autoscaling.keda.sh/paused-replicas"]',
        "whole number",
        id="paused-replicas-fraction",
    ),
    pytest.param(
        {"metadata": {"annotations": {"autoscaling.keda.sh/paused-replicas": 3}}},
        'metadata.annotations["autoscaling.keda.sh/paused-replicas"]',
        'quote it in YAML (autoscaling.keda.sh/paused-replicas: "3")',
        id="paused-replicas-unquoted",
    ),
    pytest.param(
        {"metadata": {"annotations": {"ebb.dev/scaling-mode": "fast"}}},
        'metadata.annotations["ebb.dev/scaling-mode"]',
        "'hpa' or 'direct'",
        id="scaling-mode-unknown",
    ),
    pytest.param(
        {"spec": {"minReplicaCount": 1, "triggers": [{"type": "memory", "metadata": {"value": "256Mi"}}]}},
        "spec.triggers[0].metricType",
        "is required for memory triggers: Utilization or AverageValue",
        id="resource-trigger-without-metric-type",
    ),
]


@pytest.mark.parametrize(("patch", "field", "fragment"), ERROR_CASES)
def test_rule_is_enforced(patch: dict[str, Any], field: str, fragment: str) -> None:
    found = errors_of(scaled_object(patch))
    matching = [p for p in found if p.field == field]
    assert matching, f"no error at {field}; got {[str(p) for p in found]}"
    assert any(fragment in p.message for p in matching), [p.message for p in matching]
    assert all(p.obj.startswith("ScaledObject/") for p in found)


FORMULA_CASES = [
    pytest.param("a + c", 'undefined variable "c"', id="unknown-trigger-name"),
    pytest.param("a +", "does not compile", id="syntax-error"),
    pytest.param("a > 1", "", id="boolean-result"),
    pytest.param("cpu_trigger + a", "undefined variable", id="cpu-trigger-is-not-a-variable"),
]


@pytest.mark.parametrize(("formula", "fragment"), FORMULA_CASES)
def test_formula_must_compile_over_named_non_resource_triggers(formula: str, fragment: str) -> None:
    body = scaled_object(
        {
            "spec": {
                "minReplicaCount": 1,
                "triggers": [
                    redis_trigger(name="a"),
                    redis_trigger(name="b"),
                    {
                        "type": "cpu",
                        "name": "cpu_trigger",
                        "metricType": "Utilization",
                        "metadata": {"value": "50"},
                    },
                ],
                "advanced": {"scalingModifiers": {"formula": formula, "target": "2"}},
            }
        }
    )
    found = [p for p in errors_of(body) if p.field == "spec.advanced.scalingModifiers.formula"]
    assert len(found) == 1
    assert fragment in found[0].message


def test_formula_without_named_triggers_says_how_to_name_them() -> None:
    body = scaled_object(
        {"spec": {"advanced": {"scalingModifiers": {"formula": "queue * 2", "target": "2"}}}}
    )
    (problem,) = [p for p in errors_of(body) if p.field == "spec.advanced.scalingModifiers.formula"]
    assert "`name`s of the triggers" in problem.message


ACCEPTED_CASES = [
    pytest.param(
        {"spec": {"idleReplicaCount": 0, "minReplicaCount": 0}}, id="idle-0-with-explicit-min-0-keda-quirk"
    ),
    pytest.param({"spec": {"idleReplicaCount": 0, "minReplicaCount": 1}}, id="idle-0-below-min-1"),
    pytest.param({"spec": {"minReplicaCount": 100}}, id="min-equal-to-default-max"),
    pytest.param(
        {
            "metadata": {"name": LONG_63},
            "spec": {"advanced": {"horizontalPodAutoscalerConfig": {"name": "short"}}},
        },
        id="name-63-with-custom-hpa-name",
    ),
    pytest.param({"metadata": {"name": "a" * 54}}, id="name-54-derived-hpa-name-63"),
    pytest.param(
        {"spec": {"triggers": [redis_trigger(), redis_trigger()]}}, id="unnamed-triggers-may-repeat"
    ),
    pytest.param(
        {
            "spec": {
                "triggers": [
                    {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}},
                    redis_trigger(),
                ]
            }
        },
        id="cpu-plus-redis-min-0",
    ),
    pytest.param(
        {
            "spec": {
                "minReplicaCount": 1,
                "triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}}],
            }
        },
        id="cpu-only-min-1",
    ),
    pytest.param(
        {
            "spec": {
                "fallback": {"failureThreshold": 0, "replicas": 0},
                "triggers": [redis_trigger(metricType="Value")],
            }
        },
        id="fallback-zeroes-with-value-trigger",
    ),
    pytest.param({"spec": {"triggers": [redis_trigger(metadata={})]}}, id="empty-metadata-object"),
    pytest.param(
        {
            "spec": {
                "triggers": [redis_trigger(name="q")],
                "advanced": {
                    "scalingModifiers": {"formula": "q ?? 5", "target": "1e1", "activationTarget": ".5"}
                },
            }
        },
        id="modifiers-go-float-forms",
    ),
    pytest.param(
        {
            "spec": {
                "triggers": [redis_trigger(name="q")],
                "fallback": {"failureThreshold": 2, "replicas": 3, "behavior": "scalingModifiers"},
                "advanced": {"scalingModifiers": {"formula": "q ?? 5", "target": "2"}},
            }
        },
        id="fallback-behavior-modifiers-with-formula",
    ),
    pytest.param(
        {
            "spec": {
                "advanced": {
                    "horizontalPodAutoscalerConfig": {
                        "behavior": {
                            "scaleDown": {
                                "stabilizationWindowSeconds": 3600,
                                "selectPolicy": "Disabled",
                                "tolerance": "50m",
                                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 1800}],
                            }
                        }
                    }
                }
            }
        },
        id="behavior-at-the-limits",
    ),
    pytest.param(
        {"spec": {"scaleTargetRef": {"name": "r", "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout"}}},
        id="custom-resource-target",
    ),
    pytest.param(
        {
            "spec": {
                "scaleTargetRef": {"name": "r", "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout"},
                "triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}}],
            }
        },
        id="cpu-only-min-0-on-custom-resource-is-a-warning",
    ),
]


@pytest.mark.parametrize("patch", ACCEPTED_CASES)
def test_valid_variant_is_accepted(patch: dict[str, Any]) -> None:
    spec, found = specs.check_scaled_object(scaled_object(patch))
    assert spec is not None, [str(p) for p in found]


def test_one_parse_reports_every_problem() -> None:
    body = scaled_object(
        {
            "metadata": {
                "annotations": {"autoscaling.keda.sh/paused-replicas": "x", "ebb.dev/scaling-mode": "y"}
            },
            "spec": {
                "pollingInterval": 0,
                "minReplicaCount": 7,
                "maxReplicaCount": 3,
                "bogus": True,
                "fallback": {"failureThreshold": -1, "replicas": 1},
                "triggers": [
                    redis_trigger(name="q", metadata={"listLength": 5}),
                    redis_trigger(name="q", metricType="Utilization"),
                ],
            },
        }
    )
    fields = {p.field for p in errors_of(body)}
    assert fields >= {
        "spec.pollingInterval",
        "spec.minReplicaCount",
        "spec.bogus",
        "spec.fallback.failureThreshold",
        "spec.triggers[0].metadata.listLength",
        "spec.triggers[1].name",
        "spec.triggers[1].metricType",
        'metadata.annotations["autoscaling.keda.sh/paused-replicas"]',
        'metadata.annotations["ebb.dev/scaling-mode"]',
    }


def test_invalid_object_error_message_lists_every_problem() -> None:
    with pytest.raises(problems.InvalidObject) as raised:
        specs.parse_scaled_object(scaled_object({"spec": {"pollingInterval": 0, "maxReplicaCount": 0}}))
    text = str(raised.value)
    assert "ScaledObject/shop/orders: spec.pollingInterval" in text
    assert "ScaledObject/shop/orders: spec.maxReplicaCount" in text


def test_metadata_values_are_never_echoed() -> None:
    body = scaled_object({"spec": {"triggers": [redis_trigger(metadata={"password": 918273645})]}})
    (problem,) = errors_of(body)
    assert "918273645" not in str(problem)


def test_not_a_mapping_is_reported_not_raised_as_crash() -> None:
    spec, found = specs.check_scaled_object(["not", "an", "object"])  # type: ignore[arg-type]
    assert spec is None
    assert "must be an object" in found[0].message


# -- annotations ---------------------------------------------------------------------------------------

PAUSE_CASES = [
    pytest.param({}, specs.Pause(), id="none"),
    pytest.param({"autoscaling.keda.sh/paused": "true"}, specs.Pause(paused=True), id="paused-true"),
    pytest.param({"autoscaling.keda.sh/paused": "True"}, specs.Pause(paused=True), id="paused-go-True"),
    pytest.param({"autoscaling.keda.sh/paused": "1"}, specs.Pause(paused=True), id="paused-go-1"),
    pytest.param(
        {"autoscaling.keda.sh/paused": "false"}, specs.Pause(paused=False), id="paused-false-unpauses"
    ),
    pytest.param({"autoscaling.keda.sh/paused": "F"}, specs.Pause(paused=False), id="paused-go-F-unpauses"),
    pytest.param(
        {"autoscaling.keda.sh/paused": "yes"}, specs.Pause(paused=True), id="paused-non-bool-counts-as-true"
    ),
    pytest.param(
        {"autoscaling.keda.sh/paused": ""}, specs.Pause(paused=True), id="paused-empty-counts-as-true"
    ),
    pytest.param(
        {"autoscaling.keda.sh/paused-replicas": "0"},
        specs.Pause(paused=True, paused_replicas=0),
        id="paused-replicas-0",
    ),
    pytest.param(
        {"autoscaling.keda.sh/paused-replicas": "3", "autoscaling.keda.sh/paused": "false"},
        specs.Pause(paused=True, paused_replicas=3),
        id="paused-replicas-wins-over-paused-false",
    ),
    pytest.param(
        {"autoscaling.keda.sh/paused-scale-in": "true"},
        specs.Pause(paused_scale_in=True),
        id="paused-scale-in",
    ),
    pytest.param(
        {"autoscaling.keda.sh/paused-scale-out": "true"},
        specs.Pause(paused_scale_out=True),
        id="paused-scale-out",
    ),
    pytest.param(
        {"autoscaling.keda.sh/paused-scale-out": "false"}, specs.Pause(), id="paused-scale-out-false"
    ),
    pytest.param(
        {"autoscaling.keda.sh/force-activation": "true"},
        specs.Pause(force_activation=True),
        id="force-activation",
    ),
]


@pytest.mark.parametrize(("annotations", "expected"), PAUSE_CASES)
def test_pause_annotations_are_read_as_keda_reads_them(
    annotations: dict[str, str], expected: specs.Pause
) -> None:
    spec = specs.parse_scaled_object(scaled_object({"metadata": {"annotations": annotations}}))
    assert spec.pause == expected


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        pytest.param(None, specs.ScalingMode.HPA, id="default-hpa"),
        pytest.param("hpa", specs.ScalingMode.HPA, id="hpa"),
        pytest.param("direct", specs.ScalingMode.DIRECT, id="direct"),
    ],
)
def test_scaling_mode_annotation(value: str | None, mode: specs.ScalingMode) -> None:
    annotations = {} if value is None else {"ebb.dev/scaling-mode": value}
    assert (
        specs.parse_scaled_object(scaled_object({"metadata": {"annotations": annotations}})).scaling_mode
        is mode
    )


# -- warnings (what KEDA's webhook only warns about, and Ebb's own notes) -----------------------------

WARNING_CASES = [
    pytest.param(
        {"spec": {"minReplicaCount": 1, "pollingInterval": 10}},
        "spec.pollingInterval",
        "not relevant",
        id="polling-interval-irrelevant",
    ),
    pytest.param(
        {"spec": {"minReplicaCount": 1, "cooldownPeriod": 10}},
        "spec.cooldownPeriod",
        "not relevant",
        id="cooldown-irrelevant",
    ),
    pytest.param(
        {"spec": {"minReplicaCount": 3, "idleReplicaCount": 1}},
        "spec.idleReplicaCount",
        "only 0 works",
        id="idle-above-zero-in-hpa-mode",
    ),
    pytest.param(
        {"metadata": {"annotations": {"autoscaling.keda.sh/paused": "maybe"}}},
        'metadata.annotations["autoscaling.keda.sh/paused"]',
        "treats it as",
        id="paused-non-bool",
    ),
    pytest.param(
        {"metadata": {"annotations": {"autoscaling.keda.sh/force-activation": "on"}}},
        'metadata.annotations["autoscaling.keda.sh/force-activation"]',
        "no effect",
        id="force-activation-non-bool",
    ),
    pytest.param(
        {
            "spec": {
                "scaleTargetRef": {"name": "r", "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout"},
                "triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}}],
            }
        },
        "spec.minReplicaCount",
        "cannot wake",
        id="cpu-only-custom-resource",
    ),
]


@pytest.mark.parametrize(("patch", "field", "fragment"), WARNING_CASES)
def test_warning_is_given_and_object_stays_valid(patch: dict[str, Any], field: str, fragment: str) -> None:
    found = warnings_of(scaled_object(patch))
    assert any(p.field == field and fragment in p.message for p in found), [str(p) for p in found]
    assert all(str(p).startswith("warning: ") for p in found)


@pytest.mark.parametrize(
    "patch",
    [
        pytest.param({"spec": {"pollingInterval": 10, "cooldownPeriod": 10}}, id="min-unset"),
        pytest.param(
            {
                "spec": {
                    "minReplicaCount": 1,
                    "idleReplicaCount": 0,
                    "pollingInterval": 10,
                    "cooldownPeriod": 10,
                }
            },
            id="idle-set",
        ),
        pytest.param(
            {
                "spec": {
                    "minReplicaCount": 1,
                    "pollingInterval": 10,
                    "triggers": [redis_trigger(useCachedMetrics=True)],
                }
            },
            id="cached-metrics",
        ),
        pytest.param(
            {
                "spec": {
                    "minReplicaCount": 1,
                    "pollingInterval": 10,
                    "triggers": [redis_trigger(name="q")],
                    "advanced": {"scalingModifiers": {"formula": "q", "target": "1"}},
                }
            },
            id="scaling-modifiers",
        ),
        pytest.param(
            {
                "spec": {"minReplicaCount": 2, "idleReplicaCount": 0},
                "metadata": {"annotations": {"ebb.dev/scaling-mode": "direct"}},
            },
            id="direct-mode",
        ),
    ],
)
def test_no_warning_when_settings_matter(patch: dict[str, Any]) -> None:
    assert warnings_of(scaled_object(patch)) == []

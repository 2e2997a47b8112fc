"""The shipped examples: each invalid one is rejected naming the field; valid and KEDA-docs ones pass."""

from __future__ import annotations

import pathlib

import pytest

from scaler.core import manifests, validating

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"

INVALID = [
    pytest.param(
        "invalid-replica-bounds.yaml",
        "ScaledObject/default/replica-bounds",
        "spec.minReplicaCount",
        "must not be greater than maxReplicaCount (5)",
        id="replica-bounds",
    ),
    pytest.param(
        "invalid-idle-not-below-min.yaml",
        "ScaledObject/default/idle-not-below-min",
        "spec.idleReplicaCount",
        "minReplicaCount is not set",
        id="idle-not-below-min",
    ),
    pytest.param(
        "invalid-name-too-long.yaml",
        "ScaledObject/default/a-scaled-object-whose-name-is-far-too-long-to-be-a-label-value-x",
        "metadata.name",
        "is 64 characters long; must be at most 63",
        id="name-too-long",
    ),
    pytest.param(
        "invalid-hpa-name-too-long.yaml",
        "ScaledObject/default/payment-reconciliation-worker-for-the-european-region-a",
        "metadata.name",
        "the HPA name derived from it",
        id="hpa-name-too-long",
    ),
    pytest.param(
        "invalid-duplicate-trigger-names.yaml",
        "ScaledObject/default/duplicate-trigger-names",
        "spec.triggers[1].name",
        "duplicate trigger name 'queue'",
        id="duplicate-trigger-names",
    ),
    pytest.param(
        "invalid-fallback-negative.yaml",
        "ScaledObject/default/fallback-negative",
        "spec.fallback.replicas",
        "must be at least 0, got -1",
        id="fallback-negative",
    ),
    pytest.param(
        "invalid-fallback-cpu-memory-only.yaml",
        "ScaledObject/default/fallback-cpu-only",
        "spec.fallback",
        "every trigger is cpu or memory",
        id="fallback-cpu-memory-only",
    ),
    pytest.param(
        "invalid-fallback-behavior-without-formula.yaml",
        "ScaledObject/default/fallback-behavior-without-formula",
        "spec.fallback.behavior",
        "needs spec.advanced.scalingModifiers.formula",
        id="fallback-behavior-without-formula",
    ),
    pytest.param(
        "invalid-scaling-modifiers-no-target.yaml",
        "ScaledObject/default/modifiers-no-target",
        "spec.advanced.scalingModifiers.target",
        "is required",
        id="scaling-modifiers-no-target",
    ),
    pytest.param(
        "invalid-scaling-modifiers-target.yaml",
        "ScaledObject/default/modifiers-bad-target",
        "spec.advanced.scalingModifiers.target",
        "greater than 0",
        id="scaling-modifiers-target",
    ),
    pytest.param(
        "invalid-scaling-modifiers-utilization.yaml",
        "ScaledObject/default/modifiers-utilization",
        "spec.advanced.scalingModifiers.metricType",
        "must be AverageValue or Value",
        id="scaling-modifiers-utilization",
    ),
    pytest.param(
        "invalid-scaling-modifiers-formula.yaml",
        "ScaledObject/default/modifiers-bad-formula",
        "spec.advanced.scalingModifiers.formula",
        'undefined variable "retry"',
        id="scaling-modifiers-formula",
    ),
    pytest.param(
        "invalid-cached-metrics-cron.yaml",
        "ScaledObject/default/cached-metrics-cron",
        "spec.triggers[0].useCachedMetrics",
        "not supported for cron",
        id="cached-metrics-cron",
    ),
    pytest.param(
        "invalid-cpu-only-min-zero.yaml",
        "ScaledObject/default/cpu-only-min-zero",
        "spec.minReplicaCount",
        "every trigger is cpu or memory",
        id="cpu-only-min-zero",
    ),
    pytest.param(
        "invalid-utilization-non-resource.yaml",
        "ScaledObject/default/utilization-on-redis",
        "spec.triggers[0].metricType",
        "Utilization is only for cpu and memory",
        id="utilization-non-resource",
    ),
    pytest.param(
        "invalid-paused-replicas.yaml",
        "ScaledObject/default/paused-replicas",
        'metadata.annotations["autoscaling.keda.sh/paused-replicas"]',
        "whole number",
        id="paused-replicas",
    ),
    pytest.param(
        "invalid-scaling-mode.yaml",
        "ScaledObject/default/scaling-mode",
        'metadata.annotations["ebb.dev/scaling-mode"]',
        "must be 'hpa' or 'direct'",
        id="scaling-mode",
    ),
    pytest.param(
        "invalid-metadata-not-string.yaml",
        "ScaledObject/default/metadata-not-string",
        "spec.triggers[0].metadata.listLength",
        "quote it",
        id="metadata-not-string",
    ),
    pytest.param(
        "invalid-unknown-field.yaml",
        "ScaledObject/default/unknown-field",
        "spec.pollingIntervall",
        "did you mean pollingInterval",
        id="unknown-field",
    ),
    pytest.param(
        "invalid-no-triggers.yaml",
        "ScaledObject/default/no-triggers",
        "spec.triggers",
        "at least one trigger",
        id="no-triggers",
    ),
    pytest.param(
        "invalid-polling-interval.yaml",
        "ScaledObject/default/polling-interval",
        "spec.pollingInterval",
        "must be at least 1, got 0",
        id="polling-interval",
    ),
    pytest.param(
        "invalid-metric-type.yaml",
        "ScaledObject/default/metric-type",
        "spec.triggers[0].metricType",
        "got 'Average'",
        id="metric-type",
    ),
    pytest.param(
        "invalid-hpa-behavior.yaml",
        "ScaledObject/default/hpa-behavior",
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds",
        "at most 3600",
        id="hpa-behavior",
    ),
    pytest.param(
        "invalid-other-scaled-object.yaml",
        "ScaledObject/default/worker-on-retries",
        "spec.scaleTargetRef.name",
        "already managed by ScaledObject 'worker-on-jobs'",
        id="other-scaled-object",
    ),
    pytest.param(
        "invalid-other-hpa.yaml",
        "ScaledObject/default/other-hpa",
        "spec.scaleTargetRef.name",
        "already managed by the HPA 'worker'",
        id="other-hpa",
    ),
    pytest.param(
        "invalid-missing-requests.yaml",
        "ScaledObject/default/missing-requests",
        "spec.triggers[0]",
        "needs a cpu request or limit on container 'web'",
        id="missing-requests",
    ),
    pytest.param(
        "invalid-env-source-container.yaml",
        "ScaledObject/default/env-source-container",
        "spec.scaleTargetRef.envSourceContainerName",
        "has no container 'app'",
        id="env-source-container",
    ),
    pytest.param(
        "invalid-trigger-authentication.yaml",
        "TriggerAuthentication/default/broken-auth",
        "spec.secretTargetRef[0].key",
        "is required",
        id="trigger-authentication",
    ),
    pytest.param(
        "invalid-trigger-authentication.yaml",
        "ScaledObject/default/uses-broken-auth",
        "spec.triggers[0].authenticationRef.name",
        "TriggerAuthentication/default/broken-auth is invalid",
        id="scaled-object-using-invalid-authentication",
    ),
    pytest.param(
        "invalid-pod-identity.yaml",
        "ClusterTriggerAuthentication/azure-identity",
        "spec.podIdentity.identityId",
        "must not be empty",
        id="pod-identity",
    ),
]


def report_for(name: str) -> validating.Report:
    return validating.validate(manifests.read([str(EXAMPLES / name)]))


@pytest.mark.parametrize(("name", "obj", "field", "fragment"), INVALID)
def test_invalid_example_is_rejected_naming_the_field(name: str, obj: str, field: str, fragment: str) -> None:
    report = report_for(name)
    assert not report.valid
    items = {item.ref: item for item in (*report.scaled_objects, *report.trigger_authentications)}
    assert obj in items, sorted(items)
    errors = items[obj].errors
    assert any(p.field == field and fragment in p.message for p in errors), [str(p) for p in errors]


def test_every_invalid_example_is_covered() -> None:
    covered = {param.values[0] for param in INVALID}
    shipped = {p.name for p in EXAMPLES.glob("invalid-*.yaml")} - {"invalid-yaml-syntax.yaml"}
    assert shipped == covered


def test_unreadable_example_raises_a_manifest_error() -> None:
    with pytest.raises(manifests.ManifestError, match=r"invalid-yaml-syntax.yaml: not valid YAML: line 5"):
        manifests.read([str(EXAMPLES / "invalid-yaml-syntax.yaml")])


VALID = sorted(p.name for p in EXAMPLES.glob("valid-*.yaml"))
KEDA_DOCS = sorted(p.name for p in EXAMPLES.glob("keda-docs-*.yaml"))


@pytest.mark.parametrize("name", VALID + KEDA_DOCS)
def test_valid_and_keda_documented_examples_are_accepted_unchanged(name: str) -> None:
    report = report_for(name)
    assert report.scaled_objects, "the example has a ScaledObject"
    for item in (*report.scaled_objects, *report.trigger_authentications):
        assert item.valid, [str(p) for p in item.errors]
        assert item.spec is not None


def test_there_are_examples_of_each_family() -> None:
    assert len(VALID) >= 5
    assert {"keda-docs-redis-lists.yaml", "keda-docs-rabbitmq.yaml", "keda-docs-kafka.yaml"} <= set(KEDA_DOCS)
    assert {"keda-docs-prometheus.yaml", "keda-docs-cron.yaml"} <= set(KEDA_DOCS)


def test_keda_docs_examples_name_their_source() -> None:
    for name in KEDA_DOCS:
        head = (EXAMPLES / name).read_text().splitlines()[:3]
        assert any("Source: https://github.com/kedacore/keda-docs/" in line for line in head), name


def test_all_valid_examples_validate_together() -> None:
    report = validating.validate(manifests.read([str(EXAMPLES / name) for name in VALID]))
    assert report.valid, [str(p) for item in report.scaled_objects for p in item.errors]
    assert len(report.scaled_objects) == len(VALID)

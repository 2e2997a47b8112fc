"""Rules across documents, the resolution inputs (`Cluster`) and the trigger-checker hook."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import pytest

from scaler.core import manifests, problems, specs, validating
from tests.specs.builders import merged, redis_trigger, scaled_object, trigger_authentication


def docs(*bodies: dict[str, Any]) -> list[manifests.Document]:
    return [
        manifests.Document(manifests.Source("test.yaml", index), body) for index, body in enumerate(bodies)
    ]


def deployment(name: str = "worker", namespace: str = "shop", **pod: Any) -> dict[str, Any]:
    containers = pod.pop("containers", [{"name": "app", "image": "example/app:1"}])
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"spec": {"containers": containers, **pod}}},
    }


def hpa(name: str = "worker", target: str = "worker", **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": "shop", **metadata},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}},
    }


def so_report(report: validating.Report, name: str = "orders") -> validating.ObjectReport:
    (item,) = [i for i in report.scaled_objects if i.ref == f"ScaledObject/shop/{name}"]
    return item


def fields(problems_: Sequence[problems.Problem]) -> list[str]:
    return [p.field for p in problems_]


CPU = {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}}


# -- other ScaledObjects and HPAs ----------------------------------------------------------------------


def test_second_scaled_object_on_the_same_workload_is_rejected() -> None:
    report = validating.validate(docs(scaled_object(), scaled_object({"metadata": {"name": "other"}})))
    assert so_report(report).valid
    assert fields(so_report(report, "other").errors) == ["spec.scaleTargetRef.name"]


def test_same_name_different_kind_is_another_workload() -> None:
    statefulset = {"spec": {"scaleTargetRef": {"name": "worker", "kind": "StatefulSet"}}}
    report = validating.validate(
        docs(scaled_object(), scaled_object({"metadata": {"name": "other"}, **statefulset}))
    )
    assert report.valid


def test_same_workload_in_another_namespace_is_fine() -> None:
    report = validating.validate(
        docs(scaled_object(), scaled_object({"metadata": {"name": "o", "namespace": "x"}}))
    )
    assert report.valid


def test_same_hpa_name_is_rejected() -> None:
    custom = {"spec": {"advanced": {"horizontalPodAutoscalerConfig": {"name": "keda-hpa-orders"}}}}
    other = scaled_object(
        merged({"metadata": {"name": "other"}, "spec": {"scaleTargetRef": {"name": "api"}}}, custom)
    )
    report = validating.validate(docs(scaled_object(), other))
    (error,) = so_report(report, "other").errors
    assert error.field == "spec.advanced.horizontalPodAutoscalerConfig.name"
    assert "already managed by ScaledObject 'orders'" in error.message


def test_a_redefined_scaled_object_is_compared_once() -> None:
    report = validating.validate(
        docs(scaled_object(), scaled_object(), scaled_object({"metadata": {"name": "other"}}))
    )
    assert len(so_report(report, "other").errors) == 1


def test_the_same_scaled_object_twice_is_a_warning() -> None:
    report = validating.validate(docs(scaled_object(), scaled_object()))
    assert report.valid
    assert "defined again" in report.scaled_objects[1].warnings[0].message


HPA_CASES = [
    pytest.param(hpa(), {}, False, id="foreign-hpa"),
    pytest.param(
        hpa(annotations={"validations.keda.sh/hpa-ownership": "false"}), {}, True, id="hpa-opted-out"
    ),
    pytest.param(
        hpa(ownerReferences=[{"kind": "ScaledObject", "name": "orders"}]),
        {},
        True,
        id="hpa-owned-by-this-scaled-object",
    ),
    pytest.param(hpa(target="api"), {}, True, id="hpa-on-another-workload"),
    pytest.param(
        hpa(),
        {
            "metadata": {"annotations": {"scaledobject.keda.sh/transfer-hpa-ownership": "true"}},
            "spec": {"advanced": {"horizontalPodAutoscalerConfig": {"name": "worker"}}},
        },
        True,
        id="transfer-with-hpa-name",
    ),
]


@pytest.mark.parametrize(("hpa_body", "patch", "valid"), HPA_CASES)
def test_other_hpa_on_the_workload(hpa_body: dict[str, Any], patch: dict[str, Any], valid: bool) -> None:
    report = validating.validate(docs(hpa_body, scaled_object(patch)))
    assert so_report(report).valid is valid, [str(p) for p in so_report(report).errors]


def test_transfer_without_the_hpa_name_says_which_name() -> None:
    patch = {"metadata": {"annotations": {"scaledobject.keda.sh/transfer-hpa-ownership": "true"}}}
    (error,) = so_report(validating.validate(docs(hpa(), scaled_object(patch)))).errors
    assert error.field == "spec.advanced.horizontalPodAutoscalerConfig.name"
    assert "must be 'worker'" in error.message


# -- the workload --------------------------------------------------------------------------------------

REQUEST_CASES = [
    pytest.param(
        deployment(containers=[{"name": "app", "resources": {"requests": {"cpu": "100m"}}}]),
        [],
        True,
        id="container-request",
    ),
    pytest.param(
        deployment(containers=[{"name": "app", "resources": {"limits": {"cpu": 1}}}]),
        [],
        True,
        id="container-limit",
    ),
    pytest.param(
        deployment(containers=[{"name": "app", "resources": {"requests": {"cpu": "0"}}}]),
        [],
        False,
        id="zero-request",
    ),
    pytest.param(
        deployment(containers=[{"name": "app", "resources": {"requests": {"memory": "1Gi"}}}]),
        [],
        False,
        id="other-resource-only",
    ),
    pytest.param(deployment(resources={"requests": {"cpu": "500m"}}), [], True, id="pod-level-request"),
    pytest.param(
        deployment(),
        [
            {
                "apiVersion": "v1",
                "kind": "LimitRange",
                "metadata": {"name": "l", "namespace": "shop"},
                "spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": "100m"}}]},
            }
        ],
        True,
        id="limit-range-default",
    ),
    pytest.param(
        deployment(),
        [
            {
                "apiVersion": "v1",
                "kind": "LimitRange",
                "metadata": {"name": "l", "namespace": "other"},
                "spec": {"limits": [{"type": "Container", "default": {"cpu": "1"}}]},
            }
        ],
        False,
        id="limit-range-in-another-namespace",
    ),
    pytest.param(
        deployment(
            containers=[{"name": "app", "resources": {"requests": {"cpu": "1"}}}, {"name": "sidecar"}]
        ),
        [],
        False,
        id="sidecar-without-request",
    ),
]


@pytest.mark.parametrize(("workload", "extra", "valid"), REQUEST_CASES)
def test_cpu_trigger_needs_requests(
    workload: dict[str, Any], extra: list[dict[str, Any]], valid: bool
) -> None:
    so = scaled_object({"spec": {"minReplicaCount": 1, "triggers": [CPU]}})
    report = validating.validate(docs(workload, *extra, so))
    assert so_report(report).valid is valid, [str(p) for p in so_report(report).errors]
    if not valid:
        assert fields(so_report(report).errors) == ["spec.triggers[0]"]


def test_container_name_in_trigger_limits_the_check_and_must_exist() -> None:
    workload = deployment(
        containers=[{"name": "app", "resources": {"requests": {"cpu": "1"}}}, {"name": "sidecar"}]
    )
    named = dict(CPU, metadata={"value": "60", "containerName": "app"})
    missing = dict(CPU, metadata={"value": "60", "containerName": "nope"})
    assert validating.validate(
        docs(workload, scaled_object({"spec": {"minReplicaCount": 1, "triggers": [named]}}))
    ).valid
    report = validating.validate(
        docs(workload, scaled_object({"spec": {"minReplicaCount": 1, "triggers": [missing]}}))
    )
    assert fields(so_report(report).errors) == ["spec.triggers[0].metadata.containerName"]


def test_absent_workload_is_a_warning_when_it_matters() -> None:
    report = validating.validate(docs(scaled_object({"spec": {"minReplicaCount": 1, "triggers": [CPU]}})))
    assert so_report(report).valid
    assert fields(so_report(report).warnings) == ["spec.scaleTargetRef.name"]
    quiet = validating.validate(docs(scaled_object()))
    assert so_report(quiet).warnings == ()


# -- authentication references -------------------------------------------------------------------------


def test_authentication_refs_resolve_namespaced_and_cluster_scoped() -> None:
    ta = trigger_authentication()
    cta = trigger_authentication({"metadata": {"name": "global"}}, kind="ClusterTriggerAuthentication")
    so = scaled_object(
        {
            "spec": {
                "triggers": [
                    redis_trigger(authenticationRef={"name": "redis-auth"}),
                    redis_trigger(
                        authenticationRef={"name": "global", "kind": "ClusterTriggerAuthentication"}
                    ),
                ]
            }
        }
    )
    report = validating.validate(docs(ta, cta, so))
    assert report.valid
    assert so_report(report).warnings == ()


def test_authentication_not_among_the_files_is_a_warning() -> None:
    so = scaled_object({"spec": {"triggers": [redis_trigger(authenticationRef={"name": "elsewhere"})]}})
    item = so_report(validating.validate(docs(so)))
    assert item.valid
    assert item.warnings[0].field == "spec.triggers[0].authenticationRef.name"
    assert "TriggerAuthentication/shop/elsewhere is not among the given files" in item.warnings[0].message


def test_authentication_in_another_namespace_does_not_count() -> None:
    ta = trigger_authentication({"metadata": {"namespace": "other"}})
    so = scaled_object({"spec": {"triggers": [redis_trigger(authenticationRef={"name": "redis-auth"})]}})
    assert "not among the given files" in so_report(validating.validate(docs(ta, so))).warnings[0].message


def test_invalid_authentication_makes_the_scaled_object_invalid() -> None:
    ta = trigger_authentication({"spec": {"secretTargetRef": [{"parameter": "password"}]}})
    so = scaled_object({"spec": {"triggers": [redis_trigger(authenticationRef={"name": "redis-auth"})]}})
    report = validating.validate(docs(ta, so))
    assert not report.valid
    assert fields(so_report(report).errors) == ["spec.triggers[0].authenticationRef.name"]


# -- the Cluster handed to trigger checkers ------------------------------------------------------------


def secret(name: str = "redis", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "shop"},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def test_cluster_holds_decoded_secrets_config_maps_workloads_and_auths() -> None:
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "shop"},
        "data": {"host": "redis"},
    }
    string_secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "plain", "namespace": "shop"},
        "data": {"a": base64.b64encode(b"old").decode()},
        "stringData": {"a": "new"},
    }
    report = validating.validate(
        docs(
            secret(password="s3cret"),
            string_secret,
            config_map,
            deployment(),
            trigger_authentication(),
            scaled_object(),
        )
    )
    cluster = report.cluster
    assert cluster.secrets[("shop", "redis")] == {"password": "s3cret"}
    assert cluster.secrets[("shop", "plain")] == {"a": "new"}
    assert cluster.config_maps[("shop", "cfg")] == {"host": "redis"}
    assert ("shop", "Deployment", "worker") in cluster.workloads
    assert cluster.trigger_authentications[("shop", "redis-auth")].secret_target_refs[0].key == "password"
    spec = so_report(report).spec
    assert isinstance(spec, specs.ScaledObjectSpec)
    assert cluster.workload(spec) is cluster.workloads[("shop", "Deployment", "worker")]
    assert "s3cret" not in repr(cluster)


def test_secret_that_is_not_base64_gives_a_warning_without_its_value() -> None:
    bad = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "b", "namespace": "shop"},
        "data": {"password": "hunter2!"},
    }
    report = validating.validate(docs(bad, scaled_object()))
    assert report.valid
    (item,) = report.others
    assert item.ref == "Secret/shop/b"
    assert item.warnings[0].field == "data.password"
    assert "hunter2" not in str(item.warnings[0])


def test_cluster_trigger_authentication_secrets_live_in_the_cluster_object_namespace() -> None:
    cta = specs.parse_trigger_authentication(trigger_authentication(kind="ClusterTriggerAuthentication"))
    ta = specs.parse_trigger_authentication(trigger_authentication())
    cluster = validating.Cluster(cluster_object_namespace="ebb-system")
    assert (cluster.auth_namespace(cta), cluster.auth_namespace(ta)) == ("ebb-system", "shop")


# -- the trigger checker hook --------------------------------------------------------------------------


class RecordingChecker:
    """A checker that reports one warning per trigger and records what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, validating.Cluster]] = []

    def __call__(
        self, scaled_object: specs.ScaledObjectSpec, trigger: specs.Trigger, cluster: validating.Cluster
    ) -> list[problems.Problem]:
        self.calls.append((scaled_object.ref, trigger.index, cluster))
        if trigger.metadata.get("listLength") == "0":
            return [
                problems.Problem(
                    scaled_object.ref, f"spec.triggers[{trigger.index}].metadata.listLength", "must be > 0"
                )
            ]
        return [
            problems.Problem(
                scaled_object.ref, f"spec.triggers[{trigger.index}]", "looked at", problems.Severity.WARNING
            )
        ]


def test_trigger_checker_sees_every_trigger_with_the_cluster() -> None:
    checker = RecordingChecker()
    so = scaled_object({"spec": {"triggers": [redis_trigger(), redis_trigger(metadata={"listLength": "0"})]}})
    report = validating.validate(docs(secret(password="p"), so), trigger_checker=checker)
    assert [(ref, index) for ref, index, _ in checker.calls] == [
        ("ScaledObject/shop/orders", 0),
        ("ScaledObject/shop/orders", 1),
    ]
    assert checker.calls[0][2].secrets[("shop", "redis")] == {"password": "p"}
    item = so_report(report)
    assert fields(item.errors) == ["spec.triggers[1].metadata.listLength"]
    assert fields(item.warnings) == ["spec.triggers[0]"]


def test_trigger_checker_is_not_called_for_an_invalid_object() -> None:
    checker = RecordingChecker()
    validating.validate(docs(scaled_object({"spec": {"pollingInterval": 0}})), trigger_checker=checker)
    assert checker.calls == []


def test_a_failing_checker_is_reported_without_its_message() -> None:
    def broken(
        so: specs.ScaledObjectSpec, trigger: specs.Trigger, cluster: validating.Cluster
    ) -> list[problems.Problem]:
        raise RuntimeError("password=hunter2")

    report = validating.validate(docs(scaled_object()), trigger_checker=broken)
    (error,) = so_report(report).errors
    assert error.field == "spec.triggers[0]"
    assert "RuntimeError" in error.message
    assert "hunter2" not in error.message


def test_report_as_dict_shape() -> None:
    report = validating.validate(
        docs(trigger_authentication(), scaled_object({"spec": {"pollingInterval": 0}}))
    )
    data = report.as_dict()
    assert data["valid"] is False
    (so,) = data["scaledObjects"]
    assert so == {
        "object": "ScaledObject/shop/orders",
        "source": "test.yaml#1",
        "valid": False,
        "errors": [{"field": "spec.pollingInterval", "message": "must be at least 1, got 0"}],
        "warnings": [],
    }
    assert data["triggerAuthentications"][0]["valid"] is True
    assert data["ignoredKinds"] == {}

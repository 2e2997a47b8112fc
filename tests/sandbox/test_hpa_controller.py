"""The sandbox's HPA controller: it reads External metrics through the aggregation layer with its own identity,
scales the target through `/scale`, writes the HPA status kube-controller-manager writes, and leaves a target
at 0 replicas alone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from kube_sandbox import testing
from tests.sandbox import aggregated, objects, rawhttp
from tests.sandbox.test_aggregation import register, settle

HPAS = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"
SELECTOR = {"matchLabels": {"scaledobject.keda.sh/name": "worker"}}
GO_SELECTOR = ("&LabelSelector{MatchLabels:map[string]string{scaledobject.keda.sh/name: worker,},"
               "MatchExpressions:[]LabelSelectorRequirement{},}")
CONTROLLER = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"


@pytest.fixture
def cluster() -> Iterator[testing.Sandbox]:
    with testing.Sandbox(rbac=True, ready_delay=0.05, seed=7, hpa_controller=True, hpa_sync_period=1.0,
                         aggregation_recheck=0.2) as running:
        yield running


@pytest.fixture
def admin(cluster: testing.Sandbox) -> rawhttp.Api:
    return rawhttp.Api(cluster.base_url, token=cluster.admin_token)


@pytest.fixture
def adapter(admin: rawhttp.Api) -> Iterator[aggregated.AggregatedServer]:
    with aggregated.AggregatedServer(admin) as server:
        register(admin, server)
        settle(admin, "True", "Passed")
        yield server


def hpa(metric: str, target: dict[str, Any], *, behavior: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 1, "maxReplicas": 10,
        "metrics": [{"type": "External", "external": {"metric": {"name": metric, "selector": SELECTOR},
                                                      "target": target}}]}
    if behavior:
        spec["behavior"] = behavior
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "keda-hpa-worker"}, "spec": spec}


def replicas(api: rawhttp.Api) -> int:
    return int(api.get(f"{objects.DEPLOYMENTS}/web").body["spec"]["replicas"])


def status(api: rawhttp.Api) -> dict[str, Any]:
    return dict(api.get(f"{HPAS}/keda-hpa-worker").body.get("status") or {})


def conditions(api: rawhttp.Api) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in status(api).get("conditions") or []}


def events(api: rawhttp.Api) -> list[tuple[str, str]]:
    return [(e["reason"], e["message"]) for e in api.get("/api/v1/namespaces/default/events").body["items"]
            if e["involvedObject"]["name"] == "keda-hpa-worker"]


def test_the_controller_scales_a_deployment_by_an_external_metric_and_reports_it(
        admin: rawhttp.Api, adapter: aggregated.AggregatedServer) -> None:
    assert admin.post(objects.DEPLOYMENTS, objects.deployment("web", replicas=1)).status == 201
    adapter.set_value("s0-queue", "10")
    # AverageValue 5 for 10 → 2 replicas; scale-down without a stabilization window so the way back shows too.
    reply = admin.post(HPAS, hpa("s0-Queue", {"type": "AverageValue", "averageValue": "5"},
                                 behavior={"scaleDown": {"stabilizationWindowSeconds": 0}}))
    assert reply.status == 201
    rawhttp.eventually(lambda: replicas(admin) == 2, timeout=15)
    rawhttp.eventually(lambda: status(admin).get("currentReplicas") == 2, timeout=15)
    seen = status(admin)
    assert seen["desiredReplicas"] == 2
    assert seen["lastScaleTime"]
    assert seen["currentMetrics"] == [{"type": "External", "external": {
        "metric": {"name": "s0-Queue", "selector": SELECTOR}, "current": {"averageValue": "5"}}}]
    assert conditions(admin) == {
        "AbleToScale": ("True", "ReadyForNewScale", "recommended size matches current size"),
        "ScalingActive": ("True", "ValidMetricFound",
                          f"the HPA was able to successfully calculate a replica count from external metric "
                          f"s0-Queue({GO_SELECTOR})"),
        "ScalingLimited": ("False", "DesiredWithinRange", "the desired count is within the acceptable range"),
    }
    assert ("SuccessfulRescale", f"New size: 2; reason: external metric s0-Queue({GO_SELECTOR}) above target") \
        in events(admin)
    # The metric was read through the aggregation layer, lowercased as client-go does, as the controller.
    reads = [s for s in adapter.requests() if s.path.endswith("/namespaces/default/s0-queue")]
    assert reads
    assert {r.query for r in reads} == {"labelSelector=scaledobject.keda.sh%2Fname%3Dworker"}
    assert {tuple(r.header("X-Remote-User")) for r in reads} == {(CONTROLLER,)}

    adapter.set_value("s0-queue", "3")
    rawhttp.eventually(lambda: replicas(admin) == 1, timeout=15)
    assert ("SuccessfulRescale", "New size: 1; reason: All metrics below target") in events(admin)


def test_a_value_target_counts_ready_pods_and_the_scale_up_limit_shows(
        admin: rawhttp.Api, adapter: aggregated.AggregatedServer) -> None:
    assert admin.post(objects.DEPLOYMENTS, objects.deployment("web", replicas=1)).status == 201
    adapter.set_value("s0-queue", "30", "20")  # items are summed: 50 against a Value target of 5 → ×10
    admin.post(HPAS, hpa("s0-queue", {"type": "Value", "value": "5"}))
    rawhttp.eventually(lambda: replicas(admin) == 4, timeout=15)  # max(2 × 1, 4): the legacy scale-up limit
    rawhttp.eventually(lambda: replicas(admin) == 8, timeout=15)  # then 2 × 4
    rawhttp.eventually(lambda: replicas(admin) == 10, timeout=15)  # then maxReplicas
    rawhttp.eventually(lambda: conditions(admin).get("ScalingLimited", ("",))[0] == "True", timeout=15)
    assert conditions(admin)["ScalingLimited"][1] == "TooManyReplicas"
    assert status(admin)["currentMetrics"][0]["external"]["current"] == {"value": "50"}


def test_a_target_at_zero_is_left_alone(admin: rawhttp.Api, adapter: aggregated.AggregatedServer) -> None:
    assert admin.post(objects.DEPLOYMENTS, objects.deployment("web", replicas=0)).status == 201
    adapter.set_value("s0-queue", "100")
    admin.post(HPAS, hpa("s0-queue", {"type": "AverageValue", "averageValue": "5"}))
    rawhttp.eventually(lambda: conditions(admin).get("ScalingActive", ("",))[0] == "False", timeout=15)
    assert conditions(admin)["ScalingActive"] == (
        "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
    assert (status(admin)["currentReplicas"], status(admin)["desiredReplicas"]) == (0, 0)
    time.sleep(2.5)  # two more sync periods
    assert replicas(admin) == 0
    assert not [s for s in adapter.requests() if s.path.endswith("/s0-queue")]  # metrics are not even read


def test_a_metric_that_cannot_be_read_stops_scaling(admin: rawhttp.Api, adapter: aggregated.AggregatedServer) -> None:
    assert admin.post(objects.DEPLOYMENTS, objects.deployment("web", replicas=2)).status == 201
    admin.post(HPAS, hpa("s0-missing", {"type": "AverageValue", "averageValue": "5"}))
    rawhttp.eventually(lambda: conditions(admin).get("ScalingActive", ("", "", ""))[1] == "FailedGetExternalMetric",
                       timeout=15)
    message = conditions(admin)["ScalingActive"][2]
    assert message.startswith("the HPA was unable to compute the replica count: unable to get external metric "
                              f"default/s0-missing/{GO_SELECTOR}: unable to fetch metrics from external metrics API: "
                              "the server could not find the metric s0-missing")
    assert replicas(admin) == 2
    assert any(reason == "FailedGetExternalMetric" for reason, _ in events(admin))


def test_the_controller_acts_with_its_own_identity_and_rbac_applies_to_it(
        admin: rawhttp.Api, adapter: aggregated.AggregatedServer) -> None:
    binding = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:controller:horizontal-pod-autoscaler"
    assert admin.delete(binding).status == 200
    # Without its binding the controller cannot even list HPAs: nothing is scaled, no status is written.
    assert admin.post(objects.DEPLOYMENTS, objects.deployment("web", replicas=1)).status == 201
    adapter.set_value("s0-queue", "10")
    admin.post(HPAS, hpa("s0-queue", {"type": "AverageValue", "averageValue": "5"}))
    time.sleep(2.5)  # two sync periods
    assert (replicas(admin), status(admin)) == (1, {})
    # A chart-style grant of exactly what it needs brings it back.
    admin.post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        "metadata": {"name": "hpa-again"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:controller:horizontal-pod-autoscaler"},
        "subjects": [{"kind": "ServiceAccount", "name": "horizontal-pod-autoscaler", "namespace": "kube-system"}]})
    rawhttp.eventually(lambda: replicas(admin) == 2, timeout=15)

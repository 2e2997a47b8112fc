"""The APIService `v1beta1.external.metrics.k8s.io` on the sandbox: the adapter keeps its caBundle right
when it made its own serving certificate, and never takes over one another server owns (it warns, naming
the owner and direct mode as the way out)."""

from __future__ import annotations

import base64
from typing import Any

from metrics_adapter import answers
from scaler.operator import api_service
from tests.operator import cluster

API_SERVICES = "/apis/apiregistration.k8s.io/v1/apiservices"


def api_service_manifest(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": answers.API_SERVICE_NAME},
        "spec": {"group": answers.GROUP, "version": answers.VERSION, "groupPriorityMinimum": 100,
                 "versionPriority": 100, "service": {"namespace": namespace, "name": name, "port": 443}, **spec},
    }


async def test_the_ca_bundle_follows_the_generated_certificate(api: cluster.Api, start_adapter: Any) -> None:
    # Named by Service (the adapter's --service-name default) with no chart label.
    await api.create(API_SERVICES, api_service_manifest("default", "ebb-metrics-apiserver", insecureSkipTLSVerify=True))
    adapter = await start_adapter()
    assert adapter.runner.registration is not None and adapter.runner.registration.updated
    spec = (await api.get(f"{API_SERVICES}/{answers.API_SERVICE_NAME}"))["spec"]
    assert base64.b64decode(spec["caBundle"]) == adapter.runner.ca_pem
    assert "insecureSkipTLSVerify" not in spec


async def test_another_servers_api_service_is_left_alone_with_a_warning(api: cluster.Api, start_adapter: Any) -> None:
    await api.create(API_SERVICES, api_service_manifest("keda", "keda-operator-metrics-apiserver", insecureSkipTLSVerify=True))
    adapter = await start_adapter()
    outcome = adapter.runner.registration
    assert outcome is not None and not outcome.updated
    assert outcome.warning == api_service.conflict_message({"namespace": "keda", "name": "keda-operator-metrics-apiserver"})
    assert "direct mode (`ebb operator --scaling-mode direct`)" in outcome.warning
    spec = (await api.get(f"{API_SERVICES}/{answers.API_SERVICE_NAME}"))["spec"]
    assert spec["service"]["name"] == "keda-operator-metrics-apiserver" and spec.get("insecureSkipTLSVerify") is True


async def test_the_operator_warns_when_another_server_owns_the_api_service(
    api: cluster.Api, start_operator: Any
) -> None:
    await api.create(API_SERVICES, api_service_manifest("monitoring", "prometheus-adapter"))
    running = await start_operator()

    async def checked() -> Any:
        return running.operator.api_service

    outcome = await cluster.until(checked, what="the operator's APIService check")
    assert outcome.warning == api_service.conflict_message({"namespace": "monitoring", "name": "prometheus-adapter"})

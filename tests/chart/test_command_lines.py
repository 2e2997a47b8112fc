"""The chart's command lines are ones the `ebb` CLI accepts, and they mean what the values say: each
rendered container's args go through the CLI's own argument parser and settings."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from scaler.cli import build_parser
from scaler.cli.commands import adapter as adapter_command
from scaler.cli.commands import operator as operator_command
from tests.chart import helm

CASES = [
    pytest.param({}, {"namespaces": (), "leader_election": True, "scaling_mode": "hpa", "http_port": 8080}, id="defaults"),
    pytest.param(
        {"watchNamespace": "shop,billing", "scalingMode": "direct", "operator": {"httpPort": 9090}},
        {"namespaces": ("shop", "billing"), "scaling_mode": "direct", "http_port": 9090},
        id="namespaces-direct-port",
    ),
    pytest.param(
        {"operator": {"leaderElection": {"enabled": False}}, "clusterObjectNamespace": "keda"},
        {"leader_election": False, "cluster_object_namespace": "keda"},
        id="no-election-keda-namespace",
    ),
]


@pytest.mark.parametrize(("values", "expected"), CASES)
def test_the_operator_container_runs_a_command_line_the_cli_parses_as_the_values_say(
    tmp_path: pathlib.Path, values: dict[str, Any], expected: dict[str, Any]
) -> None:
    rendered = helm.template(tmp_path, values, namespace="autoscaling")
    (container,) = [c for w, c in rendered.containers() if w["metadata"]["name"] == "ebb-operator"]
    args = build_parser(["operator"]).parse_args(container["args"])
    settings = operator_command.settings_from(args)
    assert settings.http_host == "0.0.0.0"
    for field, value in expected.items():
        assert getattr(settings, field) == value, field
    if settings.leader_election:
        assert (settings.lease_namespace, settings.lease_name) == ("autoscaling", "ebb-operator")
    if "cluster_object_namespace" not in expected:
        assert settings.cluster_object_namespace == "autoscaling"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": settings.http_port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}


def test_the_adapter_container_runs_a_command_line_the_cli_parses_with_the_charts_certificate_and_service(
    tmp_path: pathlib.Path,
) -> None:
    rendered = helm.template(tmp_path, {"adapter": {"securePort": 7443}}, namespace="autoscaling")
    (container,) = [c for w, c in rendered.containers() if w["metadata"]["name"] == "ebb-adapter"]
    settings = adapter_command.settings_from(build_parser(["adapter"]).parse_args(container["args"]))
    assert settings.secure_port == 7443
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"https": 7443}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert settings.tls_cert_file == f"{mounts['certs']}/tls.crt"
    assert settings.tls_private_key_file == f"{mounts['certs']}/tls.key"
    (deployment,) = [w for w, c in rendered.containers() if w["metadata"]["name"] == "ebb-adapter"]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["certs"]["secret"]["secretName"] == rendered.one("Secret", "-certs")["metadata"]["name"]
    api_service = rendered.one("APIService")["spec"]["service"]
    assert (settings.service_name, settings.service_namespace) == (api_service["name"], api_service["namespace"])
    assert settings.readings_namespace == "autoscaling"
    service = rendered.one("Service", "-adapter")
    assert service["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}]

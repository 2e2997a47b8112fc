"""A TriggerAuthentication using a source Ebb cannot resolve (a secret provider block stored with KEDA's
schema): the cluster stores it, the ScaledObject using it gets Ready=False naming the field and saying it
is not supported by Ebb, and no HPA is made; `ebb validate` says the same about the same documents."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml

from scaler import cli
from tests.operator import cluster
from tests.servers import redis_server as redis_fixtures

SOURCES = [
    pytest.param(
        "hashiCorpVault",
        {
            "address": "https://vault:8200",
            "authentication": "token",
            "credential": {"token": "not-a-real-token"},
            "secrets": [{"parameter": "password", "path": "secret/redis", "key": "password"}],
        },
        id="hashicorp-vault",
    ),
    pytest.param(
        "awsSecretManager",
        {"region": "eu-west-1", "secrets": [{"parameter": "password", "name": "redis"}]},
        id="aws-secret-manager",
    ),
]


def _documents(section: str, value: Any, address: str, list_name: str) -> list[dict[str, Any]]:
    auth = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": "from-provider", "namespace": "default"},
        "spec": {section: value},
    }
    so = cluster.scaled_object(
        "orders", target="worker", redis_address=address, list_name=list_name, auth="from-provider"
    )
    so["metadata"]["namespace"] = "default"
    return [auth, so]


@pytest.mark.parametrize(("section", "value"), SOURCES)
async def test_a_scaled_object_using_an_unsupported_source_is_not_ready(
    api: cluster.Api,
    redis_server: redis_fixtures.RedisServer,
    list_name: str,
    start_operator: Any,
    section: str,
    value: Any,
) -> None:
    auth, so = _documents(section, value, f"{redis_server.host}:{redis_server.port}", list_name)
    await api.create(cluster.DEPLOYMENT_BASE.format(ns="default"), cluster.deployment("worker"))
    stored = await api.create(cluster.TA_BASE.format(ns="default"), auth)
    assert stored["spec"] == auth["spec"]
    await api.create(cluster.SO_BASE.format(ns="default"), so)
    await start_operator()

    async def not_ready() -> dict[str, Any] | None:
        condition = await api.condition("orders", "Ready")
        return condition if condition.get("status") == "False" else None

    ready = await cluster.until(not_ready, what="orders Ready=False")
    assert "spec.triggers[0].authenticationRef.name" in ready["message"]
    assert f"spec.{section}" in ready["message"]
    assert "not supported by Ebb" in ready["message"]
    code, _ = await api.hpa("keda-hpa-orders")
    assert code == 404


@pytest.mark.parametrize(("section", "value"), SOURCES)
def test_ebb_validate_says_the_same(
    section: str, value: Any, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text(yaml.safe_dump_all(_documents(section, value, "redis:6379", "jobs")))
    code = cli.main(["validate", str(manifest)])
    out, err = capsys.readouterr()
    assert code == 1
    assert f"spec.{section}" in out + err
    assert "not supported by Ebb" in out + err
    assert "not-a-real-token" not in out + err

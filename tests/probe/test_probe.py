"""`ebb probe`: live values from a real Redis, JSON and text output, exit codes, and no secret leaks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis

from scaler import cli

PASSWORD = "pr0be-Secret-pw"


def manifest(address: str, *, password: str = PASSWORD, extra_trigger: str = "") -> str:
    return f"""
apiVersion: v1
kind: Secret
metadata: {{name: redis-credentials, namespace: shop}}
stringData: {{password: "{password}"}}
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata: {{name: redis-auth, namespace: shop}}
spec:
  secretTargetRef: [{{parameter: password, name: redis-credentials, key: password}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: worker, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: worker}}}}
  template:
    metadata: {{labels: {{app: worker}}}}
    spec:
      containers:
      - name: worker
        image: example/worker
        env: [{{name: REDIS_ADDRESS, value: "{address}"}}]
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {{name: worker, namespace: shop}}
spec:
  scaleTargetRef: {{name: worker}}
  triggers:
  - type: redis
    name: orders
    metadata: {{addressFromEnv: REDIS_ADDRESS, listName: orders, listLength: "10", activationListLength: "2"}}
    authenticationRef: {{name: redis-auth}}
  - type: redis-streams
    metadata: {{addressFromEnv: REDIS_ADDRESS, stream: events, consumerGroup: g, lagCount: "3"}}
    authenticationRef: {{name: redis-auth}}
{extra_trigger}"""


@pytest.fixture
def protected_redis(redis_server_factory: Any) -> Any:
    server = redis_server_factory()
    admin = redis.Redis(host=server.host, port=server.port, decode_responses=True)
    admin.config_set("requirepass", PASSWORD)
    admin.close()
    return server


def run(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    path = tmp_path / "so.yaml"
    path.write_text(text)
    code = cli.main(["probe", str(path), *args])
    return code, capsys.readouterr().out


def test_live_values_from_a_real_redis_as_json(
    protected_redis: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = redis.Redis(
        host=protected_redis.host, port=protected_redis.port, password=PASSWORD, decode_responses=True
    )
    db.rpush("orders", *range(7))
    for i in range(5):
        db.xadd("events", {"i": str(i)})
    db.xgroup_create("events", "g", id="0")
    db.xreadgroup("g", "c", {"events": ">"}, count=1)
    db.close()
    code, out = run(
        tmp_path, manifest(f"{protected_redis.host}:{protected_redis.port}"), capsys, "-o", "json"
    )
    assert code == 0, out
    rows = json.loads(out)["triggers"]
    assert rows == [
        {
            "scaledObject": "ScaledObject/shop/worker",
            "index": 0,
            "name": "orders",
            "type": "redis",
            "metricName": "s0-redis-orders",
            "value": 7.0,
            "target": 10.0,
            "activationThreshold": 2.0,
            "active": True,
            "error": None,
        },
        {
            "scaledObject": "ScaledObject/shop/worker",
            "index": 1,
            "name": None,
            "type": "redis-streams",
            "metricName": "s1-redis-streams-events",
            "value": 4.0,
            "target": 3.0,
            "activationThreshold": 0.0,
            "active": True,
            "error": None,
        },
    ]


def test_text_table(protected_redis: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(tmp_path, manifest(f"{protected_redis.host}:{protected_redis.port}"), capsys)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split() == [
        "SCALEDOBJECT",
        "#",
        "NAME",
        "TYPE",
        "METRIC",
        "VALUE",
        "TARGET",
        "ACTIVATION",
        "ACTIVE",
        "ERROR",
    ]
    assert lines[1].split() == [
        "ScaledObject/shop/worker",
        "0",
        "orders",
        "redis",
        "s0-redis-orders",
        "0",
        "10",
        "2",
        "false",
    ]


@pytest.mark.parametrize(
    ("address", "password", "wanted"),
    [
        pytest.param("127.0.0.1:1", PASSWORD, "connecting to 127.0.0.1:1", id="nothing-listening"),
        pytest.param(None, PASSWORD + "-wrong", "", id="wrong-password"),
        pytest.param(f"redis://user:{PASSWORD}@127.0.0.1:1", PASSWORD, "", id="password-in-the-address"),
    ],
)
def test_failures_exit_1_and_never_leak_the_password(
    protected_redis: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    address: str | None,
    password: str,
    wanted: str,
) -> None:
    target = address or f"{protected_redis.host}:{protected_redis.port}"
    code, out = run(tmp_path, manifest(target, password=password), capsys, "-o", "json")
    assert code == 1
    rows = json.loads(out)["triggers"]
    assert all(row["error"] for row in rows)
    assert wanted in rows[0]["error"]
    assert PASSWORD not in out


def test_invalid_scaled_objects_are_reported_as_errors(
    protected_redis: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = """  - type: redis
    metadata: {address: "127.0.0.1:1", listName: x, listLength: "AA"}
"""
    code, out = run(
        tmp_path,
        manifest(f"{protected_redis.host}:{protected_redis.port}", extra_trigger=bad),
        capsys,
        "-o",
        "json",
    )
    assert code == 1
    (row,) = json.loads(out)["triggers"]
    assert row["index"] is None
    assert "spec.triggers[2].metadata.listLength: expected an integer" in row["error"]


def test_unreadable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["probe", str(tmp_path / "missing.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cpu_triggers_are_not_polled_and_count_as_active(
    protected_redis: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cpu = """  - type: cpu
    metricType: Utilization
    metadata: {value: "60"}
"""
    address = f"{protected_redis.host}:{protected_redis.port}"
    text = manifest(address, extra_trigger=cpu).replace(
        "image: example/worker", "image: example/worker\n        resources: {requests: {cpu: 100m}}"
    )
    code, out = run(tmp_path, text, capsys, "-o", "json")
    assert code == 0, out
    cpu_row = json.loads(out)["triggers"][2]
    assert cpu_row["type"] == "cpu"
    assert cpu_row["metricName"] == "cpu"
    assert cpu_row["target"] == 60
    assert (cpu_row["value"], cpu_row["active"], cpu_row["error"]) == (None, True, None)

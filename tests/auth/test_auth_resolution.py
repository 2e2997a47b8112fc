"""TriggerAuthentication / ClusterTriggerAuthentication resolution and the trigger checker of `ebb validate`."""

from __future__ import annotations

import base64
import textwrap
from collections.abc import Mapping

import pytest

from scaler.core import auth_resolution, manifests, problems, specs, validating
from scaler.triggers import trigger_checks

PASSWORD = "Sup3r-s3cret-pw"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


BASE = f"""
apiVersion: v1
kind: Secret
metadata: {{name: redis-creds, namespace: shop}}
data: {{password: {b64(PASSWORD)}, address: {b64("10.0.0.9:6379")}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: redis-config, namespace: shop}}
data: {{address: "cm-host:6379", username: cm-user, password: from-configmap}}
---
apiVersion: v1
kind: Secret
metadata: {{name: shared-creds, namespace: keda}}
stringData: {{password: cluster-wide-pw}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: worker, namespace: shop}}
spec:
  template:
    spec:
      containers:
      - name: app
        env:
        - {{name: REDIS_ADDR, value: "env-host:6379"}}
        - {{name: REDIS_PW, valueFrom: {{secretKeyRef: {{name: redis-creds, key: password}}}}}}
      - name: sidecar
        env:
        - {{name: REDIS_ADDR, value: "sidecar-host:6379"}}
"""


def cluster_of(yaml_text: str) -> validating.Cluster:
    return validating.validate(manifests.Manifests(tuple(manifests.parse(yaml_text, "test.yaml")))).cluster


def ta(spec: str, kind: str = "TriggerAuthentication") -> str:
    meta = "{name: auth, namespace: shop}" if kind == "TriggerAuthentication" else "{name: auth}"
    return f"---\napiVersion: keda.sh/v1alpha1\nkind: {kind}\nmetadata: {meta}\nspec:\n" + textwrap.indent(
        textwrap.dedent(spec), "  "
    )


def envs(cluster: validating.Cluster) -> auth_resolution.ContainerEnv:
    from scaler.core import container_env

    body = cluster.workloads[("shop", "Deployment", "worker")]

    def env(name: str | None) -> Mapping[str, str] | None:
        return container_env.resolve(
            body,
            container_name=name,
            secrets=lambda n: cluster.secrets.get(("shop", n)),
            config_maps=lambda n: cluster.config_maps.get(("shop", n)),
        ).values

    return env


@pytest.mark.parametrize(
    ("spec", "kind", "expected", "issues"),
    [
        pytest.param(
            """
            env: [{parameter: address, name: REDIS_ADDR}]
            configMapTargetRef: [{parameter: address, name: redis-config, key: address}]
            secretTargetRef: [{parameter: address, name: redis-creds, key: address}]
            """,
            "TriggerAuthentication",
            {"address": "10.0.0.9:6379"},
            [],
            id="secret-overrides-configmap-overrides-env",
        ),
        pytest.param(
            """
            env: [{parameter: address, name: REDIS_ADDR}]
            configMapTargetRef: [{parameter: address, name: redis-config, key: address}]
            """,
            "TriggerAuthentication",
            {"address": "cm-host:6379"},
            [],
            id="configmap-overrides-env",
        ),
        pytest.param(
            "env: [{parameter: address, name: REDIS_ADDR, containerName: sidecar}]",
            "TriggerAuthentication",
            {"address": "sidecar-host:6379"},
            [],
            id="env-of-named-container",
        ),
        pytest.param(
            "env: [{parameter: password, name: REDIS_PW}]",
            "TriggerAuthentication",
            {"password": PASSWORD},
            [],
            id="env-from-secret",
        ),
        pytest.param(
            "secretTargetRef: [{parameter: password, name: missing, key: password}]",
            "TriggerAuthentication",
            {"password": ""},
            ['TriggerAuthentication/shop/auth: spec.secretTargetRef[0].name: secret "missing" not found'],
            id="missing-secret-is-empty",
        ),
        pytest.param(
            "secretTargetRef: [{parameter: password, name: redis-creds, key: nope}]",
            "TriggerAuthentication",
            {"password": ""},
            ['spec.secretTargetRef[0].key: key "nope" not found in secret "redis-creds"'],
            id="missing-key-is-empty",
        ),
        pytest.param(
            "env: [{parameter: address, name: NOPE}]",
            "TriggerAuthentication",
            {"address": ""},
            ['spec.env[0].name: variable "NOPE" not found'],
            id="missing-variable-is-empty",
        ),
        pytest.param(
            "secretTargetRef: [{parameter: password, name: shared-creds, key: password}]",
            "ClusterTriggerAuthentication",
            {"password": "cluster-wide-pw"},
            [],
            id="cluster-auth-reads-the-operator-namespace",
        ),
        pytest.param(
            "secretTargetRef: [{parameter: password, name: redis-creds, key: password}]",
            "ClusterTriggerAuthentication",
            {"password": ""},
            [
                'ClusterTriggerAuthentication/auth: spec.secretTargetRef[0].name: secret "redis-creds" not found in namespace "keda"'
            ],
            id="cluster-auth-does-not-read-the-so-namespace",
        ),
    ],
)
def test_resolution_order_and_gaps(spec: str, kind: str, expected: dict[str, str], issues: list[str]) -> None:
    cluster = cluster_of(BASE + ta(spec, kind))
    source = auth_resolution.FileSource(cluster)
    ref = specs.AuthenticationRef("auth", specs.AuthKind(kind))
    resolved = auth_resolution.resolve_ref(ref, "shop", source, envs(cluster), obj="ScaledObject/shop/so")
    assert dict(resolved.params) == expected
    assert len(resolved.issues) == len(issues), resolved.issues
    for issue, wanted in zip(resolved.issues, issues, strict=True):
        assert wanted in str(issue)
    for issue in resolved.issues:
        assert PASSWORD not in str(issue)
    assert PASSWORD not in repr(resolved)


def test_a_missing_authentication_is_an_issue_not_a_crash() -> None:
    cluster = cluster_of(BASE)
    ref = specs.AuthenticationRef("ghost")
    resolved = auth_resolution.resolve_ref(
        ref, "shop", auth_resolution.FileSource(cluster), envs(cluster), obj="ScaledObject/shop/so", where="x"
    )
    assert resolved.params == {}
    assert [str(i) for i in resolved.issues] == [
        'ScaledObject/shop/so: x.name: TriggerAuthentication "ghost" not found in namespace "shop"'
    ]


# --- the trigger checker, through `validating.validate` ---------------------------------------------


def scaled_object(triggers: str, target: str = "worker") -> str:
    return f"""
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {{name: orders, namespace: shop}}
spec:
  scaleTargetRef: {{name: {target}}}
  triggers:
""" + textwrap.indent(textwrap.dedent(triggers), "  ")


def report_of(yaml_text: str) -> validating.Report:
    documents = manifests.Manifests(tuple(manifests.parse(yaml_text, "test.yaml")))
    return validating.validate(documents, trigger_checker=trigger_checks.CHECKER)


def findings(report: validating.Report) -> list[str]:
    (so,) = report.scaled_objects
    return [str(p) for p in (*so.errors, *so.warnings)]


@pytest.mark.parametrize(
    ("auth", "triggers", "valid", "expected"),
    [
        pytest.param(
            "",
            """
            - type: redis
              metadata: {listName: jobs, address: "r:6379"}
            - type: redis
              metadata: {listName: jobs, address: "r:6379", listLength: "AA"}
            """,
            False,
            ["ScaledObject/shop/orders: spec.triggers[1].metadata.listLength: expected an integer"],
            id="bad-parameter-path",
        ),
        pytest.param(
            "secretTargetRef: [{parameter: password, name: redis-creds, key: password}, {parameter: address, name: redis-creds, key: address}]",
            """
            - type: redis
              metadata: {listName: jobs}
              authenticationRef: {name: auth}
            """,
            True,
            [],
            id="address-and-password-from-secret",
        ),
        pytest.param(
            "",
            """
            - type: redis
              metadata: {listName: jobs, addressFromEnv: REDIS_ADDR, passwordFromEnv: REDIS_PW}
            """,
            True,
            [],
            id="from-env",
        ),
        pytest.param(
            "",
            """
            - type: redis
              metadata: {listName: jobs, address: "r:6379", colour: blue}
            """,
            True,
            ["warning: ScaledObject/shop/orders: spec.triggers[0].metadata.colour: unknown parameter"],
            id="unknown-key-warning",
        ),
        pytest.param(
            "",
            """
            - type: no-such-scaler
              metadata: {a: b}
            """,
            False,
            ['spec.triggers[0].type: unknown trigger type "no-such-scaler"'],
            id="unknown-type",
        ),
        pytest.param(
            "secretTargetRef: [{parameter: address, name: not-in-files, key: address}]",
            """
            - type: redis
              metadata: {listName: jobs}
              authenticationRef: {name: auth}
            """,
            True,
            [
                'warning: TriggerAuthentication/shop/auth: spec.secretTargetRef[0].name: secret "not-in-files" not found',
                "warning: ScaledObject/shop/orders: spec.triggers[0].metadata.address: no addresses or hosts given",
            ],
            id="missing-secret-downgrades-to-warnings",
        ),
        pytest.param(
            "secretTargetRef: [{parameter: tls, name: redis-creds, key: password}]",
            """
            - type: redis
              metadata: {listName: jobs, address: "r:6379"}
              authenticationRef: {name: auth}
            """,
            False,
            ['spec.triggers[0].authenticationRef.tls: must be one of enable, disable, got "[redacted]"'],
            id="secret-values-are-masked",
        ),
    ],
)
def test_the_checker_reports_with_full_paths(
    auth: str, triggers: str, valid: bool, expected: list[str]
) -> None:
    text = BASE + (ta(auth) if auth else "") + scaled_object(triggers)
    report = report_of(text)
    found = findings(report)
    assert report.scaled_objects[0].valid is valid, found
    for wanted in expected:
        assert any(wanted in f for f in found), (wanted, found)
    assert all(PASSWORD not in f for f in found)


def test_prepare_builds_the_inputs_the_operator_reuses() -> None:
    cluster = cluster_of(
        BASE + ta("secretTargetRef: [{parameter: password, name: redis-creds, key: password}]")
    )
    so = specs.parse_scaled_object(
        next(iter(manifests.parse(scaled_object("""
        - type: redis
          name: q
          metadata: {listName: jobs, address: "r:6379"}
          authenticationRef: {name: auth}
        """), "so.yaml"))).body
    )  # fmt: skip
    prepared = trigger_checks.prepare(
        so, so.triggers[0], auth_resolution.FileSource(cluster), cluster.workload(so), timeout=1.5
    )
    inputs = prepared.inputs
    assert (inputs.type, inputs.index, inputs.name, inputs.namespace, inputs.scaled_object) == (
        "redis",
        0,
        "q",
        "shop",
        "orders",
    )
    assert inputs.auth_params == {"password": PASSWORD}
    assert inputs.resolved_env["REDIS_ADDR"] == "env-host:6379"
    assert inputs.timeout == 1.5 and prepared.incomplete is None
    assert prepared.mask(f"oops {PASSWORD}") == "oops [redacted]"
    assert all(p.severity is problems.Severity.WARNING for p in prepared.issues)

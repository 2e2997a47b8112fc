"""(Cluster)TriggerAuthentication parsing: the shape, the webhook's rules, the sources Ebb cannot resolve."""

from __future__ import annotations

from typing import Any

import pytest

from scaler.core import problems, specs
from tests.specs.builders import DELETE, trigger_authentication


def test_secret_config_map_and_env_sources_are_read() -> None:
    body = trigger_authentication(
        {
            "spec": {
                "configMapTargetRef": [{"parameter": "host", "name": "redis-config", "key": "host"}],
                "env": [
                    {"parameter": "username", "name": "REDIS_USER"},
                    {"parameter": "db", "name": "REDIS_DB", "containerName": "worker"},
                ],
            }
        }
    )
    spec = specs.parse_trigger_authentication(body)
    assert spec.ref == "TriggerAuthentication/shop/redis-auth"
    assert spec.kind is specs.AuthKind.TRIGGER_AUTHENTICATION
    assert spec.secret_target_refs == (specs.SecretTargetRef("password", "redis", "password"),)
    assert spec.config_map_target_refs == (specs.ConfigMapTargetRef("host", "redis-config", "host"),)
    assert spec.env == (
        specs.EnvRef("username", "REDIS_USER", None),
        specs.EnvRef("db", "REDIS_DB", "worker"),
    )
    assert spec.pod_identity_provider is None
    assert spec.unsupported_sources == ()


def test_cluster_trigger_authentication_has_no_namespace() -> None:
    spec = specs.parse_trigger_authentication(trigger_authentication(kind="ClusterTriggerAuthentication"))
    assert spec.namespace is None
    assert spec.ref == "ClusterTriggerAuthentication/redis-auth"


def test_namespace_defaults_like_kubectl() -> None:
    body = trigger_authentication({"metadata": {"namespace": DELETE}})
    assert specs.parse_trigger_authentication(body, default_namespace="ops").namespace == "ops"


ERROR_CASES = [
    pytest.param(
        {"kind": "Secret"}, "kind", "TriggerAuthentication or ClusterTriggerAuthentication", id="wrong-kind"
    ),
    pytest.param({"spec": DELETE}, "spec", "is required", id="spec-missing"),
    pytest.param(
        {"spec": {"secretTargetRefs": []}},
        "spec.secretTargetRefs",
        "did you mean secretTargetRef",
        id="unknown-section",
    ),
    pytest.param(
        {"spec": {"secretTargetRef": {"parameter": "p"}}},
        "spec.secretTargetRef",
        "must be a list",
        id="secret-refs-not-list",
    ),
    pytest.param(
        {"spec": {"secretTargetRef": [{"parameter": "p", "name": "s"}]}},
        "spec.secretTargetRef[0].key",
        "is required",
        id="secret-ref-key-missing",
    ),
    pytest.param(
        {"spec": {"secretTargetRef": [{"name": "s", "key": "k"}]}},
        "spec.secretTargetRef[0].parameter",
        "is required",
        id="secret-ref-parameter-missing",
    ),
    pytest.param(
        {"spec": {"secretTargetRef": [{"parameter": "p", "name": "", "key": "k"}]}},
        "spec.secretTargetRef[0].name",
        "must not be empty",
        id="secret-ref-name-empty",
    ),
    pytest.param(
        {"spec": {"secretTargetRef": [{"parameter": "p", "name": "s", "key": "k", "optional": True}]}},
        "spec.secretTargetRef[0].optional",
        "unknown field",
        id="secret-ref-unknown-field",
    ),
    pytest.param(
        {"spec": {"configMapTargetRef": [{"parameter": "p", "key": "k"}]}},
        "spec.configMapTargetRef[0].name",
        "is required",
        id="config-map-ref-name-missing",
    ),
    pytest.param(
        {"spec": {"env": [{"parameter": "p"}]}}, "spec.env[0].name", "is required", id="env-name-missing"
    ),
    pytest.param(
        {"spec": {"env": [{"parameter": "p", "name": "X", "containerName": 3}]}},
        "spec.env[0].containerName",
        "must be a string",
        id="env-container-not-string",
    ),
    pytest.param(
        {"spec": {"podIdentity": {}}},
        "spec.podIdentity.provider",
        "is required",
        id="pod-identity-provider-missing",
    ),
    pytest.param(
        {"spec": {"podIdentity": {"provider": "azure"}}},
        "spec.podIdentity.provider",
        "use azure-workload",
        id="pod-identity-azure-removed",
    ),
    pytest.param(
        {"spec": {"podIdentity": {"provider": "azure-workload", "identityId": ""}}},
        "spec.podIdentity.identityId",
        "must not be empty",
        id="azure-empty-identity-id",
    ),
    pytest.param(
        {"spec": {"podIdentity": {"provider": "azure-workload", "identityTenantId": ""}}},
        "spec.podIdentity.identityTenantId",
        "must not be empty",
        id="azure-empty-tenant-id",
    ),
    pytest.param(
        {"spec": {"podIdentity": {"provider": "azure-workload", "identityAuthorityHost": "https://login"}}},
        "spec.podIdentity.identityAuthorityHost",
        "non-empty identityTenantId",
        id="azure-authority-without-tenant",
    ),
    pytest.param(
        {
            "spec": {
                "podIdentity": {
                    "provider": "aws",
                    "roleArn": "arn:aws:iam::1:role/r",
                    "identityOwner": "workload",
                }
            }
        },
        "spec.podIdentity.roleArn",
        "identityOwner is workload",
        id="aws-role-with-workload-owner",
    ),
    pytest.param(
        {"spec": {"podIdentity": {"provider": "aws", "externalID": "x"}}},
        "spec.podIdentity.externalID",
        "needs roleArn",
        id="aws-external-id-without-role",
    ),
    pytest.param(
        {"spec": {"podIdentity": {"provider": "aws", "identityOwner": "operator"}}},
        "spec.podIdentity.identityOwner",
        "one of keda, workload",
        id="identity-owner-enum",
    ),
    pytest.param(
        {"spec": {"oauth2": {"type": "password", "clientId": "c", "tokenUrl": "https://t/token"}}},
        "spec.oauth2.type",
        "clientCredentials",
        id="oauth2-type",
    ),
    pytest.param(
        {"spec": {"oauth2": {"type": "clientCredentials", "tokenUrl": "https://t/token"}}},
        "spec.oauth2.clientId",
        "is required",
        id="oauth2-client-id-missing",
    ),
    pytest.param(
        {"spec": {"oauth2": {"type": "clientCredentials", "clientId": "c", "tokenUrl": "ftp://t"}}},
        "spec.oauth2.tokenUrl",
        "http:// or https://",
        id="oauth2-token-url-not-http",
    ),
    pytest.param(
        {"spec": {"filePath": "creds.json"}},
        "spec.filePath",
        "only allowed on a ClusterTriggerAuthentication",
        id="file-path-on-namespaced",
    ),
]


@pytest.mark.parametrize(("patch", "field", "fragment"), ERROR_CASES)
def test_rule_is_enforced(patch: dict[str, Any], field: str, fragment: str) -> None:
    with pytest.raises(problems.InvalidObject) as raised:
        specs.parse_trigger_authentication(trigger_authentication(patch))
    found = raised.value.problems
    assert any(p.field == field and fragment in p.message for p in found), [str(p) for p in found]


UNSUPPORTED_CASES = [
    pytest.param(
        "hashiCorpVault",
        {"address": "https://vault", "authentication": "token", "secrets": []},
        id="hashicorp-vault",
    ),
    pytest.param("azureKeyVault", {"vaultUri": "https://v", "secrets": []}, id="azure-key-vault"),
    pytest.param("gcpSecretManager", {"secrets": []}, id="gcp-secret-manager"),
    pytest.param("awsSecretManager", {"secrets": []}, id="aws-secret-manager"),
    pytest.param(
        "boundServiceAccountToken",
        [{"parameter": "token", "serviceAccountName": "sa"}],
        id="bound-service-account-token",
    ),
    pytest.param(
        "oauth2", {"type": "clientCredentials", "clientId": "c", "tokenUrl": "https://t/token"}, id="oauth2"
    ),
]


@pytest.mark.parametrize(("section", "value"), UNSUPPORTED_CASES)
def test_sources_ebb_cannot_resolve_are_errors_naming_the_field(section: str, value: Any) -> None:
    spec, found = specs.check_trigger_authentication(trigger_authentication({"spec": {section: value}}))
    assert spec is None
    (error,) = [p for p in found if p.field == f"spec.{section}"]
    assert error.severity is problems.Severity.ERROR
    assert "not supported by Ebb" in error.message


def test_file_path_on_a_cluster_trigger_authentication_is_not_supported_by_ebb() -> None:
    body = trigger_authentication({"spec": {"filePath": "creds.json"}}, kind="ClusterTriggerAuthentication")
    spec, found = specs.check_trigger_authentication(body)
    assert spec is None
    assert [(p.field, "not supported by Ebb" in p.message) for p in found] == [("spec.filePath", True)]


@pytest.mark.parametrize(
    ("identity", "provider"),
    [
        pytest.param({"provider": "none"}, "none", id="none"),
        pytest.param(
            {"provider": "azure-workload", "identityId": "id"}, "azure-workload", id="azure-workload"
        ),
        pytest.param(
            {"provider": "aws", "roleArn": "arn:aws:iam::1:role/r", "externalID": "x"}, "aws", id="aws"
        ),
        pytest.param({"provider": "gcp"}, "gcp", id="gcp"),
    ],
)
def test_pod_identity_provider_is_kept(identity: dict[str, str], provider: str) -> None:
    spec, found = specs.check_trigger_authentication(
        trigger_authentication({"spec": {"podIdentity": identity}})
    )
    assert spec is not None, [str(p) for p in found]
    assert spec.pod_identity_provider == provider


def test_several_problems_at_once() -> None:
    body = trigger_authentication(
        {
            "spec": {
                "secretTargetRef": [{"parameter": "p"}],
                "env": [{"name": "X"}],
                "podIdentity": {"provider": "azure-workload", "identityId": ""},
            }
        }
    )
    with pytest.raises(problems.InvalidObject) as raised:
        specs.parse_trigger_authentication(body)
    fields = {p.field for p in raised.value.problems}
    assert fields == {
        "spec.secretTargetRef[0].name",
        "spec.secretTargetRef[0].key",
        "spec.env[0].parameter",
        "spec.podIdentity.identityId",
    }

"""Resolving a container's environment from a workload manifest, as KEDA's resolver does."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest

from scaler.core import container_env

SECRETS = {"creds": {"password": "s3cret", "user": "bob"}, "prefixed": {"HOST": "secret-host"}}
CONFIG_MAPS = {"settings": {"HOST": "cm-host", "PORT": "6379"}}


def _lookup(objects: Mapping[str, Mapping[str, str]]) -> container_env.Lookup:
    return objects.get


def workload(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Deployment", "spec": {"template": {"spec": {"containers": list(containers)}}}}


def resolve(body: dict[str, Any], container: str | None = None) -> container_env.Env:
    return container_env.resolve(
        body, container_name=container, secrets=_lookup(SECRETS), config_maps=_lookup(CONFIG_MAPS)
    )


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        pytest.param({"env": [{"name": "A", "value": "1"}]}, {"A": "1"}, id="value"),
        pytest.param(
            {"env": [{"name": "A", "value": "x"}, {"name": "B", "value": "$(A)-$(MISSING)-$$(A)"}]},
            {"A": "x", "B": "x-$(MISSING)-$(A)"},
            id="expansion",
        ),
        pytest.param(
            {"env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}]},
            {"P": "s3cret"},
            id="secret-key-ref",
        ),
        pytest.param(
            {"env": [{"name": "P", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "PORT"}}}]},
            {"P": "6379"},
            id="config-map-key-ref",
        ),
        pytest.param(
            {
                "env": [
                    {
                        "name": "P",
                        "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": True}},
                    }
                ]
            },
            {},
            id="optional-missing",
        ),
        pytest.param(
            {
                "envFrom": [
                    {"configMapRef": {"name": "settings"}},
                    {"secretRef": {"name": "prefixed"}, "prefix": "S_"},
                ]
            },
            {"HOST": "cm-host", "PORT": "6379", "S_HOST": "secret-host"},
            id="env-from-with-prefix",
        ),
        pytest.param(
            {
                "envFrom": [{"configMapRef": {"name": "settings"}}],
                "env": [{"name": "HOST", "value": "override"}],
            },
            {"HOST": "override", "PORT": "6379"},
            id="env-overrides-env-from",
        ),
        pytest.param(
            {"envFrom": [{"secretRef": {"name": "absent", "optional": True}}]}, {}, id="optional-env-from"
        ),
        pytest.param(
            {"env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]},
            {},
            id="field-ref",
        ),
    ],
)
def test_environment(container: dict[str, Any], expected: dict[str, str]) -> None:
    assert dict(resolve(workload({"name": "app", **container})).values) == expected


def test_secret_derived_names_are_remembered() -> None:
    env = resolve(
        workload(
            {
                "name": "app",
                "env": [
                    {"name": "P", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
                    {"name": "URL", "value": "redis://:$(P)@h"},
                    {"name": "PLAIN", "value": "x"},
                ],
            }
        )
    )
    assert env.from_secrets == {"P", "URL"}
    assert "s3cret" not in repr(env)


@pytest.mark.parametrize(
    ("body", "container", "field", "message"),
    [
        pytest.param(workload(), None, "spec.template.spec.containers", "no containers", id="no-containers"),
        pytest.param(workload({"name": "a"}), "b", "spec.template.spec.containers", 'container "b" not found', id="no-such-container"),
        pytest.param(
            workload({"name": "a", "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]}),
            None,
            "spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef",
            'secret "nope" not found',
            id="missing-secret",
        ),
        pytest.param(
            workload({"name": "a", "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k"}}}]}),
            None,
            "spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef",
            'key "k" not found in secret "creds"',
            id="missing-key",
        ),
        pytest.param(
            workload({"name": "a"}, {"name": "b", "envFrom": [{"configMapRef": {"name": "gone"}}]}),
            "b",
            "spec.template.spec.containers[1].envFrom[0].configMapRef",
            'configmap "gone" not found',
            id="missing-config-map",
        ),
    ],
)  # fmt: skip
def test_errors_name_the_field(body: dict[str, Any], container: str | None, field: str, message: str) -> None:
    with pytest.raises(container_env.EnvError) as error:
        resolve(body, container)
    assert error.value.field == field
    assert message in error.value.message


def test_the_named_container_is_used() -> None:
    body = workload(
        {"name": "a", "env": [{"name": "X", "value": "1"}]},
        {"name": "b", "env": [{"name": "X", "value": "2"}]},
    )
    assert dict(resolve(body, "b").values) == {"X": "2"}
    assert dict(resolve(body).values) == {"X": "1"}


def test_secret_manifest_decoding() -> None:
    secret = {
        "data": {"a": base64.b64encode(b"one").decode(), "b": "!!"},
        "stringData": {"c": "three", "a": "wins"},
    }
    assert container_env.secret_data(secret) == {"a": "wins", "b": "", "c": "three"}

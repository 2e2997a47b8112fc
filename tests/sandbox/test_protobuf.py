"""Protobuf request bodies (`application/vnd.kubernetes.protobuf`), as client-go's typed clients send them
for built-in kinds: Secrets and ConfigMaps are stored as if sent as JSON; other kinds get a 415 naming the
kind; a broken body gets a 400. (helm's release storage is the real client of this: tests/chart.)"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from kube_sandbox import testing
from tests.sandbox import rawhttp

PROTOBUF = "application/vnd.kubernetes.protobuf"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _entry(number: int, key: str, value: bytes | str) -> bytes:
    return _field(number, _field(1, key) + _field(2, value))


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + _field(1, _field(1, api_version) + _field(2, kind)) + _field(2, raw)


def _meta(name: str, **labels: str) -> bytes:
    return _field(1, name) + b"".join(_entry(11, k, v) for k, v in labels.items())


@pytest.fixture
def api() -> Iterator[rawhttp.Api]:
    with testing.Sandbox(ready_delay=0.05, seed=3) as sandbox:
        yield rawhttp.Api(sandbox.base_url)


def test_a_secret_sent_as_protobuf_is_stored_as_its_json_twin(api: rawhttp.Api) -> None:
    secret = _field(1, _meta("release.v1", owner="helm", status="deployed"))
    secret += _entry(2, "release", b"\x00\xffbinary") + _field(3, "helm.sh/release.v1") + _field(5, 1)
    reply = api.request("POST", "/api/v1/namespaces/default/secrets", raw=_envelope("v1", "Secret", secret),
                        content_type=PROTOBUF)  # fmt: skip
    assert reply.status == 201, reply.body
    stored = api.get("/api/v1/namespaces/default/secrets/release.v1").body
    assert stored["metadata"]["labels"] == {"owner": "helm", "status": "deployed"}
    assert stored["data"] == {"release": base64.b64encode(b"\x00\xffbinary").decode()}
    assert (stored["type"], stored["immutable"]) == ("helm.sh/release.v1", True)


def test_a_config_map_and_delete_options_sent_as_protobuf(api: rawhttp.Api) -> None:
    config_map = _field(1, _meta("settings")) + _entry(2, "mode", "fast") + _entry(3, "blob", b"\x01\x02")
    reply = api.request("POST", "/api/v1/namespaces/default/configmaps",
                        raw=_envelope("v1", "ConfigMap", config_map), content_type=PROTOBUF)  # fmt: skip
    assert reply.status == 201, reply.body
    assert reply.body["data"] == {"mode": "fast"} and reply.body["binaryData"] == {"blob": "AQI="}
    options = _field(4, "Foreground") + _field(5, "All")  # dry run: nothing is deleted
    reply = api.request("DELETE", "/api/v1/namespaces/default/configmaps/settings",
                        raw=_envelope("meta.k8s.io/v1", "DeleteOptions", options), content_type=PROTOBUF)  # fmt: skip
    assert reply.status == 200, reply.body
    assert api.get("/api/v1/namespaces/default/configmaps/settings").status == 200
    reply = api.request("DELETE", "/api/v1/namespaces/default/configmaps/settings",
                        raw=_envelope("v1", "DeleteOptions", b""), content_type=PROTOBUF)  # fmt: skip
    assert reply.status == 200, reply.body
    assert api.get("/api/v1/namespaces/default/configmaps/settings").status == 404


BROKEN = [
    pytest.param(_envelope("apps/v1", "Deployment", _field(1, _meta("web"))), 415, "apps/v1/Deployment", id="other-kind"),
    pytest.param(b"k8s\x00" + _field(2, b"")[:-1] + b"\x0a\x05ab", 400, "runs past the end", id="truncated"),
    pytest.param(b'{"kind": "Secret"}', 400, "magic bytes", id="json-labelled-protobuf"),
    pytest.param(_envelope("v1", "Secret", _field(1, _field(1, b"\xff\xfe"))), 400, "not UTF-8", id="bad-utf8-name"),
]


@pytest.mark.parametrize(("body", "status", "message"), BROKEN)
def test_bodies_the_sandbox_cannot_read_are_refused_with_a_reason(
    api: rawhttp.Api, body: bytes, status: int, message: str
) -> None:
    reply = api.request("POST", "/api/v1/namespaces/default/secrets", raw=body, content_type=PROTOBUF)
    assert reply.status == status, reply.body
    assert reply.body["kind"] == "Status" and message in reply.body["message"]

"""Credential masking (`scalers.url_masking`) and client TLS contexts from PEM parameters
(`scalers.tls_contexts`), used by the `rabbitmq` and `kafka` scalers. The certificates are made by a real
`openssl` in a temporary directory."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from scalers import tls_contexts, url_masking


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        pytest.param(
            "dial amqp://guest:s3cret@host:5672/", [], "dial amqp://user:password@host:5672/", id="userinfo"
        ),
        pytest.param(
            "a http://u:p@h/x and amqp://v:q@k/",
            [],
            "a http://user:password@h/x and amqp://user:password@k/",
            id="several",
        ),
        pytest.param(
            "login with s3cret failed", ["s3cret"], "login with [redacted] failed", id="bare-secret"
        ),
        pytest.param("http://u:p%2Fw@h/", ["p/w"], "http://user:password@h/", id="percent-encoded-in-url"),
        pytest.param("token=p%2Fw", ["p/w"], "token=[redacted]", id="percent-encoded-alone"),
        pytest.param("nothing here", ["", None], "nothing here", id="empty-secrets-ignored"),
    ],
)
def test_mask(text: str, secrets: list[str | None], expected: str) -> None:
    assert url_masking.mask(text, secrets) == expected


def test_without_userinfo() -> None:
    assert url_masking.without_userinfo("http://u:p@h:1/x?y") == "http://h:1/x?y"
    assert url_masking.without_userinfo("http://h/") == "http://h/"


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("pem")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=ebb-test",
        ],
        check=True,
        capture_output=True,
    )
    return {"key": Path(key).read_text(), "cert": Path(cert).read_text()}


def test_client_context_with_ca_and_client_certificate(pem: dict[str, str]) -> None:
    material = tls_contexts.TLSMaterial(ca=pem["cert"], cert=pem["cert"], key=pem["key"])
    context = tls_contexts.client_context(material)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert any(c.get("subject") == ((("commonName", "ebb-test"),),) for c in context.get_ca_certs())


def test_unsafe_ssl_skips_verification() -> None:
    context = tls_contexts.client_context(tls_contexts.TLSMaterial(unsafe_ssl=True))
    assert context.verify_mode is ssl.CERT_NONE and not context.check_hostname


@pytest.mark.parametrize(
    ("field", "message"),
    [
        pytest.param("ca", "ca: not a valid PEM certificate", id="bad-ca"),
        pytest.param("key", "cert/key: the client certificate could not be loaded", id="bad-key"),
    ],
)
def test_bad_material_names_the_parameter_not_the_content(
    pem: dict[str, str], field: str, message: str
) -> None:
    values = {
        "cert": pem["cert"],
        "key": pem["key"],
        field: "-----BEGIN JUNK-----\nSECRETSTUFF\n-----END JUNK-----\n",
    }
    material = (
        tls_contexts.TLSMaterial(**values) if field != "ca" else tls_contexts.TLSMaterial(ca=values["ca"])
    )
    with pytest.raises(tls_contexts.TLSMaterialError) as caught:
        tls_contexts.client_context(material)
    assert str(caught.value).startswith(message) and "SECRETSTUFF" not in str(caught.value)

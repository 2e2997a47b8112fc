"""Client TLS contexts built from the PEM material KEDA puts in TriggerAuthentication parameters.

KEDA's `ca`, `cert`, `key` and `keyPassword` hold PEM *contents*, not paths. Python's `ssl` loads a client
certificate only from files, so the certificate and key go to a private temporary directory just long
enough to be loaded. Errors never quote the material.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
import tempfile


class TLSMaterialError(ValueError):
    """The PEM material could not be loaded. The message names the parameter, never its content."""


@dataclasses.dataclass(frozen=True)
class TLSMaterial:
    """What a trigger gave for TLS (all optional). `unsafe_ssl` skips certificate verification."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    key_password: str | None = None
    unsafe_ssl: bool = False


def client_context(material: TLSMaterial) -> ssl.SSLContext:
    """A client context: system roots plus `ca`, the client certificate if given, verification per
    `unsafe_ssl` (KEDA's InsecureSkipVerify). Raises `TLSMaterialError`."""
    context = ssl.create_default_context()
    if material.ca:
        try:
            context.load_verify_locations(cadata=material.ca)
        except (ssl.SSLError, ValueError) as error:
            raise TLSMaterialError(f"ca: not a valid PEM certificate ({type(error).__name__})") from None
    if material.unsafe_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if material.cert and material.key:
        with tempfile.TemporaryDirectory(prefix="ebb-tls-") as directory:
            cert_path = os.path.join(directory, "cert.pem")
            key_path = os.path.join(directory, "key.pem")
            for path, text in ((cert_path, material.cert), (key_path, material.key)):
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(text)
            try:
                context.load_cert_chain(cert_path, key_path, password=material.key_password or None)
            except (ssl.SSLError, ValueError, OSError) as error:
                reason = getattr(error, "reason", None) or type(error).__name__
                raise TLSMaterialError(
                    f"cert/key: the client certificate could not be loaded ({reason})"
                ) from None
    return context

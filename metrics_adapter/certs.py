"""Certificates: the self-signed serving certificate, a small CA for the operator's APIService, and the
checks of client certificates against a CA bundle (which CA issued it decides what it may assert).

Built on `cryptography`. PEM in and out; nothing here reads or writes files except `write_pair`.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import pathlib
from collections.abc import Sequence

from cryptography import exceptions, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=365)


@dataclasses.dataclass(frozen=True)
class Pair:
    """A certificate and its private key, PEM."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _sans(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def authority(common_name: str, *, now: datetime.datetime | None = None) -> Pair:
    """A self-signed CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = (now or datetime.datetime.now(datetime.UTC)) - datetime.timedelta(minutes=5)
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Pair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue(
    ca: Pair,
    common_name: str,
    *,
    organizations: Sequence[str] = (),
    hosts: Sequence[str] = (),
    client: bool = False,
    now: datetime.datetime | None = None,
) -> Pair:
    """A leaf certificate signed by `ca`: a serving certificate for `hosts`, or a client certificate
    (`client=True`; CN = user, O = groups, as Kubernetes reads them)."""
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    start = (now or datetime.datetime.now(datetime.UTC)) - datetime.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organizations))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName(_sans(hosts)), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return Pair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def self_signed_serving(hosts: Sequence[str] = ("localhost", "127.0.0.1")) -> tuple[Pair, Pair]:
    """What the Go server generates when no certificate is given: a CA and a serving certificate for
    `hosts` signed by it. Returns (ca, serving); the CA's PEM is the APIService's caBundle."""
    ca = authority(f"{hosts[0]}-ca@ebb" if hosts else "ebb-ca")
    return ca, issue(ca, hosts[0] if hosts else "localhost", hosts=hosts)


def write_pair(pair: Pair, directory: pathlib.Path, stem: str) -> tuple[pathlib.Path, pathlib.Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(pair.cert_pem)
    key_path.touch(mode=0o600)
    key_path.write_bytes(pair.key_pem)
    return cert_path, key_path


def load_bundle(pem: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle (an empty bundle gives none)."""
    if not pem.strip():
        return []
    return list(x509.load_pem_x509_certificates(pem))


def issued_by(cert: x509.Certificate, bundle: Sequence[x509.Certificate], *, now: datetime.datetime) -> bool:
    """Whether one of `bundle`'s CAs signed `cert` directly and `cert` is within its validity period."""
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return False
    for ca in bundle:
        if ca.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, exceptions.InvalidSignature):
            continue
        return True
    return False


def common_name(cert: x509.Certificate) -> str:
    found = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(found[0].value) if found else ""


def organizations(cert: x509.Certificate) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]

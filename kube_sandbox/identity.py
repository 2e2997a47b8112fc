"""Who is calling: the sandbox's certificate authorities, ServiceAccount tokens and bearer-token authentication.

As kube-apiserver, the sandbox has
* a client CA (published as `client-ca-file`; the sandbox itself serves plain HTTP, so nobody presents
  client certificates to it, but aggregated servers read the key);
* a front-proxy CA and its client certificate (CN `front-proxy-client`, kubeadm's name), with which the
  aggregation layer calls aggregated API servers; both published in ConfigMap
  `kube-system/extension-apiserver-authentication` exactly as kube-apiserver writes it;
* a ServiceAccount signing key: tokens are ES256 JWTs with the claims kube-apiserver puts in bound
  tokens (issuer, audiences, `kubernetes.io` namespace/serviceaccount, expiry), issued by the TokenRequest
  subresource (`POST …/serviceaccounts/NAME/token`) and checked on every request and by TokenReview;
* an admin identity (`system:admin` in `system:masters`) for the harness: the kubeconfig's token.

Keys are ECDSA P-256 (generated in milliseconds, so a sandbox per test stays cheap). Tokens and keys are
secrets: never logged, never echoed back.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import ssl
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
import trustme
from cryptography.hazmat.primitives import serialization

from kube_sandbox import storage

ISSUER = "https://kubernetes.default.svc.cluster.local"
# The admin token of a sandbox started without --token (what its kubeconfig carries).
DEFAULT_ADMIN_TOKEN = "sandbox"
# kube-apiserver's --api-audiences defaults to the issuer.
API_AUDIENCES: tuple[str, ...] = (ISSUER,)
DEFAULT_TOKEN_SECONDS = 3600
MIN_TOKEN_SECONDS = 600
FRONT_PROXY_CN = "front-proxy-client"
AGGREGATOR_USER = "system:kube-aggregator"

AUTH_CONFIGMAP_NAMESPACE = "kube-system"
AUTH_CONFIGMAP_NAME = "extension-apiserver-authentication"
USERNAME_HEADERS: tuple[str, ...] = ("X-Remote-User",)
UID_HEADERS: tuple[str, ...] = ("X-Remote-Uid",)
GROUP_HEADERS: tuple[str, ...] = ("X-Remote-Group",)
EXTRA_HEADER_PREFIXES: tuple[str, ...] = ("X-Remote-Extra-",)

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"


@dataclass(frozen=True)
class User:
    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {"username": self.username, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


ADMIN = User("system:admin", groups=(MASTERS, AUTHENTICATED))
ANONYMOUS = User("system:anonymous", groups=(UNAUTHENTICATED,))
AGGREGATOR = User(AGGREGATOR_USER, groups=(MASTERS,))


class TokenError(Exception):
    """A token that does not authenticate; the message says why (and never contains the token)."""


def service_account_user(namespace: str, name: str, uid: str, credential_id: str = "") -> User:
    extra = {"authentication.kubernetes.io/credential-id": (f"JTI={credential_id}",)} if credential_id else {}
    return User(f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}", uid,
                ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED), extra)


def certificate_user(peer: Mapping[str, Any]) -> User | None:
    """The user a verified client certificate names (`ssl.SSLSocket.getpeercert()` form): CN, O's."""
    subject = [pair for rdn in peer.get("subject", ()) for pair in rdn]
    name = next((value for key, value in subject if key == "commonName"), None)
    if not name:
        return None
    groups = tuple(value for key, value in subject if key == "organizationName")
    return User(str(name), groups=(*groups, AUTHENTICATED))


def split_service_account(username: str) -> tuple[str, str] | None:
    """(namespace, name) of `system:serviceaccount:NS:NAME`, else None."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    namespace, _, name = username[len(SERVICE_ACCOUNT_PREFIX):].partition(":")
    return (namespace, name) if namespace and name else None


# A ServiceAccount record by namespace and name (the authenticator checks the token's account still exists).
AccountLookup = Callable[[str, str], "storage.Record | None"]


class Authority:
    """The sandbox's CAs, front-proxy client certificate and ServiceAccount signing key."""

    def __init__(self) -> None:
        self.client_ca = trustme.CA(organization_name="ebb-sandbox", organization_unit_name="kubernetes-ca")
        self.front_proxy_ca = trustme.CA(organization_name="ebb-sandbox", organization_unit_name="front-proxy-ca")
        self.front_proxy_client = self.front_proxy_ca.issue_cert(FRONT_PROXY_CN, common_name=FRONT_PROXY_CN)
        self._serving: trustme.LeafCert | None = None
        signing = trustme.CA(organization_name="ebb-sandbox", organization_unit_name="service-account-signer")
        self._signing_key_pem = signing.private_key_pem.bytes()
        private = serialization.load_pem_private_key(self._signing_key_pem, password=None)
        public_der = private.public_key().public_bytes(serialization.Encoding.DER,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
        self._public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        self.key_id = base64.urlsafe_b64encode(hashlib.sha256(public_der).digest()).decode().rstrip("=")

    # --- serving and client certificates ------------------------------------------------------------------

    def serving_context(self) -> ssl.SSLContext:
        """kube-apiserver's TLS: a serving certificate from the cluster CA (kubeadm's SANs), and client
        certificates signed by the client CA accepted as identities (CN = user, O = groups)."""
        if self._serving is None:
            self._serving = self.client_ca.issue_cert(
                "127.0.0.1", "::1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local", common_name="kube-apiserver")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._serving.configure_cert(context)
        context.verify_mode = ssl.CERT_OPTIONAL
        self.client_ca.configure_trust(context)
        return context

    def client_certificate(self, user: str, group: str | None = None) -> tuple[str, str]:
        """(certificate PEM, key PEM) of a client certificate for USER (in GROUP) from the client CA."""
        leaf = self.client_ca.issue_cert(user, common_name=user, organization_name=group)
        return leaf.cert_chain_pems[0].bytes().decode(), leaf.private_key_pem.bytes().decode()

    def trusting_context(self) -> ssl.SSLContext:
        """A client context that trusts the sandbox's serving certificate."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self.client_ca.configure_trust(context)
        return context

    # --- published trust ----------------------------------------------------------------------------

    def client_ca_pem(self) -> str:
        return self.client_ca.cert_pem.bytes().decode()

    def front_proxy_ca_pem(self) -> str:
        return self.front_proxy_ca.cert_pem.bytes().decode()

    def authentication_configmap_data(self) -> dict[str, str]:
        """`kube-system/extension-apiserver-authentication` data as kube-apiserver writes it (JSON lists)."""
        return {
            "client-ca-file": self.client_ca_pem(),
            "requestheader-allowed-names": json.dumps([FRONT_PROXY_CN]),
            "requestheader-client-ca-file": self.front_proxy_ca_pem(),
            "requestheader-extra-headers-prefix": json.dumps(list(EXTRA_HEADER_PREFIXES)),
            "requestheader-group-headers": json.dumps(list(GROUP_HEADERS)),
            "requestheader-uid-headers": json.dumps(list(UID_HEADERS)),
            "requestheader-username-headers": json.dumps(list(USERNAME_HEADERS)),
        }

    # --- ServiceAccount tokens -----------------------------------------------------------------------

    def issue_token(self, account: Mapping[str, Any], *, audiences: Sequence[str] = API_AUDIENCES,
                    seconds: int = DEFAULT_TOKEN_SECONDS, now: datetime.datetime) -> tuple[str, datetime.datetime]:
        """A bound token for the ServiceAccount object `account`, and when it expires."""
        meta = account["metadata"]
        expires = now + datetime.timedelta(seconds=seconds)
        claims = {
            "aud": list(audiences),
            "exp": int(expires.timestamp()),
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {"namespace": meta["namespace"],
                              "serviceaccount": {"name": meta["name"], "uid": meta["uid"]}},
            "sub": f"{SERVICE_ACCOUNT_PREFIX}{meta['namespace']}:{meta['name']}",
        }
        token = jwt.encode(claims, self._signing_key_pem, algorithm="ES256", headers={"kid": self.key_id})
        return token, expires

    def verify_token(self, token: str, lookup: AccountLookup, *,
                     audiences: Sequence[str] = API_AUDIENCES) -> tuple[User, tuple[str, ...]]:
        """The ServiceAccount user a token stands for and the audiences it matched; TokenError if none."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("invalid bearer token") from None
        if header.get("kid") != self.key_id:
            raise TokenError("invalid bearer token, token signed by an unknown key")
        try:
            claims = jwt.decode(token, self._public_pem, algorithms=["ES256"], issuer=ISSUER,
                                options={"verify_aud": False, "require": ["exp", "iss", "sub"]})
        except jwt.ExpiredSignatureError:
            raise TokenError("invalid bearer token, service account token has expired") from None
        except jwt.PyJWTError as exc:
            raise TokenError(f"invalid bearer token, {exc}") from None
        token_audiences = claims.get("aud")
        if isinstance(token_audiences, str):
            token_audiences = [token_audiences]
        matched = tuple(a for a in audiences if a in (token_audiences or []))
        if not matched:
            raise TokenError("invalid bearer token, token audiences "
                             f"{json.dumps(token_audiences)} is invalid for the target audiences {json.dumps(list(audiences))}")
        bound = claims.get("kubernetes.io") or {}
        namespace = str(bound.get("namespace", ""))
        account = bound.get("serviceaccount") or {}
        name, uid = str(account.get("name", "")), str(account.get("uid", ""))
        record = lookup(namespace, name)
        if record is None:
            raise TokenError(f'invalid bearer token, serviceaccounts "{name}" not found')
        if record.obj["metadata"]["uid"] != uid:
            raise TokenError(f"invalid bearer token, service account UID ({uid}) does not match claim "
                             f"({record.obj['metadata']['uid']})")
        return service_account_user(namespace, name, uid, str(claims.get("jti", ""))), matched


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())

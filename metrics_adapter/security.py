"""Authentication and authorization as Kubernetes' generic API server does them for an aggregated server.

`AuthConfig` holds what the `--requestheader-*`, `--client-ca-file` and `--authorization-always-allow-paths`
flags say, each unset one taken from ConfigMap `kube-system/extension-apiserver-authentication` (`resolve`).

`Authenticator.authenticate` tries, in the Go server's order:
1. request headers (`X-Remote-User`, `X-Remote-Group`, `X-Remote-Extra-*`), trusted only when the TLS
   client certificate was issued by the request-header CA and its CN is an allowed name (an empty list
   allows any CN); from any other caller the headers are ignored;
2. a client certificate issued by the client CA: CN is the user, O the groups;
3. a bearer token, checked with a TokenReview (answers cached 10 s, as the Go webhook does).
Authenticated users get the group `system:authenticated`.

`Authorizer.authorize` allows the always-allowed paths and the group `system:masters`; everything else
is a SubjectAccessReview (verb `list` on resource = the metric in `external.metrics.k8s.io`, or a
non-resource path), each answer, allowed or denied, cached 10 s.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from cryptography import x509

from metrics_adapter import answers, certs

AUTH_CONFIG_MAP_NAMESPACE = "kube-system"
AUTH_CONFIG_MAP_NAME = "extension-apiserver-authentication"
DEFAULT_ALWAYS_ALLOW_PATHS = ("/healthz", "/readyz", "/livez")
ALWAYS_ALLOW_GROUPS = ("system:masters",)
AUTHENTICATED_GROUP = "system:authenticated"
CACHE_SECONDS = 10.0
CERTIFICATE_CACHE_SIZE = 4096


class ConfigError(Exception):
    """A flag or the ConfigMap says something unusable; the message names which and what was expected."""


@dataclasses.dataclass(frozen=True)
class AuthConfig:
    client_ca: tuple[x509.Certificate, ...] = ()
    requestheader_ca: tuple[x509.Certificate, ...] = ()
    requestheader_allowed_names: tuple[str, ...] = ()
    username_headers: tuple[str, ...] = ()
    group_headers: tuple[str, ...] = ()
    extra_headers_prefixes: tuple[str, ...] = ()
    always_allow_paths: tuple[str, ...] = DEFAULT_ALWAYS_ALLOW_PATHS
    client_ca_pem: bytes = b""
    requestheader_ca_pem: bytes = b""

    def trust_pem(self) -> bytes:
        """Every CA a client certificate may come from (what the TLS layer asks clients for)."""
        return self.client_ca_pem + b"\n" + self.requestheader_ca_pem


@dataclasses.dataclass(frozen=True)
class Flags:
    """The flags as given (None: not given, take the ConfigMap's value)."""

    client_ca_file: str | None = None
    requestheader_client_ca_file: str | None = None
    requestheader_allowed_names: tuple[str, ...] | None = None
    requestheader_username_headers: tuple[str, ...] | None = None
    requestheader_group_headers: tuple[str, ...] | None = None
    requestheader_extra_headers_prefix: tuple[str, ...] | None = None
    always_allow_paths: tuple[str, ...] = DEFAULT_ALWAYS_ALLOW_PATHS


def _json_list(data: Mapping[str, str], key: str) -> tuple[str, ...] | None:
    raw = data.get(key)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"ConfigMap {AUTH_CONFIG_MAP_NAMESPACE}/{AUTH_CONFIG_MAP_NAME}: data.{key} must be a JSON list of "
            f"strings, got {raw[:80]!r}"
        )
    return tuple(value)


def _bundle(pem: bytes, where: str) -> tuple[x509.Certificate, ...]:
    try:
        return tuple(certs.load_bundle(pem))
    except ValueError as error:
        raise ConfigError(f"{where}: expected PEM certificates: {error}") from None


def resolve(flags: Flags, config_map: Mapping[str, Any] | None, read_file: Callable[[str], bytes]) -> AuthConfig:
    """The effective configuration: each flag given wins, else the ConfigMap's key, else none (as Go)."""
    data: Mapping[str, str] = (config_map or {}).get("data") or {}
    where_cm = f"ConfigMap {AUTH_CONFIG_MAP_NAMESPACE}/{AUTH_CONFIG_MAP_NAME}"

    def pem(flag_path: str | None, flag: str, key: str) -> tuple[bytes, str]:
        if flag_path is not None:
            try:
                return read_file(flag_path), f"{flag} {flag_path}"
            except OSError as error:
                raise ConfigError(f"{flag}: cannot read {flag_path}: {error.strerror}") from None
        return data.get(key, "").encode(), f"{where_cm} data.{key}"

    client_pem, client_where = pem(flags.client_ca_file, "--client-ca-file", "client-ca-file")
    header_pem, header_where = pem(
        flags.requestheader_client_ca_file, "--requestheader-client-ca-file", "requestheader-client-ca-file"
    )

    def listed(flag_value: tuple[str, ...] | None, key: str) -> tuple[str, ...]:
        if flag_value is not None:
            return tuple(v for v in flag_value if v)
        return _json_list(data, key) or ()

    return AuthConfig(
        client_ca=_bundle(client_pem, client_where),
        requestheader_ca=_bundle(header_pem, header_where),
        requestheader_allowed_names=listed(flags.requestheader_allowed_names, "requestheader-allowed-names"),
        username_headers=listed(flags.requestheader_username_headers, "requestheader-username-headers"),
        group_headers=listed(flags.requestheader_group_headers, "requestheader-group-headers"),
        extra_headers_prefixes=listed(flags.requestheader_extra_headers_prefix, "requestheader-extra-headers-prefix"),
        always_allow_paths=flags.always_allow_paths,
        client_ca_pem=client_pem,
        requestheader_ca_pem=header_pem,
    )


@dataclasses.dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()
    uid: str = ""
    via: str = ""  # how it was authenticated: "request-header", "client-certificate", "token"


class ReviewApi(Protocol):
    """The two API calls delegated authentication and authorization make (`scaler.operator.kube.ApiKube`)."""

    async def create_token_review(self, token: str) -> dict[str, Any]: ...

    async def create_subject_access_review(self, spec: Mapping[str, Any]) -> dict[str, Any]: ...


class Unauthorized(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class _Checked:
    front_proxy: bool  # issued by the request-header CA, with an allowed CN
    client: User | None  # issued by the client CA: this user
    valid_until: datetime.datetime


class _TtlCache:
    def __init__(self, seconds: float, clock: Callable[[], float], limit: int = 10_000) -> None:
        self.seconds, self._clock, self._limit = seconds, clock, limit
        self._items: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> Any:
        found = self._items.get(key)
        if found is None:
            return None
        if found[0] < self._clock():
            del self._items[key]
            return None
        return found[1]

    def put(self, key: Any, value: Any) -> None:
        if len(self._items) >= self._limit:
            now = self._clock()
            self._items = {k: v for k, v in self._items.items() if v[0] >= now}
            if len(self._items) >= self._limit:
                self._items.clear()
        self._items[key] = (self._clock() + self.seconds, value)


class Authenticator:
    def __init__(
        self,
        config: AuthConfig,
        api: ReviewApi,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
    ) -> None:
        self.config = config
        self._api = api
        self._tokens = _TtlCache(CACHE_SECONDS, clock)
        self._wall = wall_clock
        self._certificates: dict[bytes, _Checked] = {}
        self.token_reviews = 0

    def _checked(self, der: bytes) -> _Checked:
        """What a client certificate proves, verified once per certificate and kept until it expires
        (the signature checks are most of a request's cost otherwise)."""
        now = self._wall()
        found = self._certificates.get(der)
        if found is not None and found.valid_until >= now:
            return found
        cert = x509.load_der_x509_certificate(der)
        config = self.config
        allowed = config.requestheader_allowed_names
        front_proxy = (
            bool(config.requestheader_ca and config.username_headers)
            and certs.issued_by(cert, config.requestheader_ca, now=now)
            and (not allowed or certs.common_name(cert) in allowed)
        )
        client = None
        if config.client_ca and certs.issued_by(cert, config.client_ca, now=now):
            client = User(
                name=certs.common_name(cert),
                groups=_with_authenticated(certs.organizations(cert)),
                via="client-certificate",
            )
        checked = _Checked(front_proxy=front_proxy, client=client, valid_until=cert.not_valid_after_utc)
        if len(self._certificates) >= CERTIFICATE_CACHE_SIZE:
            self._certificates.clear()
        self._certificates[der] = checked
        return checked

    def _from_headers(self, headers: Mapping[str, str], all_values: Callable[[str], list[str]]) -> User | None:
        config = self.config
        name = next((headers[h] for h in config.username_headers if headers.get(h)), "")
        if not name:
            return None
        groups = [g for h in config.group_headers for g in all_values(h)]
        extra: dict[str, list[str]] = {}
        lowered = [p.lower() for p in config.extra_headers_prefixes]
        for header in headers:
            for prefix in lowered:
                if header.lower().startswith(prefix):
                    key = _unescape(header[len(prefix):].lower())
                    extra.setdefault(key, []).extend(all_values(header))
        return User(
            name=name,
            groups=_with_authenticated(groups),
            extra=tuple(sorted((k, tuple(v)) for k, v in extra.items())),
            uid=headers.get("X-Remote-Uid", ""),
            via="request-header",
        )

    async def authenticate(
        self, peer_cert_der: bytes | None, headers: Mapping[str, str], all_values: Callable[[str], list[str]]
    ) -> User | None:
        """The caller's identity, or None when it presented no credentials. Raises Unauthorized for
        credentials that are present but invalid (a token the TokenReview rejects)."""
        if peer_cert_der:
            checked = self._checked(peer_cert_der)
            if checked.front_proxy:
                user = self._from_headers(headers, all_values)
                if user is not None:
                    return user
            if checked.client is not None:
                return checked.client
        authorization = headers.get("Authorization", "")
        if authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
            if token:
                return await self._token(token)
        return None

    async def _token(self, token: str) -> User:
        cached = self._tokens.get(token)
        if cached is None:
            self.token_reviews += 1
            status = await self._api.create_token_review(token)
            cached = _reviewed(status)
            self._tokens.put(token, cached)
        if isinstance(cached, User):
            return cached
        raise Unauthorized(str(cached))


def _reviewed(status: Mapping[str, Any]) -> User | str:
    if not status.get("authenticated"):
        return str(status.get("error") or "token not authenticated")
    info = status.get("user") or {}
    extra = info.get("extra") or {}
    return User(
        name=str(info.get("username") or ""),
        groups=_with_authenticated([str(g) for g in info.get("groups") or []]),
        extra=tuple(sorted((str(k), tuple(str(x) for x in v)) for k, v in extra.items())),
        uid=str(info.get("uid") or ""),
        via="token",
    )


def _with_authenticated(groups: Sequence[str]) -> tuple[str, ...]:
    found = [g for g in groups if g]
    if AUTHENTICATED_GROUP not in found:
        found.append(AUTHENTICATED_GROUP)
    return tuple(found)


def _unescape(key: str) -> str:
    return urllib.parse.unquote(key)


@dataclasses.dataclass(frozen=True)
class Attributes:
    """What a request asks to do: a resource (the metric) in a namespace, or a non-resource path."""

    verb: str
    path: str
    resource: str | None = None
    namespace: str | None = None

    def sar_spec(self, user: User) -> dict[str, Any]:
        spec: dict[str, Any] = {"user": user.name, "groups": list(user.groups)}
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra}
        if self.resource is not None:
            spec["resourceAttributes"] = {
                "namespace": self.namespace or "",
                "verb": self.verb,
                "group": answers.GROUP,
                "version": answers.VERSION,
                "resource": self.resource,
            }
        else:
            spec["nonResourceAttributes"] = {"path": self.path, "verb": self.verb}
        return spec

    def forbidden_message(self, user: User, reason: str) -> str:
        if self.resource is not None:
            text = (
                f'{self.resource}.{answers.GROUP} is forbidden: User "{user.name}" cannot {self.verb} resource '
                f'"{self.resource}" in API group "{answers.GROUP}" in the namespace "{self.namespace}"'
            )
        else:
            text = f'forbidden: User "{user.name}" cannot {self.verb} path "{self.path}"'
        return f"{text}: {reason}" if reason else text


class Authorizer:
    def __init__(self, api: ReviewApi, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._api = api
        self._answers = _TtlCache(CACHE_SECONDS, clock)
        self.reviews = 0

    async def authorize(self, user: User, attributes: Attributes) -> tuple[bool, str]:
        """(allowed, reason). The API's errors propagate (the server answers 500)."""
        if any(g in ALWAYS_ALLOW_GROUPS for g in user.groups):
            return True, ""
        key = (user, attributes)
        cached = self._answers.get(key)
        if cached is None:
            self.reviews += 1
            status = await self._api.create_subject_access_review(attributes.sar_spec(user))
            allowed = bool(status.get("allowed")) and not status.get("denied")
            cached = (allowed, str(status.get("reason") or status.get("evaluationError") or ""))
            self._answers.put(key, cached)
        allowed, reason = cached
        return bool(allowed), str(reason)


def always_allowed(path: str, config: AuthConfig) -> bool:
    """`--authorization-always-allow-paths`: exact paths, or prefixes ending in `*`."""
    for allowed in config.always_allow_paths:
        if allowed.endswith("*") and path.startswith(allowed[:-1]):
            return True
        if path == allowed:
            return True
    return False

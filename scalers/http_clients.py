"""HTTP plumbing shared by the HTTP scalers (`prometheus`, `metrics-api`): KEDA's auth parameters and
modes, the request and response values, and the fetch over shared aiohttp sessions.

The scalers keep their request building and response reading pure (`Request` in, `Response` out) and do
their one I/O through a `Fetch` callable, so tests can inject a source and the operator shares sessions:
`SessionFetch` asks `scalers.connections.SharedClients` for one `aiohttp.ClientSession` per TLS setting
(unsafeSsl, client certificate, CA), so every trigger that talks HTTP with the same TLS setup shares one
connection pool, and the last trigger to close releases it.

Auth follows KEDA's `authentication.Config`: `authModes` (alias `authMode`, from metadata or the
TriggerAuthentication) lists any of `apiKey, basic, tls, bearer, custom, oauth`, at most one of
`bearer, basic, oauth`; the credentials come from the TriggerAuthentication parameters (`apiKey`,
`method` and `keyParamName` may also be in metadata). `oauth` is declared but not supported by Ebb.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import os
import re
import ssl
import tempfile
import urllib.parse
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence

import aiohttp
import yarl

from scalers import base, connections, params, url_masking


class AuthMode(str, enum.Enum):
    API_KEY = "apiKey"
    BASIC = "basic"
    TLS = "tls"
    BEARER = "bearer"
    CUSTOM = "custom"
    OAUTH = "oauth"


_EXCLUSIVE = (AuthMode.BEARER, AuthMode.BASIC, AuthMode.OAUTH)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AuthParams:
    """KEDA's shared HTTP auth parameters; scalers' params dataclasses inherit these fields."""

    auth_modes: Sequence[str] = params.param(
        "authModes",
        aliases=["authMode"],
        sources=params.METADATA_AUTH,
        default=[],
        doc="comma-separated auth modes: apiKey, basic, tls, bearer, custom (oauth is not supported)",
    )
    bearer_token: str | None = params.param(
        "bearerToken",
        aliases=["token"],
        sources=params.AUTH_ONLY,
        default=None,
        secret=True,
        doc="token for authModes bearer (sent as `Authorization: Bearer <token>`)",
    )
    username: str | None = params.param(
        "username", sources=params.AUTH_ONLY, default=None, doc="user for authModes basic"
    )
    password: str | None = params.param(
        "password",
        sources=params.AUTH_ONLY,
        default=None,
        secret=True,
        doc="password for authModes basic (optional)",
    )
    cert: str | None = params.param(
        "cert", sources=params.AUTH_ONLY, default=None, doc="PEM client certificate for authModes tls"
    )
    key: str | None = params.param(
        "key", sources=params.AUTH_ONLY, default=None, secret=True, doc="PEM private key for authModes tls"
    )
    ca: str | None = params.param(
        "ca", sources=params.AUTH_ONLY, default=None, doc="PEM CA bundle to verify the server with"
    )
    custom_auth_header: str | None = params.param(
        "customAuthHeader", sources=params.AUTH_ONLY, default=None, doc="header name for authModes custom"
    )
    custom_auth_value: str | None = params.param(
        "customAuthValue",
        sources=params.AUTH_ONLY,
        default=None,
        secret=True,
        doc="header value for authModes custom",
    )
    api_key: str | None = params.param(
        "apiKey", sources=params.METADATA_AUTH, default=None, secret=True, doc="key for authModes apiKey"
    )
    api_key_method: str = params.param(
        "method",
        sources=params.METADATA_AUTH,
        default="header",
        choices=["header", "query"],
        doc="how the API key is sent: header (default `X-API-KEY`) or query (default `api_key`)",
    )
    key_param_name: str | None = params.param(
        "keyParamName",
        sources=params.METADATA_AUTH,
        default=None,
        doc="header or query parameter name for the API key",
    )

    @property
    def modes(self) -> frozenset[AuthMode]:
        return frozenset(AuthMode(m) for m in self.auth_modes if m in _MODE_VALUES)

    def auth_problems(self) -> list[base.ParamProblem]:
        """KEDA's auth rules: known modes, at most one of bearer/basic/oauth, each mode's parameters."""
        problems: list[base.ParamProblem] = []
        field = "metadata.authModes"
        unknown = [m for m in self.auth_modes if m not in _MODE_VALUES]
        for mode in unknown:
            allowed = ", ".join(m.value for m in AuthMode)
            problems.append(
                base.ParamProblem(field, f'unknown auth mode "{mode}"; expected any of {allowed}')
            )
        modes = self.modes
        exclusive = [m.value for m in _EXCLUSIVE if m in modes]
        if len(exclusive) > 1:
            problems.append(
                base.ParamProblem(
                    field, f"at most one of bearer, basic, oauth may be set, got {', '.join(exclusive)}"
                )
            )
        needs: list[tuple[AuthMode, str, str | None]] = [
            (AuthMode.BEARER, "bearerToken", self.bearer_token),
            (AuthMode.BASIC, "username", self.username),
            (AuthMode.TLS, "cert", self.cert),
            (AuthMode.TLS, "key", self.key),
            (AuthMode.CUSTOM, "customAuthHeader", self.custom_auth_header),
            (AuthMode.CUSTOM, "customAuthValue", self.custom_auth_value),
            (AuthMode.API_KEY, "apiKey", self.api_key),
        ]
        for mode, key, value in needs:
            if mode in modes and not value:
                problems.append(
                    base.ParamProblem(
                        f"authenticationRef.{key}", f'authModes {mode.value} needs the parameter "{key}"'
                    )
                )
        if AuthMode.OAUTH in modes:
            problems.append(base.ParamProblem(field, "authModes oauth is not supported by Ebb"))
        return problems

    def tls_settings(self, unsafe_ssl: bool) -> TlsSettings:
        tls = AuthMode.TLS in self.modes
        return TlsSettings(
            unsafe_ssl=unsafe_ssl,
            cert=self.cert if tls else None,
            key=self.key if tls else None,
            ca=self.ca,
        )


_MODE_VALUES = {m.value for m in AuthMode}


# --- requests and responses --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Request:
    """One GET. `display_url` is `url` with every credential masked: the only form errors may show."""

    url: str
    headers: Mapping[str, str]
    timeout: float
    display_url: str


@dataclasses.dataclass(frozen=True)
class Response:
    status: int
    body: bytes


Fetch = Callable[[Request], Awaitable[Response]]


def query_escape(text: str) -> str:
    """Go's `url.QueryEscape`: everything but letters, digits and `-_.~` escaped, spaces as `+`."""
    return urllib.parse.quote_plus(text, safe="")


_GO_FLOAT = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)


def parse_go_float(text: str) -> float:
    """Go's `strconv.ParseFloat(s, 64)` for decimal text (Prometheus writes `NaN`, `+Inf`, `-Inf`);
    stricter than Python's `float`, which also takes `1_000` and surrounding blanks."""
    if not _GO_FLOAT.fullmatch(text):
        raise ValueError(f'"{text[:40]}" is not a number')
    return float(text)


def auth_request(
    url: str,
    auth: AuthParams,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float,
) -> Request:
    """A GET of `url` with the auth modes applied (headers, or the API key as a query parameter)."""
    all_headers = dict(headers or {})
    modes = auth.modes
    display = url_masking.mask_userinfo(url)
    if AuthMode.API_KEY in modes and auth.api_key:
        if auth.api_key_method == "query":
            name = auth.key_param_name or "api_key"
            url = _set_query(url, name, auth.api_key)
            display = url_masking.mask_userinfo(_set_query(display, name, "***"))
        else:
            all_headers[auth.key_param_name or "X-API-KEY"] = auth.api_key
    if AuthMode.BEARER in modes and auth.bearer_token:
        all_headers["Authorization"] = f"Bearer {auth.bearer_token.removesuffix(chr(10))}"
    if AuthMode.BASIC in modes and auth.username:
        token = base64.b64encode(f"{auth.username}:{auth.password or ''}".encode()).decode()
        all_headers["Authorization"] = f"Basic {token}"
    if AuthMode.CUSTOM in modes and auth.custom_auth_header and auth.custom_auth_value:
        all_headers[auth.custom_auth_header] = auth.custom_auth_value
    return Request(url=url, headers=all_headers, timeout=timeout, display_url=display)


def _set_query(url: str, name: str, value: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k != name]
    query.append((name, value))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


# --- the shared sessions -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TlsSettings:
    """What makes two HTTP triggers unable to share a session: the TLS verification and client cert."""

    unsafe_ssl: bool = False
    cert: str | None = None
    key: str | None = None
    ca: str | None = None

    def sharing_key(self) -> Hashable:
        return (
            "http",
            self.unsafe_ssl,
            connections.digest(self.cert),
            connections.digest(self.key),
            connections.digest(self.ca),
        )

    def ssl_context(self) -> ssl.SSLContext | bool:
        """`False` (no verification) for unsafeSsl without client cert; otherwise a context."""
        if self.unsafe_ssl and not self.cert and not self.ca:
            return False
        context = ssl.create_default_context()
        if self.ca:
            try:
                context.load_verify_locations(cadata=self.ca)
            except (ssl.SSLError, ValueError) as error:
                raise base.SourceError(
                    f"the CA certificate (ca) could not be loaded: {type(error).__name__}"
                ) from None
        if self.unsafe_ssl:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert and self.key:
            _load_client_cert(context, self.cert, self.key)
        return context


def _load_client_cert(context: ssl.SSLContext, cert: str, key: str) -> None:
    # The ssl module reads key pairs only from files: write them to a private temp dir, load, delete.
    with tempfile.TemporaryDirectory(prefix="ebb-tls-") as directory:
        cert_path = os.path.join(directory, "cert.pem")
        key_path = os.path.join(directory, "key.pem")
        for path, text in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
        try:
            context.load_cert_chain(cert_path, key_path)
        except (ssl.SSLError, OSError) as error:
            # The message of a failed load never carries the key, but name only the type to be sure.
            raise base.SourceError(
                f"the client certificate (cert, key) could not be loaded: {type(error).__name__}"
            ) from None


class SessionFetch:
    """A `Fetch` over a shared `aiohttp.ClientSession`, acquired on first use, released by `aclose`."""

    def __init__(self, clients: connections.SharedClients, tls: TlsSettings) -> None:
        self._clients = clients
        self._tls = tls
        self._lease: connections.Lease[aiohttp.ClientSession] | None = None

    async def _session(self) -> aiohttp.ClientSession:
        if self._lease is None:
            tls = self._tls

            async def open_session() -> aiohttp.ClientSession:
                connector = aiohttp.TCPConnector(ssl=tls.ssl_context())
                return aiohttp.ClientSession(connector=connector)

            async def close_session(session: aiohttp.ClientSession) -> None:
                await session.close()

            self._lease = await self._clients.acquire(tls.sharing_key(), open_session, close_session)
        return self._lease.client

    async def __call__(self, request: Request) -> Response:
        session = await self._session()
        try:
            async with session.get(
                yarl.URL(request.url, encoded=True),
                headers=dict(request.headers),
                timeout=aiohttp.ClientTimeout(total=request.timeout),
                allow_redirects=True,
            ) as response:
                body = await response.read()
                return Response(status=response.status, body=body)
        except TimeoutError:
            raise base.SourceError(
                f"GET {request.display_url}: no answer within {request.timeout:g}s"
            ) from None
        except aiohttp.ClientError as error:
            # aiohttp's messages can carry the full URL (and so a query-string key): name the kind only,
            # plus the OS reason for connection errors, which holds no URL.
            reason = ""
            if isinstance(error, aiohttp.ClientConnectorError):
                reason = f": {error.os_error.strerror or error.os_error}"
            raise base.SourceError(f"GET {request.display_url}: {type(error).__name__}{reason}") from None

    async def aclose(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            await lease.release()


def timeout_of(declared: float | None, inputs: base.TriggerInputs) -> float:
    """The trigger's own `timeout` if set (and positive), else the operator-wide HTTP timeout."""
    return declared if declared else inputs.timeout

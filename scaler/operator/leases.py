"""`leader_election.LeaseApi` over plain HTTP (aiohttp): GET, POST and PUT of
`/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}` with a bearer token and optional TLS.

Kept apart from `scaler.operator.kube` (the only module that may use the `kubernetes` package) and minimal: the
operator may supply its own `LeaseApi` instead. Errors never carry the token: only the verb, the path,
the HTTP status and the API's own message.
"""

from __future__ import annotations

import json
import ssl
import urllib.parse
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import aiohttp

from scaler.operator import leader_election

LEASES_PATH = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
DEFAULT_TIMEOUT = 5.0

Token = str | Callable[[], str | None] | None


class HttpLeaseApi:
    """Leases over HTTP against `base_url` (the API server, e.g. `https://10.0.0.1:443`).

    `token` is a bearer token or a callable returning the current one (in-cluster tokens rotate; the
    callable can re-read the file). `ssl_context` is an `ssl.SSLContext` (a private CA, client
    certificates), False to skip verification (kubeconfig `insecure-skip-tls-verify`), or None/True for
    the defaults. Pass `session` to share one; otherwise the API owns a session closed by `close()`.
    """

    def __init__(self, base_url: str, *, token: Token = None, ssl_context: ssl.SSLContext | bool | None = None,
                 timeout: float = DEFAULT_TIMEOUT, session: aiohttp.ClientSession | None = None) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"HttpLeaseApi: base_url must be an http(s) URL of the API server, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> HttpLeaseApi:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "Content-Type": "application/json", "User-Agent": "ebb-operator"}
        token = self._token() if callable(self._token) else self._token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def _request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> tuple[int, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        data = json.dumps(body).encode() if body is not None else None
        try:
            async with self._session.request(method, self.base_url + path, data=data, headers=self._headers(),
                                             ssl=self._ssl, timeout=self._timeout) as response:
                payload = await response.read()
                try:
                    decoded = json.loads(payload) if payload else None
                except ValueError:
                    decoded = payload.decode(errors="replace")
                return response.status, decoded
        except aiohttp.ClientError as exc:
            raise leader_election.LeaseError(f"{method} {path}: {type(exc).__name__}: {exc}") from None

    @staticmethod
    def _failure(method: str, path: str, status: int, body: Any) -> leader_election.LeaseError:
        message = body.get("message") if isinstance(body, dict) else None
        text = f"{method} {path}: HTTP {status}" + (f": {message}" if message else "")
        if status == 409:
            return leader_election.LeaseConflict(text)
        return leader_election.LeaseError(text)

    def _path(self, namespace: str, name: str | None = None) -> str:
        path = LEASES_PATH.format(namespace=urllib.parse.quote(namespace, safe=""))
        return path if name is None else f"{path}/{urllib.parse.quote(name, safe='')}"

    async def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        path = self._path(namespace, name)
        status, body = await self._request("GET", path)
        if status == 404:
            return None
        if status != 200 or not isinstance(body, dict):
            raise self._failure("GET", path, status, body)
        return body

    async def create(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        path = self._path(namespace)
        status, answer = await self._request("POST", path, body)
        if status not in (200, 201) or not isinstance(answer, dict):
            raise self._failure("POST", path, status, answer)
        return answer

    async def replace(self, namespace: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        path = self._path(namespace, name)
        status, answer = await self._request("PUT", path, body)
        if status not in (200, 201) or not isinstance(answer, dict):
            raise self._failure("PUT", path, status, answer)
        return answer

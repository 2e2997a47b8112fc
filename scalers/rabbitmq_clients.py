"""RabbitMQ I/O for the `rabbitmq` trigger: shared AMQP connections (aio-pika) and management-API HTTP
sessions (aiohttp).

One AMQP connection per server, vhost and credentials; one HTTP session per management base URL and
credentials; both through `scalers.connections.SharedClients`, opened on first use and closed when the
last trigger using them is closed. Messages built here carry no credentials: URLs are shown with
`user:password@`, and the scaler masks whatever a library adds.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aio_pika
import aiohttp
import yarl

from scalers import connections, tls_contexts, url_masking


class SourceProblem(Exception):
    """A read failure whose message was written here (shown as it is, without the exception type)."""


def describe(error: BaseException) -> str:
    """A one-line description of an error: ours as they are, a library's with its type name."""
    text = str(error).strip()
    if isinstance(error, SourceProblem):
        return text
    name = type(error).__name__
    if not text or text.startswith(name):
        return text or name
    return f"{name}: {text}"


class ManagementAnswerError(SourceProblem):
    """The management API answered with a status other than 200."""


def _tls_digest(material: tls_contexts.TLSMaterial | None) -> tuple[str | None, ...] | None:
    if material is None:
        return None
    return (
        connections.digest(material.ca),
        connections.digest(material.cert),
        connections.digest(material.key),
        connections.digest(material.key_password),
        str(material.unsafe_ssl),
    )


class _Leased:
    """Acquires one lease on a shared client on first use and releases it on `aclose`."""

    def __init__(self, pool: connections.SharedClients) -> None:
        self._pool = pool
        self._lease: connections.Lease[Any] | None = None
        self._lock = asyncio.Lock()

    async def _client(self) -> Any:
        if self._lease is None:
            async with self._lock:
                if self._lease is None:
                    self._lease = await self._pool.acquire(self._key(), self._open, self._close)
        return self._lease.client

    def _key(self) -> tuple[Any, ...]:
        raise NotImplementedError

    async def _open(self) -> Any:
        raise NotImplementedError

    @staticmethod
    async def _close(client: Any) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            await lease.release()


class ManagementClient(_Leased):
    """GETs JSON from one management API; basic auth in a header, never in the URL."""

    def __init__(
        self,
        pool: connections.SharedClients,
        *,
        base_url: str,
        shown_url: str,
        username: str | None,
        password: str | None,
        tls: tls_contexts.TLSMaterial | None,
        unsafe_ssl: bool,
        timeout: float,
    ) -> None:
        super().__init__(pool)
        self._base_url = base_url
        self._username = username
        self._password = password
        self._tls = tls
        self._unsafe_ssl = unsafe_ssl
        self._timeout = timeout

    def _key(self) -> tuple[Any, ...]:
        return (
            "rabbitmq-http",
            self._base_url,
            self._username,
            connections.digest(self._password),
            _tls_digest(self._tls),
            self._unsafe_ssl,
        )

    def _ssl(self) -> ssl.SSLContext | bool:
        if self._tls is not None:
            return tls_contexts.client_context(self._tls)
        # ssl=False: no verification (unsafeSsl); True: aiohttp's default verification.
        return not self._unsafe_ssl

    async def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(ssl=self._ssl())
        return aiohttp.ClientSession(connector=connector)

    @staticmethod
    async def _close(client: Any) -> None:
        await client.close()

    def shown(self, url: str) -> str:
        if self._username is None:
            return url
        scheme, _, rest = url.partition("://")
        return f"{scheme}://{url_masking.MASKED_USERINFO}{rest}"

    async def get_json(self, url: str) -> object:
        session: aiohttp.ClientSession = await self._client()
        headers = {}
        if self._username is not None:
            headers["Authorization"] = aiohttp.encode_basic_auth(self._username, self._password or "")
        try:
            async with session.get(
                yarl.URL(url, encoded=True),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                allow_redirects=False,
            ) as response:
                if response.status != 200:
                    body = (await response.text(errors="replace"))[:1000]
                    raise ManagementAnswerError(
                        f"error requesting RabbitMQ API status: {response.status} {response.reason or ''}".rstrip()
                        + f", response: {body}, from: {self.shown(url)}"
                    )
                return await response.json(content_type=None)
        except TimeoutError:
            raise SourceProblem(f"no answer within {self._timeout:g}s from {self.shown(url)}") from None
        except aiohttp.ClientError as error:
            raise SourceProblem(f"{describe(error)} (from: {self.shown(url)})") from None


class AmqpClient(_Leased):
    """Passive queue declares over one shared (robust) AMQP connection."""

    def __init__(
        self,
        pool: connections.SharedClients,
        *,
        tls: bool,
        host: str,
        port: int,
        username: str,
        password: str,
        vhost: str,
        tls_material: tls_contexts.TLSMaterial | None,
        external_auth: bool,
        connection_name: str,
        timeout: float,
    ) -> None:
        super().__init__(pool)
        self._tls = tls
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._vhost = vhost
        self._tls_material = tls_material
        self._external_auth = external_auth
        self._connection_name = connection_name
        self._timeout = timeout

    @property
    def shown(self) -> str:
        scheme = "amqps" if self._tls else "amqp"
        return f"{scheme}://{url_masking.MASKED_USERINFO}{self._host}:{self._port}"

    def _key(self) -> tuple[Any, ...]:
        return (
            "rabbitmq-amqp",
            self._tls,
            self._host,
            self._port,
            self._vhost,
            self._username,
            connections.digest(self._password),
            _tls_digest(self._tls_material),
            self._external_auth,
        )

    async def _open(self) -> aio_pika.abc.AbstractRobustConnection:
        extra: dict[str, Any] = {}
        if self._external_auth:
            extra["auth"] = "external"
        context = (
            tls_contexts.client_context(self._tls_material) if (self._tls and self._tls_material) else None
        )
        try:
            async with asyncio.timeout(self._timeout):
                connection: aio_pika.abc.AbstractRobustConnection = await aio_pika.connect_robust(
                    host=self._host,
                    port=self._port,
                    login=self._username,
                    password=self._password,
                    virtualhost=self._vhost,
                    ssl=self._tls,
                    ssl_context=context,
                    timeout=self._timeout,
                    client_properties={"connection_name": self._connection_name},
                    **extra,
                )
                return connection
        except TimeoutError:
            raise SourceProblem(f"no AMQP connection within {self._timeout:g}s to {self.shown}") from None
        except Exception as error:
            raise SourceProblem(f"{describe(error)} (connecting to {self.shown})") from None

    @staticmethod
    async def _close(client: Any) -> None:
        await client.close()

    async def message_count(self, queue: str) -> int:
        connection: aio_pika.abc.AbstractRobustConnection = await self._client()
        try:
            async with asyncio.timeout(self._timeout):
                channel = await connection.channel(publisher_confirms=False)
                try:
                    declared = await channel.declare_queue(queue, passive=True)
                    result = declared.declaration_result
                    return int(result.message_count or 0)
                finally:
                    if not channel.is_closed:
                        await channel.close()
        except TimeoutError:
            raise SourceProblem(f"no answer within {self._timeout:g}s from {self.shown}") from None

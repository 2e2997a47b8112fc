"""What every Redis trigger type shares: the connection parameters, the shared client and the read batcher.

* `ConnectionParams` declares KEDA's connection fields once (`address`/`addresses`, `host`/`hosts` +
  `port`/`ports`, `username`, `password`, `sentinel*`, `enableTLS` xor `tls`, `unsafeSsl`, `cert`, `key`,
  `keyPassword`, `ca`, `databaseIndex`); the list and stream parameter classes inherit it.
* `Target` is the resolved connection (mode, addresses, credentials, TLS); `Target.key` is the sharing key
  for `connections.SharedClients`: one client, hence one connection pool, per server, database,
  credentials and TLS settings. Keys carry digests, never plaintext secrets.
* `Batcher` coalesces every read asked of one client during the same event-loop turn into one pipeline
  (`EVALSHA` for the list-length script, `XLEN`, `XPENDING` …) and fans the replies out: 1,000 triggers on
  one Redis cost one round trip, not 1,000.
* `Connection` is one trigger's lazy hold on a shared client: nothing is opened before the first read.
* `masked` and `source_error` turn anything the client library raises into a `base.SourceError` whose
  message carries no password (the values are replaced, `scheme://user:pass@` becomes `scheme://***@`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from typing import Any, ClassVar, TypeVar

from redis import exceptions as redis_exceptions

from scalers import base, connections, params, url_masking

# KEDA's error texts (pkg/scalers/redis_scaler.go).
NO_ADDRESSES = "no addresses or hosts given. address should be a comma separated list of host:port or set the host/port values"
UNEQUAL_HOSTS_AND_PORTS = (
    "not enough hosts or ports given. number of hosts should be equal to the number of ports"
)
TLS_TWICE = "unable to set `tls` in both ScaledObject and TriggerAuthentication together"

# How long opening a connection may take; each read is bounded by its trigger's own timeout as well.
CONNECT_TIMEOUT_SECONDS = 5.0

T = TypeVar("T")


class Mode(str, enum.Enum):
    """How the addresses are used: the first one (`redis`), every cluster node, or the sentinels."""

    STANDALONE = "standalone"
    CLUSTER = "cluster"
    SENTINEL = "sentinel"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConnectionParams:
    """KEDA's `redisConnectionInfo` plus `databaseIndex` and the TLS switches, shared by every Redis type."""

    MODE: ClassVar[Mode] = Mode.STANDALONE

    addresses: Sequence[str] = params.param(
        "address",
        aliases=["addresses"],
        sources=params.METADATA_AUTH_ENV,
        default=[],
        doc="host:port of the server (comma-separated list for cluster nodes or sentinels)",
    )
    hosts: Sequence[str] = params.param(
        "host",
        aliases=["hosts"],
        sources=params.METADATA_ENV_AUTH,
        default=[],
        doc="host names, paired with ports",
    )
    ports: Sequence[str] = params.param(
        "port",
        aliases=["ports"],
        sources=params.METADATA_ENV_AUTH,
        default=[],
        doc="ports, paired with hosts",
    )
    username: str | None = params.param(
        "username", sources=params.METADATA_ENV_AUTH, default=None, doc="ACL user name"
    )
    password: str | None = params.param(
        "password", sources=params.METADATA_ENV_AUTH, default=None, secret=True, doc="password"
    )
    sentinel_username: str | None = params.param(
        "sentinelUsername", sources=params.METADATA_AUTH_ENV, default=None, doc="user name for the sentinels"
    )
    sentinel_password: str | None = params.param(
        "sentinelPassword",
        sources=params.METADATA_AUTH_ENV,
        default=None,
        secret=True,
        doc="password for the sentinels",
    )
    sentinel_master: str | None = params.param(
        "sentinelMaster",
        sources=params.METADATA_AUTH_ENV,
        default=None,
        doc="the master's name at the sentinels",
    )
    database_index: int = params.param("databaseIndex", default=0, doc="database number (not for cluster)")
    enable_tls: bool | None = params.param(
        "enableTLS", default=None, doc="use TLS (metadata; not together with the `tls` auth parameter)"
    )
    tls: str | None = params.param(
        "tls",
        sources=params.AUTH_ONLY,
        default=None,
        choices=["enable", "disable"],
        doc="use TLS (auth parameter)",
    )
    unsafe_ssl: bool = params.param("unsafeSsl", default=False, doc="skip verifying the server certificate")
    cert: str | None = params.param(
        "cert",
        aliases=["Cert"],
        sources=params.AUTH_ONLY,
        default=None,
        secret=True,
        doc="client certificate (PEM)",
    )
    key: str | None = params.param(
        "key", sources=params.AUTH_ONLY, default=None, secret=True, doc="client private key (PEM)"
    )
    key_password: str | None = params.param(
        "keyPassword", sources=params.AUTH_ONLY, default=None, secret=True, doc="password of the private key"
    )
    ca: str | None = params.param(
        "ca",
        sources=params.AUTH_ONLY,
        default=None,
        secret=True,
        doc="CA certificate (PEM) to verify the server",
    )

    def connection_problems(self) -> list[base.ParamProblem]:
        """KEDA's `validateRedisAddress` and `SetEnableTLS`, plus warnings for what the mode ignores."""
        problems: list[base.ParamProblem] = []
        if self.hosts and self.ports and len(self.hosts) != len(self.ports):
            problems.append(base.ParamProblem("metadata.hosts", UNEQUAL_HOSTS_AND_PORTS))
        elif not self.all_addresses:
            problems.append(base.ParamProblem("metadata.address", NO_ADDRESSES))
        if self.enable_tls is not None and self.tls is not None:
            problems.append(base.ParamProblem("metadata.enableTLS", TLS_TWICE))
        for address in self.all_addresses:
            try:
                split_address(address)
            except ValueError as error:
                problems.append(
                    base.ParamProblem("metadata.address", f"{error}; connecting will fail", warning=True)
                )
        if self.MODE is Mode.CLUSTER and self.database_index != 0:
            problems.append(
                base.ParamProblem(
                    "metadata.databaseIndex", "a Redis cluster has only database 0; ignored", warning=True
                )
            )
        if self.MODE is Mode.SENTINEL and not self.sentinel_master:
            problems.append(
                base.ParamProblem(
                    "metadata.sentinelMaster", "not set: the sentinels cannot name a master", warning=True
                )
            )
        if self.MODE is Mode.STANDALONE and len(self.all_addresses) > 1:
            problems.append(
                base.ParamProblem(
                    "metadata.address", "several addresses given; only the first is used", warning=True
                )
            )
        return problems

    @property
    def all_addresses(self) -> list[str]:
        """`address` entries, then `host:port` pairs (KEDA appends the pairs to the addresses)."""
        found = [a for a in self.addresses if a]
        if self.hosts and self.ports and len(self.hosts) == len(self.ports):
            found.extend(join_host_port(h, p) for h, p in zip(self.hosts, self.ports, strict=True))
        return found

    @property
    def tls_enabled(self) -> bool:
        if self.tls is not None:
            return self.tls == "enable"
        return bool(self.enable_tls)

    def secrets(self) -> list[str]:
        """Every secret value this connection knows, for masking messages."""
        return [
            s for s in (self.password, self.sentinel_password, self.key_password, self.key, self.cert) if s
        ]


def join_host_port(host: str, port: str) -> str:
    """Go's `net.JoinHostPort`: IPv6 literals get brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def split_address(address: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`; an empty host means localhost, as in Go) → (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep:
        raise ValueError(f'address "{url_masking.mask(address, ())}" has no port (expected host:port)')
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f'address "{url_masking.mask(address, ())}" has an invalid port (expected host:port)')
    return host or "localhost", int(port)


@dataclasses.dataclass(frozen=True)
class Tls:
    enabled: bool = False
    unsafe: bool = False
    cert: str | None = None
    key: str | None = None
    key_password: str | None = None
    ca: str | None = None


@dataclasses.dataclass(frozen=True)
class Target:
    """A resolved Redis connection. `repr` hides every credential."""

    mode: Mode
    addresses: tuple[str, ...]
    database: int = 0
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    sentinel_username: str | None = None
    sentinel_password: str | None = dataclasses.field(default=None, repr=False)
    sentinel_master: str | None = None
    tls: Tls = dataclasses.field(default_factory=Tls, repr=False)

    @classmethod
    def of(cls, p: ConnectionParams) -> Target:
        return cls(
            mode=p.MODE,
            addresses=tuple(p.all_addresses if p.MODE is not Mode.STANDALONE else p.all_addresses[:1]),
            database=0 if p.MODE is Mode.CLUSTER else p.database_index,
            username=p.username,
            password=p.password,
            sentinel_username=p.sentinel_username,
            sentinel_password=p.sentinel_password,
            sentinel_master=p.sentinel_master,
            tls=Tls(p.tls_enabled, p.unsafe_ssl, p.cert, p.key, p.key_password, p.ca),
        )

    @property
    def key(self) -> Hashable:
        """The sharing key: server, database, credential digests and TLS settings, no plaintext secret."""
        d = connections.digest
        tls = self.tls
        return (
            "redis",
            self.mode.value,
            self.addresses,
            self.database,
            self.username,
            d(self.password),
            self.sentinel_username,
            d(self.sentinel_password),
            self.sentinel_master,
            (tls.enabled, tls.unsafe, d(tls.cert), d(tls.key), d(tls.key_password), d(tls.ca)),
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        values = (self.password, self.sentinel_password, self.tls.key_password, self.tls.key, self.tls.cert)
        return tuple(v for v in values if v)

    @property
    def where(self) -> str:
        """For messages: which server(s), never credentials."""
        names = ",".join(url_masking.mask(a, ()) for a in self.addresses)
        if self.mode is Mode.SENTINEL:
            return f"redis sentinel {names} (master {self.sentinel_master or '?'})"
        if self.mode is Mode.CLUSTER:
            return f"redis cluster {names}"
        return f"redis {names} db {self.database}"


def source_error(error: BaseException, target: Target, doing: str) -> base.SourceError:
    """A `SourceError` for a failed read, naming the server and what was asked, with secrets masked."""
    if isinstance(error, base.SourceError):
        return error
    if isinstance(error, TimeoutError):
        detail = "timed out"
    else:
        detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return base.SourceError(url_masking.mask(f"{target.where}: {doing}: {detail}", target.secrets))


# --- batching ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Command:
    """One Redis command for the batcher. With `script`, `args` is `("EVALSHA", sha, numkeys, …)` and a
    NOSCRIPT reply makes the batcher load the script and send those commands again."""

    args: tuple[Any, ...]
    script: str | None = None


@functools.lru_cache(maxsize=64)
def _sha(script: str) -> str:
    # A few scripts, asked for by every read a flush merges: digested once each.
    return hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()


def script_command(script: str, keys: Sequence[str], args: Sequence[Any] = ()) -> Command:
    return Command(("EVALSHA", _sha(script), len(keys), *keys, *args), script)


@dataclasses.dataclass(frozen=True)
class KeyedScript:
    """A script that answers for any number of keys at once: `KEYS` in, one reply element per key out.
    Requests for single keys are merged into as few calls as the topology allows."""

    body: str

    @property
    def sha(self) -> str:
        return _sha(self.body)


# Keys per merged script call: large enough to make one call of a round, small enough to keep a call short.
MAX_KEYS_PER_CALL = 5000
# Readers answered per turn of the event loop when a flush's replies come back.
SETTLE_CHUNK = 500


@dataclasses.dataclass
class _Request:
    future: asyncio.Future[Any]
    deadline: float  # loop time by which the reader wants its answer
    command: Command | None = None
    script: KeyedScript | None = None
    key: str = ""


@dataclasses.dataclass
class _Unit:
    """One pipeline entry and the requests its reply answers (one, or several for a merged call)."""

    command: Command
    requests: list[_Request]
    merged: bool


class Batcher:
    """Coalesces the reads asked of one client during one event-loop turn into one pipeline.

    `submit` (a command) and `submit_key` (one key for a `KeyedScript`) queue a request and return a
    future; the first request of a turn schedules a flush with `call_soon`, which runs after every task
    already ready in this turn has queued its own. A flush merges the keyed requests into one script call
    per script (per hash slot on a cluster), sends everything as one non-transactional pipeline, and
    resolves each future with its own reply or error, so one bad key does not fail its neighbours. Each
    request keeps its own deadline: the flush is bounded by the latest one, and a request whose deadline
    comes earlier gets a `TimeoutError` then (one timer at a time per flush, moved to the next deadline
    when one passes). Flushes may overlap, each on a pooled connection.
    """

    def __init__(self, client: Any, slot_of: Callable[[str], int] | None = None) -> None:
        self._client = client
        self._slot_of = slot_of
        self._pending: list[_Request] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.flushes = 0  # pipelines sent, for tests and the benchmark

    def _queue(self, request: _Request) -> asyncio.Future[Any]:
        self._pending.append(request)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return request.future

    def submit(self, command: Command, seconds: float) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        return self._queue(_Request(loop.create_future(), loop.time() + seconds, command=command))

    def submit_key(self, script: KeyedScript, key: str, seconds: float) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        return self._queue(_Request(loop.create_future(), loop.time() + seconds, script=script, key=key))

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        if not batch:
            return
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _units(self, batch: list[_Request]) -> list[_Unit]:
        units: list[_Unit] = []
        groups: dict[tuple[str, int | None], list[_Request]] = {}
        scripts: dict[str, KeyedScript] = {}
        for request in batch:
            if request.command is not None:
                units.append(_Unit(request.command, [request], merged=False))
            elif request.script is not None:
                slot = self._slot_of(request.key) if self._slot_of is not None else None
                scripts[request.script.sha] = request.script
                groups.setdefault((request.script.sha, slot), []).append(request)
        for (sha, _), requests in groups.items():
            script = scripts[sha]
            for at in range(0, len(requests), MAX_KEYS_PER_CALL):
                chunk = requests[at : at + MAX_KEYS_PER_CALL]
                keys = [r.key for r in chunk]
                units.append(
                    _Unit(Command(("EVALSHA", sha, len(keys), *keys), script.body), chunk, merged=True)
                )
        return units

    async def _send(self, batch: list[_Request]) -> None:
        self.flushes += 1
        units = self._units(batch)
        latest = max(r.deadline for r in batch)
        sweep = _Sweep(batch, latest)
        try:
            async with asyncio.timeout_at(latest):
                replies = await self._execute([unit.command for unit in units])
        except BaseException as error:
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(_copy(error))
            if isinstance(error, asyncio.CancelledError):
                raise
            return
        finally:
            sweep.cancel()
        outcomes = list(_outcomes(units, replies))
        # Handed out SETTLE_CHUNK at a time: every reader answered wakes up in the next turn of the loop,
        # and 10,000 at once (a takeover's first ticks) would hold everything else (a lease renewal, a
        # scrape, a reconcile) for seconds behind them.
        for start in range(0, len(outcomes), SETTLE_CHUNK):
            if start:
                try:
                    await asyncio.sleep(0)
                except BaseException as error:
                    for future, _ in outcomes[start:]:
                        _settle(future, _copy(error))
                    raise
            for future, outcome in outcomes[start : start + SETTLE_CHUNK]:
                _settle(future, outcome)

    async def _execute(self, commands: list[Command]) -> list[Any]:
        replies = await self._pipeline(commands)
        missing = [i for i, r in enumerate(replies) if _is_noscript(r) and commands[i].script]
        if missing:
            for script in {commands[i].script for i in missing}:
                await self._client.script_load(script)
            again = await self._pipeline([commands[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return replies

    async def _pipeline(self, commands: list[Command]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command.args)
            return list(await pipe.execute(raise_on_error=False))

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            # Cancelled or failed: its waiters already have their error.
            with contextlib.suppress(BaseException):
                await task
        for request in self._pending:
            if not request.future.done():
                request.future.set_exception(base.SourceError("the redis connection was closed"))
        self._pending = []


def _outcomes(units: list[_Unit], replies: list[Any]) -> Iterator[tuple[asyncio.Future[Any], Any]]:
    """Each request's future with its reply (or the error that stands for it)."""
    for unit, reply in zip(units, replies, strict=True):
        if not unit.merged:
            yield unit.requests[0].future, reply
        elif isinstance(reply, BaseException) or not isinstance(reply, list) or len(reply) != len(unit.requests):
            for request in unit.requests:
                yield request.future, (_copy(reply) if isinstance(reply, BaseException) else _bad(reply))
        else:
            yield from ((request.future, element) for request, element in zip(unit.requests, reply, strict=True))


class _Sweep:
    """Times out each request of a flush at its own deadline when it comes before the flush's last one.
    The requests are walked in deadline order, each once, so a stalled flush of 10,000 readers costs one
    sort and one pass, not a scan per deadline."""

    def __init__(self, batch: list[_Request], latest: float) -> None:
        self._latest = latest
        self._by_deadline = sorted(batch, key=lambda r: r.deadline)
        self._next = 0
        self._timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self._timer = None
        if self._next < len(self._by_deadline):
            at = self._by_deadline[self._next].deadline
            if at < self._latest:  # the last ones are the flush's own timeout
                self._timer = asyncio.get_running_loop().call_at(at, self._expire)

    def _expire(self) -> None:
        now = asyncio.get_running_loop().time()
        requests = self._by_deadline
        while self._next < len(requests) and requests[self._next].deadline <= now:
            future = requests[self._next].future
            if not future.done():
                future.set_exception(TimeoutError())
            self._next += 1
        self._arm()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _settle(future: asyncio.Future[Any], reply: Any) -> None:
    if future.done():  # the reader gave up before the reply came
        return
    if isinstance(reply, BaseException):
        future.set_exception(reply)
    else:
        future.set_result(reply)


def _bad(reply: Any) -> BaseException:
    return base.SourceError(f"unexpected reply to a batched script call: {type(reply).__name__}")


def _is_noscript(reply: Any) -> bool:
    return isinstance(reply, redis_exceptions.NoScriptError)


def _copy(error: BaseException) -> BaseException:
    # Each waiter gets its own exception object, so tracebacks do not pile up on a shared one.
    if isinstance(error, asyncio.CancelledError):
        return base.SourceError("the read was cancelled")
    if isinstance(error, TimeoutError):
        return TimeoutError()
    try:
        return type(error)(*error.args)
    except Exception:
        return error


# --- clients -----------------------------------------------------------------------------------------


class Handle:
    """One shared client with its batcher, and facts learnt about the server (its major version)."""

    def __init__(
        self,
        client: Any,
        closers: Sequence[Any],
        material_dir: str | None,
        slot_of: Callable[[str], int] | None = None,
    ) -> None:
        self.client = client
        self.batcher = Batcher(client, slot_of)
        self.major_version: int | None = None
        self._closers = closers
        self._material_dir = material_dir

    async def aclose(self) -> None:
        await self.batcher.aclose()
        for closer in self._closers:
            await closer.aclose()
        if self._material_dir is not None:
            shutil.rmtree(self._material_dir, ignore_errors=True)


def _tls_kwargs(tls: Tls) -> tuple[dict[str, Any], str | None]:
    """redis-py's ssl_* arguments. Client certificate and key are PEM text in KEDA, but Python's ssl module
    loads them only from files: they go to a private temporary directory removed when the client closes."""
    if not tls.enabled:
        return {}, None
    kwargs: dict[str, Any] = {"ssl": True}
    if tls.unsafe:
        kwargs.update(ssl_cert_reqs="none", ssl_check_hostname=False)
    if tls.ca:
        kwargs["ssl_ca_data"] = tls.ca
    material_dir = None
    if tls.cert and tls.key:
        material_dir = tempfile.mkdtemp(prefix="ebb-redis-tls-")
        for name, text in (("cert.pem", tls.cert), ("key.pem", tls.key)):
            path = os.path.join(material_dir, name)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(text)
        kwargs.update(
            ssl_certfile=os.path.join(material_dir, "cert.pem"),
            ssl_keyfile=os.path.join(material_dir, "key.pem"),
            ssl_password=tls.key_password or None,
        )
    return kwargs, material_dir


def open_handle(target: Target, timeout: float = CONNECT_TIMEOUT_SECONDS) -> Handle:
    """Create the client for `target` (no I/O yet: redis-py connects on the first command)."""
    from redis import asyncio as redis_asyncio
    from redis.asyncio import cluster as redis_cluster
    from redis.asyncio import sentinel as redis_sentinel
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    addresses = [split_address(a) for a in target.addresses]
    tls_kwargs, material_dir = _tls_kwargs(target.tls)
    common: dict[str, Any] = {
        "username": target.username or None,
        "password": target.password or None,
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "decode_responses": True,
        # One quick retry on a fresh connection covers a pooled connection the server dropped (restart);
        # longer outages are reported to the poll loop rather than waited out here.
        "retry": Retry(NoBackoff(), 1),
        **tls_kwargs,
    }
    try:
        if target.mode is Mode.CLUSTER:
            nodes = [redis_cluster.ClusterNode(host, port) for host, port in addresses]
            cluster = redis_cluster.RedisCluster(startup_nodes=nodes, **common)
            return Handle(cluster, [cluster], material_dir, slot_of=cluster.keyslot)
        if target.mode is Mode.SENTINEL:
            sentinel_kwargs: dict[str, Any] = {
                "username": target.sentinel_username or None,
                "password": target.sentinel_password or None,
                "socket_connect_timeout": timeout,
                "socket_timeout": timeout,
                **tls_kwargs,
            }
            sentinel = redis_sentinel.Sentinel(  # type: ignore[no-untyped-call]
                addresses, sentinel_kwargs=sentinel_kwargs, **common
            )
            master = sentinel.master_for(target.sentinel_master or "", db=target.database)
            return Handle(master, [master, *sentinel.sentinels], material_dir)
        host, port = addresses[0]
        client = redis_asyncio.Redis(host=host, port=port, db=target.database, **common)
        return Handle(client, [client], material_dir)
    except BaseException:
        if material_dir is not None:
            shutil.rmtree(material_dir, ignore_errors=True)
        raise


class Connection:
    """One trigger's hold on the shared client for its target, taken on the first read, released by
    `aclose`. The client is opened by the first trigger that needs it and closed when the last lets go."""

    def __init__(self, clients: connections.SharedClients, target: Target) -> None:
        self._clients = clients
        self.target = target
        # Digested once at the build (a standby builds its triggers ahead), not at the first read.
        self._key = target.key
        self._lease: connections.Lease[Handle] | None = None

    async def handle(self) -> Handle:
        if self._lease is None:
            target = self.target

            async def open_client() -> Handle:
                return open_handle(target)

            async def close_client(handle: Handle) -> None:
                await handle.aclose()

            try:
                self._lease = await self._clients.acquire(self._key, open_client, close_client)
            except base.ScalerError:
                raise
            except Exception as error:
                raise source_error(error, target, "opening the connection") from None
        return self._lease.client

    async def call(self, use: Callable[[Handle], Awaitable[T]], doing: str, seconds: float) -> T:
        """`use(handle)` within `seconds`; any failure becomes a masked `base.SourceError`."""
        try:
            async with asyncio.timeout(seconds):
                return await use(await self.handle())
        except base.ScalerError:
            raise
        except TimeoutError:
            raise base.SourceError(
                url_masking.mask(f"{self.target.where}: {doing}: no answer within {seconds:g}s", self.target.secrets)
            ) from None
        except Exception as error:
            raise source_error(error, self.target, doing) from None

    async def run(self, command: Command, doing: str, seconds: float) -> Any:
        """Send `command` through the shared batcher; its reply within `seconds` or a `SourceError`."""
        return await self._batched(lambda batcher: batcher.submit(command, seconds), doing, seconds)

    async def run_key(self, script: KeyedScript, key: str, doing: str, seconds: float) -> Any:
        """This key's element of a merged `script` call through the shared batcher."""
        return await self._batched(lambda batcher: batcher.submit_key(script, key, seconds), doing, seconds)

    async def _batched(
        self, submit: Callable[[Batcher], asyncio.Future[Any]], doing: str, seconds: float
    ) -> Any:
        # The batch enforces the deadline (one timer per flush, not one per reader).
        try:
            handle = await self.handle()
            return await submit(handle.batcher)
        except base.ScalerError:
            raise
        except TimeoutError:
            raise base.SourceError(
                url_masking.mask(f"{self.target.where}: {doing}: no answer within {seconds:g}s", self.target.secrets)
            ) from None
        except Exception as error:
            raise source_error(error, self.target, doing) from None

    async def aclose(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            await lease.release()


CountSource = Callable[[], Awaitable[int]]


@dataclasses.dataclass
class CountScaler:
    """A Redis scaler: one count read from `count` (the shared, batched client, or a plain function in
    tests), active when strictly above the metric's activation."""

    metric: base.MetricSpec
    count: CountSource
    close: Callable[[], Awaitable[None]]
    hold: Callable[[], Awaitable[object]] | None = None  # takes the shared connection without reading
    # Whether `count` gives up by the trigger's timeout on its own (the batched client does): the scale
    # loop then sets no timer of its own around each read.
    reads_bounded: bool = False

    async def read(self) -> base.Reading:
        return base.reading(float(await self.count()), self.metric.activation)

    async def warm(self) -> None:
        if self.hold is not None:
            await self.hold()

    async def aclose(self) -> None:
        await self.close()

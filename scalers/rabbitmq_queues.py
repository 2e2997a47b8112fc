"""The `rabbitmq` trigger: queue length or message rates of a RabbitMQ queue, with KEDA's rules (§3.3).

What is here: the declared parameters and their cross-field checks (in KEDA's order), the pure parts
(management-API URLs, the AMQP target, reading the management JSON, aggregation over regex matches,
the value and activity of each mode) and the scaler, which reads through an injected `QueueSource`.
The real sources (aio-pika over AMQP, aiohttp over the management API) live in `rabbitmq_clients`.

Every read error is reported as `error inspecting RabbitMQ: …` with `user:pass@` masked as
`user:password@` and any remaining secret value redacted.
"""

from __future__ import annotations

import dataclasses
import enum
import posixpath
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from scalers import base, params, rabbitmq_clients, tls_contexts, url_masking

UNKNOWN_MODE = "Unknown"
DEFAULT_QUEUE_LENGTH = 20.0
ROOT_VHOST_PATH = "/%2F"


class Mode(str, enum.Enum):
    QUEUE_LENGTH = "QueueLength"
    MESSAGE_RATE = "MessageRate"
    DELIVER_GET_RATE = "DeliverGetRate"
    PUBLISHED_TO_DELIVERED_RATIO = "PublishedToDeliveredRatio"
    EXPECTED_QUEUE_CONSUMPTION_TIME = "ExpectedQueueConsumptionTime"


HTTP_ONLY_MODES = frozenset(
    {
        Mode.MESSAGE_RATE,
        Mode.DELIVER_GET_RATE,
        Mode.PUBLISHED_TO_DELIVERED_RATIO,
        Mode.EXPECTED_QUEUE_CONSUMPTION_TIME,
    }
)


class WireProtocol(str, enum.Enum):
    AMQP = "amqp"
    HTTP = "http"
    AUTO = "auto"


class Operation(str, enum.Enum):
    SUM = "sum"
    AVG = "avg"
    MAX = "max"


_SCHEMES = {
    "amqp": WireProtocol.AMQP,
    "amqps": WireProtocol.AMQP,
    "http": WireProtocol.HTTP,
    "https": WireProtocol.HTTP,
}


def _scheme(host: str) -> str:
    return urllib.parse.urlsplit(host).scheme


@dataclasses.dataclass(frozen=True)
class Trigger:
    """The effective mode and target after KEDA's queueLength/mode/value rules."""

    mode: Mode
    value: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class RabbitMQParams:
    queue_name: str = params.param("queueName", doc="the queue, or a regular expression with useRegex")
    host: str = params.param(
        "host",
        sources=params.METADATA_AUTH_ENV,
        doc="amqp(s):// URL or http(s):// management URL; may hold user:pass@ and the vhost as its path",
    )
    protocol: str = params.param(
        "protocol",
        sources=params.METADATA_AUTH,
        default="auto",
        doc="auto (from the host scheme), amqp or http",
    )
    mode: str = params.param("mode", default=UNKNOWN_MODE, doc="QueueLength, MessageRate, DeliverGetRate, …")
    value: float = params.param("value", default=0.0, doc="target per replica for the mode")
    queue_length: float = params.param("queueLength", default=0.0, doc="deprecated: QueueLength mode target")
    activation_value: float = params.param("activationValue", default=0.0, doc="activation threshold")
    vhost_name: str | None = params.param(
        "vhostName", sources=params.METADATA_AUTH, default=None, doc="overrides the vhost of the host URL"
    )
    use_regex: bool = params.param("useRegex", default=False, doc="queueName is a regex (http only)")
    exclude_unacknowledged: bool = params.param(
        "excludeUnacknowledged", default=False, doc="count ready messages only (http only)"
    )
    page_size: int = params.param("pageSize", default=100, doc="page size of the regex listing")
    operation: str = params.param("operation", default="sum", doc="sum, avg or max over regex matches")
    timeout: float | None = params.param(
        "timeout", default=None, kind=params.Kind.DURATION, doc="HTTP timeout (http only)"
    )
    username: str | None = params.param("username", sources=params.AUTH_ENV, default=None)
    password: str | None = params.param("password", sources=params.AUTH_ENV, default=None, secret=True)
    ca: str | None = params.param("ca", sources=params.AUTH_ONLY, default=None, doc="PEM CA certificate")
    cert: str | None = params.param(
        "cert", sources=params.AUTH_ONLY, default=None, doc="PEM client certificate"
    )
    key: str | None = params.param("key", sources=params.AUTH_ONLY, default=None, secret=True)
    key_password: str | None = params.param(
        "keyPassword", sources=params.AUTH_ONLY, default=None, secret=True
    )
    tls: str = params.param("tls", sources=params.AUTH_ONLY, default="disable", doc="enable or disable")
    unsafe_ssl: bool = params.param("unsafeSsl", default=False, doc="skip certificate verification")
    workload_identity_resource: str | None = params.param(
        "workloadIdentityResource",
        sources=params.AUTH_ONLY,
        default=None,
        doc="Azure workload identity (http)",
    )
    oauth_token_uri: str | None = params.param("oauthTokenURI", sources=params.AUTH_ONLY, default=None)
    client_id: str | None = params.param("clientID", sources=params.AUTH_ONLY, default=None)
    client_secret: str | None = params.param(
        "clientSecret", sources=params.AUTH_ONLY, default=None, secret=True
    )
    scopes: str | None = params.param("scopes", sources=params.AUTH_ONLY, default=None)
    endpoint_params: str | None = params.param("endpointParams", sources=params.AUTH_ONLY, default=None)

    # --- derived values (pure) ---

    @property
    def effective_protocol(self) -> WireProtocol | None:
        """amqp or http; None when the protocol or the host scheme is invalid."""
        if self.protocol == WireProtocol.AMQP.value:
            return WireProtocol.AMQP
        if self.protocol == WireProtocol.HTTP.value:
            return WireProtocol.HTTP
        if self.protocol == WireProtocol.AUTO.value:
            return _SCHEMES.get(_scheme(self.host))
        return None

    @property
    def trigger(self) -> Trigger | str:
        """The effective (mode, value), or KEDA's message when the combination is invalid."""
        unknown = self.mode == UNKNOWN_MODE
        if self.queue_length == 0 and unknown and self.value == 0:
            return Trigger(Mode.QUEUE_LENGTH, DEFAULT_QUEUE_LENGTH)
        if self.queue_length != 0 and (not unknown or self.value != 0):
            return "queueLength is deprecated; use mode and value"
        if self.queue_length != 0:
            return Trigger(Mode.QUEUE_LENGTH, self.queue_length)
        if unknown:
            return "mode must be specified"
        if self.value == 0:
            return "value must be specified"
        try:
            mode = Mode(self.mode)
        except ValueError:
            allowed = ", ".join(m.value for m in Mode)
            return f"trigger mode {self.mode} must be one of {allowed}"
        return Trigger(mode, self.value)

    @property
    def has_basic_auth(self) -> bool:
        return bool(self.username and self.password)

    def validate(self) -> list[base.ParamProblem]:
        """KEDA's checks in KEDA's order (its first error is our first problem); checks that depend on
        a protocol that could not be resolved are skipped."""
        problems: list[base.ParamProblem] = []

        def add(field: str, message: str, *, warning: bool = False) -> None:
            problems.append(base.ParamProblem(field, message, warning=warning))

        if self.protocol not in {p.value for p in WireProtocol}:
            add(
                "metadata.protocol",
                f"the protocol has to be either `amqp`, `http`, or `auto` but is `{self.protocol}`",
            )
        if self.tls not in ("enable", "disable"):
            add("authenticationRef.tls", f"incorrect value for TLS given: {self.tls}")
        if bool(self.cert) != bool(self.key):
            add("authenticationRef.cert", "both key and certificate must be provided")
        if self.page_size < 1:
            add("metadata.pageSize", "pageSize should be 1 or greater")
        if bool(self.username) != bool(self.password):
            add("authenticationRef.username", "username and password must be given together")
        if self.protocol == WireProtocol.AUTO.value and _scheme(self.host) not in _SCHEMES:
            add("metadata.host", f"unknown host URL scheme: `{_scheme(self.host)}`")
        protocol = self.effective_protocol
        if protocol is WireProtocol.AMQP and self.workload_identity_resource:
            add(
                "authenticationRef.workloadIdentityResource",
                "workload identity is not supported for the AMQP protocol at the moment",
            )
        oauth_given = [self.oauth_token_uri, self.client_id, self.client_secret]
        if any(oauth_given):
            if not all(oauth_given):
                add(
                    "authenticationRef.oauthTokenURI",
                    "OAuth2 requires tokenUrl clientId and clientSecret to be configured in TriggerAuthentication",
                )
            elif protocol is WireProtocol.AMQP:
                add(
                    "authenticationRef.oauthTokenURI",
                    "OAuth2 authentication is only supported with HTTP protocol, not AMQP",
                )
            elif self.has_basic_auth or self.workload_identity_resource:
                add(
                    "authenticationRef.oauthTokenURI",
                    "OAuth2 authentication cannot be combined with username/password authentication or Azure Workload Identity",
                )
        if protocol is not None:
            if self.use_regex and protocol is not WireProtocol.HTTP:
                add("metadata.useRegex", "configure useRegex=true only with HTTP protocol")
            if self.exclude_unacknowledged and protocol is not WireProtocol.HTTP:
                add(
                    "metadata.excludeUnacknowledged",
                    "configure excludeUnacknowledged=true only with HTTP protocol",
                )
        trigger = self.trigger
        if isinstance(trigger, str):
            field = (
                "metadata.queueLength"
                if "queueLength" in trigger
                else ("metadata.value" if trigger.startswith("value") else "metadata.mode")
            )
            add(field, trigger)
        elif self.mode != UNKNOWN_MODE or self.value != 0:
            # KEDA returns early for the default and the queueLength forms, so these two checks only
            # apply when mode and value were given.
            if protocol is not None and trigger.mode in HTTP_ONLY_MODES and protocol is not WireProtocol.HTTP:
                add(
                    "metadata.mode",
                    f"protocol {protocol.value} not supported; must be HTTP to use trigger mode {trigger.mode.value}",
                )
            if protocol is WireProtocol.AMQP and self.timeout:
                add("metadata.timeout", "AMQP protocol doesn't support custom timeouts")
        # Ebb's own checks: KEDA rejects these only later (when the scaler is built or first read).
        if protocol is WireProtocol.AMQP and _scheme(self.host) not in ("amqp", "amqps"):
            add("metadata.host", "AMQP scheme must be either 'amqp://' or 'amqps://'")
        if self.operation not in {o.value for o in Operation}:
            add(
                "metadata.operation",
                f"operation mode {self.operation} must be one of sum, avg, max (KEDA fails only when reading regex matches)",
                warning=True,
            )
        if self.workload_identity_resource or all(oauth_given):
            add(
                "authenticationRef",
                "Azure workload identity and OAuth2 are accepted for KEDA compatibility but Ebb cannot authenticate "
                "with them yet; reading this trigger will fail",
                warning=True,
            )
        return problems


# --- the management API (pure) -------------------------------------------------------------------


def query_escape(text: str) -> str:
    """Go's url.QueryEscape: everything but letters, digits and `-_.~` percent-encoded, space as `+`."""
    return urllib.parse.quote_plus(text, safe="")


@dataclasses.dataclass(frozen=True)
class ManagementRequest:
    """The management API request of one trigger. `url` carries no credentials; `shown_url` is how KEDA
    shows it in errors (credentials masked as `user:password@`)."""

    url: str
    base: str
    username: str | None
    password: str | None

    @property
    def shown_url(self) -> str:
        if self.username is None:
            return self.url
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{url_masking.MASKED_USERINFO}{rest}"


def _vhost_and_base_path(raw_path: str, vhost_name: str | None) -> tuple[str, str]:
    """KEDA's split of the host URL path: the last segment is the vhost, the rest the API's base path."""
    parts = raw_path.split("/")
    vhost = "/" + parts[-1]
    kept = [p for p in parts[:-1] if p]
    base_path = posixpath.normpath("/".join(kept)) if kept else ""
    if base_path:
        base_path = "/" + base_path.lstrip("/")
    if vhost_name:
        vhost = "/" + query_escape(vhost_name)
    if vhost in ("", "/"):
        vhost = ROOT_VHOST_PATH
    return vhost, base_path


def management_request(p: RabbitMQParams) -> ManagementRequest:
    """The URL KEDA requests: `<base>/api/queues<vhost>/<queue>` or the regex listing."""
    parts = urllib.parse.urlsplit(p.host)
    vhost, base_path = _vhost_and_base_path(parts.path, p.vhost_name)
    host = parts.netloc.rpartition("@")[2]
    username: str | None = None
    password: str | None = None
    if p.has_basic_auth:
        username, password = p.username, p.password
    elif parts.username is not None:
        username = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
    base = f"{parts.scheme}://{host}{base_path}"
    if p.use_regex:
        url = (
            f"{base}/api/queues{vhost}?page=1&use_regex=true&pagination=false"
            f"&name={query_escape(p.queue_name)}&page_size={p.page_size}"
        )
    else:
        url = f"{base}/api/queues{vhost}/{query_escape(p.queue_name)}"
    return ManagementRequest(url=url, base=base, username=username, password=password)


@dataclasses.dataclass(frozen=True)
class QueueStats:
    """What one read yields: message counts and the publish / deliver-get rates (per second)."""

    messages: int = 0
    messages_ready: int = 0
    publish_rate: float = 0.0
    deliver_get_rate: float = 0.0


class AnswerError(ValueError):
    """The management API answered something we cannot read."""


def _count(item: Mapping[str, Any], key: str) -> int:
    value = item.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise AnswerError(f'field "{key}" is not an integer')
    return int(value)


def _rate(item: Mapping[str, Any], details: str) -> float:
    stats = item.get("message_stats") or {}
    if not isinstance(stats, Mapping):
        raise AnswerError('field "message_stats" is not an object')
    detail = stats.get(details) or {}
    if not isinstance(detail, Mapping):
        raise AnswerError(f'field "message_stats.{details}" is not an object')
    rate = detail.get("rate")
    if rate is None:
        return 0.0
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        raise AnswerError(f'field "message_stats.{details}.rate" is not a number')
    return float(rate)


def queue_stats(item: object) -> QueueStats:
    """One queue object of `/api/queues` (missing fields count as 0, as Go's JSON decoding does)."""
    if not isinstance(item, Mapping):
        raise AnswerError("expected a JSON object for the queue")
    return QueueStats(
        messages=_count(item, "messages"),
        messages_ready=_count(item, "messages_ready"),
        publish_rate=_rate(item, "publish_details"),
        deliver_get_rate=_rate(item, "deliver_get_details"),
    )


def combine(queues: Sequence[QueueStats], operation: str) -> QueueStats:
    """KEDA's aggregation over regex matches: per field sum, avg (integer division for counts) or max."""
    if not queues:
        return QueueStats()
    if operation == Operation.SUM.value:
        return QueueStats(
            messages=sum(q.messages for q in queues),
            messages_ready=sum(q.messages_ready for q in queues),
            publish_rate=sum(q.publish_rate for q in queues),
            deliver_get_rate=sum(q.deliver_get_rate for q in queues),
        )
    if operation == Operation.AVG.value:
        n = len(queues)
        total = combine(queues, Operation.SUM.value)
        return QueueStats(
            messages=total.messages // n,
            messages_ready=total.messages_ready // n,
            publish_rate=total.publish_rate / n,
            deliver_get_rate=total.deliver_get_rate / n,
        )
    if operation == Operation.MAX.value:
        # KEDA starts each maximum at 0.
        return QueueStats(
            messages=max(0, *(q.messages for q in queues)),
            messages_ready=max(0, *(q.messages_ready for q in queues)),
            publish_rate=max(0.0, *(q.publish_rate for q in queues)),
            deliver_get_rate=max(0.0, *(q.deliver_get_rate for q in queues)),
        )
    raise AnswerError(f"operation mode {operation} must be one of sum, avg, max")


def listing_stats(body: object, operation: str) -> QueueStats:
    """The regex listing (`items`, `page_count`): more than one page is an error, as in KEDA."""
    if not isinstance(body, Mapping):
        raise AnswerError("expected a JSON object for the queue listing")
    page_count = body.get("page_count") or 0
    if not isinstance(page_count, int):
        raise AnswerError('field "page_count" is not an integer')
    if page_count > 1:
        raise AnswerError("regex matches more queues than can be recovered at once")
    items = body.get("items") or []
    if not isinstance(items, list):
        raise AnswerError('field "items" is not a list')
    return combine([queue_stats(i) for i in items], operation)


# --- value and activity (pure) -------------------------------------------------------------------


def evaluate(
    mode: Mode, stats: QueueStats, activation: float, *, exclude_unacknowledged: bool
) -> base.Reading:
    """KEDA's metric and activity for each mode (§3.3), from one read."""
    messages = float(stats.messages_ready if exclude_unacknowledged else stats.messages)
    publish, deliver = stats.publish_rate, stats.deliver_get_rate
    if mode is Mode.QUEUE_LENGTH:
        raw, active = messages, messages > activation
    elif mode is Mode.MESSAGE_RATE:
        raw, active = publish, publish > activation or messages > activation
    elif mode is Mode.DELIVER_GET_RATE:
        raw, active = deliver, deliver > activation
    elif mode is Mode.PUBLISHED_TO_DELIVERED_RATIO:
        if publish > 0 and deliver == 0:
            raw = activation
        elif publish > 0 and deliver > 0:
            raw = publish / deliver
        else:
            raw = 0.0
        active = raw > activation or (publish > 0 and deliver == 0)
    else:
        if messages == 0:
            raw = 0.0
        elif deliver == 0:
            raw = activation
        else:
            raw = (publish - deliver) / deliver + messages / deliver
        active = raw > activation or (deliver == 0 and messages > 0)
    return base.Reading(value=base.reported_value(raw), active=active)


# --- the AMQP target (pure) ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AmqpTarget:
    """Where to connect over AMQP after the vhostName / username / password overrides."""

    tls: bool
    host: str
    port: int
    username: str
    password: str
    vhost: str

    @property
    def shown(self) -> str:
        scheme = "amqps" if self.tls else "amqp"
        return f"{scheme}://{self.host}:{self.port}/{query_escape(self.vhost)}"


def amqp_target(p: RabbitMQParams) -> AmqpTarget:
    """The AMQP URI as amqp091-go reads it (guest/guest, `/` vhost, 5672/5671 by default), overridden by
    `vhostName` and by `username`+`password`."""
    parts = urllib.parse.urlsplit(p.host)
    tls = parts.scheme == "amqps"
    username = urllib.parse.unquote(parts.username) if parts.username is not None else "guest"
    password = urllib.parse.unquote(parts.password) if parts.password is not None else "guest"
    vhost = "/"
    path = urllib.parse.unquote(parts.path)
    if len(path) > 1 and path.startswith("/"):
        vhost = path[1:]
    if p.vhost_name:
        vhost = p.vhost_name
    if p.has_basic_auth:
        username, password = p.username or "", p.password or ""
    try:
        port = parts.port or (5671 if tls else 5672)
    except ValueError as error:
        raise AnswerError(f"invalid port in host: {error}") from None
    return AmqpTarget(
        tls=tls,
        host=parts.hostname or "localhost",
        port=port,
        username=username,
        password=password,
        vhost=vhost,
    )


# --- the scaler ----------------------------------------------------------------------------------


class QueueSource(Protocol):
    """Reads one trigger's queue statistics. Tests inject their own."""

    async def stats(self) -> QueueStats: ...

    async def aclose(self) -> None: ...


GetJson = Callable[[str], Awaitable[object]]
CountMessages = Callable[[str], Awaitable[int]]


@dataclasses.dataclass
class ManagementSource:
    """Statistics from the management API through `get_json(url)`."""

    request: ManagementRequest
    use_regex: bool
    operation: str
    get_json: GetJson
    close: Callable[[], Awaitable[None]] | None = None

    async def stats(self) -> QueueStats:
        body = await self.get_json(self.request.url)
        if self.use_regex:
            return listing_stats(body, self.operation)
        return queue_stats(body)

    async def aclose(self) -> None:
        if self.close is not None:
            await self.close()


@dataclasses.dataclass
class AmqpSource:
    """The ready-message count from a passive queue declare through `count_messages(queue)`."""

    queue: str
    count_messages: CountMessages
    close: Callable[[], Awaitable[None]] | None = None

    async def stats(self) -> QueueStats:
        count = await self.count_messages(self.queue)
        return QueueStats(messages=count, messages_ready=count)

    async def aclose(self) -> None:
        if self.close is not None:
            await self.close()


def _secrets(p: RabbitMQParams) -> list[str]:
    found = [s for s in (p.password, p.client_secret, p.key, p.key_password) if s]
    host_password = urllib.parse.urlsplit(p.host).password
    if host_password:
        found += [host_password, urllib.parse.unquote(host_password)]
    return found


class RabbitMQScaler:
    """One `rabbitmq` trigger: reads its source, applies the mode, masks every error."""

    def __init__(self, p: RabbitMQParams, inputs: base.TriggerInputs, source: QueueSource) -> None:
        trigger = p.trigger
        if isinstance(trigger, str):  # parse() has already rejected this
            raise base.ConfigError([base.ParamProblem("metadata.mode", trigger)])
        self._params = p
        self._trigger = trigger
        self._metric = metric(p, inputs)
        self._source = source
        self._secrets = _secrets(p)

    @property
    def metric(self) -> base.MetricSpec:
        return self._metric

    def _error(self, detail: str) -> base.SourceError:
        return base.SourceError(url_masking.mask(f"error inspecting RabbitMQ: {detail}", self._secrets))

    async def read(self) -> base.Reading:
        try:
            stats = await self._source.stats()
        except (base.ScalerError, AnswerError) as error:
            raise self._error(str(error)) from None
        except Exception as error:  # any library error is a source error; no chaining: it may hold secrets
            raise self._error(rabbitmq_clients.describe(error)) from None
        return evaluate(
            self._trigger.mode,
            stats,
            self._params.activation_value,
            exclude_unacknowledged=self._params.exclude_unacknowledged,
        )

    async def aclose(self) -> None:
        await self._source.aclose()


def metric(p: RabbitMQParams, inputs: base.TriggerInputs) -> base.MetricSpec:
    """`s<i>-rabbitmq-<QueryEscape(queue)>`, target `value` (milli-quantity), activation `activationValue`."""
    trigger = p.trigger
    target = trigger.value if isinstance(trigger, Trigger) else 0.0
    return base.MetricSpec(
        name=base.metric_name(inputs.index, f"rabbitmq-{query_escape(p.queue_name)}"),
        target_type=inputs.metric_type,
        target=target,
        activation=p.activation_value,
    )


def _tls_material(p: RabbitMQParams) -> tls_contexts.TLSMaterial | None:
    if p.tls != "enable":
        return None
    return tls_contexts.TLSMaterial(
        ca=p.ca, cert=p.cert, key=p.key, key_password=p.key_password, unsafe_ssl=p.unsafe_ssl
    )


def build(p: RabbitMQParams, inputs: base.TriggerInputs, context: base.BuildContext) -> base.Scaler:
    """A live scaler over shared connections (opened on the first read)."""
    if p.effective_protocol is WireProtocol.HTTP:
        request = management_request(p)
        http = rabbitmq_clients.ManagementClient(
            context.clients,
            base_url=request.base,
            shown_url=request.shown_url,
            username=request.username,
            password=request.password,
            tls=_tls_material(p),
            unsafe_ssl=p.unsafe_ssl,
            timeout=p.timeout or inputs.timeout,
        )
        source: QueueSource = ManagementSource(
            request=request,
            use_regex=p.use_regex,
            operation=p.operation,
            get_json=http.get_json,
            close=http.aclose,
        )
    else:
        target = amqp_target(p)
        amqp = rabbitmq_clients.AmqpClient(
            context.clients,
            tls=target.tls,
            host=target.host,
            port=target.port,
            username=target.username,
            password=target.password,
            vhost=target.vhost,
            tls_material=_tls_material(p),
            external_auth=bool(
                p.cert and p.key and not p.has_basic_auth and not urllib.parse.urlsplit(p.host).password
            ),
            connection_name=f"ebb-{inputs.namespace}-{inputs.scaled_object}",
            timeout=inputs.timeout,
        )
        source = AmqpSource(queue=p.queue_name, count_messages=amqp.message_count, close=amqp.aclose)
    return RabbitMQScaler(p, inputs, source)


RABBITMQ: base.ScalerType[RabbitMQParams] = base.ScalerType(
    name="rabbitmq",
    params=RabbitMQParams,
    metric=metric,
    build=build,
    doc="RabbitMQ queue length or message rates, over AMQP or the management API.",
)

"""The `kafka` trigger: consumer-group lag with KEDA's exact rules (§3.4).

What is here: the declared parameters and their cross-field checks, the pure lag computation
(`compute_lag`, over plain values: partitions, committed offsets, latest offsets and the previous
poll's committed offsets for `excludePersistentLag`), and the scaler, which reads offsets through an
injected `OffsetSource`. The real source (aiokafka, shared per bootstrap servers and credentials) lives
in `kafka_offsets`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import re
from collections.abc import Mapping, Sequence
from typing import Protocol

from scalers import base, kafka_offsets, params, tls_contexts, url_masking

TopicPartition = tuple[str, int]
INVALID_OFFSET = -1


class OffsetResetPolicy(str, enum.Enum):
    LATEST = "latest"
    EARLIEST = "earliest"


class Sasl(str, enum.Enum):
    NONE = "none"
    PLAINTEXT = "plaintext"
    SCRAM_SHA256 = "scram_sha256"
    SCRAM_SHA512 = "scram_sha512"
    OAUTHBEARER = "oauthbearer"
    GSSAPI = "gssapi"


# The SASL modes Ebb can connect with (aiokafka's PLAIN and SCRAM mechanisms).
SUPPORTED_SASL = frozenset({Sasl.NONE, Sasl.PLAINTEXT, Sasl.SCRAM_SHA256, Sasl.SCRAM_SHA512})

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_GO_INT = re.compile(r"[+-]?\d+")
# sarama.ParseKafkaVersion: 0.x versions have four parts, later ones three.
_KAFKA_VERSION = re.compile(r"0\.\d+\.\d+\.\d+|[1-9]\d*\.\d+\.\d+")


def _go_int32(text: str) -> int:
    if not _GO_INT.fullmatch(text):
        raise ValueError(f"parse error for '{text}': invalid syntax")
    number = int(text)
    if not _INT32_MIN <= number <= _INT32_MAX:
        raise ValueError(f"parse error for '{text}': value out of range")
    return number


def parse_partition_limitation(pattern: str) -> list[int]:
    """KEDA's ParseInt32List: `1,2,10-20`; terms are not trimmed; a reversed range is empty."""
    parsed: list[int] = []
    for term in pattern.split(","):
        literals = term.split("-")
        if len(literals) == 1:
            parsed.append(_go_int32(literals[0]))
        elif len(literals) == 2:
            low, high = _go_int32(literals[0]), _go_int32(literals[1])
            parsed.extend(range(low, high + 1))
        else:
            raise ValueError(f"error in range syntax, got '{term}'")
    return parsed


@dataclasses.dataclass(frozen=True, kw_only=True)
class KafkaParams:
    bootstrap_servers: Sequence[str] = params.param(
        "bootstrapServers", sources=params.METADATA_ENV, doc="comma-separated host:port list"
    )
    consumer_group: str = params.param("consumerGroup", sources=params.METADATA_ENV)
    topic: str | None = params.param(
        "topic", sources=params.METADATA_ENV, default=None, doc="empty: every topic the group has offsets for"
    )
    lag_threshold: int = params.param("lagThreshold", default=10, minimum=1, doc="target lag per replica")
    activation_lag_threshold: int = params.param("activationLagThreshold", default=0, minimum=0)
    offset_reset_policy: str = params.param(
        "offsetResetPolicy", default="latest", choices=[p.value for p in OffsetResetPolicy]
    )
    allow_idle_consumers: bool = params.param("allowIdleConsumers", default=False)
    exclude_persistent_lag: bool = params.param("excludePersistentLag", default=False)
    scale_to_zero_on_invalid_offset: bool = params.param("scaleToZeroOnInvalidOffset", default=False)
    limit_to_partitions_with_lag: bool = params.param("limitToPartitionsWithLag", default=False)
    ensure_even_distribution_of_partitions: bool = params.param(
        "ensureEvenDistributionOfPartitions", default=False
    )
    full_metadata: bool = params.param("fullMetadata", default=True)
    partition_limitation: str | None = params.param(
        "partitionLimitation", default=None, doc='partitions to count, e.g. "1,2,10-20" (needs topic)'
    )
    version: str = params.param("version", default="1.0.0", doc="Kafka version (sarama syntax)")
    tls: str = params.param(
        "tls", sources=params.METADATA_AUTH, default="disable", choices=["enable", "disable"]
    )
    unsafe_ssl: bool = params.param("unsafeSsl", default=False)
    ca: str | None = params.param("ca", sources=params.AUTH_ONLY, default=None)
    cert: str | None = params.param("cert", sources=params.AUTH_ONLY, default=None)
    key: str | None = params.param("key", sources=params.AUTH_ONLY, default=None, secret=True)
    key_password: str | None = params.param(
        "keyPassword", sources=params.AUTH_ONLY, default=None, secret=True
    )
    sasl: str = params.param(
        "sasl", sources=params.METADATA_AUTH, default="none", choices=[s.value for s in Sasl]
    )
    username: str | None = params.param("username", sources=params.AUTH_ONLY, default=None)
    password: str | None = params.param("password", sources=params.AUTH_ONLY, default=None, secret=True)
    sasl_token_provider: str = params.param(
        "saslTokenProvider", sources=params.METADATA_AUTH, default="bearer", choices=["bearer", "aws_msk_iam"]
    )
    scopes: Sequence[str] | None = params.param("scopes", sources=params.AUTH_ONLY, default=None)
    oauth_token_endpoint_uri: str | None = params.param(
        "oauthTokenEndpointUri", sources=params.AUTH_ONLY, default=None
    )
    oauth_extensions: Mapping[str, str] | None = params.param(
        "oauthExtensions", sources=params.AUTH_ONLY, default=None
    )
    keytab: str | None = params.param("keytab", sources=params.AUTH_ONLY, default=None, secret=True)
    realm: str | None = params.param("realm", sources=params.AUTH_ONLY, default=None)
    kerberos_config: str | None = params.param("kerberosConfig", sources=params.AUTH_ONLY, default=None)
    kerberos_service_name: str = params.param(
        "kerberosServiceName", sources=params.AUTH_ONLY, default="kafka"
    )
    kerberos_disable_fast: bool = params.param("kerberosDisableFAST", sources=params.AUTH_ONLY, default=False)
    aws_region: str | None = params.param("awsRegion", default=None)

    @property
    def partitions_kept(self) -> frozenset[int] | None:
        """The partitionLimitation set, or None (no limitation, or no topic: KEDA ignores it then)."""
        if not self.topic or not self.partition_limitation:
            return None
        try:
            return frozenset(parse_partition_limitation(self.partition_limitation))
        except ValueError:
            return None

    def validate(self) -> list[base.ParamProblem]:
        """KEDA's cross-field rules, in its order."""
        problems: list[base.ParamProblem] = []

        def add(field: str, message: str, *, warning: bool = False) -> None:
            problems.append(base.ParamProblem(field, message, warning=warning))

        if self.topic and self.partition_limitation:
            try:
                parse_partition_limitation(self.partition_limitation)
            except ValueError as error:
                add(
                    "metadata.partitionLimitation",
                    f"error parsing in partitionLimitation '{self.partition_limitation}': {error}",
                )
        if self.tls == "enable":
            if self.cert and not self.key:
                add("authenticationRef.key", "key must be provided with cert")
            if self.key and not self.cert:
                add("authenticationRef.cert", "cert must be provided with key")
        sasl = Sasl(self.sasl)
        if sasl in (Sasl.PLAINTEXT, Sasl.SCRAM_SHA256, Sasl.SCRAM_SHA512):
            if not self.username:
                add("authenticationRef.username", "no username given")
            elif not self.password:
                add("authenticationRef.password", "no password given")
        elif sasl is Sasl.OAUTHBEARER:
            if self.sasl_token_provider == "bearer":
                if not self.username:
                    add("authenticationRef.username", "no username given")
                elif not self.password:
                    add("authenticationRef.password", "no password given")
                elif not self.oauth_token_endpoint_uri:
                    add("authenticationRef.oauthTokenEndpointUri", "no oauth token endpoint uri given")
            else:
                if self.tls != "enable":
                    add("metadata.tls", "TLS is required for AWS MSK authentication")
                elif not self.aws_region:
                    add("metadata.awsRegion", "no awsRegion given")
        elif sasl is Sasl.GSSAPI:
            if not self.username:
                add("authenticationRef.username", "no username given")
            elif bool(self.password) == bool(self.keytab):
                add(
                    "authenticationRef.password",
                    "exactly one of 'password' or 'keytab' must be provided for GSSAPI authentication",
                )
            elif not self.realm:
                add("authenticationRef.realm", "no realm given")
            elif not self.kerberos_config:
                add(
                    "authenticationRef.kerberosConfig",
                    "no Kerberos configuration file (kerberosConfig) given",
                )
        if self.limit_to_partitions_with_lag:
            if self.allow_idle_consumers:
                add(
                    "metadata.limitToPartitionsWithLag",
                    "allowIdleConsumers and limitToPartitionsWithLag cannot be set simultaneously",
                )
            if not self.topic:
                add(
                    "metadata.limitToPartitionsWithLag",
                    "topic must be specified when using limitToPartitionsWithLag",
                )
        if self.ensure_even_distribution_of_partitions:
            if self.limit_to_partitions_with_lag:
                add(
                    "metadata.ensureEvenDistributionOfPartitions",
                    "limitToPartitionsWithLag and ensureEvenDistributionOfPartitions cannot be set simultaneously",
                )
            if not self.topic:
                add(
                    "metadata.ensureEvenDistributionOfPartitions",
                    "topic must be specified when using ensureEvenDistributionOfPartitions",
                )
        if not self.full_metadata and not self.topic:
            add("metadata.fullMetadata", "topic must be specified when fullMetadata is false")
        if not _KAFKA_VERSION.fullmatch(self.version):
            add("metadata.version", f"error parsing kafka version: invalid version `{self.version}`")
        if not problems and sasl not in SUPPORTED_SASL:
            add(
                "metadata.sasl",
                f"sasl={sasl.value} is accepted for KEDA compatibility but Ebb cannot connect with it yet; "
                "reading this trigger will fail",
                warning=True,
            )
        return problems


# --- the lag computation (pure) ------------------------------------------------------------------


class LagError(ValueError):
    """The offsets cannot be turned into a lag (KEDA reports these as scaler errors)."""


@dataclasses.dataclass(frozen=True)
class LagRules:
    """The parameters that shape the lag, as plain values."""

    lag_threshold: int = 10
    offset_reset_policy: OffsetResetPolicy = OffsetResetPolicy.LATEST
    scale_to_zero_on_invalid_offset: bool = False
    exclude_persistent_lag: bool = False
    allow_idle_consumers: bool = False
    limit_to_partitions_with_lag: bool = False
    ensure_even_distribution_of_partitions: bool = False

    @classmethod
    def of(cls, p: KafkaParams) -> LagRules:
        return cls(
            lag_threshold=p.lag_threshold,
            offset_reset_policy=OffsetResetPolicy(p.offset_reset_policy),
            scale_to_zero_on_invalid_offset=p.scale_to_zero_on_invalid_offset,
            exclude_persistent_lag=p.exclude_persistent_lag,
            allow_idle_consumers=p.allow_idle_consumers,
            limit_to_partitions_with_lag=p.limit_to_partitions_with_lag,
            ensure_even_distribution_of_partitions=p.ensure_even_distribution_of_partitions,
        )


@dataclasses.dataclass(frozen=True)
class Lag:
    """One poll's result. `total_lag` is the (capped) metric; activity uses `total_lag_with_persistent`.
    `previous` is the committed-offset record to pass to the next poll (excludePersistentLag)."""

    total_lag: int
    total_lag_with_persistent: int
    uncapped_lag: int
    partitions_with_lag: int
    total_partitions: int
    previous: Mapping[TopicPartition, int]


def select_partitions(
    described: Mapping[str, Sequence[int]], kept: frozenset[int] | None
) -> dict[str, list[int]]:
    """Step 1: keep the partitions in partitionLimitation; a topic left with none is an error."""
    selected: dict[str, list[int]] = {}
    for topic, partitions in described.items():
        chosen = [p for p in partitions if kept is None or p in kept]
        if not chosen:
            raise LagError(f"expected at least one active partition within the topic '{topic}'")
        selected[topic] = chosen
    return selected


def trunc_div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b >= 0) else -quotient


def factors(n: int) -> list[int]:
    """Every factor of n, ascending (empty for n < 1)."""
    if n < 1:
        return []
    found: set[int] = set()
    i = 1
    while i * i <= n:
        if n % i == 0:
            found.update((i, n // i))
        i += 1
    return sorted(found)


def even_factor(total_lag: int, total_partitions: int, threshold: int) -> int:
    """The smallest factor f of the partition count with f × threshold ≥ lag (else the partition count)."""
    for factor in factors(total_partitions):
        if factor * threshold >= total_lag:
            return factor
    return total_partitions


def _partition_lag(
    tp: TopicPartition,
    committed: Mapping[TopicPartition, int],
    latest: int,
    previous: dict[TopicPartition, int],
    rules: LagRules,
) -> tuple[int, int]:
    """(lag, lagWithPersistent) of one partition (step 3). Updates `previous` like KEDA's scaler does."""
    if tp not in committed:
        raise LagError(f"error finding offset block for topic {tp[0]} and partition {tp[1]}")
    offset = committed[tp]
    if offset == INVALID_OFFSET:
        if rules.offset_reset_policy is OffsetResetPolicy.LATEST:
            lag = 0 if rules.scale_to_zero_on_invalid_offset else 1
            return lag, lag
        if rules.scale_to_zero_on_invalid_offset:
            return 0, 0
        return latest, latest
    if rules.exclude_persistent_lag:
        recorded = previous.get(tp)
        if recorded is not None and recorded == offset:
            # The consumer has not moved since the last poll: do not scale on this partition.
            return 0, latest - offset
        previous[tp] = offset
    return latest - offset, latest - offset


def compute_lag(
    partitions: Mapping[str, Sequence[int]],
    committed: Mapping[TopicPartition, int],
    latest: Mapping[TopicPartition, int],
    previous: Mapping[TopicPartition, int],
    rules: LagRules,
) -> Lag:
    """Steps 3–5 of §3.4 over plain values.

    Only partitions present in the latest-offset answer are counted (a partition missing from it has
    lag 0 and is not counted among the partitions, as KEDA iterates over that answer). A partition with
    no entry in `committed` is an error; `-1` there means "no committed offset".
    """
    record = dict(previous)
    total_lag = total_with_persistent = partitions_with_lag = total_partitions = 0
    for topic, numbers in partitions.items():
        for number in numbers:
            tp = (topic, number)
            if tp not in latest:
                continue
            lag, with_persistent = _partition_lag(tp, committed, latest[tp], record, rules)
            total_lag += lag
            total_with_persistent += with_persistent
            total_partitions += 1
            if lag > 0:
                partitions_with_lag += 1
    uncapped = total_lag
    threshold = rules.lag_threshold
    if (
        not rules.allow_idle_consumers
        or rules.limit_to_partitions_with_lag
        or rules.ensure_even_distribution_of_partitions
    ):
        upper = total_partitions
        if rules.ensure_even_distribution_of_partitions:
            total_lag = even_factor(total_lag, total_partitions, threshold) * threshold
        if rules.limit_to_partitions_with_lag:
            upper = partitions_with_lag
        if trunc_div(total_lag, threshold) > upper:
            total_lag = upper * threshold
    return Lag(
        total_lag=total_lag,
        total_lag_with_persistent=total_with_persistent,
        uncapped_lag=uncapped,
        partitions_with_lag=partitions_with_lag,
        total_partitions=total_partitions,
        previous=record,
    )


# --- the scaler ----------------------------------------------------------------------------------


class OffsetSource(Protocol):
    """Reads what the lag needs. Tests inject their own; `kafka_offsets.KafkaOffsets` is the real one."""

    async def describe(self, topics: Sequence[str]) -> dict[str, list[int]]:
        """Partition numbers per topic; an unknown topic or a topic error raises."""
        ...

    async def group_topics(self, group: str) -> list[str]:
        """The topics the group has committed offsets for."""
        ...

    async def committed(self, group: str, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """Committed offsets (-1: none) for these partitions."""
        ...

    async def latest(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The newest offset (high watermark) of each partition."""
        ...

    async def aclose(self) -> None: ...


def _secrets(p: KafkaParams) -> list[str]:
    return [s for s in (p.password, p.key, p.key_password, p.keytab) if s]


class KafkaScaler:
    """One `kafka` trigger. Keeps the committed offsets of the previous poll for excludePersistentLag."""

    def __init__(
        self,
        p: KafkaParams,
        inputs: base.TriggerInputs,
        source: OffsetSource,
        *,
        timeout: float | None = None,
    ) -> None:
        self._params = p
        self._timeout = (
            timeout if timeout is not None else max(inputs.timeout, kafka_offsets.MIN_TIMEOUT_SECONDS)
        )
        self._rules = LagRules.of(p)
        self._metric = metric(p, inputs)
        self._source = source
        self._previous: Mapping[TopicPartition, int] = {}
        self._secrets = _secrets(p)
        self.last_lag: Lag | None = None

    @property
    def metric(self) -> base.MetricSpec:
        return self._metric

    async def _lag(self) -> Lag:
        p = self._params
        if p.topic:
            described = await self._source.describe([p.topic])
            if len(described) != 1:
                raise LagError(f"expected only 1 topic metadata, got {len(described)}")
        else:
            topics = await self._source.group_topics(p.consumer_group)
            # KEDA (sarama) would describe every topic of the cluster here when the group has no
            # offsets yet (kedacore/keda#8104); no topics means no lag.
            described = await self._source.describe(sorted(topics)) if topics else {}
        partitions = select_partitions(described, p.partitions_kept)
        wanted = [(t, n) for t, numbers in partitions.items() for n in numbers]
        if not wanted:
            return compute_lag({}, {}, {}, self._previous, self._rules)
        committed, latest = await asyncio.gather(
            self._source.committed(p.consumer_group, wanted), self._source.latest(wanted)
        )
        return compute_lag(partitions, committed, latest, self._previous, self._rules)

    async def read(self) -> base.Reading:
        try:
            async with asyncio.timeout(self._timeout):
                lag = await self._lag()
        except TimeoutError:
            raise base.SourceError(f"error reading Kafka lag: no answer within {self._timeout:g}s") from None
        except Exception as error:  # no chaining: a library error may carry credentials
            message = f"error reading Kafka lag: {kafka_offsets.describe(error)}"
            raise base.SourceError(url_masking.mask(message, self._secrets)) from None
        self._previous = lag.previous
        self.last_lag = lag
        return base.Reading(
            value=base.reported_value(float(lag.total_lag)),
            active=lag.total_lag_with_persistent > self._params.activation_lag_threshold,
        )

    async def aclose(self) -> None:
        await self._source.aclose()


def metric(p: KafkaParams, inputs: base.TriggerInputs) -> base.MetricSpec:
    """`s<i>-kafka-<topic>`, or `s<i>-kafka-<consumerGroup>-topics` without a topic; target lagThreshold."""
    suffix = f"kafka-{p.topic}" if p.topic else f"kafka-{p.consumer_group}-topics"
    return base.MetricSpec(
        name=base.metric_name(inputs.index, suffix),
        target_type=inputs.metric_type,
        target=float(p.lag_threshold),
        activation=float(p.activation_lag_threshold),
    )


def connection_settings(p: KafkaParams, inputs: base.TriggerInputs) -> kafka_offsets.Settings:
    tls = None
    if p.tls == "enable":
        tls = tls_contexts.TLSMaterial(
            ca=p.ca, cert=p.cert, key=p.key, key_password=p.key_password, unsafe_ssl=p.unsafe_ssl
        )
    return kafka_offsets.Settings(
        bootstrap_servers=tuple(s.strip() for s in p.bootstrap_servers),
        sasl=p.sasl,
        username=p.username,
        password=p.password,
        tls=tls,
        timeout=max(inputs.timeout, kafka_offsets.MIN_TIMEOUT_SECONDS),
    )


def build(p: KafkaParams, inputs: base.TriggerInputs, context: base.BuildContext) -> base.Scaler:
    """A live scaler over a shared Kafka client (opened on the first read)."""
    return KafkaScaler(p, inputs, kafka_offsets.KafkaOffsets(context.clients, connection_settings(p, inputs)))


KAFKA: base.ScalerType[KafkaParams] = base.ScalerType(
    name="kafka",
    params=KafkaParams,
    metric=metric,
    build=build,
    doc="Kafka consumer-group lag (aiokafka), with KEDA's offset and partition rules.",
)

"""Trigger types `redis-streams`, `redis-cluster-streams` and `redis-sentinel-streams`.

KEDA's parameters (keda-semantics §3.2): `stream` (required), `consumerGroup`, `pendingEntriesCount` (5),
`streamLength` (5), `lagCount`, `activationLagCount` (0), `databaseIndex`, and the connection fields of
`redis_connections`. The mode follows from what is set:

* no `consumerGroup`: the stream's length (XLEN; a missing stream counts 0), target `streamLength`;
* `consumerGroup` without `lagCount` (or with `lagCount: "0"`, as in KEDA): the group's pending entries
  (XPENDING; a missing stream or group is an error), target `pendingEntriesCount`;
* `consumerGroup` with `lagCount`: the group's lag from XINFO GROUPS (Redis 7 or later; a missing stream
  counts 0; a group not created yet counts the whole stream, XLEN), target `lagCount`.

Active iff the value is above `activationLagCount`, in every mode. Metric `s<index>-redis-streams-<stream>`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any, ClassVar

from scalers import base, params, redis_connections


class Mode(str, enum.Enum):
    STREAM_LENGTH = "streamLength"
    PENDING_ENTRIES = "pendingEntriesCount"
    LAG = "lagCount"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RedisStreamParams(redis_connections.ConnectionParams):
    stream: str = params.param("stream", doc="the stream to measure")
    consumer_group: str | None = params.param("consumerGroup", default=None, doc="the consumer group")
    pending_entries_count: int = params.param(
        "pendingEntriesCount", default=5, doc="target pending entries per replica (with consumerGroup)"
    )
    stream_length: int = params.param("streamLength", default=5, doc="target stream length per replica")
    lag_count: int | None = params.param(
        "lagCount", default=None, doc="target lag per replica; selects the XINFO GROUPS lag (Redis 7+)"
    )
    activation_lag_count: int = params.param(
        "activationLagCount", default=0, doc="active when the value is above this"
    )

    def validate(self) -> list[base.ParamProblem]:
        return self.connection_problems()

    @property
    def mode(self) -> Mode:
        if not self.consumer_group:
            return Mode.STREAM_LENGTH
        return Mode.LAG if self.lag_count else Mode.PENDING_ENTRIES

    @property
    def target(self) -> int:
        if self.mode is Mode.STREAM_LENGTH:
            return self.stream_length
        if self.mode is Mode.LAG:
            return self.lag_count or 0
        return self.pending_entries_count


@dataclasses.dataclass(frozen=True, kw_only=True)
class RedisClusterStreamParams(RedisStreamParams):
    MODE: ClassVar[redis_connections.Mode] = redis_connections.Mode.CLUSTER


@dataclasses.dataclass(frozen=True, kw_only=True)
class RedisSentinelStreamParams(RedisStreamParams):
    MODE: ClassVar[redis_connections.Mode] = redis_connections.Mode.SENTINEL


def metric(p: RedisStreamParams, inputs: base.TriggerInputs) -> base.MetricSpec:
    return base.MetricSpec(
        name=base.metric_name(inputs.index, f"redis-streams-{p.stream}"),
        target_type=inputs.metric_type,
        target=float(p.target),
        activation=float(p.activation_lag_count),
    )


def _integer(reply: Any, where: str) -> int:
    if isinstance(reply, bool) or not isinstance(reply, int):
        raise base.SourceError(f"{where}: unexpected reply {reply!r}")
    return reply


def pending_of(reply: Any) -> Any:
    """XPENDING's summary: redis-py parses it into a mapping; the raw reply is `[count, min, max, …]`."""
    if isinstance(reply, Mapping):
        return reply.get("pending")
    if isinstance(reply, list | tuple) and reply:
        return reply[0]
    return reply


def lag_of(groups: Any, group: str) -> tuple[bool, int]:
    """(found, lag) of `group` in an XINFO GROUPS reply. Redis answers a null lag when it cannot tell
    (entries deleted in the middle of the stream); go-redis, hence KEDA, reads that as 0."""
    for entry in groups or []:
        if isinstance(entry, Mapping) and entry.get("name") == group:
            lag = entry.get("lag")
            return True, int(lag) if lag is not None else 0
    return False, 0


def major_version(info: Any) -> int | None:
    """The major version from INFO server (one node), or the lowest one from a cluster's per-node answer."""
    if isinstance(info, Mapping):
        version = info.get("redis_version")
        if version is not None:
            head = str(version).split(".")[0]
            return int(head) if head.isdigit() else None
        found = [major_version(v) for v in info.values() if isinstance(v, Mapping)]
        numbers = [n for n in found if n is not None]
        return min(numbers) if numbers else None
    return None


def count_reader(
    connection: redis_connections.Connection, p: RedisStreamParams, timeout: float
) -> redis_connections.CountSource:
    """The value for `p.mode` through the shared, batched client."""
    Command = redis_connections.Command
    stream, group = p.stream, p.consumer_group or ""
    where = connection.target.where

    if p.mode is Mode.STREAM_LENGTH:
        xlen = Command(("XLEN", stream))

        async def stream_length() -> int:
            return _integer(await connection.run(xlen, f'XLEN "{stream}"', timeout), where)

        return stream_length

    if p.mode is Mode.PENDING_ENTRIES:
        xpending = Command(("XPENDING", stream, group))

        async def pending_entries() -> int:
            reply = await connection.run(xpending, f'XPENDING "{stream}" "{group}"', timeout)
            return _integer(pending_of(reply), where)

        return pending_entries

    xinfo = Command(("XINFO GROUPS", stream))
    xlen = Command(("XLEN", stream))

    async def check_version(handle: redis_connections.Handle) -> None:
        if handle.major_version is None:
            handle.major_version = major_version(await handle.client.info("server"))
        if handle.major_version is None:
            raise base.SourceError(f"{where}: could not find the Redis version")
        if handle.major_version < 7:
            raise base.SourceError(f"{where}: redis version 7+ required for lag (got {handle.major_version})")

    async def lag() -> int:
        await connection.call(check_version, "INFO server", timeout)
        try:
            groups = await connection.run(xinfo, f'XINFO GROUPS "{stream}"', timeout)
        except base.SourceError as error:
            if "no such key" in str(error).lower():  # the stream does not exist yet
                return 0
            raise
        found, value = lag_of(groups, group)
        if found:
            return value
        # The group is not created yet (no consumer ever ran): everything in the stream is still to do.
        return _integer(await connection.run(xlen, f'XLEN "{stream}"', timeout), where)

    return lag


def build(p: RedisStreamParams, inputs: base.TriggerInputs, context: base.BuildContext) -> base.Scaler:
    connection = redis_connections.Connection(context.clients, redis_connections.Target.of(p))
    return redis_connections.CountScaler(
        metric(p, inputs), count_reader(connection, p, inputs.timeout), connection.aclose,
        hold=connection.handle,  # a standby takes its hold on the shared client before its first read
    )


def _type(name: str, params_class: type[RedisStreamParams], doc: str) -> base.ScalerType[RedisStreamParams]:
    return base.ScalerType(name=name, params=params_class, metric=metric, build=build, doc=doc)


REDIS_STREAMS = _type("redis-streams", RedisStreamParams, "Length, pending entries or lag of a Redis stream.")
REDIS_CLUSTER_STREAMS = _type(
    "redis-cluster-streams", RedisClusterStreamParams, "A stream in a Redis cluster."
)
REDIS_SENTINEL_STREAMS = _type(
    "redis-sentinel-streams", RedisSentinelStreamParams, "A stream behind Redis sentinels."
)

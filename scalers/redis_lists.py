"""Trigger types `redis`, `redis-cluster` and `redis-sentinel`: the length of a list (or zset, set, hash).

KEDA's parameters (keda-semantics §3.1): `listName` (required), `listLength` (5, the target per replica),
`activationListLength` (0), `databaseIndex`, and the connection fields of `redis_connections`. The metric is
`s<index>-redis-<listName>`; the value is measured by a server-side script that picks LLEN, ZCARD, SCARD
or HLEN by the key's type (a missing key counts 0; any other type is the error "unsupported key type"),
as KEDA's does, except that one call measures many keys: the reads of every trigger on the same server
during one event-loop turn become one script call (one per hash slot on a cluster).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from scalers import base, params, redis_connections

# One call answers for any number of keys (the batcher merges every list read of a turn into it): for
# each key its length by type, or, for a type that has no length, the type's name.
LENGTH_SCRIPT = redis_connections.KeyedScript(
    """
local counters = {zset = 'ZCARD', set = 'SCARD', list = 'LLEN', hash = 'HLEN', none = 'LLEN'}
local lengths = {}
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key).ok
  local counter = counters[kind]
  if counter then
    lengths[i] = redis.call(counter, key)
  else
    lengths[i] = kind
  end
end
return lengths
"""
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RedisListParams(redis_connections.ConnectionParams):
    list_name: str = params.param("listName", doc="the list (or sorted set, set, hash) to measure")
    list_length: int = params.param("listLength", default=5, doc="target length per replica")
    activation_list_length: int = params.param(
        "activationListLength", default=0, doc="active when the length is above this"
    )

    def validate(self) -> list[base.ParamProblem]:
        return self.connection_problems()


@dataclasses.dataclass(frozen=True, kw_only=True)
class RedisClusterListParams(RedisListParams):
    MODE: ClassVar[redis_connections.Mode] = redis_connections.Mode.CLUSTER


@dataclasses.dataclass(frozen=True, kw_only=True)
class RedisSentinelListParams(RedisListParams):
    MODE: ClassVar[redis_connections.Mode] = redis_connections.Mode.SENTINEL


def metric(p: RedisListParams, inputs: base.TriggerInputs) -> base.MetricSpec:
    return base.MetricSpec(
        name=base.metric_name(inputs.index, f"redis-{p.list_name}"),
        target_type=inputs.metric_type,
        target=float(p.list_length),
        activation=float(p.activation_list_length),
    )


def length_reader(connection: redis_connections.Connection, list_name: str, timeout: float) -> redis_connections.CountSource:
    """The length of `list_name` through the shared, batched client."""
    doing = f'measuring "{list_name}"'

    async def length() -> int:
        reply = await connection.run_key(LENGTH_SCRIPT, list_name, doing, timeout)
        if isinstance(reply, int) and not isinstance(reply, bool):
            return reply
        where = connection.target.where
        if isinstance(reply, str):
            raise base.SourceError(f"{where}: {doing}: unsupported key type {reply}")
        raise base.SourceError(f"{where}: {doing}: unexpected reply {type(reply).__name__}")

    return length


def build(p: RedisListParams, inputs: base.TriggerInputs, context: base.BuildContext) -> base.Scaler:
    connection = redis_connections.Connection(context.clients, redis_connections.Target.of(p))
    return redis_connections.CountScaler(
        metric(p, inputs), length_reader(connection, p.list_name, inputs.timeout), connection.aclose,
        hold=connection.handle,  # a standby takes its hold on the shared client before its first read
        reads_bounded=True,  # the batcher times each read out at its own deadline
    )


def _type(name: str, params_class: type[RedisListParams], doc: str) -> base.ScalerType[RedisListParams]:
    return base.ScalerType(name=name, params=params_class, metric=metric, build=build, doc=doc)


REDIS = _type("redis", RedisListParams, "Length of a Redis list, sorted set, set or hash.")
REDIS_CLUSTER = _type("redis-cluster", RedisClusterListParams, "Length of a list in a Redis cluster.")
REDIS_SENTINEL = _type("redis-sentinel", RedisSentinelListParams, "Length of a list behind Redis sentinels.")

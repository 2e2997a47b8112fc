"""Trigger types `redis`, `redis-cluster` and `redis-sentinel`: the length of a list (or zset, set, hash).

KEDA's parameters (keda-semantics §3.1): `listName` (required), `listLength` (5, the target per replica),
`activationListLength` (0), `databaseIndex`, and the connection fields of `redis_connections`. The metric is
`s<index>-redis-<listName>`; the value is measured by one server-side script that picks LLEN, ZCARD, SCARD
or HLEN by the key's type (a missing key counts 0; any other type is the error "unsupported key type"),
so a read is one command, and the reads of every trigger on the same server share one pipeline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import ClassVar

from scalers import base, params, redis_connections

# One round trip whatever the key's type. Anything but the four counted types (and "none") is an error.
LENGTH_SCRIPT = """
local kind = redis.call('TYPE', KEYS[1]).ok
local counter = ({zset = 'ZCARD', set = 'SCARD', list = 'LLEN', hash = 'HLEN', none = 'LLEN'})[kind]
if not counter then
  return redis.error_reply('unsupported key type ' .. kind)
end
return redis.call(counter, KEYS[1])
"""


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


LengthSource = Callable[[], Awaitable[int]]


@dataclasses.dataclass
class RedisListScaler:
    """Reads one length from `length` (the real Redis, or a plain function in tests)."""

    metric: base.MetricSpec
    length: LengthSource
    close: Callable[[], Awaitable[None]]

    async def read(self) -> base.Reading:
        return base.reading(float(await self.length()), self.metric.activation)

    async def aclose(self) -> None:
        await self.close()


def length_reader(connection: redis_connections.Connection, list_name: str, timeout: float) -> LengthSource:
    """The length of `list_name` through the shared, batched client."""
    command = redis_connections.script_command(LENGTH_SCRIPT, [list_name])

    async def length() -> int:
        reply = await connection.run(command, f'measuring "{list_name}"', timeout)
        if not isinstance(reply, int):
            raise base.SourceError(
                f'{connection.target.where}: measuring "{list_name}": unexpected reply {reply!r}'
            )
        return reply

    return length


def build(p: RedisListParams, inputs: base.TriggerInputs, context: base.BuildContext) -> base.Scaler:
    connection = redis_connections.Connection(context.clients, redis_connections.Target.of(p))
    return RedisListScaler(
        metric(p, inputs), length_reader(connection, p.list_name, inputs.timeout), connection.aclose
    )


def _type(name: str, params_class: type[RedisListParams], doc: str) -> base.ScalerType[RedisListParams]:
    return base.ScalerType(name=name, params=params_class, metric=metric, build=build, doc=doc)


REDIS = _type("redis", RedisListParams, "Length of a Redis list, sorted set, set or hash.")
REDIS_CLUSTER = _type("redis-cluster", RedisClusterListParams, "Length of a list in a Redis cluster.")
REDIS_SENTINEL = _type("redis-sentinel", RedisSentinelListParams, "Length of a list behind Redis sentinels.")

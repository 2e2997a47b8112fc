"""The `redis` list scalers: KEDA's parameter rules, values and activity, and reads from a real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis_helpers as h

from scalers import base, connections, redis_connections, redis_lists, url_masking

REDIS = redis_lists.REDIS
ENV = {"REDIS_HOST": "none", "REDIS_PORT": "6379", "REDIS_PASSWORD": "none", "REDIS_ADDR": "myredis:6379"}


# --- parameters: accept / reject as KEDA (redis_scaler_test.go) -------------------------------------


@pytest.mark.parametrize(
    ("metadata", "auth", "expected"),
    [
        pytest.param({}, {}, ['metadata.listName: missing required parameter "listName"'], id="nothing"),
        pytest.param(
            {
                "listName": "mylist",
                "listLength": "10",
                "addressFromEnv": "REDIS_HOST",
                "passwordFromEnv": "REDIS_PASSWORD",
            },
            {},
            [],
            id="address-from-env",
        ),
        pytest.param(
            {"listName": "mylist", "hostFromEnv": "REDIS_HOST", "portFromEnv": "REDIS_PORT"},
            {},
            [],
            id="host-port-from-env",
        ),
        pytest.param(
            {
                "listName": "mylist",
                "addressFromEnv": "REDIS_HOST",
                "host": "REDIS_HOST",
                "port": "REDIS_PORT",
            },
            {},
            [],
            id="address-and-host-port",
        ),
        pytest.param(
            {"listName": "mylist", "hostFromEnv": "REDIS_HOST"},
            {},
            [redis_connections.NO_ADDRESSES],
            id="host-without-port",
        ),
        pytest.param(
            {"listName": "mylist", "address": "", "password": ""},
            {},
            [redis_connections.NO_ADDRESSES],
            id="empty-address",
        ),
        pytest.param(
            {"listName": "mylist", "listLength": "AA", "addressFromEnv": "REDIS_HOST"},
            {},
            ["metadata.listLength: expected an integer"],
            id="bad-list-length",
        ),
        pytest.param(
            {"listName": "mylist", "listLength": "10.5", "addressFromEnv": "REDIS_HOST"},
            {},
            ["metadata.listLength: expected an integer"],
            id="fractional-list-length",
        ),
        pytest.param(
            {"listName": "mylist", "activationListLength": "AA", "addressFromEnv": "REDIS_HOST"},
            {},
            ["metadata.activationListLength: expected an integer"],
            id="bad-activation",
        ),
        pytest.param(
            {"listName": "mylist", "listLength": "0", "addressFromEnv": "REDIS_WRONG"},
            {},
            [redis_connections.NO_ADDRESSES],
            id="address-env-missing",
        ),
        pytest.param(
            {"listName": "mylist", "listLength": "0"}, {"address": "localhost:6379"}, [], id="address-in-auth"
        ),
        pytest.param(
            {"listName": "mylist"}, {"host": "localhost", "port": "6379"}, [], id="host-port-in-auth"
        ),
        pytest.param(
            {"listName": "mylist"},
            {"host": "localhost"},
            [redis_connections.NO_ADDRESSES],
            id="host-only-in-auth",
        ),
        pytest.param(
            {"listName": "mylist"},
            {"address": "localhost:6379", "tls": "enable", "ca": "caaa", "cert": "ceert", "key": "keey"},
            [],
            id="tls-in-auth",
        ),
        pytest.param(
            {"listName": "mylist", "enableTLS": "true"},
            {"address": "localhost:6379"},
            [],
            id="tls-in-metadata",
        ),
        pytest.param(
            {"listName": "mylist", "enableTLS": "true"},
            {"address": "localhost:6379", "tls": "disable"},
            [redis_connections.TLS_TWICE],
            id="tls-twice",
        ),
        pytest.param(
            {"listName": "mylist", "enableTLS": "yes"},
            {"address": "localhost:6379"},
            ["metadata.enableTLS: expected a boolean"],
            id="tls-not-bool",
        ),
        pytest.param(
            {"listName": "mylist"},
            {"address": "localhost:6379", "tls": "on"},
            ["authenticationRef.tls: must be one of enable, disable"],
            id="tls-bad-choice",
        ),
        pytest.param(
            {"listName": "mylist", "hosts": "a, b, c", "ports": "1, 2"},
            {},
            [redis_connections.UNEQUAL_HOSTS_AND_PORTS],
            id="unequal-hosts-ports",
        ),
        pytest.param(
            {"listName": "mylist", "address": "a:1", "databaseIndex": "x"},
            {},
            ["metadata.databaseIndex: expected an integer"],
            id="bad-database-index",
        ),
        pytest.param(
            {"listName": "mylist", "address": "a:1", "unsafeSsl": "maybe"},
            {},
            ["metadata.unsafeSsl: expected a boolean"],
            id="bad-unsafe-ssl",
        ),
    ],
)
def test_parameters_are_accepted_or_rejected_as_keda_does(
    metadata: dict[str, str], auth: dict[str, str], expected: list[str]
) -> None:
    found = h.problems_of(REDIS, h.inputs(metadata, auth, ENV))
    assert len(found) == len(expected), found
    for problem, wanted in zip(found, expected, strict=True):
        assert wanted in problem


def test_defaults_and_sources() -> None:
    parsed = h.problems_of(REDIS, h.inputs({"listName": "q"}, {"address": "a:1"}))
    assert parsed == []
    from scalers import params

    value = params.parse(redis_lists.RedisListParams, h.inputs({"listName": " q ", "address": "a:1"})).value
    assert (value.list_name, value.list_length, value.activation_list_length, value.database_index) == (
        "q",
        5,
        0,
        0,
    )
    assert value.tls_enabled is False and value.unsafe_ssl is False
    # Credentials: metadata first, then the container env, then the TriggerAuthentication (KEDA's order).
    chosen = params.parse(
        redis_lists.RedisListParams,
        h.inputs(
            {"listName": "q", "address": "a:1", "passwordFromEnv": "REDIS_PASSWORD"},
            {"password": "from-auth"},
            ENV,
        ),
    ).value
    assert chosen.password == "none"
    # Addresses: metadata, then auth, then env; host/port pairs are appended, IPv6 hosts bracketed.
    pairs = params.parse(
        redis_lists.RedisListParams, h.inputs({"listName": "q"}, {"hosts": " a, ::1 ", "ports": "1, 2"})
    ).value
    assert pairs.all_addresses == ["a:1", "[::1]:2"]


def test_warnings_do_not_reject() -> None:
    warnings = h.warnings_of(
        redis_lists.REDIS_CLUSTER,
        h.inputs({"listName": "q", "addresses": "a:1,b:2", "databaseIndex": "3", "colour": "x"}),
    )
    assert any("databaseIndex" in w for w in warnings)
    assert any("metadata.colour: unknown parameter" in w for w in warnings)
    sentinel = h.warnings_of(redis_lists.REDIS_SENTINEL, h.inputs({"listName": "q", "address": "a:1"}))
    assert any("sentinelMaster" in w for w in sentinel)
    assert any(
        "has no port" in w for w in h.warnings_of(REDIS, h.inputs({"listName": "q", "address": "nohost"}))
    )


def test_a_secret_never_appears_in_a_parameter_problem() -> None:
    hidden = h.problems_of(
        REDIS, h.inputs({"listName": "q", "address": "a:1", "unsafeSsl": "x"}, {"password": "pw-xyz"})
    )
    assert hidden and all("pw-xyz" not in p for p in hidden)


# --- metric and activity with the source injected ---------------------------------------------------


@pytest.mark.parametrize(
    ("index", "list_name", "name"),
    [
        pytest.param(0, "mylist", "s0-redis-mylist", id="plain"),
        pytest.param(1, "mylist", "s1-redis-mylist", id="index-1"),
        pytest.param(0, "jobs/high.prio", "s0-redis-jobs-high-prio", id="normalised"),
    ],
)
def test_metric_names_follow_keda(index: int, list_name: str, name: str) -> None:
    from scalers import params

    trigger = h.inputs({"listName": list_name, "address": "a:1", "listLength": "7"}, index=index)
    spec = REDIS.metric(params.parse(REDIS.params, trigger).value, trigger)
    assert (spec.name, spec.target, spec.target_type, spec.activation) == (name, 7.0, "AverageValue", 0.0)


@pytest.mark.parametrize(
    ("length", "activation", "value", "active"),
    [
        pytest.param(0, 0, 0.0, False, id="empty-inactive"),
        pytest.param(1, 0, 1.0, True, id="one-active"),
        pytest.param(5, 5, 5.0, False, id="at-activation-inactive"),
        pytest.param(6, 5, 6.0, True, id="above-activation-active"),
        pytest.param(40, 50, 40.0, False, id="activation-wins-over-target"),
    ],
)
async def test_value_and_activity(length: int, activation: int, value: float, active: bool) -> None:
    async def source() -> int:
        return length

    async def close() -> None:
        return None

    metric = base.MetricSpec("s0-redis-q", "AverageValue", 10.0, float(activation))
    reading = await redis_connections.CountScaler(metric, source, close).read()
    assert (reading.value, reading.active) == (value, active)


# --- against a real Redis ---------------------------------------------------------------------------


@pytest.fixture
def db(redis_server: object) -> Iterator[redis.Redis]:
    client = redis.Redis(host=redis_server.host, port=redis_server.port, db=3, decode_responses=True)  # type: ignore[attr-defined]
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def _address(server: object) -> str:
    return f"{server.host}:{server.port}"  # type: ignore[attr-defined]


async def test_lengths_by_key_type_from_a_real_redis(redis_server: object, db: redis.Redis) -> None:
    db.lpush("list", "a", "b", "c")
    db.zadd("zset", {"a": 1, "b": 2})
    db.sadd("set", "a", "b", "c", "d")
    db.hset("hash", mapping={"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"})
    db.set("text", "not a collection")
    clients = connections.SharedClients()
    expected = {
        "list": (3.0, True),
        "zset": (2.0, True),
        "set": (4.0, True),
        "hash": (6.0, True),
        "missing": (0.0, False),
    }
    scalers = {
        key: h.build(
            REDIS,
            h.inputs({"listName": key, "address": _address(redis_server), "databaseIndex": "3"}),
            clients,
        )
        for key in [*expected, "text"]
    }
    try:
        for key, wanted in expected.items():
            reading = await scalers[key].read()
            assert (reading.value, reading.active) == wanted, key
        with pytest.raises(base.SourceError, match="unsupported key type string"):
            await scalers["text"].read()
        # Read together, the keys share one script call: the bad key fails alone.
        together = await asyncio.gather(*(s.read() for s in scalers.values()), return_exceptions=True)
        by_key = dict(zip(scalers, together, strict=True))
        assert isinstance(by_key.pop("text"), base.SourceError)
        assert {k: (r.value, r.active) for k, r in by_key.items()} == expected  # type: ignore[union-attr]
        # Activation is strict: 6 > 5 is active, 5 is not.
        activated = h.build(
            REDIS,
            h.inputs(
                {
                    "listName": "hash",
                    "address": _address(redis_server),
                    "databaseIndex": "3",
                    "activationListLength": "6",
                }
            ),
            clients,
        )
        assert (await activated.read()).active is False
        db.hset("hash", "g", "7")
        assert (await activated.read()) == base.Reading(7.0, True)
        await activated.aclose()
    finally:
        for scaler in scalers.values():
            await scaler.aclose()
    assert len(clients) == 0


async def test_triggers_on_one_server_share_one_client_and_one_pipeline(
    redis_server: object, db: redis.Redis
) -> None:
    for i in range(1, 50):
        db.rpush(f"q{i}", *range(i))
    clients = connections.SharedClients()
    scalers = [
        h.build(
            REDIS,
            h.inputs({"listName": f"q{i}", "address": _address(redis_server), "databaseIndex": "3"}),
            clients,
        )
        for i in range(50)
    ]
    readings = await asyncio.gather(*(s.read() for s in scalers))
    assert [r.value for r in readings] == [float(i) for i in range(50)]
    assert len(clients) == 1
    (key,) = list(clients._entries)
    handle = clients._entries[key].client
    assert clients.users(key) == 50
    assert handle.batcher.flushes <= 2  # the script is loaded once: one pipeline, plus one resend at most
    before = handle.batcher.flushes
    await asyncio.gather(*(s.read() for s in scalers))
    assert handle.batcher.flushes == before + 1
    for scaler in scalers[:-1]:
        await scaler.aclose()
    assert len(clients) == 1
    await scalers[-1].aclose()
    assert len(clients) == 0  # the last user closed the client


async def test_other_databases_and_credentials_get_their_own_client(
    redis_server: object, db: redis.Redis
) -> None:
    clients = connections.SharedClients()
    a = h.build(
        REDIS, h.inputs({"listName": "x", "address": _address(redis_server), "databaseIndex": "3"}), clients
    )
    b = h.build(
        REDIS, h.inputs({"listName": "x", "address": _address(redis_server), "databaseIndex": "4"}), clients
    )
    await asyncio.gather(a.read(), b.read())
    assert len(clients) == 2
    assert all("secret" not in repr(k) for k in clients._entries)
    await a.aclose()
    await b.aclose()


PASSWORD = "s3cret-Pa55word"


async def test_outage_gives_a_masked_source_error_and_recovery(redis_server_factory: object) -> None:
    server = redis_server_factory()  # type: ignore[operator]
    admin = redis.Redis(host=server.host, port=server.port, decode_responses=True)
    admin.config_set("requirepass", PASSWORD)
    admin = redis.Redis(host=server.host, port=server.port, password=PASSWORD, decode_responses=True)
    admin.rpush("jobs", 1, 2)
    clients = connections.SharedClients()
    trigger = h.inputs({"listName": "jobs", "address": _address(server)}, {"password": PASSWORD}, timeout=2.0)
    scaler = h.build(REDIS, trigger, clients)
    try:
        assert (await scaler.read()).value == 2.0
        server.stop()
        with pytest.raises(base.SourceError) as failure:
            await scaler.read()
        assert PASSWORD not in str(failure.value)
        assert _address(server) in str(failure.value)
        server.start()
        admin = redis.Redis(host=server.host, port=server.port, decode_responses=True)
        admin.config_set("requirepass", PASSWORD)
        admin = redis.Redis(host=server.host, port=server.port, password=PASSWORD, decode_responses=True)
        admin.rpush("jobs", 1, 2, 3)
        assert (await scaler.read()).value == 3.0  # the same scaler recovers on the restarted server
        wrong = h.build(
            REDIS,
            h.inputs({"listName": "jobs", "address": _address(server)}, {"password": PASSWORD + "-wrong"}),
            clients,
        )
        with pytest.raises(base.SourceError) as denied:
            await wrong.read()
        assert PASSWORD not in str(denied.value)
        await wrong.aclose()
    finally:
        await scaler.aclose()
        admin.close()


async def test_an_unreachable_address_with_credentials_in_it_is_masked() -> None:
    clients = connections.SharedClients()
    scaler = h.build(
        REDIS, h.inputs({"listName": "q", "address": "redis://bob:pw-in-url@127.0.0.1:1"}), clients
    )
    with pytest.raises(base.SourceError) as failure:
        await scaler.read()
    assert "pw-in-url" not in str(failure.value)
    await scaler.aclose()


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        pytest.param("auth failed for hunter2", ["hunter2"], "auth failed for [redacted]", id="value"),
        pytest.param("redis://u:p@h:1 down", [], "redis://user:password@h:1 down", id="url"),
        pytest.param("rediss://:pw@h/0", [], "rediss://user:password@h/0", id="url-no-user"),
        pytest.param("plain", ["", "x-not-there"], "plain", id="nothing"),
    ],
)
def test_masking(text: str, secrets: list[str], expected: str) -> None:
    assert url_masking.mask(text, secrets) == expected


async def test_reads_sharing_one_pipeline_each_keep_their_own_timeout(redis_server: object, db: redis.Redis) -> None:
    """Two triggers on one server, one with a 0.3 s timeout and one with 5 s, read in the same pipeline
    while the server stalls for 1.5 s: the short one fails at its own deadline, not the batch's last one,
    and the long one gets its answer."""
    db.rpush("slow", 1, 2, 3)
    clients = connections.SharedClients()
    address = {"listName": "slow", "address": _address(redis_server), "databaseIndex": "3"}
    short = h.build(REDIS, h.inputs(address, timeout=0.3), clients)
    patient = h.build(REDIS, h.inputs(address, timeout=5.0), clients)
    try:
        await asyncio.gather(short.read(), patient.read())  # the script is loaded; both hold the client
        (key,) = list(clients._entries)
        batcher = clients._entries[key].client.batcher
        before = batcher.flushes
        db.execute_command("CLIENT", "PAUSE", 1500)
        began = time.monotonic()

        async def timed(read: Any) -> tuple[Any, float]:
            try:
                return await read, time.monotonic() - began
            except base.SourceError as error:
                return error, time.monotonic() - began

        (short_result, short_took), (patient_result, patient_took) = await asyncio.gather(
            timed(short.read()), timed(patient.read())
        )
        assert batcher.flushes == before + 1, "the two reads were not one pipeline"
        assert isinstance(short_result, base.SourceError) and "no answer within 0.3s" in str(short_result), short_result
        assert short_took < 1.0, short_took
        assert patient_result == base.Reading(3.0, True) and patient_took >= 1.2, (patient_result, patient_took)
    finally:
        await short.aclose()
        await patient.aclose()


async def test_a_flush_answers_its_readers_a_chunk_per_turn(redis_server: object, db: redis.Redis) -> None:
    """1,200 readers in one pipeline are answered `SETTLE_CHUNK` per turn of the event loop: another task
    runs between the chunks instead of waiting behind all 1,200 continuations."""
    db.rpush("shared", 1, 2)
    clients = connections.SharedClients()
    scalers = [
        h.build(REDIS, h.inputs({"listName": "shared", "address": _address(redis_server), "databaseIndex": "3"}), clients)
        for _ in range(1200)
    ]
    turns = 0

    async def other_task() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    try:
        await asyncio.gather(*(s.read() for s in scalers))  # the script loaded, the client open
        ticker = asyncio.create_task(other_task())
        answered_at: list[int] = []

        async def read(scaler: Any) -> base.Reading:
            reading = await scaler.read()
            answered_at.append(turns)
            return reading

        readings = await asyncio.gather(*(read(s) for s in scalers))
        ticker.cancel()
        assert {r.value for r in readings} == {2.0}
        assert redis_connections.SETTLE_CHUNK < 1200
        assert answered_at[-1] - answered_at[0] >= 2, "every reader was answered in the same turn"
    finally:
        for scaler in scalers:
            await scaler.aclose()


async def test_a_stalled_flush_times_its_readers_out_in_deadline_order_and_keeps_the_last_for_itself() -> None:
    loop = asyncio.get_running_loop()
    now = loop.time()
    deadlines = [now + 0.01 + 0.03 * (n % 2) + n * 1e-6 for n in range(2000)]  # two groups, all distinct
    requests = [redis_connections._Request(loop.create_future(), d) for d in deadlines]
    latest = now + 0.2
    requests.append(redis_connections._Request(loop.create_future(), latest))
    sweep = redis_connections._Sweep(list(reversed(requests)), latest)
    try:
        await asyncio.sleep(0.025)
        early = [r for r in requests[:-1] if r.deadline < now + 0.02]
        assert early and all(r.future.done() and isinstance(r.future.exception(), TimeoutError) for r in early)
        assert not any(r.future.done() for r in requests[:-1] if r.deadline > now + 0.035)
        await asyncio.sleep(0.05)
        assert all(r.future.done() for r in requests[:-1])
        assert not requests[-1].future.done(), "the flush's own timeout, not the sweep, ends the last reader"
    finally:
        sweep.cancel()
        for r in requests:
            if r.future.done():
                r.future.exception()  # retrieved: no "never retrieved" warning

"""The `prometheus` scaler: KEDA's parameter rules, the exact request, the response rules, activity, auth
headers on the wire, shared sessions, and values read from a real Prometheus scraping a real exporter."""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from scalers import base, connections, http_clients, params, prometheus_query
from tests.scalers import http_helpers as h

PROMETHEUS = prometheus_query.PROMETHEUS


def inputs(*args: Any, **kwargs: Any) -> base.TriggerInputs:
    return h.inputs(*args, type_name="prometheus", **kwargs)
BASE = {"serverAddress": "http://prometheus:9090", "query": "sum(queue_depth)", "threshold": "100"}


def parsed(metadata: dict[str, str], auth: dict[str, str] | None = None) -> prometheus_query.PrometheusParams:
    value: prometheus_query.PrometheusParams = params.parse(PROMETHEUS.params, inputs(metadata, auth)).value
    return value


# --- parameters: accept / reject as KEDA -------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "auth", "expected"),
    [
        pytest.param(BASE, {}, [], id="minimal"),
        pytest.param(
            {},
            {},
            [
                'missing required parameter "serverAddress"',
                'missing required parameter "query"',
                'missing required parameter "threshold"',
            ],
            id="nothing-every-error-at-once",
        ),
        pytest.param(
            {**BASE, "threshold": "1a"}, {}, ["metadata.threshold: expected a number"], id="bad-threshold"
        ),
        pytest.param({**BASE, "threshold": " 12.5 "}, {}, [], id="threshold-trimmed-float"),
        pytest.param(
            {**BASE, "activationThreshold": "x"},
            {},
            ["metadata.activationThreshold: expected a number"],
            id="bad-activation",
        ),
        pytest.param({**BASE, "activationThreshold": "-5"}, {}, [], id="negative-activation"),
        pytest.param(
            {**BASE, "serverAddress": "   "},
            {},
            ['missing required parameter "serverAddress"'],
            id="blank-is-absent",
        ),
        pytest.param(
            {**BASE, "serverAddress": "prometheus:9090"},
            {},
            ["expected an http:// or https:// URL"],
            id="no-scheme",
        ),
        pytest.param({**BASE, "namespace": "team-a"}, {}, [], id="namespace"),
        pytest.param({**BASE, "customHeaders": "X-Scope-OrgID=t1, X-Other=2"}, {}, [], id="custom-headers"),
        pytest.param(
            {**BASE, "customHeaders": "X-Scope-OrgID"},
            {},
            ["metadata.customHeaders: expected key=value"],
            id="custom-header-no-equals",
        ),
        pytest.param(
            {**BASE, "queryParameters": "dedup=false,partial_response=true"}, {}, [], id="query-parameters"
        ),
        pytest.param(
            {**BASE, "queryParameters": "a=b,c"},
            {},
            ["metadata.queryParameters: expected key=value"],
            id="query-parameter-no-equals",
        ),
        pytest.param({**BASE, "ignoreNullValues": "false"}, {}, [], id="ignore-null-false"),
        pytest.param(
            {**BASE, "ignoreNullValues": "xxx"},
            {},
            ["metadata.ignoreNullValues: expected a boolean"],
            id="ignore-null-not-bool",
        ),
        pytest.param(
            {**BASE, "unsafeSsl": "yes"},
            {},
            ["metadata.unsafeSsl: expected a boolean"],
            id="unsafe-ssl-not-bool",
        ),
        pytest.param({**BASE, "timeout": "1500"}, {}, [], id="timeout-ms"),
        pytest.param({**BASE, "timeout": "1m30s"}, {}, [], id="timeout-duration"),
        pytest.param(
            {**BASE, "timeout": "-5"}, {}, ["metadata.timeout: must not be negative"], id="timeout-negative"
        ),
        pytest.param(
            {**BASE, "cortexOrgID": "org"},
            {},
            ["cortexOrgID is deprecated, please use customHeaders"],
            id="cortex-org-id",
        ),
        pytest.param({**BASE, "authModes": "bearer"}, {"bearerToken": "t"}, [], id="bearer"),
        pytest.param({**BASE, "authModes": "bearer"}, {"token": "t"}, [], id="bearer-token-alias"),
        pytest.param(
            {**BASE}, {"authModes": "bearer", "bearerToken": "t"}, [], id="auth-modes-in-auth-params"
        ),
        pytest.param({**BASE, "authMode": "bearer"}, {"bearerToken": "t"}, [], id="auth-mode-singular-alias"),
        pytest.param(
            {**BASE, "authModes": "bearer"},
            {},
            ['authModes bearer needs the parameter "bearerToken"'],
            id="bearer-without-token",
        ),
        pytest.param({**BASE, "authModes": "basic"}, {"username": "u"}, [], id="basic-password-optional"),
        pytest.param(
            {**BASE, "authModes": "basic"},
            {"password": "p"},
            ['authModes basic needs the parameter "username"'],
            id="basic-without-user",
        ),
        pytest.param(
            {**BASE, "authModes": "basic"},
            {},
            ['authModes basic needs the parameter "username"'],
            id="basic-user-only-from-auth-params",
        ),
        pytest.param({**BASE, "authModes": "tls"}, {"cert": "c", "key": "k"}, [], id="tls"),
        pytest.param(
            {**BASE, "authModes": "tls"},
            {"cert": "c"},
            ['authModes tls needs the parameter "key"'],
            id="tls-without-key",
        ),
        pytest.param(
            {**BASE, "authModes": "tls, bearer"},
            {"cert": "c", "key": "k", "bearerToken": "t"},
            [],
            id="tls-and-bearer",
        ),
        pytest.param(
            {**BASE, "authModes": "custom"},
            {"customAuthHeader": "X-Key", "customAuthValue": "v"},
            [],
            id="custom",
        ),
        pytest.param(
            {**BASE, "authModes": "custom"},
            {"customAuthHeader": "X-Key"},
            ['authModes custom needs the parameter "customAuthValue"'],
            id="custom-without-value",
        ),
        pytest.param(
            {**BASE, "authModes": "bearer,basic"},
            {"bearerToken": "t", "username": "u"},
            ["at most one of bearer, basic, oauth may be set, got bearer, basic"],
            id="bearer-and-basic",
        ),
        pytest.param(
            {**BASE, "authModes": "kerberos"}, {}, ['unknown auth mode "kerberos"'], id="unknown-mode"
        ),
        pytest.param(
            {**BASE, "authModes": "oauth"},
            {},
            ["authModes oauth is not supported by Ebb"],
            id="oauth-unsupported",
        ),
    ],
)
def test_parameters(metadata: dict[str, str], auth: dict[str, str], expected: list[str]) -> None:
    h.assert_problems(h.problems_of(PROMETHEUS, inputs(metadata, auth)), expected)


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        pytest.param(
            {**BASE, "metricName": "old"},
            ["metadata.metricName: metricName is ignored"],
            id="metric-name-ignored",
        ),
        pytest.param({**BASE, "queryy": "typo"}, ["metadata.queryy: unknown parameter"], id="unknown-key"),
        pytest.param({**BASE, "awsRegion": "eu-west-1"}, ["AWS SigV4"], id="aws-not-supported"),
    ],
)
def test_warnings(metadata: dict[str, str], expected: list[str]) -> None:
    h.assert_problems(h.warnings_of(PROMETHEUS, inputs(metadata)), expected)


def test_secret_values_never_appear_in_parameter_errors() -> None:
    trigger = inputs(
        {**BASE, "authModes": "bearer,basic", "threshold": "x"},
        {"bearerToken": "s3cr3t-token", "password": "pw-value"},
    )
    with pytest.raises(base.ConfigError) as caught:
        params.parse(PROMETHEUS.params, trigger)
    assert "s3cr3t-token" not in str(caught.value)
    assert "pw-value" not in str(caught.value)


@pytest.mark.parametrize(
    ("index", "metric_type", "expected"),
    [
        pytest.param(0, "AverageValue", ("s0-prometheus", "AverageValue", 100.0), id="s0"),
        pytest.param(3, "Value", ("s3-prometheus", "Value", 100.0), id="s3-value"),
    ],
)
def test_metric(index: int, metric_type: str, expected: tuple[str, str, float]) -> None:
    trigger = inputs({**BASE, "activationThreshold": "7"}, index=index, metric_type=metric_type)
    spec = PROMETHEUS.metric(params.parse(PROMETHEUS.params, trigger).value, trigger)
    assert (spec.name, spec.target_type, spec.target) == expected
    assert spec.activation == 7.0
    assert spec.source is base.MetricSource.EXTERNAL


def test_utilization_is_rejected() -> None:
    trigger = inputs(BASE, metric_type="Utilization")
    with pytest.raises(base.ConfigError, match="Utilization is only for cpu and memory"):
        PROMETHEUS.metric(params.parse(PROMETHEUS.params, trigger).value, trigger)


# --- the request -------------------------------------------------------------------------------------

NOW = 1_700_000_000.75  # 2023-11-14T22:13:20.75Z


@pytest.mark.parametrize(
    ("metadata", "url"),
    [
        pytest.param(
            BASE,
            "http://prometheus:9090/api/v1/query?query=sum%28queue_depth%29&time=2023-11-14T22:13:20Z",
            id="plain",
        ),
        pytest.param(
            {**BASE, "serverAddress": "http://prometheus:9090/", "query": 'sum(rate(x{job="a b"}[1m])) + 1'},
            "http://prometheus:9090/api/v1/query?query=sum%28rate%28x%7Bjob%3D%22a+b%22%7D%5B1m%5D%29%29+%2B+1"
            "&time=2023-11-14T22:13:20Z",
            id="escaped-query-trailing-slash",
        ),
        pytest.param(
            {**BASE, "namespace": "team-a", "queryParameters": "dedup=false, partial_response=true"},
            "http://prometheus:9090/api/v1/query?query=sum%28queue_depth%29&time=2023-11-14T22:13:20Z"
            "&namespace=team-a&dedup=false&partial_response=true",
            id="namespace-and-parameters",
        ),
    ],
)
def test_request_url(metadata: dict[str, str], url: str) -> None:
    trigger = inputs(metadata)
    request = prometheus_query.build_request(params.parse(PROMETHEUS.params, trigger).value, trigger, NOW)
    assert request.url == url
    assert request.timeout == 2.0


@pytest.mark.parametrize(
    ("metadata", "auth", "headers"),
    [
        pytest.param(BASE, {}, {}, id="none"),
        pytest.param(
            {**BASE, "customHeaders": "X-Scope-OrgID=t1"}, {}, {"X-Scope-OrgID": "t1"}, id="custom-headers"
        ),
        pytest.param(
            {**BASE, "authModes": "bearer"},
            {"bearerToken": "tok\n"},
            {"Authorization": "Bearer tok"},
            id="bearer",
        ),
        pytest.param(
            {**BASE, "authModes": "basic"},
            {"username": "u", "password": "p"},
            {"Authorization": "Basic dTpw"},
            id="basic",
        ),
        pytest.param(
            {**BASE, "authModes": "basic"},
            {"username": "u"},
            {"Authorization": "Basic dTo="},
            id="basic-no-password",
        ),
        pytest.param(
            {**BASE, "authModes": "custom"},
            {"customAuthHeader": "X-Api", "customAuthValue": "v"},
            {"X-Api": "v"},
            id="custom-auth",
        ),
        pytest.param(
            {**BASE, "authModes": "bearer"}, {"token": "t"}, {"Authorization": "Bearer t"}, id="token-alias"
        ),
    ],
)
def test_request_headers(metadata: dict[str, str], auth: dict[str, str], headers: dict[str, str]) -> None:
    trigger = inputs(metadata, auth)
    request = prometheus_query.build_request(params.parse(PROMETHEUS.params, trigger).value, trigger, NOW)
    assert dict(request.headers) == headers


def test_timeout_parameter_overrides_the_global_one() -> None:
    trigger = inputs({**BASE, "timeout": "1500"})
    request = prometheus_query.build_request(params.parse(PROMETHEUS.params, trigger).value, trigger, NOW)
    assert request.timeout == 1.5


# --- the response rules (an injected source) ---------------------------------------------------------


def answer(result: list[Any], status: int = 200) -> http_clients.Response:
    return http_clients.Response(
        status, json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
    )


def series(value: Any) -> dict[str, Any]:
    return {"metric": {"job": "x"}, "value": [1700000000.0, value]}


@pytest.mark.parametrize(
    ("response", "ignore_nulls", "expected"),
    [
        pytest.param(answer([series("43")]), True, 43.0, id="one-series"),
        pytest.param(answer([series("1.5e2")]), True, 150.0, id="exponent"),
        pytest.param(answer([series("-3")]), True, -3.0, id="negative"),
        pytest.param(answer([]), True, 0.0, id="empty-ignored"),
        pytest.param(answer([]), False, "the result is empty", id="empty-error"),
        pytest.param(answer([series("1"), series("2")]), True, "returned multiple elements", id="two-series"),
        pytest.param(answer([{"metric": {}, "value": []}]), True, 0.0, id="empty-value-ignored"),
        pytest.param(
            answer([{"metric": {}, "value": []}]), False, "the value list is empty", id="empty-value-error"
        ),
        pytest.param(
            answer([{"metric": {}, "value": [1.0]}]), True, "didn't return enough values", id="short-value"
        ),
        pytest.param(answer([series("NaN")]), True, 0.0, id="nan-ignored"),
        pytest.param(answer([series("NaN")]), False, "returns NaN", id="nan-error"),
        pytest.param(answer([series("+Inf")]), True, 0.0, id="inf-ignored"),
        pytest.param(answer([series("-Inf")]), False, "returns -Inf", id="minus-inf-error"),
        pytest.param(answer([series(None)]), False, -1.0, id="null-value-minus-one"),
        pytest.param(answer([series("12abc")]), True, "error converting prometheus value", id="not-a-number"),
        pytest.param(
            answer([series("1_000")]), True, "error converting prometheus value", id="go-rejects-underscores"
        ),
        pytest.param(answer([series("4")], status=204), True, 4.0, id="any-2xx"),
        pytest.param(
            http_clients.Response(400, b'{"status":"error","error":"parse error"}'),
            True,
            'status: 400 response: {"status":"error"',
            id="bad-request",
        ),
        pytest.param(http_clients.Response(503, b"down"), True, "status: 503", id="unavailable"),
        pytest.param(http_clients.Response(200, b"<html>"), True, "not a query result", id="not-json"),
    ],
)
def test_response_rules(response: http_clients.Response, ignore_nulls: bool, expected: float | str) -> None:
    p = parsed({**BASE, "ignoreNullValues": str(ignore_nulls).lower()})
    if isinstance(expected, str):
        with pytest.raises(base.SourceError, match=None) as caught:
            prometheus_query.read_value(p, response)
        assert expected in str(caught.value)
    else:
        assert prometheus_query.read_value(p, response) == expected


@pytest.mark.parametrize(
    ("raw", "activation", "value", "active"),
    [
        pytest.param("0", "0", 0.0, False, id="zero-inactive"),
        pytest.param("1", "0", 1.0, True, id="one-active"),
        pytest.param("50", "50", 50.0, False, id="equal-is-inactive"),
        pytest.param("50.001", "50", 50.001, True, id="above-is-active"),
        pytest.param("-3", "-5", 0.0, True, id="negative-reported-as-0-but-active"),
        pytest.param(None, "0", 0.0, False, id="null-reads-minus-one"),
        pytest.param(None, "-2", 0.0, True, id="null-above-negative-activation"),
    ],
)
async def test_reading_and_activity(raw: str | None, activation: str, value: float, active: bool) -> None:
    requests: list[http_clients.Request] = []

    async def source(request: http_clients.Request) -> http_clients.Response:
        requests.append(request)
        return answer([series(raw)])

    trigger = inputs({**BASE, "activationThreshold": activation})
    p = params.parse(PROMETHEUS.params, trigger).value
    clients = connections.SharedClients()
    scaler = prometheus_query.PrometheusScaler(p, trigger, h.context(clients, now=NOW), fetch=source)
    assert await scaler.read() == base.Reading(value=value, active=active)
    assert requests[0].url.endswith("&time=2023-11-14T22:13:20Z")
    await scaler.aclose()
    assert len(clients) == 0


# --- real HTTP: headers on the wire, secrets, sessions ----------------------------------------------


@pytest.fixture
async def recorder() -> AsyncIterator[h.RecordingServer]:
    server = h.RecordingServer()
    await server.start()
    yield server
    await server.stop()


OK_BODY = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [series("7")]}})


@pytest.mark.parametrize(
    ("auth", "header", "expected"),
    [
        pytest.param(
            {"authModes": "bearer", "bearerToken": "abc123"}, "Authorization", "Bearer abc123", id="bearer"
        ),
        pytest.param(
            {"authModes": "basic", "username": "alice", "password": "pw"},
            "Authorization",
            "Basic YWxpY2U6cHc=",
            id="basic",
        ),
        pytest.param(
            {"authModes": "custom", "customAuthHeader": "X-Auth", "customAuthValue": "v1"},
            "X-Auth",
            "v1",
            id="custom",
        ),
        pytest.param({"authModes": "apiKey", "apiKey": "k9"}, "X-API-KEY", "k9", id="api-key-header"),
    ],
)
async def test_auth_headers_reach_the_server(
    recorder: h.RecordingServer, auth: dict[str, str], header: str, expected: str
) -> None:
    recorder.answer(200, OK_BODY)
    trigger = inputs({**BASE, "serverAddress": recorder.url, "customHeaders": "X-Scope-OrgID=tenant"}, auth)
    clients = connections.SharedClients()
    scaler = PROMETHEUS.build(
        params.parse(PROMETHEUS.params, trigger).value, trigger, h.context(clients, now=NOW)
    )
    try:
        assert await scaler.read() == base.Reading(7.0, True)
    finally:
        await scaler.aclose()
    [request] = recorder.requests
    assert request.path == "/api/v1/query"
    assert request.query == {"query": "sum(queue_depth)", "time": "2023-11-14T22:13:20Z"}
    assert request.headers[header] == expected
    assert request.headers["X-Scope-OrgID"] == "tenant"


async def test_an_error_answer_never_shows_the_token(recorder: h.RecordingServer) -> None:
    # A server that echoes the credentials back in its error body.
    recorder.answer(401, "bad credentials: Bearer very-secret-token")
    trigger = inputs(
        {**BASE, "serverAddress": recorder.url, "authModes": "bearer"}, {"bearerToken": "very-secret-token"}
    )
    clients = connections.SharedClients()
    scaler = PROMETHEUS.build(params.parse(PROMETHEUS.params, trigger).value, trigger, h.context(clients))
    try:
        with pytest.raises(base.SourceError) as caught:
            await scaler.read()
    finally:
        await scaler.aclose()
    assert "status: 401" in str(caught.value)
    assert "very-secret-token" not in str(caught.value)


async def test_credentials_in_the_server_address_are_masked() -> None:
    trigger = inputs({**BASE, "serverAddress": "http://admin:hunter2@127.0.0.1:1"})
    clients = connections.SharedClients()
    scaler = PROMETHEUS.build(params.parse(PROMETHEUS.params, trigger).value, trigger, h.context(clients))
    try:
        with pytest.raises(base.SourceError) as caught:
            await scaler.read()
    finally:
        await scaler.aclose()
    assert "hunter2" not in str(caught.value)
    assert "user:password@127.0.0.1:1" in str(caught.value)


async def test_triggers_share_one_session_until_the_last_closes(recorder: h.RecordingServer) -> None:
    recorder.answer(200, OK_BODY)
    clients = connections.SharedClients()
    built = []
    for index in range(3):
        trigger = inputs({**BASE, "serverAddress": recorder.url}, index=index)
        built.append(
            PROMETHEUS.build(params.parse(PROMETHEUS.params, trigger).value, trigger, h.context(clients))
        )
    unsafe = inputs({**BASE, "serverAddress": recorder.url, "unsafeSsl": "true"})
    built.append(PROMETHEUS.build(params.parse(PROMETHEUS.params, unsafe).value, unsafe, h.context(clients)))
    assert len(clients) == 0  # nothing is opened before the first read
    for scaler in built:
        await scaler.read()
    assert len(clients) == 2  # one session per TLS setting
    for scaler in built[:3]:
        await scaler.aclose()
    assert len(clients) == 1
    await built[3].aclose()
    assert len(clients) == 0


# --- a real Prometheus -------------------------------------------------------------------------------
# The scaler asks "as of now, in whole seconds" (KEDA's RFC 3339 `time`), so a sample scraped within the
# current second is not seen yet: after a change, poll the scaler itself until it sees the new state.


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def read_real(server: Any, metadata: dict[str, str]) -> base.Reading:
    trigger = inputs({"serverAddress": server.url, "threshold": "10", **metadata}, timeout=5.0)
    clients = connections.SharedClients()
    scaler = PROMETHEUS.build(params.parse(PROMETHEUS.params, trigger).value, trigger, h.context(clients))
    try:
        return await scaler.read()
    finally:
        await scaler.aclose()


Outcome = base.Reading | base.SourceError


async def poll(
    server: Any, metadata: dict[str, str], done: Callable[[Outcome], bool], within: float = 20.0
) -> Outcome:
    """Read through the scaler until `done(outcome)`; the outcome (AssertionError after `within` s)."""
    deadline = time.monotonic() + within
    while True:
        outcome: Outcome
        try:
            outcome = await read_real(server, metadata)
        except base.SourceError as error:
            outcome = error
        if done(outcome):
            return outcome
        if time.monotonic() > deadline:
            raise AssertionError(f"the scaler still reads {outcome!r} after {within} s")
        await asyncio.sleep(0.2)


def value_is(expected: float) -> Callable[[Outcome], bool]:
    return lambda outcome: isinstance(outcome, base.Reading) and outcome.value == expected


def error_has(fragment: str) -> Callable[[Outcome], bool]:
    return lambda outcome: isinstance(outcome, base.SourceError) and fragment in str(outcome)


@pytest.mark.servers
async def test_real_gauge_value_and_activity(prometheus_server: Any) -> None:
    name = unique("ebb_test_depth")
    prometheus_server.exporter.set_gauge(name, 42, {"queue": "orders"})
    query = f'sum({name}{{queue="orders"}})'
    assert await poll(
        prometheus_server, {"query": query, "activationThreshold": "41.5"}, value_is(42)
    ) == base.Reading(42.0, True)
    assert await read_real(prometheus_server, {"query": query, "activationThreshold": "42"}) == base.Reading(
        42.0, False
    )

    prometheus_server.exporter.set_gauge(name, 0, {"queue": "orders"})
    assert await poll(prometheus_server, {"query": query}, value_is(0)) == base.Reading(0.0, False)


@pytest.mark.servers
async def test_real_counter(prometheus_server: Any) -> None:
    name = unique("ebb_test_requests")
    exporter = prometheus_server.exporter
    exporter.inc_counter(name, 1)
    query = f"sum({name}_total)"
    assert await poll(prometheus_server, {"query": query}, value_is(1)) == base.Reading(1.0, True)
    exporter.inc_counter(name, 99)
    assert await poll(prometheus_server, {"query": query}, value_is(100)) == base.Reading(100.0, True)


@pytest.mark.servers
async def test_real_empty_result(prometheus_server: Any) -> None:
    query = f"sum({unique('ebb_test_never_exported')})"
    assert await read_real(prometheus_server, {"query": query}) == base.Reading(0.0, False)
    with pytest.raises(base.SourceError, match="the result is empty"):
        await read_real(prometheus_server, {"query": query, "ignoreNullValues": "false"})


@pytest.mark.servers
async def test_real_two_series_is_an_error(prometheus_server: Any) -> None:
    name = unique("ebb_test_two")
    prometheus_server.exporter.set_gauge(name, 1, {"queue": "a"})
    prometheus_server.exporter.set_gauge(name, 2, {"queue": "b"})
    outcome = await poll(prometheus_server, {"query": name}, lambda o: not value_is(0)(o))
    assert isinstance(outcome, base.SourceError)
    assert "returned multiple elements (2 series)" in str(outcome)
    assert await read_real(prometheus_server, {"query": f"sum({name})"}) == base.Reading(3.0, True)


@pytest.mark.servers
async def test_real_nan(prometheus_server: Any) -> None:
    name = unique("ebb_test_nan")
    prometheus_server.exporter.set_gauge(name, math.nan)
    strict = {"query": name, "ignoreNullValues": "false"}
    outcome = await poll(prometheus_server, strict, lambda o: not error_has("the result is empty")(o))
    assert isinstance(outcome, base.SourceError)
    assert "returns NaN" in str(outcome)
    assert await read_real(prometheus_server, {"query": name}) == base.Reading(0.0, False)


@pytest.mark.servers
async def test_real_bad_query_is_a_400(prometheus_server: Any) -> None:
    with pytest.raises(base.SourceError, match="status: 400"):
        await read_real(prometheus_server, {"query": "sum(("})


@pytest.mark.servers
async def test_real_time_parameter_is_the_clock(prometheus_server: Any) -> None:
    # Asking "as of one hour ago", before the series existed, finds nothing.
    name = unique("ebb_test_past")
    prometheus_server.exporter.set_gauge(name, 5)
    await poll(prometheus_server, {"query": name}, value_is(5))
    trigger = inputs(
        {"serverAddress": prometheus_server.url, "threshold": "1", "query": name, "ignoreNullValues": "false"}
    )
    clients = connections.SharedClients()
    p = params.parse(PROMETHEUS.params, trigger).value
    past = PROMETHEUS.build(p, trigger, h.context(clients, now=time.time() - 3600))
    present = PROMETHEUS.build(p, trigger, h.context(clients, now=time.time()))
    try:
        assert await present.read() == base.Reading(5.0, True)
        with pytest.raises(base.SourceError, match="the result is empty"):
            await past.read()
    finally:
        await past.aclose()
        await present.aclose()

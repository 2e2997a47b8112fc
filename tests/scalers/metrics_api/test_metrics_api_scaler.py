"""The `metrics-api` scaler: KEDA's parameter rules, value locations in JSON (the GJSON subset),
Prometheus text, YAML and XML, auth modes on the wire, and values read over real HTTP from a local
server the test starts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from scalers import base, connections, http_clients, metrics_api, params
from tests.scalers import http_helpers as h

METRICS_API = metrics_api.METRICS_API


def inputs(*args: Any, **kwargs: Any) -> base.TriggerInputs:
    return h.inputs(*args, type_name="metrics-api", **kwargs)
BASE = {"url": "http://app:8080/stats", "valueLocation": "queue.depth", "targetValue": "5"}


# --- parameters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "auth", "expected"),
    [
        pytest.param(BASE, {}, [], id="minimal"),
        pytest.param(
            {},
            {},
            ['missing required parameter "url"', 'missing required parameter "valueLocation"'],
            id="nothing-every-error-at-once",
        ),
        pytest.param(
            {**BASE, "targetValue": "x"}, {}, ["metadata.targetValue: expected a number"], id="bad-target"
        ),
        pytest.param(
            {**BASE, "activationTargetValue": "x"},
            {},
            ["metadata.activationTargetValue: expected a number"],
            id="bad-activation",
        ),
        pytest.param({**BASE, "format": "xml", "valueLocation": "a.b"}, {}, [], id="xml"),
        pytest.param(
            {**BASE, "format": "toml"},
            {},
            ["metadata.format: must be one of json, prometheus, xml, yaml"],
            id="bad-format",
        ),
        pytest.param(
            {**BASE, "url": "app:8080"},
            {},
            ["metadata.url: expected an http:// or https:// URL"],
            id="no-scheme",
        ),
        pytest.param({**BASE, "valueLocation": "items.#"}, {}, [], id="gjson-length"),
        pytest.param({**BASE, "valueLocation": "a\\.b.c"}, {}, [], id="gjson-escaped-dot"),
        pytest.param({**BASE, "valueLocation": "items.*.n"}, {}, ['GJSON "*"'], id="gjson-wildcard"),
        pytest.param(
            {**BASE, "valueLocation": "items.#.n"},
            {},
            ['GJSON "#" is supported only as the last'],
            id="gjson-hash-mid-path",
        ),
        pytest.param({**BASE, "valueLocation": "items.#(n>1)"}, {}, ["GJSON"], id="gjson-query"),
        pytest.param({**BASE, "valueLocation": "a.@reverse"}, {}, ["GJSON modifiers"], id="gjson-modifier"),
        pytest.param({**BASE, "valueLocation": "a|b"}, {}, ['GJSON "|"'], id="gjson-pipe"),
        pytest.param(
            {**BASE, "format": "prometheus", "valueLocation": 'jobs{queue="a"}'}, {}, [], id="prom-selector"
        ),
        pytest.param(
            {**BASE, "format": "prometheus", "valueLocation": 'jobs{queue=~"a.*"}'},
            {},
            ['only "=" label matchers are supported'],
            id="prom-regex-matcher",
        ),
        pytest.param(
            {**BASE, "format": "prometheus", "valueLocation": "sum(jobs)"},
            {},
            ["expected a metric selector"],
            id="prom-promql",
        ),
        pytest.param(
            {**BASE, "format": "yaml", "valueLocation": "a..b"},
            {},
            ["expected a dotted path"],
            id="yaml-empty-key",
        ),
        pytest.param(
            {**BASE, "unsafeSsl": "maybe"}, {}, ["metadata.unsafeSsl: expected a boolean"], id="unsafe-ssl"
        ),
        pytest.param({**BASE, "timeout": "2s"}, {}, [], id="timeout"),
        pytest.param(
            {**BASE, "aggregateFromKubeServiceEndpoints": "true"},
            {},
            ["not supported by Ebb"],
            id="aggregate-unsupported",
        ),
        pytest.param(
            {**BASE, "aggregationType": "median"},
            {},
            ["must be one of average, sum, max, min"],
            id="aggregation",
        ),
        pytest.param({**BASE, "authMode": "apiKey"}, {"apiKey": "k"}, [], id="api-key"),
        pytest.param(
            {**BASE, "authMode": "apiKey", "apiKey": "k", "method": "query"}, {}, [], id="api-key-in-metadata"
        ),
        pytest.param(
            {**BASE, "authMode": "apiKey"},
            {},
            ['authModes apiKey needs the parameter "apiKey"'],
            id="api-key-missing",
        ),
        pytest.param(
            {**BASE, "authMode": "apiKey", "method": "cookie"},
            {"apiKey": "k"},
            ["metadata.method: must be one of header, query"],
            id="api-key-method",
        ),
        pytest.param({**BASE, "authMode": "basic"}, {"username": "u"}, [], id="basic"),
        pytest.param({**BASE, "authMode": "bearer"}, {"token": "t"}, [], id="bearer-token"),
        pytest.param(
            {**BASE, "authMode": "tls"},
            {"cert": "c"},
            ['authModes tls needs the parameter "key"'],
            id="tls-key-missing",
        ),
        pytest.param(
            {**BASE, "authMode": "basic,bearer"},
            {"username": "u", "token": "t"},
            ["at most one of bearer, basic, oauth"],
            id="basic-and-bearer",
        ),
    ],
)
def test_parameters(metadata: dict[str, str], auth: dict[str, str], expected: list[str]) -> None:
    h.assert_problems(h.problems_of(METRICS_API, inputs(metadata, auth)), expected)


@pytest.mark.parametrize(
    ("metadata", "index", "expected"),
    [
        pytest.param(BASE, 0, ("s0-metric-api-queue-depth", 5.0, 0.0), id="dots-normalised"),
        pytest.param(
            {**BASE, "valueLocation": "components.0.tasks", "activationTargetValue": "2"},
            2,
            ("s2-metric-api-components-0-tasks", 5.0, 2.0),
            id="index",
        ),
    ],
)
def test_metric(metadata: dict[str, str], index: int, expected: tuple[str, float, float]) -> None:
    trigger = inputs(metadata, index=index)
    spec = METRICS_API.metric(params.parse(METRICS_API.params, trigger).value, trigger)
    assert (spec.name, spec.target, spec.activation) == expected


def test_target_value_is_required_for_the_hpa() -> None:
    trigger = inputs({**BASE, "targetValue": "0"})
    with pytest.raises(base.ConfigError, match="no targetValue given"):
        METRICS_API.metric(params.parse(METRICS_API.params, trigger).value, trigger)


# --- value locations (pure) --------------------------------------------------------------------------

DOC = {
    "queue": {"depth": 12, "name": "orders"},
    "components": [{"tasks": 3}, {"tasks": "1.5k"}],
    "a.b": {"c": 7},
    "items": [1, 2, 3, 4],
    "flag": True,
    "nothing": None,
    "mem": "256Mi",
    "bad": "lots",
    "float": 2.5,
}


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        pytest.param("queue.depth", 12.0, id="nested"),
        pytest.param("components.0.tasks", 3.0, id="array-index"),
        pytest.param("components.1.tasks", 1500.0, id="quantity-string"),
        pytest.param("a\\.b.c", 7.0, id="escaped-dot"),
        pytest.param("items.#", 4.0, id="length"),
        pytest.param("mem", 268435456.0, id="binary-quantity"),
        pytest.param("float", 2.5, id="float"),
        pytest.param("queue.missing", "got: 'Null'", id="missing-is-null"),
        pytest.param("components.7.tasks", "got: 'Null'", id="index-out-of-range"),
        pytest.param("nothing", "got: 'Null'", id="null"),
        pytest.param("flag", "got: 'True'", id="boolean"),
        pytest.param("queue", "got: 'JSON'", id="object"),
        pytest.param("queue.name", "got: 'orders'", id="non-quantity-string"),
    ],
)
def test_json_locations(location: str, expected: float | str) -> None:
    body = json.dumps(DOC).encode()
    if isinstance(expected, str):
        with pytest.raises(base.SourceError) as caught:
            metrics_api.json_value(body, location)
        assert "valueLocation must point to value of type number or a string representing a Quantity" in str(
            caught.value
        )
        assert expected in str(caught.value)
    else:
        assert metrics_api.json_value(body, location) == expected


PROM_TEXT = """\
# HELP jobs_waiting Jobs waiting.
# TYPE jobs_waiting gauge
jobs_waiting{queue="a"} 4
jobs_waiting{queue="b",tier="x \\"q\\""} 9 1700000000000
# TYPE jobs_done_total counter
jobs_done_total 12.5
# TYPE latency histogram
latency_bucket{le="1"} 3
latency_sum 4
latency_count 3
untyped_thing NaN
"""


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        pytest.param('jobs_waiting{queue="a"}', 4.0, id="labelled"),
        pytest.param('jobs_waiting{queue="b"}', 9.0, id="with-timestamp"),
        pytest.param('jobs_waiting{tier="x \\"q\\""}', 9.0, id="escaped-label-value"),
        pytest.param("jobs_waiting", 4.0, id="first-match-wins"),
        pytest.param('{__name__="jobs_done_total"}', 12.5, id="name-as-label"),
        pytest.param("jobs_done_total", 12.5, id="counter"),
        pytest.param(
            'jobs_waiting{queue="c"}', 'value jobs_waiting{queue="c"} not found', id="no-matching-labels"
        ),
        pytest.param("missing_metric", "metric 'missing_metric' not found", id="no-family"),
        pytest.param("latency_sum", "metric 'latency_sum' not found", id="histogram-parts-not-selectable"),
    ],
)
def test_prometheus_locations(location: str, expected: float | str) -> None:
    if isinstance(expected, str):
        with pytest.raises(base.SourceError, match=None) as caught:
            metrics_api.prometheus_value(PROM_TEXT.encode(), location)
        assert expected in str(caught.value)
    else:
        assert metrics_api.prometheus_value(PROM_TEXT.encode(), location) == expected


def test_prometheus_nan_passes_through() -> None:
    value = metrics_api.prometheus_value(PROM_TEXT.encode(), "untyped_thing")
    assert value != value  # NaN; the reported value is then 0 (base.reported_value)
    assert base.reading(value, 0.0) == base.Reading(0.0, False)


@pytest.mark.parametrize(
    ("body", "location", "expected"),
    [
        pytest.param("queue:\n  depth: 7\n", "queue.depth", 7.0, id="yaml-int"),
        pytest.param("queue:\n  depth: '750m'\n", "queue.depth", 0.75, id="yaml-quantity"),
        pytest.param("items:\n  - n: 2\n  - n: 5\n", "items.1.n", 5.0, id="yaml-list-index"),
        pytest.param("queue:\n  depth: 7\n", "queue.size", "key 'size' not found", id="yaml-missing"),
        pytest.param("queue:\n  ok: true\n", "queue.ok", "got: 'bool'", id="yaml-bool"),
        pytest.param("queue: [\n", "queue", "not valid YAML", id="yaml-broken"),
    ],
)
def test_yaml_locations(body: str, location: str, expected: float | str) -> None:
    if isinstance(expected, str):
        with pytest.raises(base.SourceError) as caught:
            metrics_api.yaml_value(body.encode(), location)
        assert expected in str(caught.value)
    else:
        assert metrics_api.yaml_value(body.encode(), location) == expected


@pytest.mark.parametrize(
    ("body", "location", "expected"),
    [
        pytest.param(
            "<stats><queue><depth>8</depth></queue></stats>", "queue.depth", 8.0, id="xml-without-root"
        ),
        pytest.param(
            "<stats><queue><depth>8</depth></queue></stats>", "stats.queue.depth", 8.0, id="xml-with-root"
        ),
        pytest.param("<stats><cpu>250m</cpu></stats>", "cpu", 0.25, id="xml-quantity"),
        pytest.param(
            "<stats><queue><depth>8</depth></queue></stats>",
            "queue",
            "element with children",
            id="xml-element",
        ),
        pytest.param("<stats><queue/></stats>", "depth", "key 'depth' not found", id="xml-missing"),
        pytest.param("<stats>", "depth", "not valid XML", id="xml-broken"),
    ],
)
def test_xml_locations(body: str, location: str, expected: float | str) -> None:
    if isinstance(expected, str):
        with pytest.raises(base.SourceError) as caught:
            metrics_api.xml_value(body.encode(), location)
        assert expected in str(caught.value)
    else:
        assert metrics_api.xml_value(body.encode(), location) == expected


# --- real HTTP ---------------------------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[h.RecordingServer]:
    recording = h.RecordingServer()
    await recording.start()
    yield recording
    await recording.stop()


async def read(
    server: h.RecordingServer,
    metadata: dict[str, str],
    auth: dict[str, str] | None = None,
    path: str = "/stats",
) -> base.Reading:
    trigger = inputs({"url": f"{server.url}{path}", "targetValue": "5", **metadata}, auth)
    clients = connections.SharedClients()
    scaler = METRICS_API.build(params.parse(METRICS_API.params, trigger).value, trigger, h.context(clients))
    try:
        return await scaler.read()
    finally:
        await scaler.aclose()
        assert len(clients) == 0


@pytest.mark.parametrize(
    ("content_type", "body", "metadata", "expected"),
    [
        pytest.param(
            "application/json",
            json.dumps(DOC),
            {"valueLocation": "queue.depth"},
            base.Reading(12.0, True),
            id="json",
        ),
        pytest.param(
            "application/json",
            json.dumps(DOC),
            {"valueLocation": "queue.depth", "activationTargetValue": "12"},
            base.Reading(12.0, False),
            id="json-at-activation",
        ),
        pytest.param(
            "text/plain",
            PROM_TEXT,
            {"format": "prometheus", "valueLocation": 'jobs_waiting{queue="b"}'},
            base.Reading(9.0, True),
            id="prometheus-text",
        ),
        pytest.param(
            "application/yaml",
            "q:\n  n: 0\n",
            {"format": "yaml", "valueLocation": "q.n"},
            base.Reading(0.0, False),
            id="yaml",
        ),
        pytest.param(
            "application/xml",
            "<r><q>3</q></r>",
            {"format": "xml", "valueLocation": "q"},
            base.Reading(3.0, True),
            id="xml",
        ),
        pytest.param(
            "application/json",
            '{"v": -4}',
            {"valueLocation": "v", "activationTargetValue": "-5"},
            base.Reading(0.0, True),
            id="negative",
        ),
    ],
)
async def test_reads_over_http(
    server: h.RecordingServer, content_type: str, body: str, metadata: dict[str, str], expected: base.Reading
) -> None:
    server.answer(200, body, content_type)
    assert await read(server, metadata) == expected
    [request] = server.requests
    assert request.path == "/stats"


@pytest.mark.parametrize(
    ("auth", "where", "name", "value"),
    [
        pytest.param(
            {"authMode": "apiKey", "apiKey": "k1"}, "header", "X-API-KEY", "k1", id="api-key-header-default"
        ),
        pytest.param(
            {"authMode": "apiKey", "apiKey": "k2", "keyParamName": "X-Token"},
            "header",
            "X-Token",
            "k2",
            id="api-key-header-named",
        ),
        pytest.param(
            {"authMode": "apiKey", "apiKey": "k3", "method": "query"},
            "query",
            "api_key",
            "k3",
            id="api-key-query-default",
        ),
        pytest.param(
            {"authMode": "apiKey", "apiKey": "k4", "method": "query", "keyParamName": "key"},
            "query",
            "key",
            "k4",
            id="api-key-query-named",
        ),
        pytest.param(
            {"authMode": "basic", "username": "bob", "password": "pw"},
            "header",
            "Authorization",
            "Basic Ym9iOnB3",
            id="basic",
        ),
        pytest.param(
            {"authMode": "bearer", "token": "tk"}, "header", "Authorization", "Bearer tk", id="bearer"
        ),
    ],
)
async def test_auth_modes_on_the_wire(
    server: h.RecordingServer, auth: dict[str, str], where: str, name: str, value: str
) -> None:
    server.answer(200, '{"n": 1}')
    assert await read(server, {"valueLocation": "n"}, auth, path="/stats?scope=all") == base.Reading(
        1.0, True
    )
    [request] = server.requests
    assert request.query["scope"] == "all"  # the URL's own query survives
    if where == "header":
        assert request.headers[name] == value
    else:
        assert request.query[name] == value
        assert name not in request.headers


@pytest.mark.parametrize(
    ("status", "body", "fragment"),
    [
        pytest.param(500, "boom", "/stats: api returned 500", id="server-error"),
        pytest.param(201, '{"n": 1}', "/stats: api returned 201", id="only-200-counts"),
        pytest.param(200, "not json", "the answer is not valid JSON", id="not-json"),
    ],
)
async def test_bad_answers(server: h.RecordingServer, status: int, body: str, fragment: str) -> None:
    server.answer(status, body)
    with pytest.raises(base.SourceError) as caught:
        await read(server, {"valueLocation": "n"})
    assert "error requesting metrics endpoint" in str(caught.value)
    assert fragment in str(caught.value)


async def test_a_query_string_key_never_shows_in_errors() -> None:
    # Nothing listens on port 1: the connection error must not carry the key sent in the query string.
    trigger = inputs(
        {
            "url": "http://127.0.0.1:1/stats",
            "valueLocation": "n",
            "targetValue": "1",
            "authMode": "apiKey",
            "method": "query",
        },
        {"apiKey": "query-secret-key"},
    )
    scaler = METRICS_API.build(
        params.parse(METRICS_API.params, trigger).value, trigger, h.context(connections.SharedClients())
    )
    try:
        with pytest.raises(base.SourceError) as caught:
            await scaler.read()
    finally:
        await scaler.aclose()
    assert "query-secret-key" not in str(caught.value)
    assert "api_key=%2A%2A%2A" in str(caught.value) or "api_key=***" in str(caught.value)


async def test_timeouts_are_source_errors() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.0)  # longer than the trigger's 200 ms timeout
        return web.Response(text='{"n": 1}')

    app = web.Application()
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        trigger = inputs(
            {
                "url": f"http://127.0.0.1:{port}/slow",
                "valueLocation": "n",
                "targetValue": "1",
                "timeout": "200",
            }
        )
        scaler = METRICS_API.build(
            params.parse(METRICS_API.params, trigger).value, trigger, h.context(connections.SharedClients())
        )
        try:
            with pytest.raises(base.SourceError, match=r"no answer within 0.2s"):
                await scaler.read()
        finally:
            await scaler.aclose()
    finally:
        await runner.cleanup()


def test_request_carries_no_auth_without_modes() -> None:
    trigger = inputs(BASE, {"apiKey": "unused", "username": "u"})
    request = metrics_api.build_request(params.parse(METRICS_API.params, trigger).value, trigger)
    assert request == http_clients.Request(url=BASE["url"], headers={}, timeout=2.0, display_url=BASE["url"])

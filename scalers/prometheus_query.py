"""The `prometheus` trigger type: one instant query over Prometheus' HTTP API (KEDA `prometheus_scaler.go`).

Request: `GET <serverAddress>/api/v1/query?query=<escaped>&time=<now, UTC, RFC 3339>[&namespace=<ns>]
[&<k>=<v>…]` with `customHeaders` and the auth modes applied. Response, in KEDA's order: a non-2xx status
is an error; no series is 0 when `ignoreNullValues` (the default) else an error; more than one series is
an error; an empty `value` is 0 or an error like an empty result; a `value` with fewer than two items is
an error; `value[1]` is parsed as a Go float; ±Inf and NaN are 0 when `ignoreNullValues` else an error;
a JSON `null` value reads as -1 (reported as 0). Active iff the raw value > `activationThreshold`.

`build_request` and `read_value` are pure; the one I/O is the injected `Fetch` (by default a shared
aiohttp session, see `scalers.http_clients`).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from scalers import base, http_clients, params, url_masking


@dataclasses.dataclass(frozen=True, kw_only=True)
class PrometheusParams(http_clients.AuthParams):
    server_address: str = params.param(
        "serverAddress", doc="Prometheus base URL, e.g. http://prometheus:9090"
    )
    query: str = params.param("query", doc="PromQL instant query; must return at most one series")
    threshold: float = params.param(
        "threshold", doc="target value per replica (AverageValue) or in total (Value)"
    )
    activation_threshold: float = params.param(
        "activationThreshold", default=0.0, doc="active when the value is above this"
    )
    namespace: str | None = params.param(
        "namespace", default=None, doc="adds &namespace=<ns> to the query (Thanos/Cortex tenancy)"
    )
    custom_headers: Mapping[str, str] = params.param(
        "customHeaders", default={}, doc="extra request headers, k=v,k=v"
    )
    query_parameters: Mapping[str, str] = params.param(
        "queryParameters", default={}, doc="extra query-string parameters, k=v,k=v"
    )
    ignore_null_values: bool = params.param(
        "ignoreNullValues", default=True, doc="treat an empty result, NaN or Inf as 0 instead of an error"
    )
    unsafe_ssl: bool = params.param("unsafeSsl", default=False, doc="skip TLS certificate verification")
    timeout: float | None = params.param(
        "timeout",
        default=None,
        kind=params.Kind.DURATION,
        doc="HTTP timeout (ms or a duration); default global",
    )
    aws_region: str | None = params.param(
        "awsRegion",
        sources=params.METADATA_AUTH,
        default=None,
        doc="accepted for KEDA compatibility; Ebb does no AWS SigV4",
    )
    identity_owner: str | None = params.param(
        "identityOwner", default=None, doc="accepted for KEDA compatibility; Ebb does no AWS SigV4"
    )
    cortex_org_id: str | None = params.param(
        "cortexOrgID",
        default=None,
        deprecated="cortexOrgID is deprecated, please use customHeaders instead",
        doc="removed: use customHeaders",
    )
    metric_name: str | None = params.param(
        "metricName",
        default=None,
        deprecated_announce="metricName is ignored; the metric is named s<index>-prometheus",
        doc="ignored (KEDA names the metric s<index>-prometheus)",
    )

    def validate(self) -> list[base.ParamProblem]:
        problems = self.auth_problems()
        if not re.match(r"https?://", self.server_address):
            problems.append(
                base.ParamProblem("metadata.serverAddress", "expected an http:// or https:// URL")
            )
        if self.aws_region or self.identity_owner:
            problems.append(
                base.ParamProblem(
                    "metadata.awsRegion", "Ebb does not sign requests with AWS SigV4; ignored", warning=True
                )
            )
        return problems


def _target_type(inputs: base.TriggerInputs) -> str:
    if inputs.metric_type == "Utilization":
        raise base.ConfigError(
            [
                base.ParamProblem(
                    "metricType", "Utilization is only for cpu and memory; use AverageValue or Value"
                )
            ]
        )
    return inputs.metric_type or "AverageValue"


def metric(p: PrometheusParams, inputs: base.TriggerInputs) -> base.MetricSpec:
    return base.MetricSpec(
        name=base.metric_name(inputs.index, "prometheus"),
        target_type=_target_type(inputs),
        target=p.threshold,
        activation=p.activation_threshold,
    )


def rfc3339(now: float) -> str:
    """Go's `time.RFC3339` for a UTC instant: whole seconds, `Z`."""
    moment = datetime.datetime.fromtimestamp(math.floor(now), tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_request(p: PrometheusParams, inputs: base.TriggerInputs, now: float) -> http_clients.Request:
    escape = http_clients.query_escape
    url = f"{p.server_address.rstrip('/')}/api/v1/query?query={escape(p.query)}&time={rfc3339(now)}"
    if p.namespace:
        url += f"&namespace={escape(p.namespace)}"
    for key, value in p.query_parameters.items():
        url += f"&{escape(key)}={escape(value)}"
    return http_clients.auth_request(
        url, p, headers=p.custom_headers, timeout=http_clients.timeout_of(p.timeout, inputs)
    )


def read_value(p: PrometheusParams, response: http_clients.Response) -> float:
    """The query's value from Prometheus' answer, with KEDA's rules (see the module docstring)."""
    if not 200 <= response.status <= 299:
        snippet = response.body[:200].decode("utf-8", "replace")
        raise base.SourceError(
            f"prometheus query api returned error. status: {response.status} response: {snippet}"
        )
    try:
        document: Any = json.loads(response.body)
        result = document["data"]["result"]
        if not isinstance(result, list):
            raise TypeError("data.result is not a list")
    except (ValueError, KeyError, TypeError) as error:
        raise base.SourceError(f"prometheus answered something that is not a query result: {error}") from None
    if not result:
        if p.ignore_null_values:
            return 0.0
        raise base.SourceError("prometheus metrics 'prometheus' target may be lost, the result is empty")
    if len(result) > 1:
        raise base.SourceError(
            f"prometheus query {p.query} returned multiple elements ({len(result)} series)"
        )
    value = result[0].get("value") if isinstance(result[0], dict) else None
    if not value:
        if p.ignore_null_values:
            return 0.0
        raise base.SourceError("prometheus metrics 'prometheus' target may be lost, the value list is empty")
    if not isinstance(value, list) or len(value) < 2:
        raise base.SourceError(f"prometheus query {p.query} didn't return enough values")
    raw = value[1]
    if raw is None:
        return -1.0
    if not isinstance(raw, str):
        raise base.SourceError(f"prometheus query {p.query} returned a value that is not a string: {raw!r}")
    try:
        number = http_clients.parse_go_float(raw)
    except ValueError as error:
        raise base.SourceError(f"error converting prometheus value: {error}") from None
    if math.isinf(number) or math.isnan(number):
        if p.ignore_null_values:
            return 0.0
        raise base.SourceError(f"prometheus query returns {raw}")
    return number


class PrometheusScaler:
    """One built `prometheus` trigger."""

    def __init__(
        self,
        p: PrometheusParams,
        inputs: base.TriggerInputs,
        context: base.BuildContext,
        *,
        fetch: http_clients.Fetch | None = None,  # for tests: an injected source
    ) -> None:
        self._params = p
        self._inputs = inputs
        self._clock = context.clock
        self._metric = metric(p, inputs)
        self._session: http_clients.SessionFetch | None = None
        if fetch is None:
            self._session = http_clients.SessionFetch(context.clients, p.tls_settings(p.unsafe_ssl))
            fetch = self._session
        self._fetch = fetch
        self._secrets = params.secret_values(PrometheusParams, inputs)

    @property
    def metric(self) -> base.MetricSpec:
        return self._metric

    async def read(self) -> base.Reading:
        request = build_request(self._params, self._inputs, self._clock())
        try:
            response = await self._fetch(request)
            value = read_value(self._params, response)
        except base.SourceError as error:
            raise base.SourceError(url_masking.mask(str(error), self._secrets)) from None
        return base.reading(value, self._params.activation_threshold)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.aclose()


def build(p: PrometheusParams, inputs: base.TriggerInputs, context: base.BuildContext) -> base.Scaler:
    return PrometheusScaler(p, inputs, context)


PROMETHEUS: base.ScalerType[PrometheusParams] = base.ScalerType(
    name="prometheus",
    params=PrometheusParams,
    metric=metric,
    build=build,
    doc="The value of a PromQL instant query.",
)

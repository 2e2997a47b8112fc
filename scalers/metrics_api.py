"""The `metrics-api` trigger type: a number read from any HTTP endpoint (KEDA `metrics_api_scaler.go`).

`GET <url>` (with the auth modes applied; an `apiKey` with `method: query` goes in the query string);
any status but 200 is an error; the body is read per `format` at `valueLocation`:

* `json` (default): a GJSON path. Supported subset: dotted keys (`a.b.c`), array indexes (`items.0`),
  `#` as the last element for an array's length (`items.#`), and `\\.` for a dot inside a key
  (`a\\.b`). Not supported (a config error, found by `ebb validate`): wildcards `*` and `?`,
  queries `#(...)`, `#` in the middle of a path, modifiers `@...`, multipaths `[..]` / `{..}`, pipes `|`.
* `prometheus`: a metric selector `name{label="value",…}` over the text exposition format; only `=`
  matchers; the first matching sample of a counter, gauge or untyped family wins.
* `yaml`: a dotted path of keys (and list indexes).
* `xml`: a dotted path of element names from the root (the root's own name may be given first or left
  out); the element's text is the value.

The value must be a number or a string holding a Kubernetes quantity (`"1.5k"`, `"250m"`). Active iff
the value > `activationTargetValue`. `aggregateFromKubeServiceEndpoints` needs the Kubernetes API and is
not supported by Ebb (a config error).
"""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from typing import Any

import yaml

from scalers import base, http_clients, params, resource_metrics, url_masking

_WRONG_VALUE = (
    "valueLocation must point to value of type number or a string representing a Quantity got: '{}'"
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MetricsApiParams(http_clients.AuthParams):
    url: str = params.param("url", doc="the endpoint to GET")
    value_location: str = params.param("valueLocation", doc="where the value is in the answer (see format)")
    format: str = params.param(
        "format", default="json", choices=["json", "prometheus", "xml", "yaml"], doc="the answer's format"
    )
    target_value: float = params.param(
        "targetValue",
        default=0.0,
        doc="target value (required unless the trigger only feeds scalingModifiers)",
    )
    activation_target_value: float = params.param(
        "activationTargetValue", default=0.0, doc="active when the value is above this"
    )
    unsafe_ssl: bool = params.param("unsafeSsl", default=False, doc="skip TLS certificate verification")
    timeout: float | None = params.param(
        "timeout",
        default=None,
        kind=params.Kind.DURATION,
        doc="HTTP timeout (ms or a duration); default global",
    )
    aggregate_from_kube_service_endpoints: bool = params.param(
        "aggregateFromKubeServiceEndpoints",
        default=False,
        doc="not supported by Ebb (needs the Kubernetes API)",
    )
    aggregation_type: str = params.param(
        "aggregationType",
        default="average",
        choices=["average", "sum", "max", "min"],
        doc="with aggregateFromKubeServiceEndpoints (not supported by Ebb)",
    )

    def validate(self) -> list[base.ParamProblem]:
        problems = self.auth_problems()
        if not re.match(r"https?://", self.url):
            problems.append(base.ParamProblem("metadata.url", "expected an http:// or https:// URL"))
        location_error = location_problem(self.format, self.value_location)
        if location_error:
            problems.append(base.ParamProblem("metadata.valueLocation", location_error))
        if self.aggregate_from_kube_service_endpoints:
            problems.append(
                base.ParamProblem(
                    "metadata.aggregateFromKubeServiceEndpoints",
                    "not supported by Ebb (it needs the Kubernetes API)",
                )
            )
        return problems


# --- value locations ---------------------------------------------------------------------------------


def _json_path(location: str) -> list[str]:
    """GJSON path components: split on unescaped dots, `\\.` kept as a dot. Raises ValueError when the
    path uses a GJSON feature outside the supported subset."""
    if not location:
        raise ValueError("the path is empty")
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in location:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ".":
            parts.append("".join(current))
            current = []
        else:
            if ch in "*?|[]{}":
                raise ValueError(f'GJSON "{ch}" (wildcards, multipaths, pipes) is not supported by Ebb')
            current.append(ch)
    parts.append("".join(current))
    for index, part in enumerate(parts):
        if part.startswith("@"):
            raise ValueError("GJSON modifiers (@...) are not supported by Ebb")
        if part.startswith("#") and (part != "#" or index != len(parts) - 1):
            raise ValueError('GJSON "#" is supported only as the last element (an array\'s length)')
    return parts


def _gjson_type(value: Any) -> str:
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, str):
        return "String"
    if isinstance(value, int | float):
        return "Number"
    return "JSON"


_MISSING = object()


def json_value(body: bytes, location: str) -> float:
    try:
        document = json.loads(body)
    except ValueError:
        raise base.SourceError("the answer is not valid JSON") from None
    current: Any = document
    for part in _json_path(location):
        if part == "#" and isinstance(current, list):
            current = len(current)
        elif isinstance(current, dict):
            current = current.get(part, _MISSING)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            current = _MISSING
        if current is _MISSING:
            current = None
            break
    return _number_or_quantity(current, _gjson_type(current))


def _number_or_quantity(value: Any, kind: str) -> float:
    if isinstance(value, bool) or value is None:
        raise base.SourceError(_WRONG_VALUE.format(kind))
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return resource_metrics.parse_quantity(value)
        except ValueError:
            raise base.SourceError(_WRONG_VALUE.format(value[:60])) from None
    raise base.SourceError(_WRONG_VALUE.format(kind))


def _walk_keys(document: Any, location: str) -> Any:
    current = document
    for key in location.split("."):
        if isinstance(current, dict) and key in current:
            current = current[key]
        elif isinstance(current, list) and key.isdigit() and int(key) < len(current):
            current = current[int(key)]
        else:
            raise base.SourceError(f"key '{key}' not found in path '{location}'")
    return current


def yaml_value(body: bytes, location: str) -> float:
    try:
        document = yaml.safe_load(body)
    except yaml.YAMLError:
        raise base.SourceError("the answer is not valid YAML") from None
    found = _walk_keys(document, location)
    return _number_or_quantity(found, type(found).__name__)


def xml_value(body: bytes, location: str) -> float:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise base.SourceError("the answer is not valid XML") from None
    names = location.split(".")
    if names and names[0] == root.tag:
        names = names[1:]
    element = root
    for name in names:
        child = element.find(name)
        if child is None:
            raise base.SourceError(f"key '{name}' not found in path '{location}'")
        element = child
    text = (element.text or "").strip()
    if len(element):
        raise base.SourceError(_WRONG_VALUE.format("element with children"))
    return _number_or_quantity(_xml_scalar(text), "String")


def _xml_scalar(text: str) -> Any:
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    return text


# Prometheus text exposition format.
_SELECTOR = re.compile(r"\s*(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)?\s*(?:\{(?P<labels>.*)\})?\s*")
_MATCHER = re.compile(
    r'\s*(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<op>=~|!=|!~|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*'
)
_SAMPLE = re.compile(
    r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)(?:\s+\S+)?\s*"
)
_LABEL = re.compile(r'\s*(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*,?')


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def prometheus_selector(location: str) -> tuple[str, dict[str, str]]:
    """`name{label="value",…}` → (name, labels). Raises ValueError for other PromQL."""
    match = _SELECTOR.fullmatch(location)
    if match is None:
        raise ValueError('expected a metric selector such as requests_total{code="200"}')
    name = match["name"] or ""
    labels: dict[str, str] = {}
    if match["labels"] and match["labels"].strip():
        for item in _split_matchers(match["labels"]):
            matcher = _MATCHER.fullmatch(item)
            if matcher is None:
                raise ValueError(f'"{item.strip()}" is not a label matcher such as code="200"')
            if matcher["op"] != "=":
                raise ValueError(f'only "=" label matchers are supported, got "{matcher["op"]}"')
            labels[matcher["label"]] = _unescape(matcher["value"])
    if "__name__" in labels:
        name = name or labels.pop("__name__")
    if not name:
        raise ValueError("the selector names no metric")
    return name, labels


def _split_matchers(text: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    if "".join(current).strip():
        items.append("".join(current))
    return items


def prometheus_value(body: bytes, location: str) -> float:
    try:
        name, wanted = prometheus_selector(location)
    except ValueError as error:
        raise base.SourceError(str(error)) from None
    text = body.decode("utf-8", "replace").replace("\r\n", "\n")
    types: dict[str, str] = {}
    found_family = False
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            words = stripped.split()
            if len(words) >= 4 and words[1] == "TYPE":
                types[words[2]] = words[3]
            continue
        sample = _SAMPLE.fullmatch(stripped)
        if sample is None:
            raise base.SourceError(f"prometheus format parsing error near {stripped[:60]!r}")
        if sample["name"] != name:
            continue
        if _family_type(name, types) in ("histogram", "summary"):
            continue
        found_family = True
        labels = {m["label"]: _unescape(m["value"]) for m in _LABEL.finditer(sample["labels"] or "")}
        if all(labels.get(k) == v for k, v in wanted.items()):
            try:
                return http_clients.parse_go_float(sample["value"])
            except ValueError:
                raise base.SourceError(
                    f"prometheus format parsing error: bad value {sample['value'][:40]!r}"
                ) from None
    if not found_family:
        raise base.SourceError(f"metric '{name}' not found")
    raise base.SourceError(f"value {location} not found")


def _family_type(name: str, types: dict[str, str]) -> str:
    if name in types:
        return types[name]
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name.removesuffix(suffix)) in ("histogram", "summary"):
            return types[name.removesuffix(suffix)]
    return "untyped"


_READERS = {"json": json_value, "prometheus": prometheus_value, "yaml": yaml_value, "xml": xml_value}


def location_problem(format_name: str, location: str) -> str | None:
    """Why `location` cannot be used for `format_name`, found without any answer, or None."""
    try:
        if format_name == "json":
            _json_path(location)
        elif format_name == "prometheus":
            prometheus_selector(location)
        elif not location or any(not part for part in location.split(".")):
            return "expected a dotted path such as data.queue.length"
    except ValueError as error:
        return str(error)
    return None


def read_value(p: MetricsApiParams, response: http_clients.Response, path: str) -> float:
    if response.status != 200:
        raise base.SourceError(f"{path}: api returned {response.status}")
    return _READERS[p.format](response.body, p.value_location)


# --- the trigger type --------------------------------------------------------------------------------


def metric(p: MetricsApiParams, inputs: base.TriggerInputs) -> base.MetricSpec:
    if inputs.metric_type == "Utilization":
        raise base.ConfigError(
            [
                base.ParamProblem(
                    "metricType", "Utilization is only for cpu and memory; use AverageValue or Value"
                )
            ]
        )
    if p.target_value == 0:
        raise base.ConfigError(
            [base.ParamProblem("metadata.targetValue", "no targetValue given in metadata")]
        )
    return base.MetricSpec(
        name=base.metric_name(inputs.index, f"metric-api-{p.value_location}"),
        target_type=inputs.metric_type or "AverageValue",
        target=p.target_value,
        activation=p.activation_target_value,
    )


def build_request(p: MetricsApiParams, inputs: base.TriggerInputs) -> http_clients.Request:
    return http_clients.auth_request(p.url, p, timeout=http_clients.timeout_of(p.timeout, inputs))


class MetricsApiScaler:
    """One built `metrics-api` trigger."""

    def __init__(
        self,
        p: MetricsApiParams,
        inputs: base.TriggerInputs,
        context: base.BuildContext,
        *,
        fetch: http_clients.Fetch | None = None,  # for tests: an injected source
    ) -> None:
        self._params = p
        self._inputs = inputs
        self._metric = metric(p, inputs)
        self._session: http_clients.SessionFetch | None = None
        if fetch is None:
            self._session = http_clients.SessionFetch(context.clients, p.tls_settings(p.unsafe_ssl))
            fetch = self._session
        self._fetch = fetch
        self._secrets: Sequence[str] = params.secret_values(MetricsApiParams, inputs)

    @property
    def metric(self) -> base.MetricSpec:
        return self._metric

    async def read(self) -> base.Reading:
        request = build_request(self._params, self._inputs)
        try:
            response = await self._fetch(request)
            value = read_value(self._params, response, url_masking.mask_userinfo(self._params.url).split("?")[0])
        except base.SourceError as error:
            raise base.SourceError(
                url_masking.mask(f"error requesting metrics endpoint: {error}", self._secrets)
            ) from None
        return base.reading(value, self._params.activation_target_value)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.aclose()


def build(p: MetricsApiParams, inputs: base.TriggerInputs, context: base.BuildContext) -> base.Scaler:
    return MetricsApiScaler(p, inputs, context)


METRICS_API: base.ScalerType[MetricsApiParams] = base.ScalerType(
    name="metrics-api",
    params=MetricsApiParams,
    metric=metric,
    build=build,
    doc="A number read from an HTTP endpoint (JSON, Prometheus text, YAML or XML).",
)

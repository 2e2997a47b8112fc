"""What the external metrics API answers, as the Go framework (custom-metrics-apiserver) writes it.

Pure: request facts in, a status code and a JSON document out. `metric_list` turns a reading into an
`ExternalMetricValueList` (Go's canonical quantity strings; never an empty list, which the HPA reads as
an error); `status` is a `metav1.Status`; `select_scaled_object` applies KEDA's selector rule; the
discovery and OpenAPI documents are fixed (one placeholder resource, as KEDA advertises, so client-go's
discovery never sees an empty list).
"""

from __future__ import annotations

import datetime
import enum
import urllib.parse
from typing import Any

from scaler.core import quantities
from scaler.operator import readings

GROUP = "external.metrics.k8s.io"
VERSION = "v1beta1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
LIST_KIND = "ExternalMetricValueList"
SCALED_OBJECT_LABEL = "scaledobject.keda.sh/name"
PLACEHOLDER_RESOURCE = "externalmetrics"
API_SERVICE_NAME = f"{VERSION}.{GROUP}"


class Reason(str, enum.Enum):
    """metav1.StatusReason values the server uses ("" is Go's StatusReasonUnknown: omitted)."""

    UNKNOWN = ""
    BAD_REQUEST = "BadRequest"
    UNAUTHORIZED = "Unauthorized"
    FORBIDDEN = "Forbidden"
    NOT_FOUND = "NotFound"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    INTERNAL_ERROR = "InternalError"


class Failure(Exception):
    """An answer that is a metav1.Status."""

    def __init__(self, code: int, reason: Reason, message: str) -> None:
        self.code, self.reason, self.message = code, reason, message
        super().__init__(f"{code} {reason.value}: {message}")

    def body(self) -> dict[str, Any]:
        return status(self.code, self.reason, self.message)


def status(code: int, reason: Reason, message: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
    }
    if reason.value:
        body["reason"] = reason.value
    body["code"] = code
    return body


def internal(message: str) -> Failure:
    """A provider error that is no metav1.Status: Go's apiserver answers 500 with the error's text."""
    return Failure(500, Reason.UNKNOWN, message)


def go_time(seconds: float) -> str:
    """metav1.Time as JSON: RFC 3339, UTC, whole seconds."""
    moment = datetime.datetime.fromtimestamp(int(seconds), datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the selector -------------------------------------------------------------------------------------


def parse_selector(raw: str | None) -> dict[str, str]:
    """`labelSelector` as KEDA reads it (labels.ConvertSelectorToLabelsMap): `k=v` or `k==v`, comma-joined.

    Raises Failure 400 for anything else, naming the term and what was expected."""
    labels: dict[str, str] = {}
    if raw is None or raw.strip() == "":
        return labels
    for term in raw.split(","):
        text = term.strip()
        key, sep, value = text.partition("==")
        if not sep:
            key, sep, value = text.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or "!" in key or any(c in value for c in "()=!"):
            raise Failure(
                400,
                Reason.BAD_REQUEST,
                f"labelSelector: unable to parse requirement {text!r}: expected key=value terms joined by commas "
                f"(KEDA selects the ScaledObject with {SCALED_OBJECT_LABEL}=<name>)",
            )
        labels[key] = value
    return labels


def select_scaled_object(raw_selector: str | None) -> str:
    """The ScaledObject the request names, with KEDA's error when the selector names none."""
    name = parse_selector(raw_selector).get(SCALED_OBJECT_LABEL, "")
    if not name:
        raise internal("scaledObject name is not specified")
    return name


# --- the metric ---------------------------------------------------------------------------------------


def metric_list(reading: readings.Reading, metric: str) -> dict[str, Any]:
    """The ExternalMetricValueList for `metric` (matched case-insensitively: client-go lowercases names)."""
    wanted = metric.lower()
    names = {name.lower(): name for name in (*reading.metrics, *reading.values, *reading.errors)}
    name = names.get(wanted)
    if name is None:
        raise internal(f"no matching metrics found for {metric}")
    if name in reading.values:
        item = {
            "metricName": metric,
            "metricLabels": None,
            "timestamp": go_time(reading.taken_at),
            "value": quantities.format_value(reading.values[name]),
        }
        return {"kind": LIST_KIND, "apiVersion": GROUP_VERSION, "metadata": {}, "items": [item]}
    error = reading.errors.get(name) or f"{name}: the trigger has no value (failing, fallback not engaged)"
    raise internal(f"error getting metric {name} of ScaledObject {reading.namespace}/{reading.name}: {error}")


def metric_path(namespace: str, metric: str) -> str:
    return f"/apis/{GROUP_VERSION}/namespaces/{urllib.parse.quote(namespace)}/{urllib.parse.quote(metric)}"


# --- discovery and OpenAPI ----------------------------------------------------------------------------


def api_group() -> dict[str, Any]:
    version = {"groupVersion": GROUP_VERSION, "version": VERSION}
    return {"kind": "APIGroup", "apiVersion": "v1", "name": GROUP, "versions": [version], "preferredVersion": version}


def api_group_list() -> dict[str, Any]:
    group = api_group()
    del group["kind"], group["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]}


def api_resource_list() -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": GROUP_VERSION,
        "resources": [
            {
                "name": PLACEHOLDER_RESOURCE,
                "singularName": "",
                "namespaced": True,
                "kind": LIST_KIND,
                "verbs": ["get"],
            }
        ],
    }


def root_paths() -> dict[str, Any]:
    return {
        "paths": sorted(
            [
                "/apis",
                f"/apis/{GROUP}",
                f"/apis/{GROUP_VERSION}",
                "/healthz",
                "/livez",
                "/metrics",
                "/openapi/v2",
                "/openapi/v3",
                "/readyz",
                "/version",
            ]
        )
    }


def version_info(version: str) -> dict[str, Any]:
    return {
        "major": "1",
        "minor": "0",
        "gitVersion": f"v{version}",
        "gitCommit": "",
        "gitTreeState": "",
        "buildDate": "",
        "goVersion": "",
        "compiler": "",
        "platform": "",
    }


def _schemas(ref_prefix: str) -> dict[str, Any]:
    value = {
        "type": "object",
        "description": "ExternalMetricValue is a metric value for external metric.",
        "required": ["metricName", "metricLabels", "timestamp", "value"],
        "properties": {
            "metricName": {"type": "string", "description": "the name of the metric"},
            "metricLabels": {"type": "object", "additionalProperties": {"type": "string"}},
            "timestamp": {"type": "string", "format": "date-time"},
            "window": {"type": "integer", "format": "int64"},
            "value": {"type": "string", "description": "a resource.Quantity"},
        },
    }
    value_list = {
        "type": "object",
        "description": "ExternalMetricValueList is a list of values for a given metric for some set labels.",
        "required": ["items"],
        "properties": {
            "kind": {"type": "string"},
            "apiVersion": {"type": "string"},
            "metadata": {"type": "object"},
            "items": {"type": "array", "items": {"$ref": f"{ref_prefix}io.k8s.metrics.pkg.apis.external_metrics.v1beta1.ExternalMetricValue"}},
        },
        "x-kubernetes-group-version-kind": [{"group": GROUP, "version": VERSION, "kind": LIST_KIND}],
    }
    return {
        "io.k8s.metrics.pkg.apis.external_metrics.v1beta1.ExternalMetricValue": value,
        "io.k8s.metrics.pkg.apis.external_metrics.v1beta1.ExternalMetricValueList": value_list,
    }


def _operation(ref: str) -> dict[str, Any]:
    return {
        "operationId": "listExternalMetricValue",
        "parameters": [{"name": "labelSelector", "in": "query", "schema": {"type": "string"}, "type": "string"}],
        "responses": {"200": {"description": "OK", "schema": {"$ref": ref}}},
    }


def openapi_v2(version: str) -> dict[str, Any]:
    ref = "#/definitions/io.k8s.metrics.pkg.apis.external_metrics.v1beta1.ExternalMetricValueList"
    return {
        "swagger": "2.0",
        "info": {"title": "Ebb external metrics", "version": version},
        "paths": {f"/apis/{GROUP_VERSION}/namespaces/{{namespace}}/{{name}}": {"get": _operation(ref)}},
        "definitions": _schemas("#/definitions/"),
    }


def openapi_v3_index() -> dict[str, Any]:
    return {"paths": {f"apis/{GROUP_VERSION}": {"serverRelativeURL": f"/openapi/v3/apis/{GROUP_VERSION}"}}}


def openapi_v3(version: str) -> dict[str, Any]:
    ref = "#/components/schemas/io.k8s.metrics.pkg.apis.external_metrics.v1beta1.ExternalMetricValueList"
    operation = _operation(ref)
    operation["responses"] = {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": ref}}}}}
    for parameter in operation["parameters"]:
        parameter.pop("type", None)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Ebb external metrics", "version": version},
        "paths": {f"/apis/{GROUP_VERSION}/namespaces/{{namespace}}/{{name}}": {"get": operation}},
        "components": {"schemas": _schemas("#/components/schemas/")},
    }



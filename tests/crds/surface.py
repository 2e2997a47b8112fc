"""What a cluster can tell about a CRD, in one comparable shape (the shape of `keda_crd_surface.json`).

`surface_of(crd)` reduces a CustomResourceDefinition to its names, scope, subresources, printer columns and,
for each schema path, the attributes the API server acts on; descriptions are dropped. `differences(ours,
keda, extensions)` lists every way Ebb's CRD would behave differently from KEDA's for a KEDA object.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CRDS = ROOT / "crds"
KEDA_SURFACE = HERE / "keda_crd_surface.json"

# Schema keywords the API server acts on, recorded per path. Anything else but these and the walked
# keywords (properties, items, additionalProperties, anyOf of int-or-string, description) is recorded
# under its own name too, so an unexpected keyword shows up as a difference instead of being ignored.
_WALKED = {"properties", "items", "additionalProperties", "description"}
# Keywords that would make a field stricter (or add content) than a plain optional field.
CONSTRAINTS = (
    "default",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "x-kubernetes-validations",
    "nullable",
)

Attributes = dict[str, Any]


def keda_surface() -> dict[str, Any]:
    surface: dict[str, Any] = json.loads(KEDA_SURFACE.read_text())
    return surface


def _attributes(node: Mapping[str, Any]) -> Attributes:
    found: Attributes = {}
    for key, value in node.items():
        if key in _WALKED:
            continue
        if key == "anyOf" and node.get("x-kubernetes-int-or-string"):
            continue  # the structural spelling of int-or-string
        if key in ("enum", "required"):
            found[key] = sorted(value)
        else:
            found[key] = value
    if isinstance(node.get("additionalProperties"), bool):
        found["additionalProperties"] = node["additionalProperties"]
    return found


def flatten(schema: Mapping[str, Any], path: str = "") -> dict[str, Attributes]:
    """Every path of an openAPIV3Schema with its attributes: `a.b` property, `a[]` items, `a{}` map values."""
    found = {path: _attributes(schema)}
    for name, child in (schema.get("properties") or {}).items():
        found |= flatten(child, f"{path}.{name}" if path else name)
    if isinstance(schema.get("items"), Mapping):
        found |= flatten(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), Mapping):
        found |= flatten(schema["additionalProperties"], f"{path}{{}}")
    return found


def surface_of(crd: Mapping[str, Any]) -> dict[str, Any]:
    spec = crd["spec"]
    (version,) = spec["versions"]
    names = dict(spec["names"])
    names.setdefault("shortNames", [])
    names.setdefault("categories", [])
    columns = [
        {k: v for k, v in column.items() if k != "description" and not (k == "priority" and v == 0)}
        for column in version.get("additionalPrinterColumns") or []
    ]
    return {
        "group": spec["group"],
        "version": version["name"],
        "scope": spec["scope"],
        "names": names,
        "subresources": sorted(version.get("subresources") or {}),
        "printerColumns": columns,
        "schema": flatten(version["schema"]["openAPIV3Schema"]),
    }


def differences(ours: Mapping[str, Any], keda: Mapping[str, Any], extensions: Mapping[str, str]) -> list[str]:
    """Each way `ours` differs from `keda` (both surfaces); `extensions` are paths only Ebb declares.

    An extension must be optional and unconstrained (no default, enum, bound, pattern or CEL rule), so
    that a KEDA object is stored exactly as KEDA stores it; `required` is allowed inside it (it only
    applies when the extension is written).
    """
    found: list[str] = []
    for key in ("group", "version", "scope", "names", "subresources", "printerColumns"):
        if ours[key] != keda[key]:
            found.append(f"{key}: ours {ours[key]!r}, KEDA's {keda[key]!r}")
    our_schema: Mapping[str, Attributes] = ours["schema"]
    keda_schema: Mapping[str, Attributes] = keda["schema"]
    for path, attributes in keda_schema.items():
        if path not in our_schema:
            found.append(f"{path or '<root>'}: KEDA declares it, ours does not ({attributes})")
        elif our_schema[path] != attributes:
            found.append(f"{path or '<root>'}: ours {our_schema[path]}, KEDA's {attributes}")
    for path, attributes in our_schema.items():
        if path in keda_schema:
            continue
        if path not in extensions:
            found.append(f"{path}: only ours declares it and it is not a listed extension ({attributes})")
            continue
        strict = sorted(set(attributes) & set(CONSTRAINTS))
        if strict:
            found.append(f"{path}: an extension must be unconstrained, it has {', '.join(strict)}")
    for path in extensions:
        if path not in our_schema:
            found.append(f"{path}: listed as an extension but ours does not declare it")
        elif path in keda_schema:
            found.append(f"{path}: listed as an extension but KEDA declares it")
    return found

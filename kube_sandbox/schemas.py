"""Structural-schema handling for custom resources: defaulting, pruning and validation (OpenAPI v3 subset).

This is written here rather than delegated to `jsonschema` because a CRD's schema is not plain JSON
Schema: `default` must be applied, unknown fields pruned unless `x-kubernetes-preserve-unknown-fields`,
nulls of non-nullable fields dropped, `x-kubernetes-int-or-string` / `-embedded-resource` / `-list-type`
honoured, and errors reported as Kubernetes field paths (`spec.triggers[0].type: Required value`).
Functions modify the object they are given (callers pass a private copy).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kube_sandbox import errors

Schema = Mapping[str, Any]

_ROOT_KEEP = ("apiVersion", "kind", "metadata")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --- defaulting ----------------------------------------------------------------------------------

def apply_defaults(value: Any, schema: Schema) -> Any:
    """Fill `default`s of missing (or null, non-nullable) properties, recursively."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name, sub in properties.items():
            if "default" in sub and (name not in value or (value[name] is None and not sub.get("nullable"))):
                value[name] = _copy(sub["default"])
        for name, sub in properties.items():
            if name in value and value[name] is not None:
                value[name] = apply_defaults(value[name], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            for name in list(value):
                if name not in properties and value[name] is not None:
                    value[name] = apply_defaults(value[name], extra)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [apply_defaults(v, items) if v is not None else v for v in value]
    return value


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# --- pruning -------------------------------------------------------------------------------------

def prune(value: Any, schema: Schema, path: str = "", *, root: bool = False) -> list[str]:
    """Drop fields the schema does not declare; returns their paths (for `fieldValidation` warnings)."""
    pruned: list[str] = []
    _prune(value, schema, path, pruned, root=root)
    return pruned


def _prune(value: Any, schema: Schema, path: str, pruned: list[str], *, root: bool = False) -> None:
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        for name in list(value):
            child_path = _join(path, name)
            if root and name in _ROOT_KEEP:
                continue
            if embedded and name in _ROOT_KEEP:
                continue
            sub = properties.get(name)
            if sub is None and isinstance(extra, Mapping):
                sub = extra
            if sub is None:
                if preserve or extra is True:
                    continue
                del value[name]
                pruned.append(child_path)
                continue
            if value[name] is None and not sub.get("nullable"):
                # Non-nullable nulls without a default vanish (defaults were applied before pruning).
                del value[name]
                continue
            _prune(value[name], sub, child_path, pruned)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for n, item in enumerate(value):
                _prune(item, items, f"{path}[{n}]", pruned)


# --- validation ----------------------------------------------------------------------------------

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
}


def _type_ok(value: Any, expected: str) -> bool:
    if expected == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    types = _TYPES.get(expected)
    return True if types is None else isinstance(value, types)


def _render(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return str(value)


def validate(value: Any, schema: Schema, path: str = "", *, root: bool = False) -> list[errors.FieldError]:
    problems: list[errors.FieldError] = []
    _validate(value, schema, path, problems, root=root)
    return problems


def _invalid(problems: list[errors.FieldError], path: str, value: Any, why: str) -> None:
    problems.append(errors.FieldError(errors.CauseType.INVALID, path, f"Invalid value: {_render(value)}: {why}"))


def _validate(value: Any, schema: Schema, path: str, problems: list[errors.FieldError], *, root: bool = False) -> None:
    shown = path or "<root>"
    if value is None:
        if not schema.get("nullable"):
            _invalid(problems, path, value, f"{shown} in body must be of type {schema.get('type', 'object')}: \"null\"")
        return
    if schema.get("x-kubernetes-int-or-string") and not (
        isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    ):
        _invalid(problems, path, value, f"{shown} in body must be of type integer-or-string")
        return
    expected = schema.get("type")
    if isinstance(expected, str) and not _type_ok(value, expected):
        problems.append(errors.FieldError(
            errors.CauseType.INVALID, path,
            f'Invalid value: {_render(value)}: {shown} in body must be of type {expected}: "{_type_name(value)}"',
        ))
        return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(_render(v) for v in schema["enum"])
        problems.append(errors.FieldError(
            errors.CauseType.NOT_SUPPORTED, path, f"Unsupported value: {_render(value)}: supported values: {allowed}"
        ))
    if isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(value, schema, path, shown, problems)
    if isinstance(value, str):
        _validate_string(value, schema, path, shown, problems)
    if isinstance(value, list):
        _validate_array(value, schema, path, shown, problems)
    if isinstance(value, dict):
        _validate_object(value, schema, path, problems, root=root)
    for sub in schema.get("allOf") or []:
        _validate(value, sub, path, problems)
    if schema.get("anyOf") and not any(not validate(value, s, path) for s in schema["anyOf"]):
        _invalid(problems, path, value, f"{shown} in body must match at least one schema in anyOf")
    if schema.get("oneOf"):
        passing = sum(1 for s in schema["oneOf"] if not validate(value, s, path))
        if passing != 1:
            _invalid(problems, path, value, f"{shown} in body must match exactly one schema in oneOf")
    if isinstance(schema.get("not"), Mapping) and not validate(value, schema["not"], path):
        _invalid(problems, path, value, f"{shown} in body must not match the schema in not")


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _validate_number(value: float, schema: Schema, path: str, shown: str, problems: list[errors.FieldError]) -> None:
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    if minimum is not None:
        if schema.get("exclusiveMinimum") and value <= minimum:
            _invalid(problems, path, value, f"{shown} in body should be greater than {minimum}")
        elif value < minimum:
            _invalid(problems, path, value, f"{shown} in body should be greater than or equal to {minimum}")
    if maximum is not None:
        if schema.get("exclusiveMaximum") and value >= maximum:
            _invalid(problems, path, value, f"{shown} in body should be less than {maximum}")
        elif value > maximum:
            _invalid(problems, path, value, f"{shown} in body should be less than or equal to {maximum}")
    multiple = schema.get("multipleOf")
    if multiple and (value / multiple) != int(value / multiple):
        _invalid(problems, path, value, f"{shown} in body should be a multiple of {multiple}")


def _validate_string(value: str, schema: Schema, path: str, shown: str, problems: list[errors.FieldError]) -> None:
    if schema.get("maxLength") is not None and len(value) > schema["maxLength"]:
        problems.append(errors.FieldError(
            errors.CauseType.TOO_LONG, path, f"Too long: may not be more than {schema['maxLength']} bytes"
        ))
    if schema.get("minLength") is not None and len(value) < schema["minLength"]:
        _invalid(problems, path, value, f"{shown} in body should be at least {schema['minLength']} chars long")
    pattern = schema.get("pattern")
    if pattern and not re.search(pattern, value):
        _invalid(problems, path, value, f"{shown} in body should match '{pattern}'")


def _validate_array(value: list[Any], schema: Schema, path: str, shown: str, problems: list[errors.FieldError]) -> None:
    if schema.get("maxItems") is not None and len(value) > schema["maxItems"]:
        problems.append(errors.FieldError(
            errors.CauseType.TOO_MANY, path, f"Too many: {len(value)}: must have at most {schema['maxItems']} items"
        ))
    if schema.get("minItems") is not None and len(value) < schema["minItems"]:
        _invalid(problems, path, value, f"{shown} in body should have at least {schema['minItems']} items")
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set" or schema.get("uniqueItems"):
        seen: list[Any] = []
        for n, item in enumerate(value):
            if item in seen:
                problems.append(errors.FieldError(
                    errors.CauseType.DUPLICATE, f"{path}[{n}]", f"Duplicate value: {_render(item)}"
                ))
            seen.append(item)
    elif list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen_keys: list[tuple[Any, ...]] = []
        for n, item in enumerate(value):
            if isinstance(item, dict):
                key = tuple(item.get(k) for k in keys)
                if key in seen_keys:
                    rendered = ", ".join(f"{k}: {_render(v)}" for k, v in zip(keys, key, strict=True))
                    problems.append(errors.FieldError(
                        errors.CauseType.DUPLICATE, f"{path}[{n}]", f"Duplicate value: map[{rendered}]"
                    ))
                seen_keys.append(key)
    items = schema.get("items")
    if isinstance(items, Mapping):
        for n, item in enumerate(value):
            _validate(item, items, f"{path}[{n}]", problems)


def _validate_object(value: dict[str, Any], schema: Schema, path: str, problems: list[errors.FieldError], *,
                     root: bool) -> None:
    for name in schema.get("required") or []:
        if name not in value:
            problems.append(errors.FieldError(errors.CauseType.REQUIRED, _join(path, name), "Required value"))
    if schema.get("maxProperties") is not None and len(value) > schema["maxProperties"]:
        problems.append(errors.FieldError(
            errors.CauseType.TOO_MANY, path, f"Too many: {len(value)}: must have at most {schema['maxProperties']} items"
        ))
    if schema.get("minProperties") is not None and len(value) < schema["minProperties"]:
        _invalid(problems, path, value, f"{path or '<root>'} in body should have at least {schema['minProperties']} properties")
    properties = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    for name, item in value.items():
        if root and name in _ROOT_KEEP:
            continue
        sub = properties.get(name)
        if sub is None and isinstance(extra, Mapping):
            sub = extra
        if sub is not None:
            _validate(item, sub, _join(path, name), problems)


# --- the CRD's own schema ------------------------------------------------------------------------

def check_structural(schema: Any, path: str) -> list[errors.FieldError]:
    """A few of the structural-schema rules the API enforces on a CRD's `openAPIV3Schema`."""
    problems: list[errors.FieldError] = []
    if not isinstance(schema, Mapping):
        problems.append(errors.FieldError(errors.CauseType.REQUIRED, path, "Required value: schemas are required"))
        return problems
    _check_node(schema, path, problems, root=True)
    return problems


def _check_node(node: Mapping[str, Any], path: str, problems: list[errors.FieldError], *, root: bool = False) -> None:
    typ = node.get("type")
    special = node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
    if typ is None and not special and not any(k in node for k in ("allOf", "anyOf", "oneOf", "not")):
        problems.append(errors.FieldError(errors.CauseType.REQUIRED, f"{path}.type", "Required value: must not be empty for specified object fields"))
    if root and typ not in (None, "object"):
        problems.append(errors.FieldError(errors.CauseType.INVALID, f"{path}.type", f'Invalid value: "{typ}": must be object at the root'))
    for name, sub in (node.get("properties") or {}).items():
        if isinstance(sub, Mapping):
            _check_node(sub, f"{path}.properties[{name}]", problems)
    items = node.get("items")
    if isinstance(items, Mapping):
        _check_node(items, f"{path}.items", problems)
    if typ == "array" and not isinstance(items, Mapping):
        problems.append(errors.FieldError(errors.CauseType.REQUIRED, f"{path}.items", "Required value: must be specified"))
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        _check_node(extra, f"{path}.additionalProperties", problems)

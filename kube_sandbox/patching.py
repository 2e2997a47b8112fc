"""Patch application: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

Pure functions on plain JSON values; they never modify their inputs. Strategic merge knows the list merge
keys of the built-in types by field name (containers by name, conditions by type, ...), which is how
Kubernetes' Go struct tags declare them; finalizers merge as a set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class PatchError(Exception):
    """The patch cannot be applied (the API answers 422) or is malformed (`malformed`: 400)."""

    def __init__(self, message: str, *, malformed: bool = False) -> None:
        super().__init__(message)
        self.malformed = malformed


def clone(value: Any) -> Any:
    """A deep copy of a JSON value (much faster than copy.deepcopy for dicts, lists and scalars)."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


# --- JSON merge patch ----------------------------------------------------------------------------

def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return clone(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- JSON patch ----------------------------------------------------------------------------------

def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise PatchError(f"invalid JSON pointer {path!r}", malformed=True)
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f'JSON pointer "{path}" must start with "/"', malformed=True)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, path: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (token.startswith("0") and token != "0"):
        raise PatchError(f'invalid array index "{token}" in path "{path}"')
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f'array index {index} out of bounds in path "{path}"')
    return index


def _resolve(doc: Any, tokens: list[str], path: str) -> Any:
    current = doc
    for token in tokens:
        if isinstance(current, dict):
            if token not in current:
                raise PatchError(f'path "{path}" does not exist: missing "{token}"')
            current = current[token]
        elif isinstance(current, list):
            current = current[_index(current, token, path, allow_end=False)]
        else:
            raise PatchError(f'path "{path}" does not exist')
    return current


def _parent(doc: Any, tokens: list[str], path: str) -> tuple[Any, str]:
    if not tokens:
        raise PatchError(f'path "{path}" cannot address the document root here')
    return _resolve(doc, tokens[:-1], path), tokens[-1]


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return clone(value)
    parent, last = _parent(doc, tokens, path)
    if isinstance(parent, dict):
        parent[last] = clone(value)
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, allow_end=True), clone(value))
    else:
        raise PatchError(f'path "{path}" has no container to add to')
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    tokens = _pointer(path)
    parent, last = _parent(doc, tokens, path)
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f'unable to remove nonexistent key "{last}": path "{path}"')
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, path, allow_end=False))
    raise PatchError(f'path "{path}" does not exist')


def json_patch(document: Any, operations: Any) -> Any:
    """Apply RFC 6902 operations to a copy of `document`."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations", malformed=True)
    doc = clone(document)
    for number, op in enumerate(operations):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"operation {number} must be an object with \"op\" and \"path\"", malformed=True)
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f'operation {number} ("{kind}" {path}) is missing "value"', malformed=True)
        if kind == "add":
            doc = _add(doc, path, op["value"])
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            tokens = _pointer(path)
            if not tokens:
                doc = clone(op["value"])
                continue
            _resolve(doc, tokens, path)  # must exist
            doc, _ = _remove(doc, path)
            doc = _add(doc, path, op["value"])
        elif kind == "test":
            actual = _resolve(doc, _pointer(path), path)
            if actual != op["value"]:
                raise PatchError(
                    f'testing value {path} failed: test operation does not apply: is {_short(actual)}, '
                    f"expected {_short(op['value'])}"
                )
        elif kind in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise PatchError(f'operation {number} ("{kind}") is missing "from"', malformed=True)
            value = _resolve(doc, _pointer(source), source)
            if kind == "move":
                doc, value = _remove(doc, source)
            doc = _add(doc, path, value)
        else:
            raise PatchError(f'unexpected operation "{kind}"', malformed=True)
    return doc


def _short(value: Any) -> str:
    import json

    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- strategic merge patch -----------------------------------------------------------------------

# List fields merged by a key, as the Go types' `patchMergeKey` tags declare them.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "conditions": "type",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "containerStatuses": "name",
    "initContainerStatuses": "name",
    "resourceClaims": "name",
}
# Primitive lists merged as sets.
SET_LISTS: frozenset[str] = frozenset({"finalizers"})


def merge_key(field: str, items: Sequence[Any]) -> str | None:
    """The merge key of a list field, or None when the list is replaced as a whole."""
    if field == "ports":
        # Container ports merge by containerPort, Service ports by port (both `ports` in Go).
        sample = next((i for i in items if isinstance(i, dict)), None)
        if sample is not None and "containerPort" in sample:
            return "containerPort"
        return "port"
    return MERGE_KEYS.get(field)


def strategic_merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return clone(patch)
    if patch.get("$patch") == "replace":
        return {k: clone(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    deletions: dict[str, list[Any]] = {}
    retain: list[str] | None = None
    for key, value in patch.items():
        if key == "$patch":
            continue
        if key == "$retainKeys":
            retain = [str(k) for k in value or []]
            continue
        if key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            deletions[key.split("/", 1)[1]] = list(value or [])
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = value
    for key, removed in deletions.items():
        if isinstance(result.get(key), list):
            result[key] = [v for v in result[key] if v not in removed]
    if retain is not None:
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(field: str, current: Any, patch: list[Any]) -> list[Any]:
    existing = list(current) if isinstance(current, list) else []
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [clone(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    if field in SET_LISTS:
        out = list(existing)
        for item in patch:
            if item not in out:
                out.append(item)
        return out
    key = merge_key(field, existing + patch)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return [clone(i) for i in patch]
    out = list(existing)
    for item in patch:
        if key not in item:
            raise PatchError(f'map in list "{field}" is missing its merge key "{key}"')
        position = next(
            (n for n, e in enumerate(out) if isinstance(e, dict) and e.get(key) == item[key]), None
        )
        if item.get("$patch") == "delete":
            if position is not None:
                out.pop(position)
            continue
        if position is None:
            out.append(strategic_merge({}, item))
        else:
            out[position] = strategic_merge(out[position], item)
    return out


def is_mapping(value: Any) -> bool:
    return isinstance(value, Mapping)

"""Field ownership (`metadata.managedFields`) and server-side apply.

Each manager owns a set of leaf field paths, kept in `managedFields` as FieldsV1 trees (`f:spec`,
`k:{"name":"app"}`, `v:"finalizer"`, `.`). Updates move the fields they change to the updating manager;
an apply conflicts with other managers on fields whose values it would change (unless forced), takes
ownership of the fields it sets, and removes fields it set before and no longer sets (unless others own
them). Keyed lists (containers by name, ...) and set lists (finalizers) are tracked per element; other
lists are atomic, as in Kubernetes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kube_sandbox import patching

Step = tuple[str, str]  # ("f", name) | ("k", key json) | ("v", value json) | (".", "")
Path = tuple[Step, ...]

_META_SKIP = frozenset({
    "managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink",
    "deletionTimestamp", "deletionGracePeriodSeconds", "name", "namespace",
})
_ROOT_SKIP = frozenset({"apiVersion", "kind"})


def paths_of(obj: Mapping[str, Any], *, include_status: bool = True) -> set[Path]:
    out: set[Path] = set()
    for key, value in obj.items():
        if key in _ROOT_SKIP or (key == "status" and not include_status):
            continue
        if key == "metadata" and isinstance(value, dict):
            for mkey, mvalue in value.items():
                if mkey not in _META_SKIP:
                    _walk(mvalue, mkey, ((("f", "metadata"), ("f", mkey))), out)
            continue
        _walk(value, key, (("f", key),), out)
    return out


def _walk(value: Any, field: str, prefix: Path, out: set[Path]) -> None:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            _walk(sub, key, (*prefix, ("f", key)), out)
        return
    if isinstance(value, list) and value:
        if field in patching.SET_LISTS and all(not isinstance(v, dict | list) for v in value):
            for item in value:
                out.add((*prefix, ("v", json.dumps(item))))
            return
        key = patching.merge_key(field, value)
        if key is not None and all(isinstance(v, dict) and key in v for v in value):
            for item in value:
                item_prefix = (*prefix, ("k", json.dumps({key: item[key]}, separators=(",", ":"))))
                out.add((*item_prefix, (".", "")))
                for ikey, ivalue in item.items():
                    _walk(ivalue, ikey, (*item_prefix, ("f", ikey)), out)
            return
    out.add(prefix)


def value_at(obj: Any, path: Path) -> tuple[bool, Any]:
    current = obj
    for kind, token in path:
        if kind == "f":
            if not isinstance(current, dict) or token not in current:
                return False, None
            current = current[token]
        elif kind == "k":
            wanted = json.loads(token)
            if not isinstance(current, list):
                return False, None
            match = next((i for i in current if isinstance(i, dict)
                          and all(i.get(k) == v for k, v in wanted.items())), None)
            if match is None:
                return False, None
            current = match
        elif kind == "v":
            if not isinstance(current, list) or json.loads(token) not in current:
                return False, None
            return True, json.loads(token)
        elif kind == ".":
            return True, True
    return True, current


def remove_at(obj: Any, path: Path) -> None:
    """Remove the field (or list element) at `path` from `obj`, in place."""
    if not path:
        return
    parent_path, (kind, token) = path[:-1], path[-1]
    if kind == ".":
        parent_path, (kind, token) = parent_path[:-1], parent_path[-1]
    found, parent = value_at(obj, parent_path)
    if not found:
        return
    if kind == "f" and isinstance(parent, dict):
        parent.pop(token, None)
    elif kind == "k" and isinstance(parent, list):
        wanted = json.loads(token)
        parent[:] = [i for i in parent if not (isinstance(i, dict) and all(i.get(k) == v for k, v in wanted.items()))]
    elif kind == "v" and isinstance(parent, list):
        value = json.loads(token)
        parent[:] = [i for i in parent if i != value]


# --- FieldsV1 trees ------------------------------------------------------------------------------

def to_tree(paths: Iterable[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for kind, token in path:
            name = "." if kind == "." else f"{kind}:{token}"
            node = node.setdefault(name, {})
    return tree


def from_tree(tree: Mapping[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for name, sub in tree.items():
        step: Step = (".", "") if name == "." else (name[0], name[2:])
        if isinstance(sub, Mapping) and sub:
            out |= from_tree(sub, (*prefix, step))
        else:
            out.add((*prefix, step))
    return out


@dataclass
class Entry:
    manager: str
    operation: str  # "Apply" or "Update"
    api_version: str
    time: str
    paths: set[Path]
    subresource: str = ""

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_tree(self.paths),
        }
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def read_entries(meta: Mapping[str, Any]) -> list[Entry]:
    entries = []
    for raw in meta.get("managedFields") or []:
        if not isinstance(raw, Mapping):
            continue
        entries.append(Entry(
            manager=str(raw.get("manager", "")),
            operation=str(raw.get("operation", "Update")),
            api_version=str(raw.get("apiVersion", "")),
            time=str(raw.get("time", "")),
            paths=from_tree(raw.get("fieldsV1") or {}),
            subresource=str(raw.get("subresource", "")),
        ))
    return entries


def render_entries(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    return [e.render() for e in entries if e.paths]


def _entry(entries: list[Entry], manager: str, operation: str, subresource: str, api_version: str, now: str) -> Entry:
    for e in entries:
        if e.manager == manager and e.operation == operation and e.subresource == subresource:
            e.time, e.api_version = now, api_version
            return e
    e = Entry(manager, operation, api_version, now, set(), subresource)
    entries.append(e)
    return e


def record_update(old: Mapping[str, Any] | None, new: Mapping[str, Any], *, manager: str, subresource: str,
                  api_version: str, now: str) -> list[dict[str, Any]]:
    """managedFields after a non-apply write by `manager` turned `old` into `new`."""
    entries = read_entries((old or {}).get("metadata", {}))
    new_paths = paths_of(new)
    old_paths = paths_of(old) if old else set()
    changed = {p for p in new_paths if value_at(old, p) != value_at(new, p)} if old else new_paths
    removed = old_paths - new_paths
    if changed or removed:
        for e in entries:
            e.paths -= changed | removed
        _entry(entries, manager, "Update", subresource, api_version, now).paths |= changed
    return render_entries(entries)


class ApplyConflict(Exception):
    def __init__(self, conflicts: list[tuple[str, Path]]) -> None:
        super().__init__("apply conflicts")
        self.conflicts = conflicts


def render_path(path: Path) -> str:
    out = ""
    for kind, token in path:
        if kind == "f":
            out += f".{token}"
        elif kind == "k":
            out += f"[{','.join(f'{k}={json.dumps(v)}' for k, v in json.loads(token).items())}]"
        elif kind == "v":
            out += f"[={token}]"
    return out


def apply(live: Mapping[str, Any] | None, applied: Mapping[str, Any], *, manager: str, force: bool,
          subresource: str, api_version: str, now: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Server-side apply of `applied` by `manager` onto `live`: the new object and its managedFields."""
    entries = read_entries((live or {}).get("metadata", {}))
    new_paths = paths_of(applied)
    conflicts: list[tuple[str, Path]] = []
    differing: set[Path] = set()
    for p in new_paths:
        if value_at(live, p) != value_at(applied, p):
            differing.add(p)
    for e in entries:
        if e.manager == manager and e.operation == "Apply":
            continue
        for p in sorted(e.paths & differing):
            conflicts.append((e.manager, p))
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    mine = next((e for e in entries if e.manager == manager and e.operation == "Apply"
                 and e.subresource == subresource), None)
    previous = set(mine.paths) if mine else set()
    for e in entries:
        if e is not mine:
            e.paths -= differing
    others = set().union(*(e.paths for e in entries if e is not mine)) if entries else set()
    result: dict[str, Any] = patching.clone(dict(live)) if live else {}
    for p in sorted(previous - new_paths - others, key=len, reverse=True):
        remove_at(result, p)
    merged = patching.strategic_merge(result, patching.clone(dict(applied)))
    entry = _entry(entries, manager, "Apply", subresource, api_version, now)
    entry.paths = new_paths
    return merged, render_entries(entries)

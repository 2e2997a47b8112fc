"""Reading the manifests you would `kubectl apply`: files, directories or `-` for stdin.

`read(paths)` loads every YAML (or JSON) document, unwraps `kind: List` items, and returns
`Manifests`: the documents Ebb cares about (ScaledObjects, (Cluster)TriggerAuthentications, Secrets,
ConfigMaps, Deployments, StatefulSets, HPAs, LimitRanges) grouped by kind, each with its `Source`
(file, document index, list item) so that a message can say where an object came from, plus a count
of the kinds it ignored. A directory is read like `kubectl apply -f DIR`: its `*.yaml`, `*.yml` and
`*.json` files, sorted, not recursively.

Input that cannot be read raises `ManifestError` (missing file, YAML syntax error, a document that is
not an object with `kind` and `apiVersion`): kubectl would refuse the whole apply, and `ebb validate`
exits 2.

YAML is loaded as kubectl loads it, with one difference from PyYAML's defaults: unquoted timestamps
(`2024-01-01`) stay strings, as they do when kubectl converts YAML to JSON.

Hostile input is refused with a `ManifestError` naming the file, document, line and column, never a
traceback: nesting deeper than `MAX_NESTING` levels (PyYAML composes recursively; no manifest needs
more than a few dozen levels), integers longer than Python converts (4,300 digits), and any other
value PyYAML cannot construct.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TextIO

import yaml

STDIN = "-"

# The kinds `ebb validate` reads; everything else is counted and ignored.
RELEVANT_KINDS = frozenset(
    {
        "ScaledObject",
        "TriggerAuthentication",
        "ClusterTriggerAuthentication",
        "Secret",
        "ConfigMap",
        "Deployment",
        "StatefulSet",
        "HorizontalPodAutoscaler",
        "LimitRange",
    }
)
_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(Exception):
    """The input cannot be read as Kubernetes manifests; the message names the file (and document)."""


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a document came from: `path` (`-` for stdin), its index in the file, its `items` index."""

    path: str
    index: int
    item: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}#{self.index}"
        return where if self.item is None else f"{where}.items[{self.item}]"


@dataclasses.dataclass(frozen=True)
class Document:
    """One Kubernetes object as written, with its source."""

    source: Source
    body: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @property
    def name(self) -> str:
        meta = self.body.get("metadata")
        name = meta.get("name") if isinstance(meta, Mapping) else None
        return name if isinstance(name, str) else ""

    def namespace(self, default: str) -> str:
        """The object's namespace, or `default` when it has none (kubectl's `-n`)."""
        meta = self.body.get("metadata")
        namespace = meta.get("namespace") if isinstance(meta, Mapping) else None
        return namespace if isinstance(namespace, str) and namespace else default


@dataclasses.dataclass(frozen=True)
class Manifests:
    """The documents read, in input order, and how many of each ignored kind were skipped."""

    documents: tuple[Document, ...] = ()
    ignored: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def of_kind(self, *kinds: str) -> tuple[Document, ...]:
        return tuple(d for d in self.documents if d.kind in kinds)

    def by_kind(self) -> dict[str, tuple[Document, ...]]:
        grouped: dict[str, list[Document]] = {}
        for document in self.documents:
            grouped.setdefault(document.kind, []).append(document)
        return {kind: tuple(documents) for kind, documents in grouped.items()}


# Deeper than this is refused while composing (a Deployment's deepest field is about 12 levels down).
MAX_NESTING = 100


class _Loader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver (kubectl keeps unquoted dates as strings), with a bound
    on nesting depth."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_NESTING} levels deep", event.start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read(paths: Sequence[str], *, stdin: TextIO | None = None) -> Manifests:
    """Read every path (`-` = stdin, a directory = its manifest files) into `Manifests`."""
    if not paths:
        raise ManifestError("no input: give one or more files, a directory, or - for stdin")
    documents: list[Document] = []
    ignored: dict[str, int] = {}
    for path in _expand(paths):
        text = _read_text(path, stdin)
        for document in parse(text, path):
            if document.kind in RELEVANT_KINDS:
                documents.append(document)
            else:
                ignored[document.kind] = ignored.get(document.kind, 0) + 1
    return Manifests(tuple(documents), ignored)


def parse(text: str, path: str) -> Iterator[Document]:
    """The documents of one file's text; `path` only names it in sources and errors."""
    try:
        loaded = list(yaml.load_all(text, Loader=_Loader))  # _Loader is a SafeLoader
    except yaml.YAMLError as error:
        raise ManifestError(f"{path}: not valid YAML: {_yaml_reason(error)}") from None
    except RecursionError:  # a backstop: MAX_NESTING is far below Python's recursion limit
        raise ManifestError(f"{path}: not valid YAML: nested too deeply") from None
    except Exception as error:  # what a constructor refuses (an integer of more than 4,300 digits …)
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ManifestError(f"{path}: not valid YAML: a value cannot be read: {reason}") from None
    for index, body in enumerate(loaded):
        if body is None:
            continue  # an empty document (`---` at the end), as kubectl skips it
        source = Source(path, index)
        if _too_deep(body):
            # An alias that contains itself (`&a [*a]`) is infinitely deep; JSON cannot express it either.
            raise ManifestError(f"{source}: nested more than {MAX_NESTING} levels deep (or an alias contains itself)")
        _require_object(body, source)
        # `kind: List` and typed lists (`ScaledObjectList`, as `kubectl get -o yaml` prints them).
        if str(body.get("kind")).endswith("List") and "items" in body:
            items = body.get("items") or []
            if not isinstance(items, list):
                raise ManifestError(f"{source}: items must be a list, got {type(items).__name__}")
            for item_index, item in enumerate(items):
                item_source = Source(path, index, item_index)
                _require_object(item, item_source)
                yield Document(item_source, item)
        else:
            yield Document(source, body)


def _too_deep(root: object, limit: int = MAX_NESTING) -> bool:
    """Whether `root` nests deeper than `limit`, cycles included; shared (aliased) values are walked once
    per depth they are reached at, so an alias bomb costs no more than its text."""
    deepest: dict[int, int] = {}
    stack: list[tuple[object, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, Mapping):
            children: Iterable[object] = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        if deepest.get(id(node), 0) >= depth:
            continue
        deepest[id(node)] = depth
        stack.extend((child, depth + 1) for child in children)
    return False


def _require_object(body: object, source: Source) -> None:
    if not isinstance(body, Mapping):
        raise ManifestError(f"{source}: a manifest must be an object with apiVersion and kind")
    for key in ("apiVersion", "kind"):
        value = body.get(key)
        if not isinstance(value, str) or not value:
            raise ManifestError(f"{source}: {key} is not set")


def _expand(paths: Iterable[str]) -> Iterator[str]:
    for path in paths:
        if path != STDIN and os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.endswith(_MANIFEST_SUFFIXES))
            if not names:
                raise ManifestError(f"{path}: no .yaml, .yml or .json files in this directory")
            for name in names:
                yield os.path.join(path, name)
        else:
            yield path


def _read_text(path: str, stdin: TextIO | None) -> str:
    if path == STDIN:
        return (stdin or sys.stdin).read()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ManifestError(f"{path}: is a directory") from None
    except PermissionError:
        raise ManifestError(f"{path}: permission denied") from None
    except UnicodeDecodeError:
        raise ManifestError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise ManifestError(f"{path}: cannot read: {error.strerror}") from None


def _yaml_reason(error: yaml.YAMLError) -> str:
    """PyYAML's message on one line, with a 1-based line and column."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)

"""Label and field selectors: parsing the query-string syntax and matching objects against it.

Label selectors follow apimachinery's grammar (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`,
`a>1`, `a<1`); field selectors support `=`, `==` and `!=` on the fields a resource allows.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kube_sandbox import errors


class Operator(str, enum.Enum):
    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.operator:
            case Operator.EQUALS | Operator.IN:
                return present and value in self.values
            case Operator.NOT_EQUALS | Operator.NOT_IN:
                return not present or value not in self.values
            case Operator.EXISTS:
                return present
            case Operator.DOES_NOT_EXIST:
                return not present
            case Operator.GREATER_THAN | Operator.LESS_THAN:
                if value is None:
                    return False
                try:
                    number = int(value)
                except ValueError:
                    return False
                bound = int(self.values[0])
                return number > bound if self.operator is Operator.GREATER_THAN else number < bound
        return False  # pragma: no cover


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


EVERYTHING = LabelSelector()

_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _check_key(key: str, whole: str) -> str:
    if not _KEY.match(key):
        raise errors.bad_request(f'unable to parse requirement: invalid label key "{key}" in selector "{whole}"')
    return key


def _check_value(value: str, whole: str) -> str:
    if len(value) > 63 or not _VALUE.match(value):
        raise errors.bad_request(
            f'unable to parse requirement: invalid label value: "{value}" in selector "{whole}"'
        )
    return value


_SET_RE = re.compile(r"^\s*(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*$")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a `labelSelector` query value; a 400 BadRequest on bad syntax."""
    if text is None or not text.strip():
        return EVERYTHING
    requirements: list[Requirement] = []
    for raw in _split_top_level(text):
        part = raw.strip()
        if not part:
            raise errors.bad_request(f'unable to parse requirement: found empty requirement in selector "{text}"')
        set_match = _SET_RE.match(part)
        if set_match:
            key = _check_key(set_match["key"], text)
            values = tuple(_check_value(v.strip(), text) for v in set_match["values"].split(","))
            op = Operator.IN if set_match["op"] == "in" else Operator.NOT_IN
            requirements.append(Requirement(key, op, values))
            continue
        for symbol, op in (("!=", Operator.NOT_EQUALS), ("==", Operator.EQUALS), ("=", Operator.EQUALS),
                           (">", Operator.GREATER_THAN), ("<", Operator.LESS_THAN)):
            if symbol in part:
                key, _, value = part.partition(symbol)
                key, value = key.strip(), value.strip()
                _check_key(key, text)
                if op in (Operator.GREATER_THAN, Operator.LESS_THAN):
                    if not re.fullmatch(r"-?\d+", value):
                        raise errors.bad_request(
                            f'unable to parse requirement: for "gt", "lt" operators, exactly one value is '
                            f'required and it must be an integer, in selector "{text}"'
                        )
                else:
                    _check_value(value, text)
                requirements.append(Requirement(key, op, (value,)))
                break
        else:
            if part.startswith("!"):
                requirements.append(Requirement(_check_key(part[1:].strip(), text), Operator.DOES_NOT_EXIST))
            else:
                requirements.append(Requirement(_check_key(part, text), Operator.EXISTS))
    return LabelSelector(tuple(requirements))


def from_label_selector_object(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A metav1.LabelSelector object (matchLabels/matchExpressions) as requirements."""
    if not selector:
        return EVERYTHING
    requirements = [Requirement(k, Operator.EQUALS, (str(v),)) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    ops = {"In": Operator.IN, "NotIn": Operator.NOT_IN, "Exists": Operator.EXISTS, "DoesNotExist": Operator.DOES_NOT_EXIST}
    for expr in selector.get("matchExpressions") or []:
        op = ops.get(expr.get("operator", ""))
        if op is None:
            raise errors.bad_request(f'"{expr.get("operator")}" is not a valid label selector operator')
        requirements.append(Requirement(str(expr.get("key", "")), op, tuple(str(v) for v in expr.get("values") or ())))
    return LabelSelector(tuple(requirements))


def render(selector: LabelSelector) -> str:
    """The canonical string form, as `Scale.status.selector` carries it."""
    out: list[str] = []
    for r in selector.requirements:
        match r.operator:
            case Operator.EQUALS:
                out.append(f"{r.key}={r.values[0]}")
            case Operator.NOT_EQUALS:
                out.append(f"{r.key}!={r.values[0]}")
            case Operator.IN | Operator.NOT_IN:
                out.append(f"{r.key} {r.operator.value} ({','.join(sorted(r.values))})")
            case Operator.EXISTS:
                out.append(r.key)
            case Operator.DOES_NOT_EXIST:
                out.append(f"!{r.key}")
            case Operator.GREATER_THAN:
                out.append(f"{r.key}>{r.values[0]}")
            case Operator.LESS_THAN:
                out.append(f"{r.key}<{r.values[0]}")
    return ",".join(out)


# --- field selectors -----------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldRequirement:
    path: tuple[str, ...]
    value: str
    negated: bool

    def matches(self, obj: Mapping[str, Any]) -> bool:
        current: Any = obj
        for step in self.path:
            current = current.get(step) if isinstance(current, Mapping) else None
        text = "" if current is None else (str(current).lower() if isinstance(current, bool) else str(current))
        return (text != self.value) if self.negated else (text == self.value)


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def exact_name(self) -> str | None:
        for r in self.requirements:
            if r.path == ("metadata", "name") and not r.negated:
                return r.value
        return None


NO_FIELDS = FieldSelector()

COMMON_FIELDS: tuple[str, ...] = ("metadata.name", "metadata.namespace")
EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "/pods": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
              "status.phase", "status.podIP", "status.nominatedNodeName"),
    "/events": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                "reason", "reportingComponent", "source", "type"),
    "events.k8s.io/events": ("regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
                             "reason", "reportingController", "type"),
    "/secrets": ("type",),
    "/namespaces": ("status.phase",),
}


def parse_field_selector(text: str | None, storage_key: str) -> FieldSelector:
    """Parse a `fieldSelector` value; fields the resource does not support are a 400 like the real API."""
    if text is None or not text.strip():
        return NO_FIELDS
    allowed = COMMON_FIELDS + EXTRA_FIELDS.get(storage_key, ())
    requirements: list[FieldRequirement] = []
    for raw in text.split(","):
        part = raw.strip()
        symbol = next((s for s in ("!=", "==", "=") if s in part), None)
        if symbol is None:
            raise errors.bad_request(f'invalid selector: \'{text}\'; can\'t understand \'{part}\'')
        negated = symbol == "!="
        name, _, value = part.partition(symbol)
        name = name.strip()
        if name not in allowed:
            raise errors.bad_request(f'field label not supported: {name}')
        requirements.append(FieldRequirement(tuple(name.split(".")), value.strip(), negated))
    return FieldSelector(tuple(requirements))


def field_names(selector: FieldSelector) -> Sequence[str]:
    return [".".join(r.path) for r in selector.requirements]

"""The one error record every user-facing check produces: which object, which field, what was expected."""

from __future__ import annotations

import dataclasses
import enum


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclasses.dataclass(frozen=True)
class Problem:
    """One finding about one object.

    `obj` reads like kubectl's `kind/namespace/name` (`ScaledObject/default/orders`), `field` is a path
    into the object (`spec.triggers[1].metadata.listLength`), `message` says what was expected.
    """

    obj: str
    field: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        return f"{prefix}{self.obj}: {self.field}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"object": self.obj, "field": self.field, "message": self.message, "severity": self.severity.value}


class InvalidObject(ValueError):
    """Raised by a parse that found problems; carries every one of them, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = [p for p in problems if p.severity is Severity.ERROR]
        self.warnings = [p for p in problems if p.severity is Severity.WARNING]
        super().__init__("; ".join(str(p) for p in self.problems))

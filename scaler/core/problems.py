"""The one error record every user-facing check produces: which object, which field, what was expected."""

from __future__ import annotations

import dataclasses
import enum
import re

# What a name or value echoed on one line must not emit raw: C0 and C1 control characters (newline,
# carriage return, ESC of terminal sequences …), DEL, the Unicode line and paragraph separators, and the
# bidirectional overrides that reorder what a reader sees.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# The longest message a Problem keeps.
MAX_MESSAGE = 1000
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    short = _SHORT.get(char)
    if short is not None:
        return short
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """`text` safe to print on one line of a terminal or log: control characters, line separators and
    bidi overrides shown as `\\n`, `\\x1b`, `\\u2028` …, never emitted. Linear time; `text` itself when clean."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escaped, text)


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

    def __post_init__(self) -> None:
        # A message quoting a hostile 40 KB value stays readable (and a status condition stays small).
        if len(self.message) > MAX_MESSAGE:
            cut = f"{self.message[:MAX_MESSAGE]}… ({len(self.message):,} characters in all)"
            object.__setattr__(self, "message", cut)

    def __str__(self) -> str:
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        return escape(f"{prefix}{self.obj}: {self.field}: {self.message}")

    def as_dict(self) -> dict[str, str]:
        return {"object": self.obj, "field": self.field, "message": self.message, "severity": self.severity.value}


class InvalidObject(ValueError):
    """Raised by a parse that found problems; carries every one of them, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = [p for p in problems if p.severity is Severity.ERROR]
        self.warnings = [p for p in problems if p.severity is Severity.WARNING]
        super().__init__("; ".join(str(p) for p in self.problems))

"""scalingModifiers formulas: KEDA's expr-lang expressions over trigger values, compiled and evaluated.

KEDA evaluates `spec.advanced.scalingModifiers.formula` with github.com/expr-lang/expr. We use the same
Go core through `golem` (PyPI `enchanter-golem`; the PyPI package `expr-lang` is an empty placeholder).
Each trigger named in the ScaledObject is a float variable; a trigger that is failing past its
fallback threshold (fallback behavior `scalingModifiers`) is passed as nil, so `a ?? b ?? 8` works.

`compile_formula` mirrors KEDA's admission webhook: the formula must compile against the declared
trigger names and run once with every trigger set to -1. `Formula.evaluate` runs it on real values.

What golem does, checked in `tests/formulas` (and how it compares with expr-lang in KEDA):

* The result may be an int or a float (`a > 2 ? a + b : 1` yields int 1): both become a float. KEDA
  wraps the formula in `float(...)` for the same reason.
* A bool result (`a > 2`) is an error, as `float(bool)` is in KEDA. A string result is converted the
  way expr-lang's `float()` converts it, else it is an error.
* A nil result (`a ?? b` with both nil) is reported separately (`evaluate_or_none`) because KEDA then
  feeds `fallback.replicas × target`; `evaluate` raises for it.
* A non-finite result (`a / 0` with a float `a`) and an integer division by zero (`1 / 0`) are errors in
  golem; expr-lang yields ±Inf there and KEDA would turn that into a garbage quantity, so treating it
  as a failed evaluation is the useful reading. The webhook check accepts such formulas, as KEDA does
  (with the dummy -1 inputs `a / (b + 1)` divides by zero and KEDA still admits it).
* Divergence: golem divides two *integer literals* as integers (`7 / 2` is 3), where expr-lang always
  divides as floats (3.5). Trigger values are floats, so any division that involves a trigger value
  agrees; write `7.0 / 2` in a constant sub-expression.
* Non-finite inputs cannot cross golem's JSON boundary; callers pass values as reported to the HPA,
  which are always finite (negative, NaN and Inf are reported as 0).

Bounded work: a formula is at most `MAX_FORMULA_LENGTH` characters (checked by `specs`), and one
evaluation may take at most `EVAL_TIMEOUT_MS` (golem's deadline; expr-lang's own memory budget stops
`len(1..10000000)`), so three nested `count`s over array literals cannot stall the operator's event
loop for a tenth of a second every tick: such a formula fails the webhook check instead.

A call into golem costs about half a millisecond, so results are memoized per (formula, inputs): a
load trace replayed by the simulator repeats the same values for long stretches.

Pure: no I/O, no clock; golem evaluates in-process.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Mapping, Sequence

import golem

# The longest formula accepted (KEDA has no limit; real formulas are a line).
MAX_FORMULA_LENGTH = 1024
# The longest one evaluation may run (a real formula takes well under a millisecond).
EVAL_TIMEOUT_MS = 50

# The dummy value KEDA's webhook assigns to every trigger when it test-runs a formula.
DUMMY_VALUE = -1.0

_GOLEM_PREFIX = re.compile(r'^(golem: |(eval|parse) error in "(?:[^"\\]|\\.)*": |(eval|parse) error: )+')
_DID_YOU_MEAN = re.compile(r' \(did you mean "[^"]*"\?\)')
# golem's own wording for these, rephrased for a ScaledObject author.
_REPHRASE = {
    "result is NaN or Inf, which JSON cannot encode": "the result is not a finite number (a division by zero?)",
    "collection results unsupported via the Python binding in v1": "the result is a collection, expected a number",
}
_NON_FINITE = ("NaN or Inf", "division by zero")


class FormulaError(ValueError):
    """A formula that does not compile, does not run, or does not produce a number (user-facing)."""


@dataclasses.dataclass(frozen=True)
class Formula:
    """A compiled scalingModifiers formula over the named trigger variables."""

    source: str
    variables: tuple[str, ...]

    def evaluate(self, values: Mapping[str, float | None]) -> float:
        """The formula's value for these trigger values (None = a trigger passed as nil)."""
        result = self.evaluate_or_none(values)
        if result is None:
            raise FormulaError(
                f"formula `{self.source}` returned nil: every trigger it falls back on is failing"
            )
        return result

    def evaluate_or_none(self, values: Mapping[str, float | None]) -> float | None:
        """Like `evaluate`, but a nil result is returned as None instead of raising."""
        unknown = sorted(set(values) - set(self.variables))
        if unknown:
            raise FormulaError(
                f"formula `{self.source}` got values for unknown triggers: {', '.join(unknown)}"
            )
        inputs: list[float | None] = []
        for name in self.variables:
            value = values.get(name)
            if value is not None:
                value = float(value)
                if not math.isfinite(value):
                    raise FormulaError(
                        f"formula `{self.source}`: value of {name} is {value}, expected a finite number"
                    )
            inputs.append(value)
        return _evaluate(self.source, self.variables, tuple(inputs))


def compile_formula(formula: str, variables: Sequence[str]) -> Formula:
    """Check a formula as KEDA's webhook does (compile, then run with every trigger = -1).

    `variables` are the names of the ScaledObject's triggers that feed the formula (KEDA: the named
    triggers that are not cpu/memory). Raises `FormulaError` saying what is wrong.
    """
    if not isinstance(formula, str) or not formula.strip():
        raise FormulaError("formula is empty: expected an expression over trigger names, e.g. `(a + b) / 2`")
    names = tuple(dict.fromkeys(variables))
    compiled = Formula(source=formula, variables=names)
    try:
        _dummy_run(formula, names)
    except golem.UndefinedVariableError as exc:
        known = ", ".join(names) if names else "none"
        raise FormulaError(
            f"formula `{formula}` does not compile: {_clean(exc)} (trigger names: {known})"
        ) from None
    except (golem.CompileError, golem.TypeMismatchError) as exc:
        raise FormulaError(f"formula `{formula}` does not compile: {_clean(exc)}") from None
    except golem.EvalError as exc:
        if not any(marker in str(exc) for marker in _NON_FINITE):
            raise FormulaError(f"formula `{formula}` fails with every trigger = -1: {_clean(exc)}") from None
        return compiled  # ±Inf in expr-lang: KEDA admits it, and so do we
    except golem.TimeoutError:
        raise FormulaError(
            f"formula `{formula}` takes longer than {EVAL_TIMEOUT_MS} ms to evaluate; simplify it"
        ) from None
    except golem.GolemError as exc:
        raise FormulaError(f"formula `{formula}` cannot be evaluated: {_clean(exc)}") from None
    # The type of the result: a number (or a string float() accepts) with the dummy inputs; nil here
    # is nil whatever the inputs, and KEDA's float(nil) fails.
    if _evaluate(formula, names, tuple(DUMMY_VALUE for _ in names)) is None:
        raise FormulaError(f"formula `{formula}` returns nil with every trigger = -1, expected a number")
    return compiled


def _dummy_run(formula: str, names: tuple[str, ...]) -> None:
    dummies = {name: DUMMY_VALUE for name in names}
    try:
        _engine(names).eval(formula, dummies)
    except golem.TimeoutError:
        # The first run also compiles (and may start golem's runtime): only a second, warm run that
        # still overruns the deadline says the formula itself is too slow.
        _engine(names).eval(formula, dummies)


@functools.lru_cache(maxsize=64)
def _engine(variables: tuple[str, ...]) -> golem.Engine:
    # One engine per variable set; golem caches compiled programs per source inside it.
    return golem.Engine(
        variables={name: 0.0 for name in variables},
        strict_vars=True,
        cache_size=256,
        eval_timeout_ms=EVAL_TIMEOUT_MS,
    )


@functools.lru_cache(maxsize=16384)
def _evaluate(source: str, variables: tuple[str, ...], inputs: tuple[float | None, ...]) -> float | None:
    try:
        result = _engine(variables).eval(source, dict(zip(variables, inputs, strict=True)))
    except golem.GolemError as exc:
        raise FormulaError(f"formula `{source}` failed: {_clean(exc)}") from None
    return _as_number(source, result)


def _as_number(source: str, result: object) -> float | None:
    if result is None:
        return None
    if isinstance(result, bool):
        raise FormulaError(f"formula `{source}` returned a bool ({str(result).lower()}), expected a number")
    if isinstance(result, int | float):
        value = float(result)
    elif isinstance(result, str):
        try:  # expr-lang's float() parses strings; KEDA wraps formulas in float(...)
            value = float(result.strip())
        except ValueError:
            raise FormulaError(
                f"formula `{source}` returned the string {result!r}, expected a number"
            ) from None
    else:
        raise FormulaError(f"formula `{source}` returned {type(result).__name__}, expected a number")
    if not math.isfinite(value):
        raise FormulaError(f"formula `{source}` returned {value}, expected a finite number")
    return value


def _clean(exc: BaseException) -> str:
    """golem's message without its prefixes and source excerpt: the first line, as a user reads it."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # golem's "did you mean" pick varies between runs (Go map order); the caller lists the names anyway.
    cleaned = _DID_YOU_MEAN.sub("", _GOLEM_PREFIX.sub("", first)).strip()
    return _REPHRASE.get(cleaned, cleaned)

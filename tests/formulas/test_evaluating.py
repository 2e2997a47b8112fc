"""scalingModifiers formulas from KEDA's docs, evaluated by the real expr-lang core (golem)."""

from collections.abc import Mapping

import pytest

from scaler.core import formulas

TWO = ("trig_one", "trig_two")


@pytest.mark.parametrize(
    ("formula", "variables", "values", "expected"),
    [
        pytest.param(
            "(trig_one + trig_two)/2", TWO, {"trig_one": 3.0, "trig_two": 6.0}, 4.5, id="average-of-two"
        ),
        pytest.param(
            "trig_one > 2 ? trig_one + trig_two : 1",
            TWO,
            {"trig_one": 3.0, "trig_two": 6.0},
            9.0,
            id="ternary-true-branch",
        ),
        pytest.param(
            "trig_one > 2 ? trig_one + trig_two : 1",
            TWO,
            {"trig_one": 2.0, "trig_two": 6.0},
            1.0,
            id="ternary-int-branch-becomes-float",
        ),
        pytest.param("min(trig_one, trig_two)", TWO, {"trig_one": 3.0, "trig_two": 6.0}, 3.0, id="min"),
        pytest.param("max(trig_one, trig_two)", TWO, {"trig_one": 3.0, "trig_two": 6.0}, 6.0, id="max"),
        pytest.param(
            "max(trig_one, trig_two, 10)",
            TWO,
            {"trig_one": 3.0, "trig_two": 6.0},
            10.0,
            id="max-with-int-literal",
        ),
        pytest.param("float(trig_one)", ("trig_one",), {"trig_one": 3.0}, 3.0, id="float-call"),
        pytest.param(
            "count([trig_one, trig_two], {# > 1})",
            TWO,
            {"trig_one": 3.0, "trig_two": 0.5},
            1.0,
            id="count-with-predicate",
        ),
        pytest.param(
            "count([trig_one, trig_two], # > 1)",
            TWO,
            {"trig_one": 3.0, "trig_two": 5.0},
            2.0,
            id="count-short-predicate",
        ),
        pytest.param("a ?? b ?? 8", ("a", "b"), {"a": None, "b": None}, 8.0, id="coalesce-to-literal"),
        pytest.param("a ?? b ?? 8", ("a", "b"), {"a": None, "b": 2.5}, 2.5, id="coalesce-to-second"),
        pytest.param("a ?? b ?? 8", ("a", "b"), {"a": 1.5, "b": 2.5}, 1.5, id="coalesce-first-present"),
        pytest.param("sum([a, b])", ("a", "b"), {"a": 1.0, "b": 2.0}, 3.0, id="sum"),
        pytest.param("mean([a, b])", ("a", "b"), {"a": 1.0, "b": 2.0}, 1.5, id="mean"),
        pytest.param("abs(a - b)", ("a", "b"), {"a": 1.0, "b": 4.0}, 3.0, id="abs"),
        pytest.param("ceil(a / 4)", ("a",), {"a": 9.0}, 3.0, id="ceil"),
        pytest.param("a ** 2", ("a",), {"a": 3.0}, 9.0, id="power"),
        pytest.param("a * 0.5 + 1e3", ("a",), {"a": 4.0}, 1002.0, id="float-and-exponent-literals"),
        pytest.param("a // comment", ("a",), {"a": 4.0}, 4.0, id="line-comment"),
        pytest.param("-a", ("a",), {"a": 4.0}, -4.0, id="negative-result-passes"),
        pytest.param('"12"', ("a",), {"a": 4.0}, 12.0, id="numeric-string-as-float-does"),
    ],
)
def test_evaluate(
    formula: str, variables: tuple[str, ...], values: Mapping[str, float | None], expected: float
) -> None:
    compiled = formulas.compile_formula(formula, variables)
    result = compiled.evaluate(values)
    assert isinstance(result, float)
    assert result == pytest.approx(expected)


def test_nil_result_is_reported_as_none_by_evaluate_or_none() -> None:
    compiled = formulas.compile_formula("a ?? b", ("a", "b"))
    assert compiled.evaluate_or_none({"a": None, "b": None}) is None
    assert compiled.evaluate_or_none({"a": None, "b": 3.0}) == 3.0


def test_nil_result_raises_from_evaluate() -> None:
    compiled = formulas.compile_formula("a ?? b", ("a", "b"))
    with pytest.raises(formulas.FormulaError, match="returned nil"):
        compiled.evaluate({"a": None, "b": None})


@pytest.mark.parametrize(
    ("formula", "values", "message"),
    [
        pytest.param("a / b", {"a": 1.0, "b": 0.0}, "not a finite number", id="float-division-by-zero"),
        pytest.param("a / b", {"a": 0.0, "b": 0.0}, "not a finite number", id="zero-by-zero-is-nan"),
        pytest.param("a + 1", {"a": None, "b": 1.0}, "invalid operation", id="arithmetic-on-nil"),
        pytest.param(
            "a > b ? a > 0 : 1", {"a": 2.0, "b": 1.0}, r"returned a bool \(true\)", id="bool-result"
        ),
        pytest.param("a > b ? 'x' : 1", {"a": 2.0, "b": 1.0}, "returned the string 'x'", id="string-result"),
        pytest.param("a", {"a": float("inf"), "b": 1.0}, "expected a finite number", id="infinite-input"),
        pytest.param("a", {"a": 1.0, "zz": 1.0}, "unknown triggers: zz", id="unknown-input"),
    ],
)
def test_evaluation_failures_raise_formula_error(
    formula: str, values: Mapping[str, float | None], message: str
) -> None:
    compiled = formulas.compile_formula(formula, ("a", "b"))
    with pytest.raises(formulas.FormulaError, match=message) as info:
        compiled.evaluate(values)
    assert f"`{formula}`" in str(info.value)


def test_integer_literal_division_is_integer_in_golem() -> None:
    # Documented divergence from expr-lang (which gives 3.5): only constant sub-expressions are affected.
    assert formulas.compile_formula("7 / 2", ("a",)).evaluate({"a": 0.0}) == 3.0
    assert formulas.compile_formula("a / 2", ("a",)).evaluate({"a": 7.0}) == 3.5


def test_missing_values_are_nil() -> None:
    compiled = formulas.compile_formula("a ?? 5", ("a", "b"))
    assert compiled.evaluate({"b": 1.0}) == 5.0


def test_repeated_evaluation_gives_the_same_result() -> None:
    compiled = formulas.compile_formula("(a + b) / 2", ("a", "b"))
    results = {compiled.evaluate({"a": float(i % 3), "b": 1.0}) for i in range(30)}
    assert results == {0.5, 1.0, 1.5}

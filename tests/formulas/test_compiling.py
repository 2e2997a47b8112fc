"""The webhook check: a formula must compile over the trigger names and run with every trigger = -1."""

import pytest

from scaler.core import formulas

NAMES = ("trig_one", "trig_two")


@pytest.mark.parametrize(
    "formula",
    [
        pytest.param("(trig_one + trig_two)/2", id="average"),
        pytest.param("trig_one > 2 ? trig_one + trig_two : 1", id="ternary"),
        pytest.param("trig_one ?? trig_two ?? 8", id="coalesce"),
        pytest.param("min(trig_one, trig_two)", id="min"),
        pytest.param("float(trig_one)", id="explicit-float"),
        pytest.param("count([trig_one, trig_two], {# > 1})", id="count"),
        pytest.param("trig_one / (trig_two + 1)", id="division-by-zero-with-dummies-is-admitted-as-in-keda"),
        pytest.param("1 / 0", id="constant-division-by-zero-admitted"),
        pytest.param("5", id="constant"),
    ],
)
def test_valid_formulas_compile(formula: str) -> None:
    compiled = formulas.compile_formula(formula, NAMES)
    assert compiled.source == formula
    assert compiled.variables == NAMES


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        pytest.param("trig_one +", "does not compile: unexpected token EOF", id="syntax-error"),
        pytest.param(
            "trig_one + trig_three",
            'undefined variable "trig_three" (trigger names: trig_one, trig_two)',
            id="unknown-trigger-name",
        ),
        pytest.param("trig_one % 2", "does not compile: type mismatch", id="modulo-on-float"),
        pytest.param("trig_one > 1", "returned a bool", id="bool-result"),
        pytest.param("'x'", "returned the string 'x'", id="string-result"),
        pytest.param("nil", "returns nil with every trigger = -1", id="nil-result"),
        pytest.param("[trig_one]", "the result is a collection", id="collection-result"),
        pytest.param("sqrt(trig_one)", 'undefined variable "sqrt"', id="unknown-function"),
        pytest.param("", "formula is empty", id="empty"),
        pytest.param("   ", "formula is empty", id="blank"),
    ],
)
def test_invalid_formulas_raise_a_user_facing_error(formula: str, message: str) -> None:
    with pytest.raises(formulas.FormulaError) as info:
        formulas.compile_formula(formula, NAMES)
    assert message in str(info.value)
    assert "golem" not in str(info.value)


def test_formula_without_declared_triggers_names_none() -> None:
    with pytest.raises(formulas.FormulaError, match=r"trigger names: none"):
        formulas.compile_formula("a + 1", ())


def test_duplicate_variable_names_are_collapsed() -> None:
    assert formulas.compile_formula("a", ("a", "a", "b")).variables == ("a", "b")

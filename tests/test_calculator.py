"""The calculator: exact against Fraction arithmetic, model notation, and refusal of anything unsafe."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.tools import ToolException

from apprentice.errors import ApprenticeError
from apprentice.tools import TOOL_ERROR_TEMPLATE, get_tools
from apprentice.tools.arithmetic import FUNCTIONS
from apprentice.tools.calculator import MAX_LENGTH, CalculatorError, calculate, evaluate, format_number

# ------------------------------------------------------------------ properties against Fraction


@st.composite
def numbers(draw: st.DrawFn) -> tuple[str, Fraction]:
    """A non-negative int or decimal literal, with its exact value."""
    whole = draw(st.integers(0, 10**6))
    if draw(st.booleans()):
        places = draw(st.integers(1, 6))
        text = f"{whole}.{draw(st.integers(0, 10**places - 1)):0{places}d}"
        return text, Fraction(text)
    return str(whole), Fraction(whole)


def _combine(op: str, left: tuple[str, Fraction | None], right: tuple[str, Fraction | None]):
    (left_text, a), (right_text, b) = left, right
    text = f"({left_text} {op} {right_text})"
    if a is None or b is None or (op == "/" and b == 0):
        return text, None  # None: a division by zero somewhere inside
    return text, {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[op]


expressions = st.recursive(
    numbers(),
    lambda children: st.one_of(
        st.tuples(st.sampled_from("+-*/"), children, children).map(lambda t: _combine(*t)),
        children.map(lambda c: (f"(-{c[0]})", None if c[1] is None else -c[1])),
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(expressions)
def test_random_trees_match_exact_fraction_arithmetic(case: tuple[str, Fraction | None]) -> None:
    text, expected = case
    if expected is None:
        with pytest.raises(CalculatorError, match="division by zero"):
            evaluate(text)
        return
    assert evaluate(text) == expected
    shown = calculate(text)
    if expected.denominator == 1:
        assert shown == str(expected.numerator)
    else:
        assert float(shown) == pytest.approx(float(expected), rel=1e-11, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(numbers(), st.booleans(), st.integers(-6, 6))
def test_integer_powers_are_exact(base: tuple[str, Fraction], negative: bool, exponent: int) -> None:
    text, value = base
    if negative:
        text, value = f"(-{text})", -value
    expression = f"{text}**({exponent})"
    if value == 0 and exponent < 0:
        with pytest.raises(CalculatorError, match="division by zero"):
            evaluate(expression)
    else:
        assert evaluate(expression) == value**exponent
        assert evaluate(expression.replace("**", "^")) == value**exponent


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 10**9), st.integers(1, 10**9))
def test_formatted_results_read_back(numerator: int, denominator: int) -> None:
    shown = calculate(f"{numerator}/{denominator}")
    assert "Fraction" not in shown
    assert float(shown) == pytest.approx(numerator / denominator, rel=1e-11)


# ------------------------------------------------------------------ notation and formatting


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("12*7", "84"),
        ("1/3+1/6", "0.5"),
        ("2^10", "1024"),
        ("3 x 4", "12"),
        ("3×4", "12"),
        ("10 ÷ 4", "2.5"),
        ("1,000 + 1", "1001"),
        ("$1,250.50 * 2", "2501"),
        ("20% * 50", "10"),
        ("50 * 20%", "10"),
        ("20% of 50", "10"),
        ("10 % 3", "1"),
        ("sqrt(16)", "4"),
        ("sqrt(2)", "1.41421356237"),
        ("max(1,2)", "2"),
        ("sqrt(1,000,000)", "1000"),
        ("(1,000 + 1) * 2", "2002"),
        ("gcd(12,18)", "6"),
        ("1/3", "0.333333333333"),
        ("2/3", "0.666666666667"),
        ("0.1 + 0.2", "0.3"),
        ("7 // 2", "3"),
        ("-3**2", "-9"),
        ("2**-2", "0.25"),
        ("12*7 =", "84"),
        ("round(2.5)", "3"),
        ("round(3.14159, 2)", "3.14"),
        ("floor(7/2) + ceil(7/2)", "7"),
        ("log(1000)", "3"),
        ("log(8, 2)", "3"),
        ("ln(e)", "1"),
        ("factorial(5)", "120"),
        ("lcm(4, 6)", "12"),
        ("abs(-2.5)", "2.5"),
        ("sin(pi/2)", "1"),
        ("2**100", str(2**100)),
    ],
)
def test_formatting_and_model_notation(expression: str, expected: str) -> None:
    assert calculate(expression) == expected


def test_exact_results_are_fractions_and_irrational_ones_floats() -> None:
    assert evaluate("1/3 + 1/6") == Fraction(1, 2)
    assert isinstance(evaluate("0.1 * 3"), Fraction)
    assert isinstance(evaluate("sqrt(2)"), float)


def test_error_type_and_message() -> None:
    with pytest.raises(CalculatorError) as caught:
        calculate("2**99999999")
    assert str(caught.value) == 'cannot evaluate "2**99999999": exponent too large'
    assert isinstance(caught.value, ApprenticeError)
    assert isinstance(caught.value, ToolException)
    with pytest.raises(CalculatorError, match="division by zero"):
        calculate("1/(3-3)")


def test_tool_object_returns_errors_as_observations() -> None:
    (tool,) = get_tools(["calculator"])
    assert tool.invoke({"expression": "12*7"}) == "84"
    assert tool.invoke("6 x 7") == "42"
    observation = tool.invoke({"expression": "1/0"})
    assert observation == TOOL_ERROR_TEMPLATE.format(error='cannot evaluate "1/0": division by zero')


# ------------------------------------------------------------------ refusals: nothing executes, nothing hangs


def _injections(sentinel: str) -> list[str]:
    return [
        f"__import__('os').system('touch {sentinel}')",
        "().__class__.__bases__[0].__subclasses__()",
        "open('/etc/passwd').read()",
        f"open('{sentinel}', 'w')",
        "[x for x in range(10**9)]",
        "lambda: 1",
        "'a'*10**9",
        "9**9**9**9",
        "2**99999999",
        "factorial(10**6)",
        "10**10**10",
        "(" * 1000 + "1" + ")" * 1000,
        "(" * 60 + "1" + ")" * 60,
        "1+" * 5000 + "1",
        "-" * 400 + "1",
        "eval('1')",
        "exec('import os')",
        "x",
        "1;2",
        "",
        "   ",
        "a.b",
        "True + 1",
        "1j * 2",
        "{1: 2}",
        "1 if 2 else 3",
        "1 < 2",
        "f(x=1)",
        "sqrt(x=4)",
        "10**3999 * 10**3999",
        "exp(10**6)",
        "(-8)**(1/3)",
        "sqrt(-1)",
        "gcd(1.5, 2)",
        "round(1, 10**6)",
    ]


@pytest.mark.timeout(10)
def test_injections_are_refused_quickly(tmp_path) -> None:
    sentinel = tmp_path / "pwned"
    for expression in _injections(str(sentinel)):
        with pytest.raises(CalculatorError) as caught:
            evaluate(expression)
        assert str(caught.value).startswith("cannot evaluate"), expression
        assert not sentinel.exists(), expression


@pytest.mark.timeout(5)
@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("2**99999999", "exponent too large"),
        ("factorial(1001)", "factorial argument above 1000"),
        ("(" * 51 + "1" + ")" * 51, "nested more than 50 levels deep"),
        ("1" * 501, "longer than 500 characters"),
        ("eval('1')", "unknown function 'eval'"),
        ("x", "unknown name 'x'"),
        ("", "empty expression"),
        ("1;2", "invalid syntax"),
    ],
)
def test_refusal_reasons(expression: str, reason: str) -> None:
    with pytest.raises(CalculatorError, match=reason):
        evaluate(expression)


def test_bounds_allow_large_but_sane_numbers() -> None:
    assert calculate("2**10000") == str(2**10000)
    assert calculate("factorial(1000)") == str(__import__("math").factorial(1000))


# ------------------------------------------------------------------ bounded time for any input


@pytest.mark.timeout(5)
@pytest.mark.parametrize("literal", ["1e999999999", "0e999999999", "1e-999999999", "1_0e99999999", "2.5E+4001"])
def test_literal_exponents_are_bounded(literal: str) -> None:
    with pytest.raises(CalculatorError, match="number literal with an exponent beyond 4000"):
        evaluate(literal)


def test_literals_up_to_the_exponent_bound_still_work() -> None:
    assert evaluate("1e300") == 10**300
    assert evaluate("2.5e-3") == Fraction(1, 400)
    with pytest.raises(CalculatorError, match="result too large"):
        evaluate("1e4000 * 10")


@pytest.mark.timeout(5)
def test_lcm_of_many_big_numbers_is_refused_before_it_grows() -> None:
    arguments = ",".join(f"10**3999-{i}" for i in range(1, 40))
    with pytest.raises(CalculatorError, match="result too large"):
        evaluate(f"lcm({arguments})")
    assert calculate("lcm(4, 6, -10)") == "60"


def test_the_walk_stops_at_its_time_budget(monkeypatch) -> None:
    from apprentice.tools import calculator

    monkeypatch.setattr(calculator, "TIME_BUDGET_S", -1.0)
    with pytest.raises(CalculatorError, match="took longer than -1 s"):
        evaluate("1 + 1")


_TOKENS = [*"0123456789", "+", "-", "*", "/", "//", "%", "**", "^", "e", "E", ".", "(", ")", ",", " ", "x",
           "pi", "e9", "e99999", "e999999999", "9" * 40, *(f"{name}(" for name in FUNCTIONS)]
_LITERALS = st.one_of(
    st.integers(0, 10**12).map(str),
    st.sampled_from(["pi", "e", "0.5", "1e308", "9e3999", "10**3999", "7**999", "factorial(1000)", "1e999999999"]),
    st.builds("{}.{}e{}".format, st.integers(0, 999), st.integers(0, 999), st.integers(-5000, 5000)),
)
_FORMULAS = st.recursive(
    _LITERALS,
    lambda children: st.one_of(
        st.builds("({1}{0}{2})".format, st.sampled_from(["+", "-", "*", "/", "//", "%", "**"]), children, children),
        st.builds(lambda name, args: f"{name}({','.join(args)})", st.sampled_from(sorted(FUNCTIONS)),
                  st.lists(children, min_size=1, max_size=4)),
        children.map("-{}".format),
        children.map("{}%".format),
    ),
    max_leaves=30,
)


def _finishes_with_a_number_or_a_refusal(text: str) -> None:
    started = time.monotonic()
    try:
        value = evaluate(text)
    except CalculatorError:
        pass
    else:
        assert isinstance(value, (Fraction, float))
        format_number(value)
    assert time.monotonic() - started < 2.5, text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=200).map(lambda parts: "".join(parts)[:MAX_LENGTH]))
def test_any_token_soup_finishes_with_a_number_or_a_refusal(text: str) -> None:
    _finishes_with_a_number_or_a_refusal(text)


@settings(max_examples=300, deadline=None)
@given(_FORMULAS.map(lambda text: text[:MAX_LENGTH]))
def test_any_formula_finishes_with_a_number_or_a_refusal(text: str) -> None:
    _finishes_with_a_number_or_a_refusal(text)

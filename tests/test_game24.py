"""Game of 24: the rules checker, the extractor, the solver and ToT step checking."""

from __future__ import annotations

import ast
import builtins
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from apprentice.tasks import (
    Game24Task,
    Item,
    apply_step,
    check_expression,
    extract_expression,
    solve24,
)
from apprentice.tasks.game24 import evaluate_expression, format_numbers

DATA = Path(__file__).parents[1].parent / "shared" / "data"
puzzles = st.lists(st.integers(min_value=1, max_value=13), min_size=4, max_size=4)


def _item(numbers: list[int]) -> Item:
    return Item("t", " ".join(map(str, numbers)), None, {"numbers": numbers})


@contextmanager
def _no_eval():
    """The checker must never run text as code: eval, exec and compile (other than to an AST,
    which is how ``ast.parse`` works) fail inside this block."""
    saved = builtins.eval, builtins.exec, builtins.compile

    def refuse(*args, **kwargs):
        raise AssertionError("eval/exec called")

    def ast_only(source, filename, mode, flags=0, *args, **kwargs):
        if not flags & ast.PyCF_ONLY_AST:
            raise AssertionError("compile to code called")
        return saved[2](source, filename, mode, flags, *args, **kwargs)

    builtins.eval, builtins.exec, builtins.compile = refuse, refuse, ast_only
    try:
        yield
    finally:
        builtins.eval, builtins.exec, builtins.compile = saved


@settings(max_examples=60, deadline=None)
@given(puzzles)
def test_checker_accepts_every_solver_solution(numbers):
    solutions = solve24(numbers)
    assume(solutions)
    task = Game24Task()
    for expression in solutions[:25]:
        with _no_eval():
            verdict = task.check(_item(numbers), expression)
        assert verdict.correct, (numbers, expression, verdict.reason)
        assert verdict.score == 1.0 and verdict.checker == "game24-rules"


@settings(max_examples=60, deadline=None)
@given(puzzles, st.integers(0, 3), st.integers(1, 13))
def test_checker_rejects_solutions_against_other_numbers(numbers, index, replacement):
    solutions = solve24(numbers)
    assume(solutions)
    other = list(numbers)
    other[index] = replacement
    assume(sorted(other) != sorted(numbers))
    ok, reason = check_expression(other, solutions[0])
    assert not ok and "puzzle numbers" in reason


@pytest.mark.parametrize(
    ("numbers", "expression", "why"),
    [
        ([4, 4, 6, 8], "4 + 4 + 6 + 8", "not 24"),
        ([4, 6, 8, 9], "6 * 4 * (8 / 8)", "puzzle numbers"),  # reuses 8, drops 9
        ([1, 4, 6, 8], "6 * 4", "puzzle numbers"),  # numbers missing
        ([1, 4, 6, 8], "6 * 4 * 1 * 8 / 8", "puzzle numbers"),
        ([1, 4, 6, 8], "(6 * 4) * 1 + 8 - 8 + 0", "puzzle numbers"),
        ([3, 3, 8, 8], "8 * 3.0 + 3 - 3", "whole number"),
        ([2, 4, 5, 10], "2.4 * 10 + 5 - 5", "whole number"),
        ([2, 3, 4, 6], "2 ** 3 * (6 - 4 + 1)", "not allowed"),
        ([1, 2, 6, 8], "-(1 - 2) * 8 * (6 / 2)", "not allowed"),
        ([3, 4, 6, 8], "(8 // 3) * 4 * 6", "not allowed"),
        ([1, 2, 3, 4], "1 / (2 - 2) + 3 * 4", "zero"),
        ([1, 1, 4, 6], "(1 + 1) * (4 + 6", "not a valid expression"),
    ],
)
def test_checker_rejects_broken_answers(numbers, expression, why):
    ok, reason = check_expression(numbers, expression)
    assert not ok
    assert why in reason


@pytest.mark.parametrize(
    "attack",
    [
        "__import__('os').system('echo pwned')",
        "open('/etc/passwd').read()",
        "().__class__.__bases__[0].__subclasses__()",
        "(lambda: 24)()",
        "eval('6*4')",
        "6*4 if True else 1+1",
        "[6*4][0] + 1 - 1",
        "6 * 4; import os",
        "f'{6*4}'",
        "globals()",
        "x = 24",
        "9" * 500 + " * 1 * 1 * 1",
        "(" * 300 + "1" + ")" * 300,
    ],
)
def test_checker_never_executes_code(attack):
    with _no_eval():
        ok, _ = check_expression([1, 1, 4, 6], attack)
    assert not ok


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_checker_total_on_arbitrary_text(text):
    with _no_eval():
        ok, reason = check_expression([4, 4, 6, 8], text)
    assert isinstance(ok, bool) and isinstance(reason, str) and reason


def test_exact_fractions_not_floats():
    # In floating point 8 / (3 - 8 / 3) is 23.999999999999993; exactly it is 24.
    assert 8 / (3 - 8 / 3) != 24
    assert check_expression([3, 3, 8, 8], "8 / (3 - 8 / 3)")[0]
    assert check_expression([1, 5, 5, 5], "5 * (5 - 1 / 5)")[0]
    value, used = evaluate_expression("(1 + 2) / 3")
    assert value == Fraction(1) and used == [1, 2, 3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Answer: (6 - 4) * (1 + 11) = 24", "(6 - 4) * (1 + 11)"),
        ("Final Answer: 6 × 4 × (2 − 1) = 24.", "6 * 4 * (2 - 1)"),
        ("(3 x 8) x (2 - 1) = 24", "(3 * 8) * (2 - 1)"),
        ("24 = (12 ÷ 3) * 6", "(12 / 3) * 6"),
        ("So we get $\\boxed{(6-4)\\times 12}$", "(6-4)* 12"),
        ("4 + 8 = 12 (left: 4 6 12)\n6 - 4 = 2 (left: 2 12)\n2 * 12 = 24 (left: 24)\n"
         "Answer: (6 - 4) * (4 + 8) = 24\n", "(6 - 4) * (4 + 8)"),
        ("The expression is `(10 - 4) * (13 - 9)`.\n", "(10 - 4) * (13 - 9)"),
        ("I could not find a solution.", None),
        ("", None),
    ],
)
def test_extract_expression(text, expected):
    assert extract_expression(text) == expected


def test_grade_full_tot_output():
    task = Game24Task()
    text = (
        "Steps:\n4 + 8 = 12 (left: 4 6 12)\n6 - 4 = 2 (left: 2 12)\n2 * 12 = 24 (left: 24)\n"
        "Answer: (6 - 4) * (4 + 8) = 24"
    )
    assert task.grade(_item([4, 4, 6, 8]), text).correct
    assert not task.grade(_item([4, 4, 6, 8]), "Answer: (6 - 4) * (4 + 6) = 24").correct
    assert task.normalize("Answer: (6 - 4) * (4 + 8) = 24") == "(6-4)*(4+8)"


def test_solver_known_puzzles():
    assert solve24([3, 3, 8, 8]) == ["8 / (3 - (8 / 3))"]
    assert solve24([1, 1, 1, 1]) == []
    assert all(check_expression([4, 4, 6, 8], s)[0] for s in solve24([4, 4, 6, 8]))


@pytest.mark.parametrize(
    ("numbers", "step", "expected"),
    [
        ([4, 4, 6, 8], "4 + 8 = 12 (left: 4 6 12)", [4, 6, 12]),
        ([4, 4, 6, 8], "4 + 8 = 12", [4, 6, 12]),
        ([4, 6, 12], "2. 6 - 4 = 2 (left: 2 12)", [2, 12]),
        ([2, 12], "2 * 12 = 24 (left: 24)", [24]),
        ([4, 6], "4 x 6 = 24", [24]),
        ([3, 3, 8, 8], "8 / 3 = 2.67 (left: 2.67 3 8)", [Fraction(8, 3), 3, 8]),
        ([Fraction(8, 3), 3, 8], "3 - 2.67 = 0.33 (left: 0.33 8)", [Fraction(1, 3), 8]),
        ([Fraction(1, 3), 8], "8 / 1/3 = 24 (left: 24)", [24]),
        ([4, 4, 6, 8], "4 + 8 = 13 (left: 4 6 13)", None),  # wrong result
        ([4, 4, 6, 8], "5 + 8 = 13", None),  # 5 is not there
        ([4, 6, 8, 9], "8 + 8 = 16", None),  # 8 used twice
        ([4, 4, 6, 8], "4 + 8 = 12 (left: 4 8 12)", None),  # wrong left list
        ([0, 4, 6, 8], "4 / 0 = 0", None),  # division by zero
        ([4, 4, 6, 8], "what if we add them all", None),
    ],
)
def test_apply_step(numbers, step, expected):
    result = apply_step([Fraction(n) for n in numbers], step)
    assert result == (None if expected is None else sorted(Fraction(n) for n in expected))


def test_fewshot_pool_is_valid():
    task = Game24Task()
    pool = task.fewshot_pool()
    assert 4 <= len(pool) <= 8
    for question, solution in pool:
        numbers = [int(token) for token in question.split() if token.isdigit()]
        assert len(numbers) == 4
        current = [Fraction(n) for n in numbers]
        for line in solution.splitlines()[:-1]:
            current = apply_step(current, line)
            assert current is not None, line
        assert current == [24]
        assert task.grade(_item(numbers), solution).correct
    assert format_numbers([Fraction(8, 3), 4]) == "8/3 4"


@pytest.mark.skipif(not (DATA / "game24" / "24_dev.csv").is_file(), reason="shared data not present")
def test_load_real_file():
    items = Game24Task().load(DATA)
    assert len(items) == 1262
    assert items[0].meta["numbers"] == [1, 1, 4, 6] and items[0].answer is None
    assert len({item.id for item in items}) == 1262
    assert all(len(item.meta["numbers"]) == 4 for item in items)

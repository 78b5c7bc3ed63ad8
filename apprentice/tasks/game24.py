"""Game of 24: combine four numbers with + - * / and parentheses to make exactly 24.

The checker never evaluates text as code: it parses the expression with :mod:`ast`, accepts only
integer literals, the four binary operators and parentheses, and evaluates the tree itself with
exact :class:`~fractions.Fraction` arithmetic. ToT-style partial steps ("4 + 8 = 12 (left: 4 6 12)",
the format of princeton-nlp/tree-of-thought-llm) are checked by :func:`apply_step`.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Iterable
from fractions import Fraction
from itertools import combinations
from typing import Any, ClassVar

from apprentice.errors import DataError
from apprentice.tasks.answers import FINAL_ANSWER
from apprentice.tasks.base import Item, Task, Verdict, require
from apprentice.tasks.extract import answer_segments

__all__ = [
    "Game24Task",
    "apply_step",
    "check_expression",
    "evaluate_expression",
    "extract_expression",
    "format_numbers",
    "solve24",
]

TARGET = 24
MAX_EXPRESSION = 200
_OPERATORS: dict[type, Callable[[Fraction, Fraction], Fraction]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_SYMBOLS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_ALLOWED = re.compile(r"[\d\s+\-*/().]+")
_RUN = re.compile(r"[\d\s+\-*/().]*\d[\d\s+\-*/().]*")
_TIMES = re.compile(r"(?<=[\d)\s])[xX](?=[\s\d(])")
_LATEX = {"\\times": "*", "\\cdot": "*", "\\div": "/", "\\left": "", "\\right": "", "\\(": "", "\\)": ""}
_NUM = r"\d+(?:\.\d+)?(?:/\d+)?"
_STEP = re.compile(
    rf"^\s*(?:step\s*\d+\s*[:.)]\s*|\d+[.)]\s+)?(?P<a>{_NUM})\s*(?P<op>[-+*/])\s*(?P<b>{_NUM})"
    rf"\s*(?:=\s*(?P<c>-?{_NUM}))?\s*(?:\(\s*(?:left|remaining)\s*:?\s*(?P<left>[^)]*)\)\s*)?[.;]?\s*$",
    re.I,
)


class _Invalid(Exception):
    """Why an expression is not a valid Game of 24 answer."""


# ---------------------------------------------------------------------------- expressions


def _clean(text: str) -> str:
    """Replace ×, ÷, x, LaTeX operators and unicode minus by ASCII operators; drop markup."""
    for latex, plain in _LATEX.items():
        text = text.replace(latex, plain)
    text = text.replace("×", "*").replace("÷", "/").replace("\u2212", "-").replace("·", "*")
    text = text.replace("[", "(").replace("]", ")").replace("{", "(").replace("}", ")")
    return _TIMES.sub("*", text)


def _expression_in(candidate: str) -> str | None:
    """The arithmetic expression in one line: the side of ``=`` that is not just the target."""
    sides = [side for side in _clean(candidate).split("=") if side.strip()]
    for side in sides:
        runs = [run.strip(" .") for run in _RUN.findall(side)]
        runs = [run for run in runs if re.search(r"\d\s*[-+*/]\s*[\d(]|\)\s*[-+*/]", run)]
        if runs:
            return " ".join(max(runs, key=len).split())
    return None


def extract_expression(text: str | None) -> str | None:
    """The final expression in model text ("Answer: (6 - 4) * (1 + 11) = 24" -> "(6 - 4) * (1 + 11)").

    Marker segments first (``Final Answer:``, ``Answer:``, ``\\boxed{}``), then the lines from the
    last one up; ``= 24`` is dropped and ``x``/``×``/``÷`` become ``*``/``/``.
    """
    if not text:
        return None
    lines = [line for line in text.splitlines() if line.strip()]
    for candidate in [*answer_segments(text), *reversed(lines)]:
        expression = _expression_in(candidate)
        if expression:
            return expression
    return None


def _evaluate(node: ast.AST, used: list[int]) -> Fraction:
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _evaluate(node.left, used), _evaluate(node.right, used)
        if isinstance(node.op, ast.Div) and right == 0:
            raise _Invalid("divides by zero")
        return _OPERATORS[type(node.op)](left, right)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        used.append(node.value)
        return Fraction(node.value)
    if isinstance(node, ast.Constant):
        raise _Invalid(f"{node.value!r} is not a whole number from the puzzle")
    raise _Invalid(f"{type(node).__name__} is not allowed (only + - * / and parentheses)")


def evaluate_expression(expression: str) -> tuple[Fraction, list[int]]:
    """Exact value of an arithmetic expression and the integers it uses, in order.

    Raises:
        ValueError: The text is not an expression of integers, + - * / and parentheses.
    """
    if len(expression) > MAX_EXPRESSION:
        raise ValueError(f"expression longer than {MAX_EXPRESSION} characters")
    if not _ALLOWED.fullmatch(expression):
        raise ValueError("only digits, + - * / and parentheses are allowed")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ValueError(f"not a valid expression ({type(exc).__name__})") from exc
    used: list[int] = []
    try:
        return _evaluate(tree.body, used), used
    except (_Invalid, RecursionError) as exc:
        raise ValueError(str(exc) or "too deeply nested") from exc


def check_expression(
    numbers: Iterable[int], expression: str | None, target: int = TARGET
) -> tuple[bool, str]:
    """Whether ``expression`` uses exactly ``numbers`` (as a multiset) and equals ``target`` exactly.

    Returns:
        (ok, reason): ``reason`` is one line saying why.
    """
    wanted = sorted(numbers)
    cleaned = _expression_in(expression) if expression else None
    if not cleaned:
        return False, "no arithmetic expression found"
    try:
        value, used = evaluate_expression(cleaned)
    except ValueError as exc:
        return False, f"{cleaned!r}: {exc}"
    if sorted(used) != wanted:
        have = " ".join(map(str, sorted(used)))
        return False, f"uses {have} but the puzzle numbers are {' '.join(map(str, wanted))}"
    if value != target:
        return False, f"{cleaned} = {format_numbers([value])}, not {target}"
    return True, f"{cleaned} = {target} using each number once"


# ---------------------------------------------------------------------------- solver and steps


def _combinations(a: tuple[Fraction, str], b: tuple[Fraction, str]) -> list[tuple[Fraction, str]]:
    (x, ex), (y, ey) = a, b
    results = [
        (x + y, f"({ex} + {ey})"),
        (x * y, f"({ex} * {ey})"),
        (x - y, f"({ex} - {ey})"),
        (y - x, f"({ey} - {ex})"),
    ]
    if y != 0:
        results.append((x / y, f"({ex} / {ey})"))
    if x != 0:
        results.append((y / x, f"({ey} / {ex})"))
    return results


def _search(values: list[tuple[Fraction, str]], target: Fraction, found: set[str]) -> None:
    if len(values) == 1:
        value, expression = values[0]
        if value == target:
            found.add(expression[1:-1] if expression.startswith("(") else expression)
        return
    for i, j in combinations(range(len(values)), 2):
        rest = [values[k] for k in range(len(values)) if k not in (i, j)]
        for combined in _combinations(values[i], values[j]):
            _search([*rest, combined], target, found)


def solve24(numbers: Iterable[int], target: int = TARGET) -> list[str]:
    """Every distinct fully parenthesised expression over ``numbers`` that equals ``target`` (sorted).

    Brute force over all pairings and operators with exact fractions; an empty list means unsolvable.
    """
    found: set[str] = set()
    _search([(Fraction(n), str(n)) for n in numbers], Fraction(target), found)
    return sorted(found)


def format_numbers(numbers: Iterable[Fraction | int]) -> str:
    """Numbers as ToT writes them after ``left:``: ``4 6 12``; non-integers as ``8/3``."""
    return " ".join(str(Fraction(n)) for n in numbers)


def _matches(token: str, value: Fraction) -> bool:
    """A written number matches a value exactly, or as its rounding to the decimals written."""
    written = Fraction(token)
    if written == value:
        return True
    if "." in token and "/" not in token:
        places = len(token.split(".")[1])
        return abs(written - value) <= Fraction(1, 2 * 10**places) + Fraction(1, 10**9)
    return False


def _take(pool: list[Fraction], token: str) -> Fraction | None:
    """Remove and return the first value in ``pool`` that ``token`` denotes; ``None`` if none does."""
    for index, value in enumerate(pool):
        if _matches(token, value):
            return pool.pop(index)
    return None


def apply_step(numbers: Iterable[Fraction | int], step: str) -> list[Fraction] | None:
    """Apply one ToT step ("4 + 8 = 12 (left: 4 6 12)") to the current numbers.

    Both operands must be among ``numbers`` (each consumed once), a stated result must be right
    (rounded decimals of fractions are accepted) and a stated ``left:`` list must match. Returns the
    new numbers (sorted, exact), or ``None`` when the step is invalid.
    """
    match = _STEP.match(_clean(step.strip().rstrip(".")))
    if match is None:
        return None
    pool = [Fraction(n) for n in numbers]
    first, second = _take(pool, match.group("a")), _take(pool, match.group("b"))
    if first is None or second is None or (match.group("op") == "/" and second == 0):
        return None
    result = _SYMBOLS[match.group("op")](first, second)
    if match.group("c") is not None and not _matches(match.group("c"), result):
        return None
    remaining = sorted([*pool, result])
    if match.group("left") is not None:
        written = match.group("left").replace(",", " ").split()
        leftover = list(remaining)
        if len(written) != len(remaining) or any(_take(leftover, token) is None for token in written):
            return None
    return remaining


# ---------------------------------------------------------------------------- the task

_POOL = [  # (puzzle, steps, final expression)
    ("2 5 8 9", "8 - 2 = 6 (left: 5 6 9)|9 - 5 = 4 (left: 4 6)|6 * 4 = 24 (left: 24)", "(8 - 2) * (9 - 5)"),
    ("3 4 5 7", "3 * 4 = 12 (left: 5 7 12)|12 + 5 = 17 (left: 7 17)|17 + 7 = 24 (left: 24)", "3 * 4 + 5 + 7"),
    ("1 2 4 6", "6 * 4 = 24 (left: 1 2 24)|2 - 1 = 1 (left: 1 24)|24 * 1 = 24 (left: 24)", "6 * 4 * (2 - 1)"),
    ("2 3 10 12", "12 / 3 = 4 (left: 2 4 10)|2 * 10 = 20 (left: 4 20)|4 + 20 = 24 (left: 24)", "12 / 3 + 2 * 10"),
    ("1 5 6 10", "10 - 6 = 4 (left: 1 4 5)|5 + 1 = 6 (left: 4 6)|4 * 6 = 24 (left: 24)", "(10 - 6) * (5 + 1)"),
    ("4 4 7 9", "9 - 7 = 2 (left: 2 4 4)|2 + 4 = 6 (left: 4 6)|6 * 4 = 24 (left: 24)", "(9 - 7 + 4) * 4"),
]


def _puzzle_question(puzzle: str) -> str:
    return f"Use the numbers {puzzle} and basic arithmetic operations (+ - * /) to obtain 24."


class Game24Task(Task):
    """Game of 24 (``game24/24_dev.csv``, column ``Puzzles``); ``meta["numbers"]`` holds the four
    numbers, the gold answer is ``None`` (many solutions) and the checker applies the rules."""

    name: ClassVar[str] = "game24"
    checker: ClassVar[str] = "game24-rules"
    answer_format: ClassVar[str] = "Give an expression using each of the four numbers exactly once that equals 24."
    default_file: ClassVar[str] = "game24/24_dev.csv"

    def parse(self, row: dict[str, Any], where: str) -> Item:
        """One CSV row; ``Puzzles`` holds four whole numbers separated by spaces."""
        puzzle = " ".join(str(require(row, "Puzzles", where)).split())
        parts = puzzle.split()
        if len(parts) != 4 or not all(part.isdigit() for part in parts):
            raise DataError(f"{where}: Puzzles {puzzle!r} is not four whole numbers")
        rank = str(row.get("Rank", "")).strip()
        meta: dict[str, Any] = {"numbers": [int(part) for part in parts]}
        if rank.isdigit():
            meta["rank"] = int(rank)
        if row.get("Solved rate"):
            meta["solved_rate"] = str(row["Solved rate"]).strip()
        item_id = f"game24-{rank}" if rank else "game24-" + "-".join(parts)
        return Item(id=item_id, question=_puzzle_question(puzzle), answer=None, meta=meta)

    def extract(self, text: str) -> str | None:
        """The final expression (see :func:`extract_expression`)."""
        return extract_expression(text)

    def normalize(self, answer: str | None) -> str | None:
        """The expression without spaces (different valid expressions stay different)."""
        expression = _expression_in(answer) if answer else None
        return expression.replace(" ", "") if expression else None

    def can_check(self, item: Item) -> bool:
        """Every puzzle can be checked by the rules; there is no single gold answer."""
        return True

    def check(self, item: Item, prediction: str | None) -> Verdict:
        """The rules: exactly the four numbers, only + - * / and parentheses, exactly 24."""
        numbers = item.meta.get("numbers") or [int(part) for part in item.question.split() if part.isdigit()]
        ok, reason = check_expression(numbers, prediction)
        return Verdict(ok, 1.0 if ok else 0.0, self.checker, reason)

    def fewshot_pool(self) -> list[tuple[str, str]]:
        """Hand-written ToT-style solutions: three ``a op b = c (left: ...)`` steps, then the answer."""
        pool = []
        for puzzle, steps, answer in _POOL:
            solution = "\n".join([*steps.split("|"), f"{FINAL_ANSWER} {answer} = 24"])
            pool.append((_puzzle_question(puzzle), solution))
        return pool

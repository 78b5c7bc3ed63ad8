"""The calculator tool: exact, safe arithmetic over a whitelisted subset of Python expressions.

The input is parsed with :mod:`ast` and walked node by node; nothing is ever evaluated by Python
itself. Numbers are exact :class:`fractions.Fraction` values (``1/3 + 1/6`` is exactly ``1/2``);
floats appear only where a function is irrational (``sqrt(2)``, ``sin``, ``log``...). Every
operation that could make a huge number is checked *before* it is computed, literals included
(``1e999999999`` is refused, not expanded), so each step is bounded; a wall-clock budget, checked at
every node of the walk, bounds the whole.
"""

from __future__ import annotations

import ast
import re
import time
from fractions import Fraction

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from apprentice.secrets import redact
from apprentice.tools.arithmetic import (
    BINARY_OPERATORS,
    CONSTANTS,
    FUNCTIONS,
    Number,
    Refusal,
    checked,
    format_number,
)
from apprentice.tools.errors import ToolInputError, format_tool_error

__all__ = [
    "CalculatorError",
    "CalculatorInput",
    "calculate",
    "evaluate",
    "format_number",
    "make_calculator_tool",
]

MAX_LENGTH = 500
MAX_NESTING = 50
#: Literals may be written with a decimal exponent up to this size (``1e4000``); results above
#: about ``10**4000`` are refused anyway, and ``Fraction("1e999999999")`` would never finish.
MAX_LITERAL_EXPONENT = 4000
#: Seconds one evaluation may take, checked at every node of the walk.
TIME_BUDGET_S = 2.0
_MAX_AST_DEPTH = 256
_EXPONENT = re.compile(r"[eE]([+-]?\d+)$")

_DESCRIPTION = (
    # The first line is all the text protocol's prompt shows (it is read on every step and is in
    # every training example); the rest reaches models that read full tool schemas.
    "Exact arithmetic: give one math expression, e.g. 12*7 or (3.5 + 2) / 4.\n"
    "Supports + - * / // % ** (or ^), '20% * 50', parentheses and the functions sqrt, abs, round, "
    "min, max, floor, ceil, log (base 10, or log(x, base)), ln, exp, sin, cos, tan, factorial, gcd, "
    "lcm and the constants pi and e. Use it for every computation instead of doing arithmetic in "
    "your head."
)


class CalculatorError(ToolInputError):
    """An expression the calculator refuses or cannot evaluate (bad syntax, too large, ...)."""

    def __init__(self, expression: str, reason: str) -> None:
        shown = expression if len(expression) <= 60 else expression[:57] + "..."
        super().__init__(f'cannot evaluate "{shown}": {reason}')
        self.expression = expression
        self.reason = reason


class CalculatorInput(BaseModel):
    """Arguments of the calculator tool."""

    expression: str = Field(description="A math expression, e.g. '12*7' or '(1/3 + 1/6) * 2'.")


# ---------------------------------------------------------------------------- notation


_MULTI_ARG = {"min", "max", "gcd", "lcm", "round", "log"}
_THOUSANDS = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w.])")
_PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)\s*%(?!\s*[\w(.])")
_TIMES_X = re.compile(r"(?<=[\d)])\s*[xX]\s*(?=[\d(.]|[a-z])")
_SUPERSCRIPTS = {"²": "**2", "³": "**3"}


def _in_multi_arg_call(text: str, position: int) -> bool:
    """Whether ``position`` sits directly inside ``min(...)``, ``max(...)``, ... arguments."""
    depth = 0
    for index in range(position - 1, -1, -1):
        char = text[index]
        if char == ")":
            depth += 1
        elif char == "(":
            if depth == 0:
                name = re.search(r"([A-Za-z_]\w*)\s*$", text[:index])
                return bool(name) and name.group(1) in _MULTI_ARG
            depth -= 1
    return False


def _join_thousands(text: str) -> str:
    """Drop thousands separators (``1,000`` -> ``1000``) except between call arguments."""

    def replace(match: re.Match[str]) -> str:
        if _in_multi_arg_call(text, match.start()):
            return match.group(0)
        return match.group(0).replace(",", "")

    return _THOUSANDS.sub(replace, text)


def _normalize(expression: str) -> str:
    """Rewrite common model notation into Python syntax: ``×`` ``÷`` ``^`` ``x`` ``$`` ``%``."""
    text = expression.strip().strip("`").strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1]
    text = text.strip().lstrip("=").rstrip("=").strip()
    for old, new in {"×": "*", "·": "*", "÷": "/", "−": "-", "^": "**", "$": "", "€": "", "£": ""}.items():
        text = text.replace(old, new)
    for old, new in _SUPERSCRIPTS.items():
        text = text.replace(old, new)
    text = _TIMES_X.sub("*", text)
    text = _join_thousands(text)
    text = re.sub(r"%\s+of\s+", "% * ", text)
    return _PERCENT.sub(r"(\1/100)", text)


def _check_nesting(text: str) -> None:
    depth = 0
    for char in text:
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(char, 0)
        if depth > MAX_NESTING:
            raise Refusal(f"nested more than {MAX_NESTING} levels deep")


# ---------------------------------------------------------------------------- evaluation


def _literal(node: ast.Constant, source: str) -> Number:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Refusal(f"only numbers are allowed, not {type(value).__name__} literals")
    if isinstance(value, int):
        return Fraction(value)
    text = (ast.get_source_segment(source, node) or repr(value)).replace("_", "")
    exponent = _EXPONENT.search(text)
    if exponent and abs(int(exponent.group(1))) > MAX_LITERAL_EXPONENT:
        raise Refusal(f"number literal with an exponent beyond {MAX_LITERAL_EXPONENT}")
    try:
        return Fraction(text)  # the decimal as written, exactly: 0.1 is 1/10
    except (ValueError, ZeroDivisionError):
        return checked(value)


def _call(node: ast.Call, source: str, deadline: float, depth: int) -> Number:
    if not isinstance(node.func, ast.Name):
        raise Refusal("only plain function calls like sqrt(2) are allowed")
    name = node.func.id
    if name not in FUNCTIONS:
        raise Refusal(f"unknown function '{name}'; allowed: {', '.join(sorted(FUNCTIONS))}")
    if node.keywords:
        raise Refusal(f"{name}() takes no keyword arguments")
    function, least, most = FUNCTIONS[name]
    if len(node.args) < least or (most >= 0 and len(node.args) > most):
        raise Refusal(f"wrong number of arguments for {name}()")
    args = [_eval(arg, source, deadline, depth + 1) for arg in node.args]
    return function(*args)


def _eval(node: ast.AST, source: str, deadline: float, depth: int = 0) -> Number:
    """Evaluate one whitelisted node by ``deadline`` (a ``time.monotonic()``); anything not listed
    here is refused."""
    if depth > _MAX_AST_DEPTH:
        raise Refusal("expression nested too deeply")
    if time.monotonic() > deadline:
        raise Refusal(f"took longer than {TIME_BUDGET_S:g} s")
    if isinstance(node, ast.Expression):
        return _eval(node.body, source, deadline, depth + 1)
    if isinstance(node, ast.Constant):
        return _literal(node, source)
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY_OPERATORS:
        left = _eval(node.left, source, deadline, depth + 1)
        right = _eval(node.right, source, deadline, depth + 1)
        return checked(BINARY_OPERATORS[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        operand = _eval(node.operand, source, deadline, depth + 1)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call):
        return checked(_call(node, source, deadline, depth))
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise Refusal(f"unknown name '{node.id}'; only numbers, pi and e are allowed")
    if isinstance(node, ast.Tuple):
        raise Refusal("commas only separate function arguments")
    raise Refusal(f"{type(node).__name__} is not allowed; use numbers, operators and math functions")


def evaluate(expression: str) -> Number:
    """Evaluate an arithmetic expression exactly.

    Args:
        expression: e.g. ``"12*7"``, ``"1,000 + 1"``, ``"20% * 50"``, ``"sqrt(16)"``.

    Returns:
        A :class:`~fractions.Fraction` when the result is exact, else a float.

    Raises:
        CalculatorError: the expression is not allowed, malformed, too large or divides by zero.
    """
    original = expression.strip()
    deadline = time.monotonic() + TIME_BUDGET_S
    try:
        if not original:
            raise Refusal("empty expression")
        if len(original) > MAX_LENGTH:
            raise Refusal(f"longer than {MAX_LENGTH} characters")
        text = _normalize(original)
        _check_nesting(text)
        try:
            tree = ast.parse(text, mode="eval")
        except (SyntaxError, ValueError) as exc:
            detail = str(getattr(exc, "msg", exc))
            raise Refusal("invalid syntax" if detail == "invalid syntax" else f"invalid syntax: {detail}") from None
        return checked(_eval(tree, text, deadline))
    except Refusal as refusal:
        raise CalculatorError(original, str(refusal)) from None
    except ZeroDivisionError:
        raise CalculatorError(original, "division by zero") from None
    except (OverflowError, RecursionError, MemoryError) as exc:
        raise CalculatorError(original, f"too large to compute ({type(exc).__name__})") from None
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise CalculatorError(original, f"math error ({exc})") from None


def calculate(expression: str) -> str:
    """Evaluate ``expression`` and return the formatted result (the tool's output).

    Raises:
        CalculatorError: see :func:`evaluate`.
    """
    return format_number(evaluate(expression))


def _run_calculator(expression: str) -> str:
    return redact(calculate(expression))


def make_calculator_tool() -> BaseTool:
    """The ``calculator`` tool; errors come back as observations, never as exceptions."""
    return StructuredTool.from_function(
        func=_run_calculator,
        name="calculator",
        description=_DESCRIPTION,
        args_schema=CalculatorInput,
        handle_tool_error=format_tool_error,
    )

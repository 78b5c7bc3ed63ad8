"""Exact numbers for the calculator: checked operations, whitelisted functions, formatting.

Values are :class:`fractions.Fraction` when exact and float only for irrational functions. Every
operation that could produce a huge number is refused *before* it is computed.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from decimal import Decimal, localcontext
from fractions import Fraction

__all__ = [
    "BINARY_OPERATORS",
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_EXPONENT",
    "MAX_FACTORIAL",
    "Number",
    "Refusal",
    "checked",
    "format_number",
]

Number = Fraction | float

MAX_EXPONENT = 10_000
MAX_FACTORIAL = 1000
_MAX_BITS = 4000 * math.log2(10)  # results stay below about 10**4000
_EXACT_DECIMALS = 20
_SIGNIFICANT = 12


class Refusal(Exception):
    """Why a value or operation is refused; the calculator turns it into a ``CalculatorError``."""


# ---------------------------------------------------------------------------- numbers


def checked(value: Number | int) -> Number:
    """Normalize ``value`` to Fraction or float and refuse overflow, NaN and huge numbers."""
    if isinstance(value, bool):
        raise Refusal("booleans are not numbers here")
    if isinstance(value, int):
        value = Fraction(value)
    if isinstance(value, float):
        if math.isnan(value):
            raise Refusal("result is undefined")
        if math.isinf(value):
            raise Refusal("result too large")
        return value
    if max(value.numerator.bit_length(), value.denominator.bit_length()) > _MAX_BITS:
        raise Refusal("result too large")
    return value


def _float(value: Number) -> float:
    try:
        return float(value)
    except OverflowError:
        raise Refusal("number too large for this function") from None


def _integer(value: Number, what: str) -> int:
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise Refusal(f"{what} needs whole numbers")


def _power(base: Number, exponent: Number) -> Number:
    """``base ** exponent``, refusing results too large to compute before computing them."""
    if isinstance(exponent, Fraction) and exponent.denominator == 1:
        n = int(exponent)
        if abs(n) > MAX_EXPONENT:
            raise Refusal("exponent too large")
        if isinstance(base, Fraction) and base != 0:
            magnitude = max(math.log2(abs(base.numerator)), math.log2(base.denominator))
            if magnitude * abs(n) > _MAX_BITS:
                raise Refusal("result too large")
        try:
            return base**n
        except OverflowError:
            raise Refusal("result too large") from None
    real_base, real_exponent = _float(base), _float(exponent)
    if real_base < 0:
        raise Refusal("fractional power of a negative number")
    try:
        return real_base**real_exponent
    except OverflowError:
        raise Refusal("result too large") from None


# ---------------------------------------------------------------------------- functions


def _sqrt(x: Number) -> Number:
    if x < 0:
        raise Refusal("square root of a negative number")
    if isinstance(x, Fraction):
        top, bottom = math.isqrt(x.numerator), math.isqrt(x.denominator)
        if top * top == x.numerator and bottom * bottom == x.denominator:
            return Fraction(top, bottom)
    return math.sqrt(_float(x))


def _ln(x: Number) -> float:
    """Natural logarithm; exact inputs of any size work (no float conversion of huge values)."""
    if x <= 0:
        raise Refusal("logarithm of a non-positive number")
    if isinstance(x, Fraction):
        return math.log(x.numerator) - math.log(x.denominator)
    return math.log(x)


def _log(x: Number, base: Number | None = None) -> float:
    """Base-10 logarithm, as on a pocket calculator, or ``log(x, base)``."""
    if base is not None and base == 1:
        raise Refusal("logarithm base 1")
    return _ln(x) / (math.log(10) if base is None else _ln(base))


def _round(x: Number, digits: Number = Fraction(0)) -> Number:
    """Round half away from zero (what people expect of money), exactly."""
    places = _integer(digits, "round")
    if abs(places) > 100:
        raise Refusal("round to at most 100 digits")
    if isinstance(x, float):
        x = Fraction(x)
    scale = Fraction(10) ** places
    magnitude = math.floor(abs(x) * scale + Fraction(1, 2))
    return Fraction(magnitude if x >= 0 else -magnitude) / scale


def _factorial(n: Number) -> Number:
    value = _integer(n, "factorial")
    if value < 0:
        raise Refusal("factorial of a negative number")
    if value > MAX_FACTORIAL:
        raise Refusal(f"factorial argument above {MAX_FACTORIAL}")
    return Fraction(math.factorial(value))


def _exp(x: Number) -> float:
    try:
        return math.exp(_float(x))
    except OverflowError:
        raise Refusal("result too large") from None


def _lcm(*xs: Number) -> Number:
    """Least common multiple, checked after every argument (the product of many big ones is huge)."""
    result = Fraction(1)
    for x in xs:
        result = checked(math.lcm(int(result), _integer(x, "lcm")))
    return result


def _trig(function: Callable[[float], float]) -> Callable[[Number], float]:
    return lambda x: function(_float(x))


FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int]] = {
    # name: (function, min args, max args); -1 means any number
    "sqrt": (_sqrt, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "min": (min, 1, -1),
    "max": (max, 1, -1),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "log": (_log, 1, 2),
    "ln": (_ln, 1, 1),
    "exp": (_exp, 1, 1),
    "sin": (_trig(math.sin), 1, 1),
    "cos": (_trig(math.cos), 1, 1),
    "tan": (_trig(math.tan), 1, 1),
    "factorial": (_factorial, 1, 1),
    "gcd": (lambda *xs: math.gcd(*(_integer(x, "gcd") for x in xs)), 1, -1),
    "lcm": (_lcm, 1, -1),
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}
BINARY_OPERATORS: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: _power,
}


# ---------------------------------------------------------------------------- output


def _terminating_decimal(value: Fraction) -> str | None:
    """The exact decimal of ``value`` if it has at most 20 digits after the point."""
    denominator, places = value.denominator, 0
    for factor in (2, 5):
        while denominator % factor == 0:
            denominator //= factor
    if denominator != 1:
        return None
    while (value * 10**places).denominator != 1:
        places += 1
        if places > _EXACT_DECIMALS:
            return None
    digits = str(abs(value.numerator) * 10**places // value.denominator).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def format_number(value: Number) -> str:
    """Format a result for people and models: ``84``, ``2.5``, ``0.333333333333``."""
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        exact = _terminating_decimal(value)
        if exact is not None:
            return exact
        with localcontext() as context:
            context.prec = _SIGNIFICANT + 8
            text = format(Decimal(value.numerator) / Decimal(value.denominator), f".{_SIGNIFICANT}g")
    else:
        text = format(value, f".{_SIGNIFICANT}g")
    return "0" if text == "-0" else text

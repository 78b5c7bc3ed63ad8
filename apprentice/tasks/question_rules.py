"""Rules about what a question asks for, to tell an answer that cannot be right from one that may be.

A word problem about counts and amounts has a non-negative answer with at most two decimal places, and one
that asks "how many" of something that comes in whole ones (apples, people; not hours or dollars) has a
whole-number answer. :class:`~apprentice.tasks.answers.NumericTask` uses these rules as its ``implausible``
check, and the rules verifier (:mod:`apprentice.agents.verifier`) falls back on :func:`not_a_count` for a task
without one.
"""

from __future__ import annotations

import re

from apprentice.tasks.extract import parse_number

__all__ = ["counted_noun", "not_a_count", "not_an_amount"]

#: Things "how many" can ask for in fractions: units of time, length, weight, volume, money, and ratios.
_MEASURES = frozenset("""
    second seconds minute minutes hour hours day days week weeks month months year years decade decades
    mile miles kilometer kilometers km meter meters metre metres centimeter centimeters cm foot feet inch inches
    yard yards acre acres square cubic pound pounds lb lbs ounce ounces oz kilogram kilograms kg gram grams ton
    tons liter liters litre litres ml milliliter milliliters gallon gallons quart quarts pint pints cup cups
    tablespoon tablespoons teaspoon teaspoons dollar dollars cent cents euro euros percent times degree degrees
    calorie calories lap laps serving servings portion portions
""".split())
#: Words before the counted thing ("how many more of the red apples") and words that end it ("... did").
_LEADING = frozenset("more fewer less total other extra new different of the his her their its in".split())
_VERBS = frozenset("did does do is are was were will would can could should has have had must might than".split())
_PLURALS = frozenset("people children men women mice geese fish sheep deer teeth feet".split())


def counted_noun(question: str | None) -> str | None:
    """What the last "how many" of ``question`` counts when it comes in whole ones ("red apples"), or
    None: no "how many", or a measure that may be a fraction ("how many hours", "how many times").
    A "how many" with no noun after it ("how many did he buy") counts whole things too."""
    matches = list(re.finditer(r"\bhow\s+many\b((?:\s+[A-Za-z'-]+){0,5})", question or "", re.IGNORECASE))
    if not matches:
        return None
    words: list[str] = []
    for word in (w.lower().strip("'") for w in matches[-1].group(1).split()):
        if word in _MEASURES:
            return None
        if word in _VERBS:
            break
        if words or word not in _LEADING:
            words.append(word)
            if word in _PLURALS or (word.endswith("s") and not word.endswith("ss")) or len(words) == 3:
                break  # the counted noun ends the phrase ("bottle caps", "pieces" of candy)
    return " ".join(words) or "things"


def not_a_count(answer: str | None, question: str | None) -> str | None:
    """Why ``answer`` cannot answer ``question``: the question asks how many of something that comes
    whole (see :func:`counted_noun`) and the answer is a fraction or negative; None otherwise."""
    value = parse_number(answer) if question else None
    if value is None or (value.denominator == 1 and value >= 0):
        return None
    counted = counted_noun(question)
    if counted is None:
        return None
    kind = "negative" if value < 0 else "not a whole number"
    return f"{answer} is {kind}, but the question asks how many {counted}"



def not_an_amount(answer: str | None, question: str | None = None) -> str | None:
    """Why ``answer`` cannot answer a word problem about counts and amounts, or None.

    A negative number, or one with more than two decimal places (``1.0753...``, from dividing the
    wrong pair), is not such a quantity; nor is a fraction when ``question`` asks how many of
    something that comes in whole ones (``0.45`` for "how many cookies": a division the wrong way
    round). Measures (hours, miles, dollars, cups, times...) may be fractions. No gold answer in
    SVAMP, GSM8K train or the arith levels breaks these rules but 3 of GSM8K's 7,473 train answers,
    which are negative.
    """
    value = parse_number(answer)
    if value is None:
        return None
    if value < 0:
        return f"{answer} is negative, not a count or an amount"
    if (value * 100).denominator != 1:
        return f"{answer} has more than two decimal places, not a count or an amount"
    return not_a_count(answer, question)

"""Answer extraction, normalisation and checking shared by tasks: numbers, free text, labels.

Every extractor looks for an explicit final-answer marker first, in this order: ReAct's
``Finish[...]``, ``Final Answer: ...``, ``answer is ...`` / ``Answer: ...``, ``#### ...`` (GSM8K) and
``\\boxed{...}``; the last occurrence of a marker wins. Only when no marker is found does it fall back
on the text itself (the last number, the last label word, the last line).

The kind base classes (:class:`NumericTask`, :class:`TextTask`, :class:`LabelTask`) wire these
functions into the :class:`~apprentice.tasks.base.Task` verbs.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import ClassVar

from apprentice.tasks.base import Item, Task, Verdict

__all__ = [
    "FEVER_LABELS",
    "FINAL_ANSWER",
    "NUMERIC_POOL",
    "YES_NO",
    "LabelTask",
    "NumericTask",
    "TextTask",
    "answer_segments",
    "check_label",
    "check_numeric",
    "check_text",
    "counted_noun",
    "extract_label",
    "extract_number",
    "extract_text",
    "f1_score",
    "format_number",
    "normalize_number",
    "normalize_text",
    "not_a_count",
    "not_an_amount",
    "numbers_match",
    "parse_number",
]

FINAL_ANSWER = "Final Answer:"
REL_TOLERANCE = 1e-6

_MARKERS = (
    re.compile(r"final\s+answer\s*(?:is\b)?\s*[:\-]?", re.I),
    re.compile(r"\banswer\s*(?:is\b|:)\s*:?", re.I),
    re.compile(r"####"),
)
_FINISH = re.compile(r"Finish\s*\[([^\]]*)\]", re.I)
_BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_FRAC = re.compile(r"\\d?frac\s*\{\s*(-?\d+)\s*\}\s*\{\s*(\d+)\s*\}")
_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>[-\u2212])?(?:\$\s?)?"
    r"(?P<body>\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:/(?P<den>\d+)(?!\.\d))?"
)
_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_TEXT_EDGES = re.compile(r"^[\s*_`\"']+|[\s*_`\"'.]+$")


# ---------------------------------------------------------------------------- finding the answer


def answer_segments(text: str) -> list[str]:
    """The text after each final-answer marker, best marker first, and latest first within a marker.

    ``Finish[x]`` gives ``x``; ``Final Answer: x``, ``answer is x``, ``Answer: x`` and ``#### x`` give
    the rest of their line (or the next non-empty line when theirs is empty); ``\\boxed{x}`` gives ``x``.
    """
    segments = [match.group(1) for match in reversed(list(_FINISH.finditer(text)))]
    for marker in _MARKERS:
        segments.extend(_rest_of_line(text, match.end()) for match in reversed(list(marker.finditer(text))))
    segments.extend(match.group(1) for match in reversed(list(_BOXED.finditer(text))))
    return [segment for segment in segments if segment.strip()]


def _rest_of_line(text: str, start: int) -> str:
    lines = text[start:].split("\n")
    for line in lines[:2]:
        if line.strip(" \t*_`"):
            return line
    return ""


# ---------------------------------------------------------------------------- numbers


def parse_number(text: str | None) -> Fraction | None:
    """The first number in ``text`` as an exact Fraction ("$1,234.50" -> 2469/2, "-3/4", "12 apples")."""
    if text is None:
        return None
    match = _NUMBER.search(_FRAC.sub(r"\1/\2", text))
    return None if match is None else _to_fraction(match)


def _to_fraction(match: re.Match[str]) -> Fraction | None:
    value = Fraction(match.group("body").replace(",", ""))
    if match.group("den"):
        if int(match.group("den")) == 0:
            return None
        value /= int(match.group("den"))
    return -value if match.group("sign") else value


def _clean_number(match: re.Match[str]) -> str:
    sign = "-" if match.group("sign") else ""
    den = f"/{match.group('den')}" if match.group("den") else ""
    return f"{sign}{match.group('body').replace(',', '')}{den}"


def _number_in(segment: str) -> str | None:
    """The number a final-answer segment gives: after its last ``=``, else its first number."""
    if "=" in segment:
        found = _NUMBER.search(segment.rsplit("=", 1)[1])
        if found:
            return _clean_number(found)
    found = _NUMBER.search(segment)
    return _clean_number(found) if found else None


def extract_number(text: str | None) -> str | None:
    """The final numeric answer in free text, without ``$`` and thousands commas ("1234.50", "-7", "3/4").

    Marker segments first (see :func:`answer_segments`), then the last number anywhere in the text.
    """
    if not text:
        return None
    text = _FRAC.sub(r"\1/\2", text).replace("\u2212", "-")
    for segment in answer_segments(text):
        number = _number_in(segment)
        if number is not None:
            return number
    matches = list(_NUMBER.finditer(text))
    return _clean_number(matches[-1]) if matches else None


def format_number(value: Fraction) -> str:
    """Canonical text of a number: "84" not "84.0", "0.75" for 3/4, "1/3" when no finite decimal exists."""
    if value.denominator == 1:
        return str(value.numerator)
    rest = value.denominator
    for factor in (2, 5):
        while rest % factor == 0:
            rest //= factor
    if rest != 1:
        return f"{value.numerator}/{value.denominator}"
    with localcontext() as context:
        context.prec = 100
        decimal = Decimal(value.numerator) / Decimal(value.denominator)
    return format(decimal.normalize(), "f")


def normalize_number(answer: str | None) -> str | None:
    """Canonical number of an answer string ("$84.00" -> "84"); ``None`` when it holds no number."""
    value = parse_number(extract_number(answer)) if answer else None
    return None if value is None else format_number(value)


def numbers_match(gold: Fraction, predicted: Fraction, rel_tol: float = REL_TOLERANCE) -> bool:
    """Exact equality, or equal within ``rel_tol`` relative (for rounded decimals of long fractions)."""
    if gold == predicted:
        return True
    try:
        return math.isclose(float(gold), float(predicted), rel_tol=rel_tol, abs_tol=1e-12)
    except OverflowError:
        return False


def check_numeric(gold: str | None, prediction: str | None) -> Verdict:
    """Judge a numeric prediction against a numeric gold answer (1e-6 relative tolerance)."""
    expected = parse_number(gold)
    if expected is None:
        return Verdict(False, 0.0, "numeric", f"gold answer {gold!r} is not a number")
    got = parse_number(extract_number(prediction)) if prediction else None
    if got is None:
        return Verdict(False, 0.0, "numeric", f"no number in the prediction; expected {format_number(expected)}")
    gold_text, got_text = format_number(expected), format_number(got)
    if numbers_match(expected, got):
        return Verdict(True, 1.0, "numeric", f"{got_text} equals the gold {gold_text}")
    return Verdict(False, 0.0, "numeric", f"expected {gold_text}, got {got_text}")


# ---------------------------------------------------------------------------- free text


def normalize_text(text: str | None) -> str:
    """SQuAD normalisation: lower case, drop punctuation (Unicode too) and articles, squeeze spaces."""
    if not text:
        return ""
    lowered = text.lower()
    kept = "".join(
        " " if ch in _PUNCTUATION or unicodedata.category(ch).startswith("P") else ch for ch in lowered
    )
    return " ".join(_ARTICLES.sub(" ", kept).split())


def f1_score(prediction: str, gold: str) -> float:
    """SQuAD token F1 between a prediction and a gold answer, after :func:`normalize_text`."""
    predicted, expected = normalize_text(prediction).split(), normalize_text(gold).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def extract_text(text: str | None) -> str | None:
    """A short free-text answer: the first marker segment's line, else the last non-empty line."""
    if not text:
        return None
    lines = [line for line in text.splitlines() if line.strip()]
    for candidate in [*answer_segments(text), *lines[-1:]]:
        cleaned = _TEXT_EDGES.sub("", candidate)
        if cleaned:
            return cleaned
    return None


def _contains(tokens: list[str], part: list[str]) -> bool:
    width = len(part)
    return any(tokens[start : start + width] == part for start in range(len(tokens) - width + 1))


def check_text(gold: str | None, prediction: str | None, aliases: Iterable[str] = ()) -> Verdict:
    """Judge a free-text answer by SQuAD EM/F1 against the gold answer and its aliases.

    Correct when, for some gold variant, the normalised strings are equal (EM), or the normalised
    gold tokens appear contiguously in the normalised prediction and the prediction is at most five
    tokens longer than that gold. The score is the best token F1 (1.0 on EM).
    """
    variants = [variant for variant in (gold, *aliases) if variant and normalize_text(variant)]
    if not variants:
        return Verdict(False, 0.0, "em-f1", "no gold answer")
    predicted = normalize_text(prediction).split()
    if not predicted:
        return Verdict(False, 0.0, "em-f1", f"no answer; expected {gold!r}")
    best, correct, how = 0.0, False, ""
    for variant in variants:
        expected = normalize_text(variant).split()
        exact = predicted == expected
        contained = _contains(predicted, expected) and len(predicted) <= len(expected) + 5
        best = max(best, 1.0 if exact else f1_score(prediction or "", variant))
        if (exact or contained) and not correct:
            correct, how = True, f"{'exact match' if exact else 'contains'} {variant!r}"
    reason = how if correct else f"expected {gold!r}, got {prediction!r}"
    return Verdict(correct, round(best, 4), "em-f1", f"{reason} (F1 {best:.2f})")


# ---------------------------------------------------------------------------- labels

YES_NO: dict[str, str] = {"yes": "yes", "no": "no", "true": "yes", "false": "no"}
FEVER_LABELS: dict[str, str] = {
    "supports": "SUPPORTS", "supported": "SUPPORTS", "support": "SUPPORTS", "true": "SUPPORTS",
    "correct": "SUPPORTS", "accurate": "SUPPORTS",
    "refutes": "REFUTES", "refuted": "REFUTES", "refute": "REFUTES", "false": "REFUTES",
    "incorrect": "REFUTES", "inaccurate": "REFUTES", "not true": "REFUTES", "not supported": "REFUTES",
    "not support": "REFUTES", "not correct": "REFUTES",
    "not enough info": "NOT ENOUGH INFO", "not enough information": "NOT ENOUGH INFO",
    "not enough evidence": "NOT ENOUGH INFO", "nei": "NOT ENOUGH INFO", "unknown": "NOT ENOUGH INFO",
    "not enough": "NOT ENOUGH INFO",
    "insufficient information": "NOT ENOUGH INFO", "cannot be determined": "NOT ENOUGH INFO",
    "can't be determined": "NOT ENOUGH INFO", "unverifiable": "NOT ENOUGH INFO",
    "not verifiable": "NOT ENOUGH INFO", "cannot be verified": "NOT ENOUGH INFO",
}  # fmt: skip


def _label_pattern(synonyms: Mapping[str, str]) -> re.Pattern[str]:
    phrases = sorted(synonyms, key=len, reverse=True)
    alternatives = "|".join(r"\s+".join(map(re.escape, phrase.split())) for phrase in phrases)
    return re.compile(rf"(?<![\w-])({alternatives})(?![\w-])", re.I)


def _label_of(phrase: str, synonyms: Mapping[str, str]) -> str:
    return synonyms[" ".join(phrase.lower().split())]


def extract_label(text: str | None, synonyms: Mapping[str, str]) -> str | None:
    """The label a text settles on; ``synonyms`` maps lower-case phrases to canonical labels.

    Within a marker segment the first label phrase wins; without one, the last phrase in the text.
    Longer phrases win over their parts ("not true" over "true").
    """
    if not text:
        return None
    pattern = _label_pattern({key.lower(): value for key, value in synonyms.items()})
    lowered = {key.lower(): value for key, value in synonyms.items()}
    for segment in answer_segments(text):
        found = pattern.search(segment)
        if found:
            return _label_of(found.group(1), lowered)
    matches = list(pattern.finditer(text))
    return _label_of(matches[-1].group(1), lowered) if matches else None


def check_label(gold: str | None, prediction: str | None, synonyms: Mapping[str, str]) -> Verdict:
    """Exact label match after mapping both sides through ``synonyms``."""
    expected = extract_label(gold, synonyms) if gold else None
    if expected is None:
        return Verdict(False, 0.0, "label", f"gold answer {gold!r} is not a known label")
    got = extract_label(prediction, synonyms) if prediction else None
    if got is None:
        return Verdict(False, 0.0, "label", f"no label in the prediction; expected {expected}")
    if got == expected:
        return Verdict(True, 1.0, "label", f"{got} matches")
    return Verdict(False, 0.0, "label", f"expected {expected}, got {got}")


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


# ---------------------------------------------------------------------------- task kinds

NUMERIC_POOL = [  # (question, worked solution)
    ("A baker makes 4 trays of rolls with 12 rolls on each tray. She sells 30 rolls. How many rolls are left?",
     "She makes 4 * 12 = 48 rolls.\nAfter selling 30, 48 - 30 = 18 rolls are left.\nFinal Answer: 18"),
    ("Leo has $45. He buys 3 books that cost $9 each. How much money does he have left?",
     "The books cost 3 * 9 = 27 dollars.\nHe has 45 - 27 = 18 dollars left.\nFinal Answer: 18"),
    ("A train goes 60 miles an hour for 3 hours, then 40 miles an hour for 2 hours. How far does it go?",
     "First part: 60 * 3 = 180 miles.\nSecond part: 40 * 2 = 80 miles.\n"
     "In total: 180 + 80 = 260 miles.\nFinal Answer: 260"),
    ("Mia shares 36 stickers equally among herself and 3 friends. How many stickers does each person get?",
     "There are 1 + 3 = 4 people.\nEach gets 36 / 4 = 9 stickers.\nFinal Answer: 9"),
]  # fmt: skip


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


class NumericTask(Task):
    """A task whose answers are numbers, checked exactly with a 1e-6 relative tolerance."""

    checker: ClassVar[str] = "numeric"
    answer_format: ClassVar[str] = "Give the final answer as a number."

    def extract(self, text: str) -> str | None:
        """The final number in the text (see :func:`extract_number`)."""
        return extract_number(text)

    def normalize(self, answer: str | None) -> str | None:
        """Canonical number text ("84" for "84.0" or "$84")."""
        return normalize_number(answer)

    def implausible(self, answer: str | None, question: str | None = None) -> str | None:
        """See :func:`not_an_amount`; a task whose answers can be any number overrides this."""
        return not_an_amount(answer, question)

    def check(self, item: Item, prediction: str | None) -> Verdict:
        """Numeric equality with the gold answer."""
        return check_numeric(item.answer, prediction)

    def fewshot_pool(self) -> list[tuple[str, str]]:
        """A small hand-written pool of multi-step word problems."""
        return list(NUMERIC_POOL)


class TextTask(Task):
    """A short free-text answer task scored by SQuAD EM/F1 (see :func:`check_text`)."""

    checker: ClassVar[str] = "em-f1"
    answer_format: ClassVar[str] = "Give the final answer as a short phrase (a name, date or number), not a sentence."

    def extract(self, text: str) -> str | None:
        """The short answer after a marker, else the last line."""
        return extract_text(text)

    def normalize(self, answer: str | None) -> str | None:
        """SQuAD-normalised text; ``None`` when nothing is left."""
        return normalize_text(answer) or None

    def check(self, item: Item, prediction: str | None) -> Verdict:
        """EM / containment / F1 against the gold answer and ``meta["aliases"]``."""
        return check_text(item.answer, prediction, item.meta.get("aliases", ()))


class LabelTask(Task):
    """A classification task: the answer is one of a few labels, each with synonyms."""

    checker: ClassVar[str] = "label"
    synonyms: ClassVar[Mapping[str, str]] = {}

    def labels(self) -> Mapping[str, str]:
        """Lower-case phrase -> canonical label; subclasses may build it from data."""
        return self.synonyms

    def extract(self, text: str) -> str | None:
        """The canonical label the text settles on."""
        return extract_label(text, self.labels())

    def normalize(self, answer: str | None) -> str | None:
        """The canonical label of an answer, ``None`` when it names none."""
        return extract_label(answer, self.labels()) if answer else None

    def check(self, item: Item, prediction: str | None) -> Verdict:
        """Exact label match."""
        return check_label(item.answer, prediction, self.labels())

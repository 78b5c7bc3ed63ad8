"""Answer extraction, normalisation and checking shared by tasks: numbers, free text, labels.

Every extractor looks for an explicit final-answer marker first, in this order: ReAct's
``Finish[...]``, ``Final Answer: ...``, ``answer is ...`` / ``Answer: ...``, ``#### ...`` (GSM8K) and
``\\boxed{...}``; the last occurrence of a marker wins. Only when no marker is found does it fall back
on the text itself (the last number, the last label word, the last line).

Rules about what a question asks for (a count, an amount) are in :mod:`apprentice.tasks.question_rules`;
the kind base classes in :mod:`apprentice.tasks.answers` wire these functions into the task verbs.
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

from apprentice.tasks.base import Verdict

__all__ = [
    "FEVER_LABELS",
    "NUMBER_WORDS",
    "NUMBER_WORD",
    "REL_TOLERANCE",
    "YES_NO",
    "answer_segments",
    "check_label",
    "check_numeric",
    "check_text",
    "extract_label",
    "extract_number",
    "extract_text",
    "f1_score",
    "format_number",
    "normalize_number",
    "normalize_text",
    "numbers_match",
    "parse_number",
]

REL_TOLERANCE = 1e-6
#: Quantities written as words ("three times as many", "twice", "a dozen"), and their values; "one" is left out (it
#: is mostly "one of them", not a quantity).
NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
                "eleven": 11, "twelve": 12, "twice": 2, "double": 2, "triple": 3, "half": 2, "dozen": 12}
NUMBER_WORD = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)

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

"""The kind base classes of tasks: :class:`NumericTask`, :class:`TextTask` and :class:`LabelTask`.

Each wires the extractors and checkers of :mod:`apprentice.tasks.extract` (and, for numbers, the question
rules of :mod:`apprentice.tasks.question_rules`) into the :class:`~apprentice.tasks.base.Task` verbs, and
says how the final answer should be given (:data:`FINAL_ANSWER` marks it in worked solutions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from apprentice.tasks.base import Item, Task, Verdict

# Used by the bases below, and re-exported (the "as" form) so the old import path still works: tasks/jsonl.py and
# training/harvest.py import them from here, though their homes are now tasks/extract.py and tasks/question_rules.py.
from apprentice.tasks.extract import check_label as check_label
from apprentice.tasks.extract import check_numeric as check_numeric
from apprentice.tasks.extract import check_text as check_text
from apprentice.tasks.extract import extract_label as extract_label
from apprentice.tasks.extract import extract_number as extract_number
from apprentice.tasks.extract import extract_text as extract_text
from apprentice.tasks.extract import format_number as format_number
from apprentice.tasks.extract import normalize_number as normalize_number
from apprentice.tasks.extract import normalize_text as normalize_text
from apprentice.tasks.extract import parse_number as parse_number
from apprentice.tasks.question_rules import not_an_amount as not_an_amount

__all__ = [
    "FINAL_ANSWER",
    "NUMERIC_POOL",
    "LabelTask",
    "NumericTask",
    "TextTask",
]

FINAL_ANSWER = "Final Answer:"

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

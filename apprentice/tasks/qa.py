"""Multi-hop question answering: HotpotQA (ReAct's 500-question dev sample) and Bamboogle.

Both are scored by :func:`~apprentice.tasks.extract.check_text`: correct on exact match after SQuAD
normalisation, or when the normalised gold appears in a prediction at most five tokens longer; the
score is token F1. Bamboogle's file (from FireAct) has spreadsheet-mangled dates such as
``29-May-32``; those get aliases for both centuries ("May 29, 1932", "29 May 2032", ...) so that a
correct date is recognised, and one known misspelling gets its correct form as an alias.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from apprentice.tasks.answers import FINAL_ANSWER, TextTask
from apprentice.tasks.base import Item, require, stable_id

__all__ = ["QA_POOL", "BamboogleTask", "HotpotQATask", "date_aliases"]

_MONTHS = {
    "jan": "January", "feb": "February", "mar": "March", "apr": "April", "may": "May", "jun": "June",
    "jul": "July", "aug": "August", "sep": "September", "oct": "October", "nov": "November",
    "dec": "December",
}  # fmt: skip
_SPREADSHEET_DATE = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{2})")
_MISSPELLINGS = {"James Cameroon": "James Cameron"}

QA_POOL: list[tuple[str, str]] = [
    (
        "In which country was the director of the 2019 film Parasite born?",
        "Parasite (2019) was directed by Bong Joon-ho.\nBong Joon-ho was born in Daegu, South Korea.\n"
        f"{FINAL_ANSWER} South Korea",
    ),
    (
        "Who was the British monarch when the Titanic sank?",
        "The Titanic sank in April 1912.\nGeorge V reigned over the United Kingdom from 1910 to 1936.\n"
        f"{FINAL_ANSWER} George V",
    ),
    (
        "What is the capital of the country where the author of One Hundred Years of Solitude was born?",
        "One Hundred Years of Solitude was written by Gabriel García Márquez.\n"
        "He was born in Aracataca, Colombia.\nThe capital of Colombia is Bogotá.\n"
        f"{FINAL_ANSWER} Bogotá",
    ),
    (
        "Which was completed first, the Eiffel Tower or the Statue of Liberty?",
        "The Statue of Liberty was dedicated in 1886.\nThe Eiffel Tower was completed in 1889.\n"
        f"1886 is earlier than 1889.\n{FINAL_ANSWER} the Statue of Liberty",
    ),
    (
        "How many years after the first crewed Moon landing did the Space Shuttle first fly into orbit?",
        "The first crewed Moon landing, Apollo 11, was in 1969.\n"
        "The first orbital Space Shuttle flight, STS-1, was in 1981.\n1981 - 1969 = 12.\n"
        f"{FINAL_ANSWER} 12",
    ),
]


def date_aliases(answer: str) -> list[str]:
    """Readable forms of a spreadsheet date ``D-Mon-YY`` for both centuries; ``[]`` for other text."""
    match = _SPREADSHEET_DATE.fullmatch(answer.strip())
    if match is None or match.group(2).lower() not in _MONTHS:
        return []
    day, month, year = int(match.group(1)), _MONTHS[match.group(2).lower()], match.group(3)
    years = [f"19{year}", f"20{year}"]
    return [form for full in years for form in (f"{month} {day}, {full}", f"{day} {month} {full}")]


class HotpotQATask(TextTask):
    """HotpotQA dev questions without context (``multihop_qa/hotpotqa_react_dev500.jsonl``);
    ``meta["type"]`` is ``bridge`` or ``comparison``."""

    name: ClassVar[str] = "hotpotqa"
    default_file: ClassVar[str] = "multihop_qa/hotpotqa_react_dev500.jsonl"
    hf_id: ClassVar[str] = "hotpotqa/hotpot_qa:distractor"
    hf_split: ClassVar[str] = "validation"

    def parse(self, row: dict[str, Any], where: str) -> Item:
        """One ``{"idx", "question", "answer", "type"}`` record."""
        question = str(require(row, "question", where)).strip()
        key = row.get("idx", row.get("id", row.get("_id")))
        meta = {name: str(row[name]) for name in ("type", "level") if row.get(name)}
        return Item(
            id=f"hotpotqa-{key}" if key is not None else stable_id("hotpotqa", question),
            question=question,
            answer=str(require(row, "answer", where)).strip(),
            meta=meta,
        )

    def fewshot_pool(self) -> list[tuple[str, str]]:
        """A hand-written pool of two-hop questions answered step by step."""
        return list(QA_POOL)


class BamboogleTask(TextTask):
    """Bamboogle two-hop questions (``multihop_qa/bamboogle_test.csv``: Question, Answer)."""

    name: ClassVar[str] = "bamboogle"
    default_file: ClassVar[str] = "multihop_qa/bamboogle_test.csv"

    def parse(self, row: dict[str, Any], where: str) -> Item:
        """One CSV row; mangled dates and the known misspelling get ``meta["aliases"]``."""
        question = str(require(row, "Question", where)).strip()
        answer = str(require(row, "Answer", where)).strip()
        aliases = date_aliases(answer) + ([_MISSPELLINGS[answer]] if answer in _MISSPELLINGS else [])
        return Item(
            id=stable_id("bamboogle", question),
            question=question,
            answer=answer,
            meta={"aliases": aliases} if aliases else {},
        )

    def fewshot_pool(self) -> list[tuple[str, str]]:
        """A hand-written pool of two-hop questions answered step by step."""
        return list(QA_POOL)

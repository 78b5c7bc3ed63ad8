"""Any question file (JSON lines, a JSON list, or CSV) with configurable field names and answer kind."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any, ClassVar

from apprentice.errors import ApprenticeError, DataError
from apprentice.tasks.answers import (
    NUMERIC_POOL,
    check_label,
    check_numeric,
    check_text,
    extract_label,
    extract_number,
    extract_text,
    format_number,
    normalize_number,
    normalize_text,
    not_an_amount,
    parse_number,
)
from apprentice.tasks.base import (
    HELDOUT_FRACTION,
    Item,
    Task,
    Verdict,
    require,
    resolve_source,
    select_items,
    split_items,
    stable_id,
)
from apprentice.tasks.qa import QA_POOL

__all__ = ["KINDS", "JsonlTask"]

KINDS = ("number", "text", "label")
_CHECKERS = {"number": "numeric", "text": "em-f1", "label": "label"}
_FORMATS = {
    "number": "Give the final answer as a number.",
    "text": "Give the final answer as a short phrase (a name, date or number), not a sentence.",
    "label": "Give the final answer as one of the labels.",
}


def _blank(value: Any) -> bool:
    """No answer given: a missing or null field, an empty string or an empty list."""
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


class JsonlTask(Task):
    """Questions from any file; ``kind`` picks the checker.

    Args:
        question_field: Field holding the question text.
        answer_field: Field holding the gold answer; ``""`` for files without answers.
        id_field: Field holding a stable id; rows without it get a hash of the question.
        kind: ``number`` (numeric check), ``text`` (SQuAD EM/F1) or ``label`` (exact label; the
            labels are the gold answers seen by :meth:`load`).
        require_answer: ``False`` lets a row leave the answer out (missing, null or empty): its item has no
            gold answer, and only a verdict of another source (a vote, the rules) can judge its runs.

    An answer field that holds a list of one value (MAWPS-style files: ``"lSolutions": [43.0]``) is that
    value; for text and labels a longer list is the answer and its aliases.
    """

    name: ClassVar[str] = "jsonl"

    def __init__(
        self,
        question_field: str = "question",
        answer_field: str = "answer",
        id_field: str = "id",
        kind: str = "text",
        require_answer: bool = True,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            choices = ", ".join(KINDS)
            raise ApprenticeError(f"unknown answer kind {kind!r} for the jsonl task; choose one of: {choices}")
        self.question_field, self.answer_field, self.id_field = question_field, answer_field, id_field
        self.kind, self.require_answer = kind, require_answer
        self.checker = _CHECKERS[kind]  # type: ignore[misc]  # per instance: the kind decides
        self.answer_format = _FORMATS[kind]  # type: ignore[misc]
        self._labels: dict[str, str] = {}

    def load(
        self,
        path: str | Path | None = None,
        *,
        limit: int | None = None,
        split: str | None = None,
        seed: int = 0,
    ) -> list[Item]:
        """Load a file (see :meth:`Task.load`); unlike the benchmarks there is no default file."""
        if path is None:
            raise DataError("the jsonl task needs a data file (--data PATH)")
        if split == "test" or (split == "train" and not self.require_answer):
            items = select_items(self._split_answered(path, split, seed), limit=limit)  # the limit, checked
        else:
            items = super().load(path, limit=limit, split=split, seed=seed)
        if self.kind == "label":
            self._labels.update({item.answer.lower(): item.answer for item in items if item.answer})
        return items

    def _split_answered(self, path: str | Path, split: str, seed: int) -> list[Item]:
        """A file's ``train``/``test`` split where a row without an answer is never held out (it could not be
        scored): the test split is a fifth of the answered rows, the train split the rest and every row without
        an answer. A file where every row has one splits as :func:`~apprentice.tasks.base.select_items` does."""
        if isinstance(resolve_source(path, ""), str):  # a Hugging Face id: its own splits
            return super().load(path, split=split, seed=seed)
        every = copy.copy(self)  # every row, in file order
        every.require_answer = False
        items = every.load(path)
        answered = [item for item in items if item.answer is not None]
        train, held = split_items(answered, HELDOUT_FRACTION, seed)
        chosen = held if split == "test" else train + [item for item in items if item.answer is None]
        random.Random(seed).shuffle(chosen)
        return chosen

    def parse(self, row: dict[str, Any], where: str) -> Item:
        """One record: the question field is required, and so is the answer field unless it is ``""`` or
        answers are optional (``require_answer=False``)."""
        question = str(require(row, self.question_field, where)).strip()
        if not question:
            raise DataError(f"{where}: field {self.question_field!r} is empty")
        answer, aliases = None, []
        if self.answer_field and (self.require_answer or not _blank(row.get(self.answer_field))):
            value = require(row, self.answer_field, where)
            if isinstance(value, list):
                if not value or (len(value) > 1 and self.kind == "number"):
                    raise DataError(f"{where}: field {self.answer_field!r} holds {len(value)} values, not one answer")
                value, aliases = value[0], [str(alias).strip() for alias in value[1:]]
            answer = str(value).strip()
            if self.kind == "number":
                value = parse_number(answer)
                if value is None:
                    raise DataError(f"{where}: answer {answer!r} is not a number (kind=number)")
                answer = format_number(value)
        key = row.get(self.id_field)
        used = {self.question_field, self.answer_field, self.id_field}
        meta = {name: value for name, value in row.items() if name not in used}
        if aliases:
            meta["aliases"] = [*meta.get("aliases", ()), *aliases]
        return Item(id=str(key) if key not in (None, "") else stable_id("jsonl", question), question=question,
                    answer=answer, meta=meta)

    def _synonyms(self, *extra: str | None) -> dict[str, str]:
        synonyms = dict(self._labels)
        synonyms.update({value.lower(): value for value in extra if value})
        return synonyms

    def extract(self, text: str) -> str | None:
        """A number, a short phrase, or one of the loaded labels, depending on ``kind``."""
        if self.kind == "number":
            return extract_number(text)
        if self.kind == "label" and self._labels:
            return extract_label(text, self._labels)
        return extract_text(text)

    def normalize(self, answer: str | None) -> str | None:
        """Canonical number, SQuAD-normalised text, or the canonical label."""
        if self.kind == "number":
            return normalize_number(answer)
        if self.kind == "label" and answer:
            if self._labels:
                return extract_label(answer, self._labels)
            return " ".join(answer.split()).lower() or None
        return normalize_text(answer) or None

    def implausible(self, answer: str | None, question: str | None = None) -> str | None:
        """Numbers: the rules of word problems about counts and amounts (:func:`not_an_amount`, as the
        numeric benchmarks have them); text and labels: none."""
        return not_an_amount(answer, question) if self.kind == "number" else None

    def check(self, item: Item, prediction: str | None) -> Verdict:
        """Numeric, EM/F1 or label check of the prediction against the item's answer."""
        if item.answer is None:
            return Verdict(False, 0.0, self.checker, "the item has no gold answer")
        if self.kind == "number":
            return check_numeric(item.answer, prediction)
        if self.kind == "label":
            return check_label(item.answer, prediction, self._synonyms(item.answer))
        return check_text(item.answer, prediction, item.meta.get("aliases", ()))

    def fewshot_pool(self) -> list[tuple[str, str]]:
        """The hand-written numeric or QA pool; none for labels (their meaning is file-specific)."""
        if self.kind == "number":
            return list(NUMERIC_POOL)
        return [] if self.kind == "label" else list(QA_POOL)

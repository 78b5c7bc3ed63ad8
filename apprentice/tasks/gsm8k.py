"""GSM8K: grade-school math word problems; the gold answer follows ``#### `` in the worked solution."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from apprentice.errors import ApprenticeError, DataError
from apprentice.tasks.answers import FINAL_ANSWER, NumericTask
from apprentice.tasks.base import Item, read_records, require, resolve_source, select_items, stable_id
from apprentice.tasks.extract import format_number, parse_number

__all__ = ["GSM8KTask", "readable_solution", "solution_steps"]

_ANNOTATION = re.compile(r"<<[^<>]*>>")
_POOL_SIZE = 8


def readable_solution(solution: str) -> str:
    """A GSM8K solution as a few-shot target: calculator ``<<...>>`` annotations dropped and the
    ``#### X`` line turned into ``Final Answer: X``."""
    body, _, final = solution.rpartition("####")
    body = _ANNOTATION.sub("", body).strip()
    return f"{body}\n{FINAL_ANSWER} {final.strip().replace(',', '')}".strip()


def solution_steps(solution: str) -> int:
    """How many calculator operations a worked solution annotates (``<<48/2=24>>`` is one)."""
    return len(_ANNOTATION.findall(solution))


class GSM8KTask(NumericTask):
    """GSM8K (``gsm8k/train.jsonl``: question, answer with ``#### N``); ``meta["solution"]`` keeps
    the worked solution with its ``<<a*b=c>>`` annotations.

    Args:
        level: Keep only the problems whose worked solution annotates this many calculator operations
            (``1``: one annotation; most of those problems take two or three operations, the others written
            out in the solution's prose); ``None`` keeps all. The filter runs after the train/test split,
            so a problem sits on the same side of it with or without a level.
    """

    name: ClassVar[str] = "gsm8k"
    default_file: ClassVar[str] = "gsm8k/train.jsonl"
    hf_id: ClassVar[str] = "openai/gsm8k:main"

    def __init__(self, level: int | None = None) -> None:
        super().__init__()
        if level is not None and (isinstance(level, bool) or not isinstance(level, int) or level < 1):
            raise ApprenticeError(f"gsm8k level must be a number of steps of 1 or more, got {level!r}")
        self.level = level

    def load(self, path: str | Path | None = None, *, limit: int | None = None, split: str | None = None,
             seed: int = 0) -> list[Item]:
        """:meth:`Task.load`, then only the problems of ``level`` steps (see the class)."""
        if self.level is None:
            return super().load(path, limit=limit, split=split, seed=seed)
        items = [item for item in super().load(path, split=split, seed=seed)
                 if solution_steps(item.meta["solution"]) == self.level]
        if not items:
            raise DataError(f"no gsm8k problems of {self.level} steps in this selection")
        return select_items(items, limit=limit)

    def parse(self, row: dict[str, Any], where: str) -> Item:
        """One ``{"question", "answer"}`` record; the answer must contain ``#### <number>``."""
        question = str(require(row, "question", where)).strip()
        solution = str(require(row, "answer", where))
        if "####" not in solution:
            raise DataError(f"{where}: answer has no '#### <number>' line")
        final = solution.rpartition("####")[2].strip().replace(",", "")
        value = parse_number(final)
        if value is None:
            raise DataError(f"{where}: final answer {final!r} is not a number")
        return Item(
            id=stable_id("gsm8k", question),
            question=question,
            answer=format_number(value),
            meta={"solution": solution.strip()},
        )

    def fewshot_pool(self) -> list[tuple[str, str]]:
        """The last eight problems of the data file with their worked solutions (annotations
        dropped); the hand-written pool when no file is available. The file's tail is used so that
        ``--limit N`` evaluations (which take the head) do not see their own exemplars."""
        source = self._source or resolve_source(None, self.default_file)
        try:
            records = read_records(source) if not isinstance(source, str) else []
        except DataError:
            records = []
        if not records:
            return super().fewshot_pool()
        tail = [self.parse(record.row, record.where) for record in records[-_POOL_SIZE:]]
        return [(item.question, readable_solution(item.meta["solution"])) for item in tail]

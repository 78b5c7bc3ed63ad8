"""Reading a batch job's input: JSON lines -> task items, each with a stable id for resume.

A line that is not a JSON object makes the whole file malformed: the job stops before any work
with one error naming ``path:line``. A line that is JSON but does not fit the task (a missing
field, a non-numeric answer) is a per-item failure: it becomes an ``invalid`` output record and
the job goes on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apprentice.errors import ApprenticeError, DataError
from apprentice.tasks import Item, JsonlTask, NumericTask, Task, get_task
from apprentice.tasks.base import stable_id

__all__ = ["BatchItem", "TaskConfig", "read_items"]


@dataclass(frozen=True)
class TaskConfig:
    """How to read and check the input: a task name, or field names of a plain JSONL file.

    Attributes:
        task: A task name (``gsm8k``, ``arith``, ...); ``None`` reads a plain JSONL file.
        question_field: Field holding the question (plain files, and tasks that read no files).
        answer_field: Field holding the gold answer; rows without it are still run, unchecked.
        id_field: Field holding the item id; rows without it get a hash of the question.
        answer_kind: ``number``, ``text`` or ``label``: how plain-file answers are checked.
    """

    task: str | None = None
    question_field: str = "question"
    answer_field: str = "answer"
    id_field: str = "id"
    answer_kind: str = "text"

    def build(self) -> Task:
        """The task that frames, extracts and checks answers (rebuilt inside Ray workers)."""
        if self.task and self.task != "jsonl":
            return get_task(self.task)
        return JsonlTask(question_field=self.question_field, answer_field=self.answer_field,
                         id_field=self.id_field, kind=self.answer_kind)

    def parser(self, task: Task) -> Task:
        """The task whose ``parse`` reads rows: the task itself, or JSONL fields for generated tasks."""
        if type(task).parse is not Task.parse:
            return task
        kind = "number" if isinstance(task, NumericTask) else self.answer_kind
        return JsonlTask(question_field=self.question_field, answer_field=self.answer_field,
                         id_field=self.id_field, kind=kind)


@dataclass(frozen=True)
class BatchItem:
    """One input line: its item, or why it could not be read (``error``)."""

    line: int
    id: str
    item: Item | None
    error: str | None = None

    @property
    def question(self) -> str:
        """The question text ('' for an invalid line)."""
        return self.item.question if self.item else ""


def read_items(path: str | Path, config: TaskConfig, task: Task | None = None) -> list[BatchItem]:
    """Read every non-blank line of ``path`` (never written to) into items with unique ids.

    Raises:
        DataError: The file is missing, not UTF-8, or a line is not a JSON object.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: a folder, not a JSONL file of questions")
    if not path.is_file():
        raise DataError(f"{path}: input file not found")
    parser = config.parser(task or config.build())
    entries: list[BatchItem] = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    entries.append(_parse_line(line, number, path, parser, config))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if not entries:
        raise DataError(f"{path}: no input lines")
    return _unique_ids(entries)


def _parse_line(line: str, number: int, path: Path, parser: Task, config: TaskConfig) -> BatchItem:
    where = f"{path}:{number}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: bad JSON ({exc.msg}); fix or remove the line and start again") from exc
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    try:
        item = _parse_row(row, where, parser, config)
    except ApprenticeError as exc:
        key = row.get(config.id_field)
        fallback = str(key) if key not in (None, "") else f"line-{number}"
        return BatchItem(number, fallback, None, str(exc))
    return BatchItem(number, item.id, item)


def _parse_row(row: dict[str, Any], where: str, parser: Task, config: TaskConfig) -> Item:
    """``parser.parse``; a plain file's answer field is optional (such rows run unchecked)."""
    if (isinstance(parser, JsonlTask) and parser.answer_field
            and row.get(parser.answer_field) in (None, "") and config.task in (None, "jsonl")):
        plain = JsonlTask(question_field=parser.question_field, answer_field="",
                          id_field=parser.id_field, kind=parser.kind)
        item = plain.parse(row, where)
    else:
        item = parser.parse(row, where)
    if not item.id:
        item = Item(stable_id("item", item.question), item.question, item.answer, item.meta)
    return item


def _unique_ids(entries: list[BatchItem]) -> list[BatchItem]:
    """Give repeated ids (the same question twice) ``#2``, ``#3``...: the n-th ``a`` is ``a#n``, or the
    next number no line of the file uses (ids ``a a a#2`` read as ``a a#3 a#2``). A function of the
    file alone, so a restarted job names every item as the first run did."""
    taken = {entry.id for entry in entries}
    seen: dict[str, int] = {}
    unique: list[BatchItem] = []
    for entry in entries:
        count = seen[entry.id] = seen.get(entry.id, 0) + 1
        if count == 1:
            unique.append(entry)
            continue
        while f"{entry.id}#{count}" in taken:
            count += 1
        new_id = f"{entry.id}#{count}"
        taken.add(new_id)
        item = entry.item and Item(new_id, entry.item.question, entry.item.answer, entry.item.meta)
        unique.append(BatchItem(entry.line, new_id, item, entry.error))
    return unique

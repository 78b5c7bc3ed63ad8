"""Benchmarks and their checkers: load items, extract answers from model text, score them.

``get_task(name, **options)`` is the one entry point; every task implements the verbs of
:class:`~apprentice.tasks.base.Task` (``load``, ``extract``, ``normalize``, ``check``,
``fewshot_pool``).
"""

from __future__ import annotations

import inspect

from apprentice.errors import ApprenticeError
from apprentice.tasks.answers import FINAL_ANSWER, LabelTask, NumericTask, TextTask
from apprentice.tasks.arith import ArithTask
from apprentice.tasks.base import DATA_ENV, PACKAGED_DATA, Item, Task, Verdict, data_root, split_items
from apprentice.tasks.fever import FeverTask
from apprentice.tasks.game24 import (
    Game24Task,
    apply_step,
    check_expression,
    extract_expression,
    format_numbers,
    solve24,
)
from apprentice.tasks.gsm8k import GSM8KTask
from apprentice.tasks.jsonl import JsonlTask
from apprentice.tasks.qa import BamboogleTask, HotpotQATask
from apprentice.tasks.schema import SchemaTask
from apprentice.tasks.strategyqa import StrategyQATask
from apprentice.tasks.svamp import SVAMPTask

__all__ = [
    "DATA_ENV",
    "GENERATED_TASKS",
    "FINAL_ANSWER",
    "PACKAGED_DATA",
    "TASK_NAMES",
    "ArithTask",
    "BamboogleTask",
    "FeverTask",
    "GSM8KTask",
    "Game24Task",
    "HotpotQATask",
    "Item",
    "JsonlTask",
    "LabelTask",
    "NumericTask",
    "SVAMPTask",
    "SchemaTask",
    "StrategyQATask",
    "Task",
    "TextTask",
    "Verdict",
    "apply_step",
    "check_expression",
    "data_root",
    "extract_expression",
    "format_numbers",
    "get_task",
    "solve24",
    "split_items",
]

_TASKS: dict[str, type[Task]] = {
    "gsm8k": GSM8KTask,
    "svamp": SVAMPTask,
    "game24": Game24Task,
    "hotpotqa": HotpotQATask,
    "bamboogle": BamboogleTask,
    "fever": FeverTask,
    "strategyqa": StrategyQATask,
    "arith": ArithTask,
    "schema": SchemaTask,
    "jsonl": JsonlTask,
}
TASK_NAMES = tuple(_TASKS)
#: The tasks that generate their items (no data file), each item with its worked steps and their reasons.
GENERATED_TASKS = ("arith", "schema")


def get_task(name: str, **options: object) -> Task:
    """A task by name, built with its options (``None`` values are dropped, so CLI flags pass through).

    Options: ``arith`` takes ``level``, ``n``, ``seed``, ``distractors``, ``distractor_kind``; ``schema`` takes
    ``level`` (1-3 operations), ``n``, ``seed``, ``schemas`` (a subset of its schemas, comma-separated), ``words``
    (the chance a small number is written as a word) and ``distractors``; ``gsm8k`` takes ``level`` (its number of
    steps); ``jsonl`` takes ``question_field``, ``answer_field``, ``id_field``, ``kind``; the other benchmarks take
    none.

    Raises:
        ApprenticeError: Unknown task name, or an option the task does not take.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in _TASKS:
        raise ApprenticeError(f"unknown task {name!r}; choose one of: {', '.join(TASK_NAMES)}")
    cls = _TASKS[key]
    given = {option: value for option, value in options.items() if value is not None}
    try:
        inspect.signature(cls).bind(**given)
    except TypeError:
        accepted = [p for p in inspect.signature(cls).parameters if p != "self"]
        valid = ", ".join(accepted) if accepted else "none"
        raise ApprenticeError(
            f"task {key!r} does not take option(s) {', '.join(sorted(given))}; valid options: {valid}"
        ) from None
    return cls(**given)

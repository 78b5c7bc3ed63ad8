"""A distillation's questions: the training pool (``--task``) and the held-out sets (``--eval-sets``), built-in
tasks and question files of one's own side by side.

Pool entries are ``TASK[:N]``, held-out sets ``TASK[:LEVEL]``. A question file of one's own is ``jsonl`` (the
file ``--data`` names; the built-in tasks then read their shipped data), ``jsonl:PATH`` or its ``PATH`` alone,
read with the field flags (``--question-field``, ``--answer-field``, ``--id-field``, ``--answer-kind``). A file
that is both in the pool and a held-out set is split as a benchmark is (a fifth held out, by item id); a file in
only one of them is used whole. A pool's rows may leave the answer out (only a vote or the rules can then judge
the teacher's runs); a held-out set scores answers, so each of its rows needs one, and a file split between the
two holds out only rows that have one (its rows without an answer all go to the pool).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from apprentice.errors import ApprenticeError
from apprentice.tasks import GENERATED_TASKS, TASK_NAMES, get_task

__all__ = ["FILE_FIELDS", "POOL_LEVELS", "EvalSet", "PoolEntry", "builtin_data", "eval_sets", "file_fields",
           "load_pool", "parse_eval_sets", "parse_pool", "pool_sizes", "round_slice"]

#: The tasks whose pool is split over levels: the DistillArgs field that lists them, and how a report names them.
POOL_LEVELS = {"arith": ("levels", "arith levels"), "gsm8k": ("gsm8k_levels", "gsm8k steps"),
               "schema": ("schema_levels", "schema levels")}
#: A question file's field flags: DistillArgs field -> (the jsonl task's option, the flag's default).
FILE_FIELDS = {"question_field": ("question_field", "question"), "answer_field": ("answer_field", "answer"),
               "id_field": ("id_field", "id"), "answer_kind": ("kind", "text")}

_FILE_SUFFIXES = (".jsonl", ".json", ".csv", ".ndjson", ".tsv", ".txt", ".gz")
_TRAILING_NUMBER = re.compile(r"^(?P<body>.*?):(?P<number>\d+)$")


class PoolEntry(NamedTuple):
    """One part of ``--task``: a task (``jsonl`` for a file), its items a round, and the file it reads."""

    task: str
    size: int
    path: str | None = None


def _looks_like_file(text: str) -> bool:
    return any(sep in text for sep in ("/", "\\")) or text.lower().endswith(_FILE_SUFFIXES) or Path(text).is_file()


def _split(text: str) -> tuple[str, str | None, int | None, str]:
    """``svamp:200`` -> ("svamp", None, 200, ""); ``jsonl`` -> ("jsonl", None, None, ""); ``jsonl:PATH[:N]`` and
    ``PATH[:N]`` -> ("jsonl", PATH, N, ""). The last element is what followed ``TASK:`` when it was neither a
    number nor a file (the caller names the mistake)."""
    body, number = text.strip(), None
    found = _TRAILING_NUMBER.match(body)
    if found:
        body, number = found["body"].strip(), int(found["number"])
    name, sep, rest = body.partition(":")
    name = name.strip()
    if name.lower() == "jsonl":
        return "jsonl", rest.strip() or None, number, ""
    if name.lower() not in TASK_NAMES and _looks_like_file(body):
        return "jsonl", body, number, ""
    return name, None, number, rest.strip() if sep else ""


def parse_pool(spec: str, default: int) -> list[PoolEntry]:
    """``arith:600,svamp,my.jsonl:50`` -> one entry per part, ``default`` items where no size is given."""
    entries = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, path, size, junk = _split(part)
        if junk or size == 0:
            raise ApprenticeError(f"--task {part!r}: the pool size after ':' must be a whole number of 1 or more")
        entries.append(PoolEntry(name, size or default, path))
    return entries


def pool_sizes(spec: str, default: int) -> list[tuple[str, int]]:
    """``arith:600,svamp`` -> [("arith", 600), ("svamp", default)] (a question file's task is ``jsonl``)."""
    return [(entry.task, entry.size) for entry in parse_pool(spec, default)]


def round_slice(items: list[Any], round_no: int, size: int) -> list[Any]:
    """Round ``round_no``'s ``size`` items: the next slice of ``items``, starting over at the top when
    the split runs out (STaR goes over its training set again each iteration)."""
    start = (round_no - 1) * size
    return [items[(start + i) % len(items)] for i in range(min(size, len(items)))]


@dataclass(frozen=True)
class EvalSet:
    """A held-out set: a built-in task (with an arith level, or a gsm8k number of steps) on its test split, or a
    question file of one's own (``path``, read with ``fields``): its test split when the pool draws on it too
    (``split``), else every row."""

    task: str
    level: int | None = None
    path: str | None = None
    fields: tuple[tuple[str, Any], ...] = ()
    split: str | None = "test"

    @property
    def label(self) -> str:
        """``arith:1`` / ``svamp`` / ``questions.jsonl``."""
        if self.path:
            return Path(self.path).name
        return f"{self.task}:{self.level}" if self.level is not None else self.task

    @property
    def slug(self) -> str:
        """The label as a folder name."""
        return re.sub(r"[^\w.-]+", "-", self.label)

    def options(self, arith_size: int) -> dict[str, Any]:
        """Task options: a generated split (arith, schema) has ``arith_size`` items, at the task's default level
        when none is given; gsm8k's level is its number of steps; a file's are its field options."""
        if self.task in GENERATED_TASKS:
            return {"n": arith_size} | ({"level": self.level} if self.level is not None else {})
        if self.task == "jsonl":
            return dict(self.fields)
        return {"level": self.level} if self.level is not None else {}

    def data(self, data: str | None) -> str | None:
        """The data path this set reads: its own file; the distill's ``--data`` for a built-in file-backed task;
        none for a task that generates its items (arith, schema)."""
        if self.path:
            return self.path
        return data if self.task not in GENERATED_TASKS else None

    def load(self, limit: int, data: str | None, seed: int, arith_size: int = 200) -> tuple[Any, list[Any]]:
        """The task and its held-out items (the whole set when ``limit`` is 0)."""
        task = get_task(self.task, **self.options(arith_size))
        items = task.load(self.data(data), split=self.split, seed=seed)
        return task, items[:limit] if limit else items


def parse_eval_sets(values: list[str], *, data: str | None = None, fields: dict[str, Any] | None = None,
                    pool_files: tuple[str, ...] = ()) -> list[EvalSet]:
    """``arith:2`` -> EvalSet("arith", 2); ``svamp`` -> EvalSet("svamp"); ``jsonl`` (the file ``data``),
    ``jsonl:PATH`` or ``PATH`` -> the file, split when it is one of ``pool_files`` too."""
    pooled = {_same(path) for path in pool_files}
    sets = []
    for value in values:
        name, path, level, junk = _split(value)
        if name == "jsonl":
            path = path or data
            if not path:
                raise ApprenticeError(f"--eval-sets {value}: 'jsonl' is the question file --data names; give --data "
                                      "FILE, or the file's path itself")
            if level is not None:
                raise ApprenticeError(f"--eval-sets {value}: a question file has no levels")
            sets.append(EvalSet("jsonl", path=path, fields=tuple(sorted((fields or {}).items())),
                                split="test" if _same(path) in pooled else None))
        elif junk:
            raise ApprenticeError(f"--eval-sets {value}: the level after ':' must be a whole number")
        else:
            sets.append(EvalSet(name, level))
    return sets


def _same(path: str) -> Path:
    return Path(path).expanduser().resolve()


# ---------------------------------------------------------------------------- a distillation's questions

_NO_DATA = "--task jsonl is the question file --data names: give --data FILE, or the file's path in --task"
# ``args`` below is a DistillArgs: task, pool, eval_sets, data, seed, the field flags and the pool options.


def file_fields(args: Any) -> dict[str, Any]:
    """The jsonl task's options for a question file of one's own, from the field flags."""
    return {option: getattr(args, name) for name, (option, _) in FILE_FIELDS.items()}


def builtin_data(args: Any) -> str | None:
    """What the built-in file-backed tasks read: ``--data``, unless ``jsonl`` alone names it as a question file."""
    bare = any(entry.task == "jsonl" and not entry.path for entry in parse_pool(args.task, args.pool)) or \
        any(_split(value)[:2] == ("jsonl", None) for value in args.eval_sets)
    return None if bare else args.data


def eval_sets(args: Any) -> list[EvalSet]:
    """The held-out sets of ``--eval-sets`` (a file the pool draws on too is split between them); a field flag
    given with no question file anywhere is an error, as it would change nothing."""
    entries = parse_pool(args.task, args.pool)
    if not args.data and any(entry.task == "jsonl" and not entry.path for entry in entries):
        raise ApprenticeError(_NO_DATA)
    pool_files = tuple(entry.path or args.data or "" for entry in entries if entry.task == "jsonl")
    sets = parse_eval_sets(args.eval_sets, data=args.data, fields=file_fields(args), pool_files=pool_files)
    if not pool_files and not any(s.task == "jsonl" for s in sets):
        given = [f"--{name.replace('_', '-')}" for name, (_, default) in FILE_FIELDS.items()
                 if getattr(args, name) != default]
        if given:
            raise ApprenticeError(f"{', '.join(given)}: for a question file of your own (jsonl in --task or "
                                  "--eval-sets)")
    return sets


def load_pool(args: Any, round_no: int) -> list[tuple[Any, list[Any]]]:
    """This round's slice of each task's training split (arith: split evenly over ``levels``; gsm8k: over
    ``gsm8k_levels``, its numbers of steps, when given; a question file of one's own: all of it, or what its
    held-out set leaves when it is one of ``--eval-sets`` too)."""
    entries = parse_pool(args.task, args.pool)
    pooled = {entry.task for entry in entries}
    for flag, value, needs in (("--levels", args.levels, "arith"), ("--gsm8k-levels", args.gsm8k_levels, "gsm8k"),
                               ("--schema-levels", args.schema_levels, "schema"),
                               ("--arith-distractors", args.arith_distractors, "arith"),
                               ("--arith-distractor-kind", args.arith_distractor_kind != "other", "arith")):
        if value and needs not in pooled:
            raise ApprenticeError(f"{flag} acts on the {needs} pool, and --task {args.task!r} has none")
    held_out = {_same(s.path) for s in eval_sets(args) if s.path and s.split}
    pools = []
    for name, size, path in entries:
        if name == "jsonl":
            path = path or args.data
            if not path:
                raise ApprenticeError(_NO_DATA)
            task = get_task("jsonl", **file_fields(args), require_answer=False)
            items = task.load(path, split="train" if _same(path) in held_out else "shuffle", seed=args.seed)
            pools.append((task, round_slice(items, round_no, size)))
            continue
        levels = (getattr(args, POOL_LEVELS[name][0]) if name in POOL_LEVELS else None) or [None]
        per = max(1, size // len(levels))
        for level in levels:
            if name in GENERATED_TASKS:
                # n covers the held-out split too: no train question has the text of a test question
                n = max(per * (args.start_round + args.rounds - 1), args.arith_size)
                extra = {"distractors": args.arith_distractors, "distractor_kind": args.arith_distractor_kind} \
                    if name == "arith" else {}
                task = get_task(name, level=level, n=n, seed=args.seed, **extra)
                items = task.load(split="train", seed=args.seed)
            else:
                task = get_task(name, level=level)  # None is dropped: a task without levels
                items = task.load(builtin_data(args), split="train", seed=args.seed)
            pools.append((task, round_slice(items, round_no, per)))
    return pools

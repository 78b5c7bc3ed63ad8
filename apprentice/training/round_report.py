"""The distillation report as types: each round's row (its teacher's pass, the adapter it kept, the student's
held-out results), the model teachers evaluated beside the students, and the run around them.

``to_dict()`` gives report.json's shape, which ``distill_report.py`` renders and the benchmarks read;
``from_dict()`` reads one back, a partial one included. Keys an older report lacks stay absent and keys this
version does not know are kept, so a report read and written again is the same JSON.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Self

from apprentice.errors import ApprenticeError

__all__ = ["DistillReport", "EvalRow", "RoundProgress", "RoundReport", "TeacherEval", "TeacherRow", "mean_accuracy"]


def _dump(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, dict):
        return {key: _dump(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_dump(item) for item in value]
    return value


def _default(f: Field) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default


@dataclass
class _Record:
    """A report record whose fields are its JSON keys, in report.json's order (``metadata["key"]`` or the class's
    ``prefix`` renames one). Field metadata: ``load`` reads a JSON value into the field's type; ``flatten`` (a
    record class) spreads that record's keys into this one's; ``optional`` leaves the key out while it is None."""

    prefix: ClassVar[str] = ""
    #: keys this version does not know, kept as read
    extra: dict[str, Any] = field(default_factory=dict, kw_only=True, repr=False)
    #: fields whose key the dict read lacked (an older report's): left out again while they keep their default
    absent: frozenset[str] = field(default_factory=frozenset, kw_only=True, repr=False, compare=False)

    @classmethod
    def _fields(cls) -> list[Field]:
        return [f for f in fields(cls) if f.name not in ("extra", "absent")]

    @classmethod
    def _key(cls, f: Field) -> str:
        return f.metadata.get("key", cls.prefix + f.name)

    @classmethod
    def json_keys(cls) -> list[str]:
        """The JSON keys of this record's fields."""
        return [cls._key(f) for f in cls._fields()]

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """The record a report.json object holds."""
        if not isinstance(data, dict):
            raise ApprenticeError(f"a {cls.__name__} is a JSON object, not {type(data).__name__}")
        values: dict[str, Any] = {}
        absent, used = set(), set()
        for f in cls._fields():
            if "flatten" in f.metadata:
                part = {key: data[key] for key in f.metadata["flatten"].json_keys() if key in data}
                used.update(part)
                values[f.name] = f.metadata["flatten"].from_dict(part) if part else None
            elif cls._key(f) in data:
                raw = data[cls._key(f)]
                used.add(cls._key(f))
                values[f.name] = f.metadata["load"](raw) if "load" in f.metadata and raw is not None else raw
            else:
                absent.add(f.name)
        return cls(**values, extra={k: v for k, v in data.items() if k not in used}, absent=frozenset(absent))

    def to_dict(self) -> dict[str, Any]:
        """report.json's object for this record."""
        out: dict[str, Any] = {}
        for f in self._fields():
            value = getattr(self, f.name)
            if "flatten" in f.metadata:
                out.update(value.to_dict() if value is not None else {})
            elif not ((f.name in self.absent and value == _default(f)) or (f.metadata.get("optional") and value is None)):
                out[self._key(f)] = _dump(value)
        return {**out, **self.extra}


@dataclass
class EvalRow(_Record):
    """One model on one held-out set: accuracy with its 95% Wilson interval, the add-every-number floor, what it
    spent (totals, and per solved item: None where nothing was solved) and every item's result."""

    accuracy: float = 0.0
    n: int = 0
    ci: list[float] | None = None
    tokens_per_solved: float | None = None
    seconds_per_solved: float | None = None
    floor: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    cost_usd: float | None = None
    items: list[dict[str, Any]] = field(default_factory=list)


def _sets(data: dict[str, Any]) -> dict[str, EvalRow]:
    return {label: EvalRow.from_dict(row) for label, row in data.items()}


@dataclass
class TeacherRow(_Record):
    """A round's teacher pass: its accuracy on the pool's items with a gold answer, and what the pass cost (the
    round's row spreads these as ``teacher``, ``teacher_accuracy``, ...)."""

    prefix: ClassVar[str] = "teacher_"
    label: str = field(default="", metadata={"key": "teacher"})
    accuracy: float | None = None
    rationalized: float = 0.0
    items: int = 0
    checked: int = 0
    runs: int = 0
    resumed: int = 0
    errors: int = 0
    calls: int = 0
    seconds: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None
    paid_usd: float | None = None
    tokens_per_solved: float = 0.0
    seconds_per_solved: float = 0.0


@dataclass
class RoundReport(_Record):
    """One round's row: the adapter it kept, its teacher's pass, what was harvested, the ``--select dev`` choice
    (None without one) and the student's results on each held-out set."""

    round: int = 0
    adapter: str = ""
    teacher: TeacherRow | None = field(default=None, metadata={"flatten": TeacherRow})
    harvested: int = 0
    pairs: int = 0
    dev: dict[str, Any] | None = None
    student: dict[str, EvalRow] = field(default_factory=dict, metadata={"load": _sets})
    seconds: float = 0.0
    #: where the round's time went: each step's seconds, the train step's by part (rounds before it lack it)
    time: dict[str, Any] | None = field(default=None, metadata={"optional": True})


@dataclass
class TeacherEval(_Record):
    """A model teacher on the held-out sets (once a run), to set the students beside it."""

    strategy: str | None = None
    price: list[float] | None = None  # IN, OUT in USD per million tokens
    sets: dict[str, EvalRow] = field(default_factory=dict, metadata={"load": _sets})


@dataclass
class RoundProgress(_Record):
    """Where an unfinished run is: its round and the steps of it that finished (report.json's ``partial``)."""

    round: int = 1
    done: list[str] = field(default_factory=list)


def _rows(data: list[Any]) -> list[RoundReport]:
    if not isinstance(data, list):
        raise ApprenticeError(f"rounds is a JSON list, not {type(data).__name__}")
    return [RoundReport.from_dict(row) for row in data]


def _teachers(data: dict[str, Any]) -> dict[str, TeacherEval]:
    return {spec: TeacherEval.from_dict(row) for spec, row in data.items()}


@dataclass
class DistillReport(_Record):
    """A distillation run: its options (and those of the runs it continues), round 0 (the starting student), the
    model teachers' evaluations, a row per round, why and in which round it stopped, the best student, and while it
    is unfinished, where it is."""

    args: dict[str, Any] = field(default_factory=dict)
    rounds: list[RoundReport] = field(default_factory=list, metadata={"load": _rows})
    earlier_args: list[dict[str, Any]] | None = field(default=None, metadata={"optional": True})
    baseline: dict[str, EvalRow] | None = field(default=None, metadata={"load": _sets, "optional": True})
    teacher_eval: dict[str, TeacherEval] | None = field(default=None, metadata={"load": _teachers, "optional": True})
    stopped: str | None = field(default=None, metadata={"optional": True})
    #: the round the run stopped in (one whose harvest found nothing has no row): what --from-step reruns
    stopped_round: int | None = field(default=None, metadata={"optional": True})
    best_student: str | None = field(default=None, metadata={"optional": True})
    partial: RoundProgress | None = field(default=None, metadata={"load": RoundProgress.from_dict, "optional": True})

    @classmethod
    def read(cls, path: Path) -> DistillReport:
        """The report in ``path`` (report.json); one error line when it cannot be read."""
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, AttributeError, ApprenticeError) as exc:
            raise ApprenticeError(f"cannot read the distillation report {path}: {exc}") from exc


def mean_accuracy(results: dict[str, EvalRow]) -> float:
    """The mean accuracy over the held-out sets (what a round must improve on)."""
    return sum(row.accuracy for row in results.values()) / max(1, len(results))

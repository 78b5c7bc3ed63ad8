"""The task interface (items, verdicts, the ``Task`` base class) and the data plumbing every task shares.

A task is a loader, a prompt framing, an answer extractor and a checker. Loading goes through one
path for all file-backed tasks: resolve the source (a file, a data root, or a Hugging Face id), read
its records with a location for every record (``path:line``), turn each record into an :class:`Item`,
then select (split, seeded shuffle, limit).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import random
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

from apprentice.config import home
from apprentice.errors import ApprenticeError, DataError

__all__ = [
    "DATA_ENV",
    "HELDOUT_FRACTION",
    "PACKAGED_DATA",
    "SPLITS",
    "Item",
    "Record",
    "Task",
    "Verdict",
    "data_root",
    "read_records",
    "require",
    "resolve_source",
    "select_items",
    "split_items",
    "stable_id",
]

DATA_ENV = "APPRENTICE_DATA"
#: The benchmark files that ship inside the package (sources and licenses in its README.md).
PACKAGED_DATA = Path(__file__).resolve().parent / "data"
HELDOUT_FRACTION = 0.2
SPLITS = ("train", "test", "shuffle")
_HF_ID = re.compile(r"[\w.-]+/[\w.-]+(?::[\w.-]+)?")
_FILE_SUFFIXES = {".jsonl", ".json", ".csv", ".ndjson", ".tsv", ".txt", ".gz"}


@dataclass(frozen=True)
class Item:
    """One question of a task.

    Attributes:
        id: Stable id: the dataset's own id, or a hash of the question.
        question: The text the model sees (already framed, e.g. SVAMP ``Body + " " + Question``).
        answer: The gold answer as a string, ``None`` where it is not unique (game24).
        meta: Task-specific extras (worked solution, equation, puzzle numbers, facts, steps, ...).
    """

    id: str
    question: str
    answer: str | None
    meta: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Verdict:
    """The checker's judgement of one prediction.

    Attributes:
        correct: Whether the prediction counts as right.
        score: 1.0/0.0 for exact tasks, token F1 for free-text QA.
        checker: Which rule judged it: ``numeric``, ``game24-rules``, ``em-f1`` or ``label``.
        reason: One line saying why.
    """

    correct: bool
    score: float
    checker: str
    reason: str


@dataclass(frozen=True)
class Record:
    """One raw row of a data file and where it came from (``path:line``) for error messages."""

    row: dict[str, Any]
    where: str


class Task(ABC):
    """A benchmark: ``load`` items, ``extract`` an answer from model text, ``normalize`` it, ``check`` it.

    Subclasses set ``name``, ``answer_format`` and ``checker``; file-backed tasks also set
    ``default_file`` (relative to :func:`data_root`) and implement :meth:`parse`, and may name a
    Hugging Face dataset the parser reads in ``hf_id`` (offered when the file is missing).
    """

    name: ClassVar[str] = ""
    answer_format: ClassVar[str] = ""
    checker: ClassVar[str] = ""
    default_file: ClassVar[str] = ""
    hf_split: ClassVar[str] = "test"
    hf_id: ClassVar[str] = ""

    def __init__(self) -> None:
        self._source: Path | None = None

    def load(
        self,
        path: str | Path | None = None,
        *,
        limit: int | None = None,
        split: str | None = None,
        seed: int = 0,
    ) -> list[Item]:
        """Load the task's items.

        Args:
            path: A data file, a data root directory holding ``default_file``, or a Hugging Face
                dataset id ``owner/name[:config]``; ``None`` means ``data_root() / default_file``
                (the copy that ships in the package unless ``APPRENTICE_DATA`` is set).
            limit: Keep the first ``limit`` items after selection.
            split: ``None`` keeps file order (unless ``seed`` is non-zero); ``"train"``/``"test"``
                take the deterministic 80/20 split of :func:`split_items`, shuffled by ``seed``;
                ``"shuffle"`` shuffles everything by ``seed``. For a Hugging Face id, ``"train"``
                and ``"test"`` (or ``"validation"``) name the dataset's own split instead.
            seed: Seed of the split and of the shuffle; a non-zero seed shuffles even without a split.

        Raises:
            DataError: The file is missing (the message names both ways to get it: a local path,
                or a Hugging Face id when online) or malformed (the message names the path and line).
        """
        if split is not None and split not in (*SPLITS, "validation"):
            raise ApprenticeError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
        source = resolve_source(path, self.default_file)
        if isinstance(source, str):
            hf_split = split if split in ("train", "test", "validation") else self.hf_split
            records = _load_hf(source, hf_split)
            split = "shuffle" if split else None
        else:
            if not source.is_file():
                raise DataError(_not_found(source, self.default_file, self.hf_id))
            records = read_records(source)
            self._source = source
        items = [self.parse(record.row, record.where) for record in records]
        if not items:
            raise DataError(f"{source}: no items found")
        return select_items(items, limit=limit, split=split, seed=seed)

    def parse(self, row: dict[str, Any], where: str) -> Item:
        """Turn one raw record into an :class:`Item`; ``where`` (``path:line``) goes into errors."""
        raise DataError(f"{where}: the {self.name} task does not read data files")

    def can_check(self, item: Item) -> bool:
        """Whether :meth:`check` can judge answers to ``item`` (it has a gold answer, by default)."""
        return item.answer is not None

    def grade(self, item: Item, text: str) -> Verdict:
        """Extract the answer from free model ``text`` and check it: ``check(item, extract(text))``."""
        return self.check(item, self.extract(text))

    def implausible(self, answer: str | None, question: str | None = None) -> str | None:
        """Why ``answer`` cannot be right for any question of this task (or for ``question``, when
        given), or None (no such rule here).

        A verifier uses it without knowing the gold answer.
        """
        return None

    @abstractmethod
    def extract(self, text: str) -> str | None:
        """Pull the final answer out of free model text; ``None`` when there is none."""

    @abstractmethod
    def normalize(self, answer: str | None) -> str | None:
        """Canonical form of an answer, used for majority voting; ``None`` when it has none."""

    @abstractmethod
    def check(self, item: Item, prediction: str | None) -> Verdict:
        """Judge an extracted prediction against the item."""

    @abstractmethod
    def fewshot_pool(self) -> list[tuple[str, str]]:
        """(question, worked solution ending in a ``Final Answer:`` line) pairs for few-shot prompts."""


# ---------------------------------------------------------------------------- where data lives


def data_root() -> Path:
    """The directory default data files are read from: ``APPRENTICE_DATA`` if set, else the
    files that ship inside the package (:data:`PACKAGED_DATA`)."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else PACKAGED_DATA


def resolve_source(path: str | Path | None, default_file: str) -> Path | str:
    """Resolve a ``--data`` value to a file path, or to a Hugging Face id (returned as ``str``).

    A task's ``default_file`` inside a data folder may also be stored gzipped (``NAME.gz``).
    """
    if path is None:
        return _in_folder(data_root(), default_file)
    candidate = Path(path).expanduser()
    if candidate.is_dir():
        return _in_folder(candidate, default_file) if default_file else candidate
    if candidate.exists():
        return candidate
    text = str(path)
    if _HF_ID.fullmatch(text) and candidate.suffix.lower() not in _FILE_SUFFIXES:
        return text
    return candidate


def _in_folder(folder: Path, default_file: str) -> Path:
    """``folder / default_file``, or its gzipped twin when only that exists."""
    plain = folder / default_file
    packed = plain.with_name(plain.name + ".gz")
    return packed if not plain.exists() and packed.is_file() else plain


def _not_found(source: Path, default_file: str, hf_id: str) -> str:
    """The one-line message for a data file that is nowhere: both ways to get the data."""
    gone = " (the copy that ships with apprentice is missing)" if source.is_relative_to(PACKAGED_DATA) else ""
    local = f"a file, or a folder holding {default_file}" if default_file else "a file"
    online = f"--data {hf_id}" if hf_id else "--data OWNER/NAME[:CONFIG]"
    return (f"{source}: data file not found{gone}; pass --data PATH or set {DATA_ENV} ({local}),"
            f" or when online pass {online} (a Hugging Face dataset id, needs the 'datasets' package)")


# ---------------------------------------------------------------------------- reading files


def read_records(path: Path) -> list[Record]:
    """Read a ``.jsonl``, ``.json`` (a list of objects) or ``.csv`` file, or any of them gzipped
    (``.jsonl.gz``), into located records.

    Raises:
        DataError: Missing file, bad encoding, bad JSON or a row that is not an object.
    """
    if not path.is_file():
        hint = f" (set {DATA_ENV} or pass --data)" if not path.parent.exists() else ""
        raise DataError(f"{path}: data file not found{hint}")
    suffix = (path.with_suffix("") if path.suffix.lower() == ".gz" else path).suffix.lower()
    try:
        if suffix == ".csv":
            return _read_csv(path)
        if suffix == ".json":
            return _read_json(path)
        return _read_jsonl(path)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError; a cut-off .gz is an EOFError
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def _open_text(path: Path, encoding: str = "utf-8", newline: str | None = None) -> IO[str]:
    """Open a text file for reading, decompressing it on the fly when it ends in ``.gz``."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding=encoding, newline=newline)
    return path.open(encoding=encoding, newline=newline)


def _read_jsonl(path: Path) -> list[Record]:
    records = []
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: bad JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
            records.append(Record(row, where))
    return records


def _read_json(path: Path) -> list[Record]:
    try:
        with _open_text(path) as handle:
            data = json.loads(handle.read())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: bad JSON ({exc.msg})") from exc
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of objects")
    records = []
    for index, row in enumerate(data):
        where = f"{path}: entry {index}"
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
        records.append(Record(row, where))
    return records


def _read_csv(path: Path) -> list[Record]:
    records = []
    with _open_text(path, "utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        try:
            for row in reader:
                where = f"{path}:{reader.line_num}"
                if None in row or any(value is None for value in row.values()):
                    raise DataError(f"{where}: wrong number of columns")
                records.append(Record(dict(row), where))
        except csv.Error as exc:
            raise DataError(f"{path}:{reader.line_num}: bad CSV ({exc})") from exc
    return records


def _load_hf(dataset_id: str, split: str) -> list[Record]:
    """Load a Hugging Face dataset split (``owner/name[:config]``); imports ``datasets`` only here.

    Downloads are cached under ``APPRENTICE_HOME`` (``datasets-cache``), beside everything else
    apprentice keeps, not in the user's global Hugging Face cache.
    """
    name, _, config = dataset_id.partition(":")
    try:
        import datasets
    except ImportError as exc:
        raise DataError(f"{dataset_id}: loading Hugging Face datasets needs the 'datasets' package: "
                        "pip install 'apprentice[train]'") from exc
    try:
        rows = datasets.load_dataset(name, config or None, split=split, cache_dir=str(home() / "datasets-cache"))
    except Exception as exc:  # offline, unknown id, missing config or split: all one user error
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{dataset_id}: not a local file, and loading it from the Hugging Face Hub failed"
            f" (offline? wrong id or split {split!r}?): {first_line}"
        ) from exc
    return [Record(dict(row), f"{dataset_id}[{split}][{index}]") for index, row in enumerate(rows)]


def require(row: dict[str, Any], key: str, where: str) -> Any:
    """``row[key]``, or a :class:`DataError` naming the location and the missing field."""
    if key not in row or row[key] is None:
        fields = ", ".join(sorted(map(str, row))) or "none"
        raise DataError(f"{where}: missing field {key!r} (fields: {fields})")
    return row[key]


def stable_id(prefix: str, text: str) -> str:
    """A short id that depends only on ``text``: ``prefix-<12 hex digits of sha1>``."""
    return f"{prefix}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}"


# ---------------------------------------------------------------------------- selecting items


def split_items(items: Sequence[Item], fraction: float, seed: int = 0) -> tuple[list[Item], list[Item]]:
    """Split items into (train, heldout), deterministic for ``seed`` and grouped by item id.

    ``round(fraction * number of distinct ids)`` ids go to heldout; items sharing an id always land
    on the same side. Both lists keep the input order.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ApprenticeError(f"heldout fraction must be between 0 and 1, got {fraction}")
    ids = sorted({item.id for item in items})
    random.Random(seed).shuffle(ids)
    heldout_ids = set(ids[: round(fraction * len(ids))])
    train = [item for item in items if item.id not in heldout_ids]
    heldout = [item for item in items if item.id in heldout_ids]
    return train, heldout


def select_items(
    items: Sequence[Item], *, limit: int | None = None, split: str | None = None, seed: int = 0
) -> list[Item]:
    """Apply ``split``, the seeded shuffle and ``limit`` as documented in :meth:`Task.load`."""
    if split is not None and split not in SPLITS:
        raise ApprenticeError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    if limit is not None and limit < 0:
        raise ApprenticeError(f"limit must be zero or more, got {limit}")
    chosen = list(items)
    if split in ("train", "test"):
        train, heldout = split_items(chosen, HELDOUT_FRACTION, seed)
        chosen = train if split == "train" else heldout
    if split is not None or seed != 0:
        random.Random(seed).shuffle(chosen)
    return chosen if limit is None else chosen[:limit]

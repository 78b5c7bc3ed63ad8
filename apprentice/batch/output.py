"""The output file of a batch job: one JSON line per finished item, appended and fsynced as it finishes.

Resume reads the file back: a torn last line (the job was killed while writing it) is cut off,
records of items that failed are dropped so that those items run again, and the ids that finished
``ok`` are skipped. When anything has to go, the file is rewritten through a temporary file and an
atomic rename, so a kill during the rewrite loses nothing either.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from apprentice.errors import DataError
from apprentice.secrets import redact_obj

__all__ = ["FIELDS", "OutputFile", "load_done"]

#: The keys of every output record, in order.
FIELDS = ("id", "question", "answer", "prediction", "gold", "correct", "score", "status", "error",
          "run_id", "tokens_in", "tokens_out", "latency_s", "attempts", "model", "strategy", "settings")


def load_done(path: str | Path) -> dict[str, dict[str, Any]]:
    """Records already ``ok`` in ``path``, by id, after repairing the file (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            lines = handle.read().split(b"\n")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    keep: dict[str, dict[str, Any]] = {}
    changed = bool(lines[-1])  # no newline at the end: torn last line
    complete = lines[:-1]
    for number, raw in enumerate(complete, start=1):
        if not raw.strip():
            changed = True
            continue
        record = _decode(raw, path, number, last=number == len(complete))
        if record is None or record.get("status") != "ok" or record["id"] in keep:
            changed = True
            continue
        keep[record["id"]] = record
    if changed:
        try:
            _rewrite(path, keep.values())
        except OSError as exc:
            raise DataError(f"cannot repair {path}: {exc.strerror or exc}") from exc
    return keep


def _decode(raw: bytes, path: Path, number: int, *, last: bool) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            return record
    except (json.JSONDecodeError, UnicodeDecodeError):
        if last:
            return None
    raise DataError(f"{path}:{number}: not a batch output record; is --out the right file?")


def _rewrite(path: Path, records: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class OutputFile:
    """Append-only writer: every record is one line, flushed and fsynced before ``write`` returns."""

    def __init__(self, path: str | Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self._fsync = fsync
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle: IO[str] | None = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise DataError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (keys in :data:`FIELDS` order)."""
        if self._handle is None:
            raise ValueError("the output file is closed")
        # every field but the id (resume matches on it) is redacted: the question, gold and error come from input
        line = json.dumps({key: record.get(key) if key == "id" else redact_obj(record.get(key)) for key in FIELDS},
                          ensure_ascii=False)
        self._handle.write(line + "\n")
        self._handle.flush()
        if self._fsync:
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        """Close the file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

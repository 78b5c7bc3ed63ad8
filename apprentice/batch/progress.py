"""Progress of a batch job: a tqdm bar (rate and ETA) on stderr and the end-of-job summary."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["BatchSummary", "Tracker"]


@dataclass
class BatchSummary:
    """What a job did. ``skipped`` items were already done by an earlier run of the same job.

    Accuracy counts every checked ``ok`` record in the output file, earlier runs included.
    """

    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    invalid: int = 0
    checked: int = 0
    correct: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    elapsed_s: float = 0.0
    output: str = ""

    @property
    def accuracy(self) -> float | None:
        """Correct / checked, or ``None`` when no answer could be checked."""
        return self.correct / self.checked if self.checked else None

    @property
    def remaining(self) -> int:
        """Items that still have no ``ok`` record (failed, invalid, or never reached)."""
        return self.total - self.skipped - self.done

    def to_dict(self) -> dict[str, Any]:
        """The stable ``--json`` shape."""
        return {**asdict(self), "accuracy": self.accuracy, "remaining": self.remaining}

    def format(self) -> str:
        """The human summary: one line of counts, one of totals."""
        acc = f" · accuracy {self.accuracy:.1%} ({self.correct}/{self.checked})" if self.checked else ""
        rate = self.done / self.elapsed_s if self.elapsed_s else 0.0
        return (
            f"{self.done} done · {self.failed} failed · {self.invalid} invalid · {self.skipped} skipped"
            f" (already done) of {self.total}{acc}\n"
            f"{self.tokens_in} tokens in / {self.tokens_out} out · {self.elapsed_s:.1f} s"
            f" ({rate:.2f} items/s) · {self.output}"
        )


class Tracker:
    """Counts records as they arrive and drives the progress bar."""

    def __init__(self, total: int, done_before: list[dict[str, Any]], *, output: str, show: bool) -> None:
        self.summary = BatchSummary(total=total, skipped=len(done_before), output=output)
        for record in done_before:
            self._count_verdict(record)
        self._started = time.perf_counter()
        self._bar = None
        if show:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=len(done_before), unit="item", file=sys.stderr,
                             dynamic_ncols=True, desc="batch", smoothing=0.1)

    def update(self, record: dict[str, Any]) -> None:
        """Count one finished record."""
        summary = self.summary
        status = record.get("status")
        if status == "ok":
            summary.done += 1
            self._count_verdict(record)
        elif status == "invalid":
            summary.invalid += 1
        else:
            summary.failed += 1
        summary.tokens_in += record.get("tokens_in") or 0
        summary.tokens_out += record.get("tokens_out") or 0
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(failed=summary.failed + summary.invalid, refresh=False)

    def _count_verdict(self, record: dict[str, Any]) -> None:
        if record.get("correct") is not None:
            self.summary.checked += 1
            self.summary.correct += bool(record["correct"])

    def close(self) -> BatchSummary:
        """Stop the bar and return the summary."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self.summary.elapsed_s = round(time.perf_counter() - self._started, 3)
        return self.summary

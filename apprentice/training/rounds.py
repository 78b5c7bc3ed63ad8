"""A distillation round as named steps, resumable after any of them.

    collect   the teacher's pass over the round's pool (traces in the store)
    harvest   the verdicts select the pass's runs; they are written as the round's dataset
    train     SFT on the dataset (and DPO on top, then ``--select``): an adapter in the registry
    evaluate  the kept adapter on the held-out sets
    report    the round's row in report.json (and report.md, report.png)

Each step before ``report`` writes its record, what the next steps read, to the round's folder
(``<report>/round<N>/<step>.json``), and report.json's ``partial`` lists the steps the round has finished. The same
command again resumes after the last of them; ``--from-step STEP`` reruns the round from a named step on the
records of the steps before it. What each step does is :mod:`apprentice.training.distill`'s; this module knows
their order, their records, and where a run picks up.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apprentice.errors import ApprenticeError
from apprentice.training.round_report import DistillReport, RoundProgress

__all__ = ["PAUSE_STEPS", "RECORDED", "STEPS", "Resume", "Round", "RoundStopped", "run_steps", "start_report",
           "write_json"]

STEPS = ("collect", "harvest", "train", "evaluate", "report")
#: the steps that leave a record in the round's folder (``report``'s output is the row in report.json)
RECORDED = STEPS[:-1]
PAUSE_STEPS = RECORDED[:3]  # the steps a run may stop after and go on from (distill --stop-after)
#: options that may differ when a run resumes: how the teacher is asked and where the report is, not what is done
UNCHECKED_OPTIONS = frozenset({"teacher_concurrency", "teacher_retries", "report", "student_workers",
                               "eval_workers"})  # student_workers' name in session 37


class RoundStopped(Exception):  # not an error: the run ends there, and says why
    """A step found nothing to go on with (the teacher solved nothing to learn from): the run ends there."""


@dataclass
class Round:
    """One round: its number, the student it starts from, its teacher, its folder, the records of its finished
    steps, and the step the command asked to rerun it from (None: it runs, or resumes, as far as it can)."""

    number: int
    student: str
    teacher: Any
    folder: Path
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    from_step: str | None = None

    def reruns(self, step: str) -> bool:
        """Whether the command asked to redo ``step`` (a killed one resumes what it can instead)."""
        return self.from_step is not None and STEPS.index(self.from_step) <= STEPS.index(step)


Step = Callable[[Round], dict[str, Any]]


def write_json(path: Path, data: Any) -> None:
    """``data`` as JSON in ``path``, whole or not at all: a run killed while writing leaves the last version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(partial, path)


def run_steps(round_: Round, steps: Mapping[str, Step], start: str, on_step: Callable[[list[str]], None], *,
              until: str | None = None) -> bool:
    """Run the round's recorded steps from ``start`` (through ``until``, else all): each is timed, its record
    written to the round's folder and ``on_step`` told the steps finished so far (the partial report records them)
    before the next begins. Whether the round ran through its last recorded step."""
    last = RECORDED.index(until) if until is not None else len(RECORDED) - 1
    for name in RECORDED[STEPS.index(start):last + 1]:
        began = time.time()
        record = {**steps[name](round_), "seconds": time.time() - began}
        write_json(round_.folder / f"{name}.json", record)
        round_.records[name] = record
        on_step(list(RECORDED[:RECORDED.index(name) + 1]))
    return last == len(RECORDED) - 1


@dataclass
class Resume:
    """Where a run picks up: a round, the first of its steps to run, the records of the steps before it."""

    round: int
    step: str
    records: dict[str, dict[str, Any]]
    from_step: str | None = None


def start_report(folder: Path, args: dict[str, Any], *, first: int, last: int,
                 from_step: str | None) -> tuple[DistillReport, Resume | None]:
    """The report a run starts from, and where it resumes (None: round ``first`` from its first step).

    An unfinished run in ``folder`` resumes, with ``from_step`` or after its last finished step; a finished one
    reruns the round it stopped in (else its last) from ``from_step``; either needs the same options. Otherwise
    the run is new, carrying the rounds before ``first`` (``--start-round``) of the report it continues."""
    path = folder / "report.json"
    earlier = DistillReport.read(path) if path.is_file() else None
    if earlier is not None and earlier.partial is not None:
        _same_options(earlier.args, args, f"{path} is an unfinished run with other options",
                      "give the same options to resume it, or another --report")
        round_no = earlier.partial.round
        step = next(step for step in STEPS if step not in earlier.partial.done)
        if from_step is not None and STEPS.index(from_step) > STEPS.index(step):
            raise ApprenticeError(f"--from-step {from_step}: round {round_no} of the unfinished run in {folder} has "
                                  f"not finished its {step} step: run without --from-step to resume there")
        step = from_step or step
    elif from_step is not None:
        if earlier is None or (not earlier.rounds and earlier.stopped_round is None):
            raise ApprenticeError(f"--from-step {from_step}: {folder} holds no finished round to rerun "
                                  "(report.json has none): run without --from-step")
        _same_options(earlier.args, args, f"--from-step {from_step}: {path} is a run with other options",
                      "give the same options to rerun its round")
        round_no = _round_to_rerun(earlier, folder, from_step)
        if not first <= round_no <= last:
            raise ApprenticeError(f"--from-step {from_step}: the run in {path} ended in round {round_no}, and this "
                                  f"command runs rounds {first}-{last}")
        step = from_step
    else:
        return _new_report(earlier, args, first), None
    done = list(RECORDED[:STEPS.index(step)])
    records = {name: _read_record(folder, round_no, name, step) for name in done}
    earlier.args, earlier.stopped, earlier.stopped_round, earlier.best_student = args, None, None, None
    earlier.rounds = [row for row in earlier.rounds if row.round < round_no]
    earlier.partial = RoundProgress(round=round_no, done=done)
    return earlier, Resume(round_no, step, records, from_step)


def _round_to_rerun(earlier: DistillReport, folder: Path, from_step: str) -> int:
    """The round of a finished run that ``--from-step`` reruns: the one it stopped in (a round whose harvest found
    nothing has no row), else its last. A report from before reports named that round, beside the records of the
    round after its last row, cannot say which: one error line."""
    if earlier.stopped_round is not None:
        return earlier.stopped_round
    row = earlier.rounds[-1]
    if earlier.stopped is not None and (folder / f"round{row.round + 1}" / "collect.json").is_file():
        remaining = int(earlier.args.get("start_round", 1)) + int(earlier.args.get("rounds", 1)) - 1 - row.round
        raise ApprenticeError(
            f"--from-step {from_step}: {folder / 'report.json'} does not say which round the run stopped in, and "
            f"round{row.round + 1} holds records after its last row (round {row.round}): to go on with round "
            f"{row.round + 1}, continue the run with --start-round {row.round + 1} --rounds {max(1, remaining)} "
            f"--student adapter:{row.adapter}")
    return row.round


def _new_report(earlier: DistillReport | None, args: dict[str, Any], first: int) -> DistillReport:
    """A new run's report; continuing at round ``first``, with the earlier rounds, round 0 and the teachers'
    evaluations of the report it continues."""
    report = DistillReport(args=args, partial=RoundProgress(round=first))
    if first > 1 and earlier is not None:
        report.rounds = [row for row in earlier.rounds if row.round < first]
        report.earlier_args = [*(earlier.earlier_args or []), earlier.args]
        report.baseline, report.teacher_eval = earlier.baseline, earlier.teacher_eval
    return report


def _same_options(recorded: dict[str, Any], given: dict[str, Any], problem: str, fix: str) -> None:
    """One error line naming the options that differ from the recorded run's (an option the recorded run did not
    know cannot differ)."""
    differ = [key for key in given if key in recorded and key not in UNCHECKED_OPTIONS
              and recorded[key] != given[key]]
    if differ:
        shown = "; ".join(f"--{key.replace('_', '-')} {given[key]!r}, it had {recorded[key]!r}" for key in differ[:3])
        raise ApprenticeError(f"{problem} ({shown}{'; ...' if len(differ) > 3 else ''}): {fix}")


def _read_record(folder: Path, round_no: int, step: str, needed_by: str) -> dict[str, Any]:
    path = folder / f"round{round_no}" / f"{step}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ApprenticeError(f"round {round_no}'s {needed_by} step needs what its {step} step made, and {path} is "
                              f"missing: rerun with --from-step {step}") from None
    except (OSError, ValueError) as exc:
        raise ApprenticeError(f"cannot read {path} ({exc}): rerun with --from-step {step}") from exc
    if not isinstance(record, dict):
        raise ApprenticeError(f"{path} is not a step record: rerun with --from-step {step}")
    return record

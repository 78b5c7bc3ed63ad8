"""Self-improvement runs: teacher solves -> verify -> harvest -> fine-tune -> evaluate, per round.

Each round solves a training pool with the teacher setup (traces in the store, verified by the
task's checker), harvests what passed, fine-tunes the student (from the base, or from the last
adapter; with DPO on top and ``--select dev``, the round keeps whichever of the two adapters does
better on its held-out pool questions), and evaluates it on held-out sets with the same harness as
``apprentice eval``. The run stops when a round no longer improves. The report (``report.json``, ``report.md``,
``report.png``) puts every round beside the trivial-rule floor ("add every number") and, for a model teacher
(evaluated once on the same held-out sets), beside the teacher: accuracy kept, cost per solved item, and the
questions where the two disagree. Pools and held-out sets mix built-in tasks and question files of one's own
(:mod:`apprentice.training.pools`).

A round is the steps of :mod:`apprentice.training.rounds` (collect, harvest, train, evaluate, report), each
written down as it finishes: a killed run resumes after its last finished step, and ``--from-step`` reruns a
round from a named one. This module says what each step does; the options and their checks are in
:mod:`apprentice.training.distill_args`, the report's types in :mod:`apprentice.training.round_report`.
"""

from __future__ import annotations

import json
import re
import time
from functools import partial
from pathlib import Path
from typing import Any

from apprentice.config import data_path
from apprentice.errors import ApprenticeError, StoreError
from apprentice.threads import cpu_threads
from apprentice.training.distill_args import (
    DistillArgs,
    check_args,
    report_dir,
    teacher_price,
    teachers_of,
)
from apprentice.training.harvest import HarvestConfig, NothingToHarvest, harvest
from apprentice.training.pools import (
    POOL_LEVELS,
    EvalSet,
    builtin_data,
    eval_sets,
    parse_eval_sets,
    pool_sizes,
    round_slice,
)
from apprentice.training.pools import load_pool as _pool
from apprentice.training.round_report import (
    DistillReport,
    EvalRow,
    RoundProgress,
    RoundReport,
    TeacherEval,
    TeacherRow,
    mean_accuracy,
)
from apprentice.training.rounds import (
    PAUSE_STEPS,
    RECORDED,
    STEPS,
    Resume,
    Round,
    RoundStopped,
    run_steps,
    start_report,
    write_json,
)
from apprentice.training.teachers import (
    PASS_COUNTS,
    Teacher,
    cost_usd,
    load_teacher_model,
    parse_price,
    solve_pool,
)

__all__ = ["PAUSE_STEPS", "POOL_LEVELS", "STEPS", "DistillArgs", "DistillReport", "EvalSet", "parse_eval_sets",
           "pool_sizes", "round_slice", "run_distill", "trivial_rule_accuracy", "write_report"]

_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


def trivial_rule_accuracy(task: Any, items: list[Any]) -> float:
    """The floor: answer with the sum of every number in the question."""
    if not items:
        return 0.0
    hits = 0
    for item in items:
        total = sum(float(n.replace(",", "")) for n in _NUMBER.findall(item.question))
        hits += int(task.check(item, f"{total:g}").correct)
    return hits / len(items)


def _student_workers(args: DistillArgs) -> int:
    """How many llama.cpp replicas run the student (its evaluations, a self teacher's pass): ``--student-workers``,
    or one per idle core."""
    return args.student_workers or cpu_threads()


def _evaluate(spec: str, args: DistillArgs, sets: list[EvalSet], round_no: int, limit: int | None = None, *,
              chat: Any = None, strategy: str | None = None, price: tuple[float, float] | None = None,
              folder: str | None = None, questions: bool = False) -> dict[str, dict[str, Any]]:
    """``spec`` (or ``chat``, a ready model under that name) on each held-out set through the eval harness
    (resumable): accuracy, the floor, totals and cost (at ``price``), and every item's result (with its question
    and gold answer when ``questions``)."""
    from apprentice.eval import EvalConfig, run_eval

    data, out = builtin_data(args), {}
    for eval_set in sets:
        task, items = eval_set.load(args.eval_limit if limit is None else limit, data, args.seed, args.arith_size)
        report = run_eval(EvalConfig(
            task=eval_set.task, strategies=[strategy or args.strategy], models=[spec], data=eval_set.data(data),
            split=eval_set.split, seed=args.seed, limit=len(items), tools=["calculator"],
            task_options=eval_set.options(args.arith_size),
            report_dir=report_dir(args) / f"{folder or f'round{round_no}'}-{eval_set.slug}",
            workers=_student_workers(args), command=f"distill round {round_no}"),
            progress=False, models={spec: chat} if chat is not None else None)
        cell, results = report.cells[0], next(iter(report.items.values()))
        per_solved = cell.n / cell.correct if cell.correct else None  # None: nothing solved, no cost per solve
        tokens_in, tokens_out = cell.tokens_in * cell.n, cell.tokens_out * cell.n  # the cell's are means
        by_id = {item.id: item for item in items}
        out[eval_set.label] = {"accuracy": cell.accuracy, "n": cell.n, "ci": [cell.ci_low, cell.ci_high],
                               "tokens_per_solved": per_solved and (cell.tokens_in + cell.tokens_out) * per_solved,
                               "seconds_per_solved": per_solved and cell.seconds * per_solved,
                               "floor": trivial_rule_accuracy(task, items),
                               "tokens_in": tokens_in, "tokens_out": tokens_out, "seconds": cell.seconds * cell.n,
                               "cost_usd": cost_usd(tokens_in, tokens_out, price),
                               "items": [{"id": r.item_id, "correct": r.correct, "prediction": r.prediction,
                                          **({"question": by_id[r.item_id].question, "gold": by_id[r.item_id].answer}
                                             if questions and r.item_id in by_id else {})} for r in results]}
    return out


def run_distill(args: DistillArgs, *, log: Any = print, from_step: str | None = None,
                stop_after: str | None = None) -> DistillReport:
    """Run the rounds; returns the report (also written to the report folder, after every step). An unfinished
    run in the report folder, given the same options, resumes after its last finished step; ``from_step`` reruns
    the unfinished round, or the round a finished run stopped in (else its last), from that step. ``stop_after``
    (one of ``PAUSE_STEPS``) ends the run once the first round it runs has finished that step, unfinished as a
    killed run is (``report.partial`` says where): the same options again, without it, go on from there."""
    if from_step is not None and from_step not in STEPS:
        raise ApprenticeError(f"--from-step must be one of {', '.join(STEPS)}, got {from_step!r}")
    if stop_after is not None and stop_after not in PAUSE_STEPS:
        raise ApprenticeError(f"--stop-after must be one of {', '.join(PAUSE_STEPS)}, got {stop_after!r}")
    teachers, sets = teachers_of(args), eval_sets(args)
    chats = check_args(args, teachers, sets, log)
    folder, last = report_dir(args), args.start_round + args.rounds - 1
    report, resume = start_report(folder, _args_record(args), first=args.start_round, last=last,
                                  from_step=from_step)
    if resume is not None and resume.round <= last:
        if stop_after is not None and STEPS.index(resume.step) > STEPS.index(stop_after):
            raise ApprenticeError(f"--stop-after {stop_after}: round {resume.round} has finished its {stop_after} "
                                  f"step already; without --stop-after the run goes on at its {resume.step} step")
        _check_inputs(resume)
        log(f"round {resume.round}: " + (f"rerunning from its {resume.step} step" if from_step else
                                         f"resuming at its {resume.step} step (the steps before it finished)"))
    _save(folder, report)
    _round_zero(args, report, teachers, sets, chats, log)
    best = max(([mean_accuracy(report.baseline)] if report.baseline is not None else [-1.0])
               + [mean_accuracy(row.student) for row in report.rounds])
    student = _starting_student(args, report, resume)
    for round_no in range(resume.round if resume else args.start_round, last + 1):
        teacher = teachers[min(round_no, len(teachers)) - 1].for_student(student)
        round_, start = Round(round_no, student, teacher, folder / f"round{round_no}"), STEPS[0]
        if resume is not None and round_no == resume.round:
            round_.records, round_.from_step, start = resume.records, resume.from_step, resume.step
        try:
            row = _run_round(args, round_, start, sets, chats, report, log, from_step=from_step, until=stop_after)
        except _Paused:
            log(f"round {round_no}: stopped after its {stop_after} step ({_made(round_, stop_after)}), as "
                f"--stop-after asked; the same command without it goes on at its "
                f"{STEPS[STEPS.index(stop_after) + 1]} step")
            return report
        if row is None:
            break
        score = mean_accuracy(row.student)
        log(f"round {round_no}: student mean accuracy {score:.1%}"
            + (f" (best so far {best:.1%})" if best >= 0 else ""))
        if score <= best:
            report.stopped, report.stopped_round = f"round {round_no} did not improve on {best:.1%}", round_no
            break
        best, student = score, f"adapter:{row.adapter}"
        report.partial = RoundProgress(round=round_no + 1)
        _save(folder, report)
    report.best_student, report.partial = student, None
    write_report(folder, report)
    return report


def _args_record(args: DistillArgs) -> dict[str, Any]:
    """The options as report.json records them (and a resumed run compares them)."""
    return json.loads(json.dumps({key: getattr(args, key) for key in args.__dataclass_fields__}, default=str))


def _starting_student(args: DistillArgs, report: DistillReport, resume: Resume | None) -> str:
    """The student the run's first round starts from: --student, or for a round resumed after others, the adapter
    the round before it kept (it improved, or the run would have ended)."""
    if resume is None or resume.round == args.start_round:
        return args.student
    before = [row for row in report.rounds if row.round == resume.round - 1]
    return f"adapter:{before[-1].adapter}" if before else args.student


def _check_inputs(resume: Resume) -> None:
    """What a resumed step reads besides the records of the steps before it: the teacher pass's runs in the store
    (harvest), the dataset (train) or the adapter (evaluate). One error line names it and the step that makes it."""
    if resume.step == "harvest":
        _check_pass_runs(resume)
    elif resume.step == "train":
        dataset = Path(resume.records["harvest"].get("dataset", ""))
        if not (dataset / "train.jsonl").is_file():
            raise ApprenticeError(f"round {resume.round}'s train step needs its dataset {dataset}, which is missing: "
                                  "rerun with --from-step harvest")
    elif resume.step == "evaluate":
        from apprentice.training.registry import get_adapter

        adapter = str(resume.records["train"].get("adapter"))
        try:
            get_adapter(adapter)
        except ApprenticeError:
            raise ApprenticeError(f"round {resume.round}'s evaluate step needs the adapter {adapter}, which is not in "
                                  "the registry: rerun with --from-step train") from None


def _check_pass_runs(resume: Resume) -> None:
    """Every run the collect record names is in the trace store (resumed against another --db or home, the
    harvest would fail on the first one missing, after round 0's evaluations)."""
    from apprentice.traces import open_store

    run_ids = list(dict.fromkeys((resume.records["collect"].get("tally") or {}).get("run_ids") or []))
    store = open_store()
    missing = 0
    for run_id in run_ids:
        try:
            store.get(run_id)
        except StoreError:
            raise
        except ApprenticeError:  # no run has this id
            missing += 1
    if missing:
        raise ApprenticeError(f"round {resume.round}'s harvest step needs the {len(run_ids)} runs of its teacher pass, "
                              f"and {missing} of them are not in the trace store {store.url.where()}: rerun with "
                              "--from-step collect")


def _round_zero(args: DistillArgs, report: DistillReport, teachers: list[Teacher], sets: list[EvalSet],
                chats: dict[str, Any], log: Any) -> None:
    """The starting student on the held-out sets, and each model teacher: once a run (a resumed run has them)."""
    if args.baseline_limit != 0 and report.baseline is None:
        log(f"round 0: evaluating the starting student {args.student}")
        report.baseline = _rows(_evaluate(args.student, args, sets, 0,
                                          limit=args.eval_limit if args.baseline_limit < 0 else args.baseline_limit))
        _save(report_dir(args), report)
    if not args.teacher_eval:
        return
    done = report.teacher_eval = report.teacher_eval if report.teacher_eval is not None else {}
    for teacher in {t.spec: t for t in teachers if t.kind == "model"}.values():
        if teacher.spec in done:
            continue
        log(f"teacher {teacher.label}: evaluating it on the held-out sets, to set the students beside it")
        price = teacher_price(teacher, args)
        done[teacher.spec or ""] = TeacherEval(strategy=teacher.strategy, price=price, sets=_rows(_evaluate(
            teacher.spec or "", args, sets, 0, chat=chats.get(teacher.spec), strategy=teacher.strategy,
            price=price, folder="teacher-" + re.sub(r"[^\w.-]+", "-", teacher.spec or ""), questions=True)))
        _save(report_dir(args), report)


def _rows(results: dict[str, dict[str, Any]]) -> dict[str, EvalRow]:
    return {label: EvalRow.from_dict(cell) for label, cell in results.items()}


class _Paused(Exception):  # not an error: --stop-after's step finished, and the run ends unfinished
    """The round ran through the step --stop-after named; its report is saved as a killed run's would be."""


def _made(round_: Round, step: str) -> str:
    """What a finished step made, in a few words, for the line that says the run stopped after it."""
    record = round_.records.get(step, {})
    if step == "harvest":
        return f"dataset {record.get('dataset')}"
    if step == "train":
        return f"adapter:{record.get('adapter')}"
    return f"{len((record.get('tally') or {}).get('run_ids') or [])} teacher runs in the trace store"


def _run_round(args: DistillArgs, round_: Round, start: str, sets: list[EvalSet], chats: dict[str, Any],
               report: DistillReport, log: Any, *, from_step: str | None = None,
               until: str | None = None) -> RoundReport | None:
    """The round's steps from ``start`` (through ``until``: then :class:`_Paused` once it finished), each written
    down as it finishes; its row, or None when it stopped (``report.stopped`` says why). A step that fails leaves
    the report so far and says how to resume: the same command again, or without the command's ``--from-step``
    (which would rerun that step)."""
    folder = round_.folder.parent
    steps = {"collect": partial(_collect, args, chats, log), "harvest": partial(_harvest, args, log),
             "train": partial(_train, args, log), "evaluate": partial(_evaluate_round, args, sets)}

    def finished(done: list[str]) -> None:
        report.partial = RoundProgress(round=round_.number, done=done)
        _save(folder, report)

    try:
        if not run_steps(round_, steps, start, finished, until=until):
            raise _Paused
    except RoundStopped as stop:
        report.stopped, report.stopped_round = f"round {round_.number}: {stop}", round_.number
        log(report.stopped)
        return None
    except ApprenticeError as exc:
        failed = next(step for step in STEPS if step not in report.partial.done) if report.partial else start
        report.stopped = f"round {round_.number}: {exc}"
        _write_partial(folder, report)
        again = "run it without --from-step to resume" if from_step else "the same command again resumes"
        raise ApprenticeError(f"{report.stopped} (report so far in {folder}; {again} at the {failed} step)") from exc
    row = _report_row(args, round_)
    report.rounds.append(row)
    write_report(folder, report)
    return row


def _collect(args: DistillArgs, chats: dict[str, Any], log: Any, round_: Round) -> dict[str, Any]:
    """The collect step: the teacher's pass over the round's pool (its counts and run ids)."""
    return {"teacher": round_.teacher.label,
            "tally": _teacher_pass(args, round_.number, round_.teacher, round_.student, chats, log)}


def _teacher_pass(args: DistillArgs, round_no: int, teacher: Teacher, student: str, chats: dict[str, Any],
                  log: Any) -> dict[str, Any]:
    """The teacher's pass over the round's pools: the pass's counts added up, with its run ids."""
    meta = {"distill": args.name, "round": round_no}
    if teacher.kind == "model" and teacher.spec not in chats:  # a local model teacher: loaded once for the run
        chats[teacher.spec] = load_teacher_model(teacher, retries=args.teacher_retries)
    tally: dict[str, Any] = {**dict.fromkeys(PASS_COUNTS, 0), "run_ids": []}
    for task, items in _pool(args, round_no):
        log(f"round {round_no}: teacher {teacher.label} solves {len(items)} {task.name} items")
        level = getattr(task, "level", None)  # an arith or gsm8k pool's level: its cost can be read by level
        with _pass_bar(len(items)) as bar:
            counts = solve_pool(teacher, task, items, student=student,
                                meta=meta if level is None else {**meta, "level": level}, attempts=args.attempts,
                                rationalize=args.rationalize, chat=chats.get(teacher.spec),
                                concurrency=args.teacher_concurrency, verdicts=args.verdict_source,
                                workers=_student_workers(args), progress=bar)
        for key in PASS_COUNTS:  # a pass that counts no checked items is from before answers were optional
            tally[key] += counts.get(key, counts.get("items", 0) if key == "checked" else 0)
        tally["run_ids"] += counts.get("run_ids", [])
    if tally["resumed"]:
        log(f"round {round_no}: {tally['resumed']} teacher runs resumed from an earlier pass (not paid again)")
    return tally


def _pass_bar(total: int) -> Any:
    """The teacher pass's progress bar, shown only where stderr is a terminal and cleared when the pass ends (the
    round's lines stay): a self-taught pass runs ~1 s an item, half an hour for a pool of 1,600."""
    from apprentice.eval.harness import progress_bar

    return progress_bar(total, None, leave=False)


def _harvest(args: DistillArgs, log: Any, round_: Round) -> dict[str, Any]:
    """The harvest step: the round's verdicts select its pass's runs, written as its dataset. Nothing selected
    stops the run."""
    dataset = data_path("datasets") / f"{args.name}-r{round_.number}"
    try:
        harvested = harvest(HarvestConfig(
            out=dataset, run_ids=round_.records["collect"]["tally"]["run_ids"], seed=args.seed,
            tools=["calculator"], max_per_question=2, react_prompt=args.react_prompt, followups=args.followups,
            contrast=args.contrast_pairs if args.dpo_steps else 0, contrast_kinds=args.contrast_kinds,
            min_score=args.min_score, verdict_source=None if args.verdict_source == "gold" else args.verdict_source))
    except NothingToHarvest as err:
        raise RoundStopped(f"the teacher ({round_.teacher.label}) solved nothing to learn from: {err}") from err
    log(f"round {round_.number}: harvested {harvested.train} train / {harvested.eval} eval examples")
    return {"dataset": str(dataset), "train": harvested.train, "eval": harvested.eval, "pairs": harvested.pairs,
            "eval_items": [list(key) for key in harvested.eval_items]}


def _train(args: DistillArgs, log: Any, round_: Round) -> dict[str, Any]:
    """The train step: SFT on the round's dataset (from the round's student, or --student), and with pairs and
    --dpo-steps, DPO on top and the adapter --select keeps. A killed training resumes from its checkpoint; one
    the command reruns (--from-step train or before) starts over."""
    from apprentice.training.dpo import DPOArgs
    from apprentice.training.dpo import main as dpo_main
    from apprentice.training.sft import SFTArgs
    from apprentice.training.sft import main as sft_main

    harvested, name, dev = round_.records["harvest"], f"{args.name}-r{round_.number}", None
    dataset, resume = Path(harvested["dataset"]), not round_.reruns("train")
    began = time.perf_counter()
    sft = sft_main(SFTArgs(data=dataset, name=name, base=round_.student if args.from_last else args.student,
                           qlora=args.qlora, epochs=args.epochs, max_steps=args.max_steps,
                           learning_rate=args.learning_rate, batch_size=args.batch_size, seed=args.seed,
                           eval_steps=50, resume=resume))
    timing = _training_time("sft", sft.metrics, time.perf_counter() - began)
    if args.dpo_steps and harvested["pairs"]:
        log(f"round {round_.number}: DPO on {harvested['pairs']} verified-vs-failed pairs")
        began = time.perf_counter()
        dpo = dpo_main(DPOArgs(data=dataset, name=f"{name}-dpo", base=f"adapter:{name}", qlora=args.qlora,
                               max_steps=args.dpo_steps, learning_rate=args.dpo_learning_rate, seed=args.seed,
                               sft_weight=args.dpo_sft_weight, resume=resume))
        timing.update(_training_time("dpo", dpo.metrics, time.perf_counter() - began))
        began = time.perf_counter()
        held = _dev_items(_pool(args, round_.number), [tuple(key) for key in harvested["eval_items"]])
        name, dev = _select(args, [name, f"{name}-dpo"], held, round_.number, log)
        timing["select_seconds"] = round(time.perf_counter() - began, 1)
    return {"adapter": name, "dev": dev, "timing": timing}


def _training_time(kind: str, metrics: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Where a training's ``seconds`` went: its steps, its eval-loss passes, the GGUF merge, and the rest (loading
    the model, tokenizing, saving)."""
    train, eval_loss, gguf = (float(metrics.get(key) or 0) for key in ("train_seconds", "eval_loss_seconds",
                                                                       "gguf_seconds"))
    return {f"{kind}_steps": metrics.get("global_step"), f"{kind}_step_seconds": round(train - eval_loss, 1),
            f"{kind}_eval_loss_seconds": round(eval_loss, 1), f"{kind}_gguf_seconds": round(gguf, 1),
            f"{kind}_setup_seconds": round(max(0.0, seconds - train - gguf), 1)}


def _evaluate_round(args: DistillArgs, sets: list[EvalSet], round_: Round) -> dict[str, Any]:
    """The evaluate step: the adapter the round kept, on the held-out sets."""
    name = round_.records["train"]["adapter"]
    try:
        return {"student": _evaluate(f"adapter:{name}", args, sets, round_.number,
                                     price=parse_price(args.student_price, "--student-price"))}
    except ApprenticeError as exc:  # the adapter is trained and registered: the report keeps what the round has
        raise ApprenticeError(f"{name} is trained and registered, but its evaluation failed: {exc}") from exc


def _report_row(args: DistillArgs, round_: Round) -> RoundReport:
    """The report step's row, from the records of the round's other steps."""
    collected, harvested, trained, evaluated = (round_.records[name] for name in RECORDED)
    return RoundReport(round=round_.number, adapter=trained["adapter"],
                       teacher=_teacher_row(args, round_.teacher, collected["tally"], collected["seconds"]),
                       harvested=harvested["train"] + harvested["eval"], pairs=harvested["pairs"], dev=trained["dev"],
                       student=_rows(evaluated["student"]), seconds=sum(round_.records[name]["seconds"]
                                                                         for name in RECORDED),
                       time={**{name: round(round_.records[name]["seconds"], 1) for name in RECORDED},
                             **trained.get("timing", {})})


def _teacher_row(args: DistillArgs, teacher: Teacher, tally: dict[str, Any], seconds: float) -> TeacherRow:
    """The row's teacher columns: accuracy on the pool's items with a gold answer, and the pass's cost."""
    price, checked, solved = teacher_price(teacher, args), tally["checked"], tally["solved"]
    return TeacherRow(
        label=teacher.label, accuracy=solved / checked if checked else None,
        rationalized=tally["rationalized"] / checked if checked else 0.0, items=tally["items"], checked=checked,
        runs=tally["runs"], resumed=tally["resumed"], errors=tally["errors"], calls=tally["calls"], seconds=seconds,
        tokens_in=tally["tokens_in"], tokens_out=tally["tokens_out"],
        cost_usd=cost_usd(tally["tokens_in"], tally["tokens_out"], price),
        paid_usd=cost_usd(tally["tokens_in"] - tally["resumed_tokens_in"],
                          tally["tokens_out"] - tally["resumed_tokens_out"], price),
        tokens_per_solved=tally["tokens"] / max(1, solved), seconds_per_solved=seconds / max(1, solved))


def _dev_items(pools: list[tuple[Any, list[Any]]], keys: list[tuple[str, str]]) -> list[tuple[Any, Any]]:
    """The round's held-out pool questions as (task, item), in the harvest's order. Two arith levels can
    generate the same one-step question (same id, same answer): it counts once."""
    by_key = {(task.name, item.id): (task, item) for task, items in pools for item in items}
    return [by_key[key] for key in keys if key in by_key]


def _select(args: DistillArgs, names: list[str], dev: list[tuple[Any, Any]], round_no: int,
            log: Any) -> tuple[str, dict[str, Any] | None]:
    """Which of a round's adapters (SFT, then SFT + DPO) it keeps: the last one, or with ``--select dev``
    the better on the held-out pool questions, ties keeping the last. Returns (name, dev accuracies)."""
    if args.select != "dev":
        return names[-1], None
    if not dev:
        log(f"round {round_no}: --select dev: no held-out pool question to choose on; keeping {names[-1]}")
        return names[-1], None
    # the runs are traced, tagged apart from the round's teacher runs (a harvest by distill/round skips them)
    meta = {"select_dev": args.name, "round": round_no}
    scores = {name: _accuracy(f"adapter:{name}", args, dev, meta) for name in names}
    kept = max(reversed(names), key=scores.__getitem__)
    log(f"round {round_no}: on {len(dev)} held-out pool questions "
        + ", ".join(f"{name} {score:.1%}" for name, score in scores.items()) + f"; keeping {kept}")
    return kept, {"n": len(dev), "accuracy": scores, "kept": kept}


def _accuracy(spec: str, args: DistillArgs, items: list[tuple[Any, Any]], meta: dict[str, Any]) -> float:
    """The student's accuracy on ``items``, each run as the eval harness runs one (the evaluation's
    strategy, tools and limits; a failed run is a miss), traced with ``meta``."""
    from apprentice.eval.harness import EvalConfig, _load, _run_item
    from apprentice.traces import open_store

    if not items:
        raise ApprenticeError("no held-out questions to score the student on")
    config = EvalConfig(task="", strategies=[args.strategy], models=[spec], tools=["calculator"])
    chat, store = _load(spec, 256), open_store()
    tags = "|".join(f"{k}={v}" for k, v in meta.items())
    hits = sum(bool(_run_item(config, task, item, args.strategy, spec, chat, store,
                              f"{tags}|{task.name}|{item.id}", meta).correct) for task, item in items)
    return hits / len(items)


def _save(folder: Path, report: DistillReport) -> None:
    """report.json as it stands (after each step: what a resumed run reads)."""
    write_json(folder / "report.json", report.to_dict())


def _write_partial(folder: Path, report: DistillReport) -> None:
    """report.json of a run that stopped on an error, whatever it holds (write_report needs a finished round)."""
    _save(folder, report)
    if report.rounds or report.baseline is not None:
        write_report(folder, report)


def write_report(folder: Path, report: DistillReport) -> None:
    """report.json, report.md (a table per round beside the floor) and report.png."""
    from apprentice.training.distill_report import plot_rounds, render_markdown

    data = report.to_dict()
    write_json(folder / "report.json", data)
    (folder / "report.md").write_text(render_markdown(data), encoding="utf-8")
    plot_rounds(data, folder / "report.png")
    if not report.rounds and report.baseline is None:
        raise ApprenticeError("empty distillation report")

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
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from apprentice.config import data_path
from apprentice.errors import ApprenticeError
from apprentice.models import parse_spec
from apprentice.tasks.arith import DISTRACTOR_KINDS, DISTRACTOR_KINDS_HELP
from apprentice.tasks.jsonl import KINDS
from apprentice.training.harvest import HarvestConfig, NothingToHarvest, harvest
from apprentice.training.pools import (
    FILE_FIELDS,
    POOL_LEVELS,
    EvalSet,
    builtin_data,
    eval_sets,
    parse_eval_sets,
    parse_pool,
    pool_sizes,
    round_slice,
)
from apprentice.training.pools import load_pool as _pool
from apprentice.training.teachers import (
    PASS_COUNTS,
    Teacher,
    cost_usd,
    load_teacher_model,
    parse_price,
    parse_rationalize,
    parse_teacher,
    solve_pool,
)

__all__ = ["POOL_LEVELS", "DistillArgs", "EvalSet", "parse_eval_sets", "pool_sizes", "round_slice", "run_distill",
           "trivial_rule_accuracy"]

#: The held-out sets of a pool with a built-in task in it, unless --eval-sets names others.
DEFAULT_EVAL_SETS = ("arith:1", "arith:2", "arith:3")

_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


@dataclass
class DistillArgs:
    """Options of ``apprentice distill``."""

    task: str = field(metadata={"help": "training pool task(s), comma-separated, each TASK[:N] (N items a round, "
                                        "else --pool): arith, svamp, gsm8k, or a question file of your own: jsonl "
                                        "(the file --data names), jsonl:PATH or PATH, read with --question-field, "
                                        "--answer-field, --id-field, --answer-kind; its rows may leave the answer "
                                        "out (see --verdict-source). E.g. svamp:200,jsonl:100 --data mine.jsonl"})
    teacher: list[str] = field(default_factory=lambda: ["dataset"], metadata={
        "help": "the teacher of each round, the last one repeating: dataset[,steps|equation] | self[,STRATEGY] | "
                "SPEC[,STRATEGY] (e.g. 'dataset self': bootstrap from worked solutions, then STaR; "
                "'dataset,equation': each worked solution as one justified expression in one calculator call)"})
    student: str = field(default="local", metadata={"help": "the student's starting model spec"})
    name: str = field(default="student", metadata={"help": "adapter name prefix (NAME-r1, NAME-r2, ...)"})
    rounds: int = field(default=2, metadata={"help": "at most this many rounds"})
    start_round: int = field(default=1, metadata={
        "help": "continue a run at this round: --student is the last round's adapter, the pools go on where "
                "they stopped, and the earlier rounds stay in the report folder's table"})
    pool: int = field(default=200, metadata={"help": "training items per task per round"})
    levels: list[int] = field(default_factory=list, metadata={"help": "arith levels in the pool (default: 1 2 3)"})
    gsm8k_levels: list[int] = field(default_factory=list, metadata={
        "help": "gsm8k in the pool: only problems whose worked solution has this many calculator steps, the "
                "pool split evenly over them as arith's over --levels (none given: every problem)"})
    arith_distractors: float = field(default=0.0, metadata={
        "help": "the share (0-1) of the arith pool's problems given one sentence with a number the solution does "
                "not use, as SVAMP's and GSM-IC's irrelevant numbers (held-out sets stay plain)"})
    arith_distractor_kind: str = field(default="other", metadata={
        "choices": list(DISTRACTOR_KINDS),
        "help": f"with --arith-distractors: {DISTRACTOR_KINDS_HELP}"})
    eval_sets: list[str] = field(default_factory=list, metadata={
        "help": "held-out sets evaluated each round: TASK[:LEVEL] (its test split), or a question file of your own "
                "(jsonl, jsonl:PATH or PATH): the whole file (every row needs its answer), or, when the pool "
                "draws on the same file, a fifth of its rows that have one (the pool then takes the rest, and "
                "every row without an answer). Default: the pool's files when "
                "the pool is only files of your own, else arith:1 arith:2 arith:3"})
    eval_limit: int = field(default=0, metadata={"help": "items per held-out set (0: the whole split)"})
    baseline_limit: int = field(default=-1, metadata={
        "help": "items per set for round 0, the starting student (-1: as --eval-limit, 0: skip round 0)"})
    arith_size: int = field(default=200, metadata={"help": "size of each generated arith held-out split"})
    react_prompt: str = field(default="full", metadata={
        "help": "full | student: the student learns (and runs with) the short ReAct prompt (prompt erasure)"})
    strategy: str = field(default="react", metadata={"help": "the student's strategy at evaluation"})
    attempts: int = field(default=4, metadata={
        "help": "sampled attempts per item: a self teacher's, or a model teacher's with --verdict-source vote"})
    rationalize: str = field(default="hint", metadata={
        "help": "self teacher: how an item no attempt solved is rationalized: hint (the gold answer as a hint, "
                "erased at harvest; STaR) | dataset[,steps|equation] (the item's worked solution replayed in the "
                "student's format; the hint where it has none) | none"})
    epochs: float = field(default=1.0, metadata={"help": "SFT epochs per round"})
    max_steps: int = field(default=-1, metadata={"help": "SFT step cap per round (-1: epochs decide)"})
    learning_rate: float = field(default=2e-4, metadata={"help": "SFT learning rate"})
    batch_size: int = field(default=4, metadata={"help": "SFT batch size"})
    qlora: bool = field(default=False, metadata={"help": "train on a 4-bit NF4 base"})
    from_last: bool = field(default=True, metadata={"help": "continue from the last round's adapter"})
    followups: float = field(default=0.0, metadata={
        "help": "with --react-prompt student: the share (0-1) of each round's training examples written as a "
                "chat follow-up, other questions and answers as the thread's earlier turns"})
    dpo_steps: int = field(default=0, metadata={
        "help": "after SFT, this many DPO steps on the round's verified-vs-failed pairs of the same question "
                "(a self teacher's attempts make them; 0: no DPO)"})
    dpo_learning_rate: float = field(default=5e-5, metadata={"help": "DPO learning rate"})
    dpo_sft_weight: float = field(default=1.0, metadata={
        "help": "DPO: weight of an NLL loss on the chosen side (RPO), so DPO keeps the runtime format "
                "(plain DPO dropped the Final Answer line in a measured round; 0: plain DPO)"})
    select: str = field(default="last", metadata={
        "choices": ["last", "dev"],
        "help": "with DPO, which adapter a round keeps: last = the DPO adapter; dev = the better of SFT and "
                "SFT + DPO on the round's held-out pool questions (the harvest's eval split, answers known: in "
                "neither the round's SFT train split nor its DPO pairs, though SFT picks its best checkpoint by "
                "eval loss on them; ties keep DPO). Measured on rounds 3-5 of the loop (benchmarks/results/"
                "distill_calc/loop_verify/sft_vs_dpo, ~90 questions a round), dev chose SFT twice: once worse "
                "on all three held-out sets, once level with DPO"})
    verdict_source: str = field(default="gold", metadata={
        "choices": ["gold", "vote", "rules"],
        "help": "which verdicts pick the teacher's runs to learn from: gold (the task's checker against the gold "
                "answer); vote (the share of the teacher's --attempts that give the run's answer, with "
                "--min-score: rows without an answer teach this way); rules (the rules verifier: the calculator "
                "reaches the answer, the arithmetic checks out, the answer is plausible)"})
    min_score: float | None = field(default=None, metadata={
        "help": "the lowest verdict score a run needs (0-1; with --verdict-source vote, its answer's share)"})
    teacher_concurrency: int = field(default=4, metadata={
        "help": "a model teacher: items it answers at once (a remote teacher's requests in flight)"})
    teacher_retries: int = field(default=6, metadata={
        "help": "a remote teacher (openai:MODEL[@URL]): retries of a request answered 429 or 5xx, with the OpenAI "
                "client's exponential backoff (it honours Retry-After)"})
    teacher_price: str | None = field(default=None, metadata={
        "help": "a remote teacher's price IN,OUT in USD per million tokens, e.g. 0.15,0.60 (default: the known "
                "price of an OpenAI model name; none for a server of your own)"})
    student_price: str | None = field(default=None, metadata={
        "help": "the student's price IN,OUT in USD per million tokens, if serving it costs you by the token "
                "(default: none; it runs on this machine, and the report gives its seconds)"})
    teacher_eval: bool = field(default=True, metadata={
        "help": "evaluate a model teacher on the held-out sets too (once, resumable), so the report sets it beside "
                "the student: accuracy kept, cost per solved item, the questions where they disagree"})
    question_field: str = field(default=FILE_FIELDS["question_field"][1], metadata={
        "help": "a question file of your own: the field with the question"})
    answer_field: str = field(default=FILE_FIELDS["answer_field"][1], metadata={
        "help": "a question file of your own: the field with the gold answer, a value or a list of one"})
    id_field: str = field(default=FILE_FIELDS["id_field"][1], metadata={
        "help": "a question file of your own: the field with the item id (else a hash of the question)"})
    answer_kind: str = field(default=FILE_FIELDS["answer_kind"][1], metadata={
        "choices": list(KINDS), "help": "a question file of your own: how its answers are checked"})
    report: Path | None = field(default=None, metadata={"help": "report folder (default: home/reports/distill-NAME)"})
    data: str | None = field(default=None, metadata={
        "help": "the question file that 'jsonl' names in --task and --eval-sets (the built-in tasks then read "
                "their shipped data); with no 'jsonl', the data root or file of the built-in file-backed tasks"})
    seed: int = field(default=0, metadata={"help": "seed for pools and splits"})

    def __post_init__(self) -> None:
        entries = parse_pool(self.task, self.pool)
        # arith's levels default only where arith is pooled: given without it, _pool says --levels does nothing
        if not self.levels and "arith" in {entry.task for entry in entries}:
            self.levels = [1, 2, 3]
        if not self.eval_sets:  # a pool of one's own files is held out from itself; else the arith levels
            files = [entry.path or "jsonl" for entry in entries if entry.task == "jsonl"]
            self.eval_sets = files if entries and len(files) == len(entries) else list(DEFAULT_EVAL_SETS)


def trivial_rule_accuracy(task: Any, items: list[Any]) -> float:
    """The floor: answer with the sum of every number in the question."""
    if not items:
        return 0.0
    hits = 0
    for item in items:
        total = sum(float(n.replace(",", "")) for n in _NUMBER.findall(item.question))
        hits += int(task.check(item, f"{total:g}").correct)
    return hits / len(items)


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
            report_dir=_report_dir(args) / f"{folder or f'round{round_no}'}-{eval_set.slug}",
            command=f"distill round {round_no}"), progress=False, models={spec: chat} if chat is not None else None)
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


def _report_dir(args: DistillArgs) -> Path:
    return args.report or data_path("reports") / f"distill-{args.name}"


def _teachers(args: DistillArgs) -> list[Teacher]:
    return [parse_teacher(t) for t in ([args.teacher] if isinstance(args.teacher, str) else args.teacher)
            or ["dataset"]]


def teacher_price(teacher: Teacher, args: DistillArgs) -> tuple[float, float] | None:
    """A model teacher's price: ``--teacher-price``, else the known price of its OpenAI model name."""
    from apprentice.eval.report import price_of

    if teacher.kind != "model":
        return None
    return parse_price(args.teacher_price, "--teacher-price") or price_of(teacher.spec or "")


def _check(args: DistillArgs, teachers: list[Teacher], sets: list[EvalSet], log: Any) -> dict[str, Any]:
    """Every option, the pool's rows and the held-out sets' rows, and a remote teacher's server, before the first
    model call; returns the remote teachers' chat models by spec (probed, with their retries)."""
    from apprentice.agents.react import REACT_PROMPTS

    if args.react_prompt not in REACT_PROMPTS:
        raise ApprenticeError(f"--react-prompt must be one of {', '.join(REACT_PROMPTS)}, got {args.react_prompt!r}")
    parse_rationalize(args.rationalize)  # a bad value fails before any round
    if args.select not in ("last", "dev"):
        raise ApprenticeError(f"--select must be last or dev, got {args.select!r}")
    if args.select == "dev" and not args.dpo_steps:
        log("--select dev has nothing to choose between without --dpo-steps: each round keeps its SFT adapter")
    if args.start_round < 1:
        raise ApprenticeError(f"--start-round must be 1 or more, got {args.start_round}")
    _check_teacher_options(args, teachers)
    HarvestConfig(out=Path("."), react_prompt=args.react_prompt, followups=args.followups)  # fails before any round
    pools = _pool(args, args.start_round)  # a bad task, pool size, level, data path or row fails before round 0
    unchecked = sum(item.answer is None for _, items in pools for item in items)
    if unchecked and args.verdict_source == "gold":
        log(f"{unchecked} pool items have no gold answer: with --verdict-source gold they teach nothing "
            "(vote or rules can select their runs)")
    for eval_set in sets:  # and so does an eval set that cannot be read, not after the first round's training
        try:
            items = eval_set.load(args.eval_limit, builtin_data(args), args.seed, args.arith_size)[1]
        except ApprenticeError as exc:
            raise ApprenticeError(f"--eval-sets {eval_set.label}: {exc}") from exc
        if not items:
            hint = " (a fifth of a file the pool draws on too: give more rows, or another held-out set)" \
                if eval_set.path and eval_set.split else ""
            raise ApprenticeError(f"--eval-sets {eval_set.label}: no held-out items to evaluate on{hint}")
    return {t.spec: load_teacher_model(t, retries=args.teacher_retries) for t in teachers
            if t.kind == "model" and parse_spec(t.spec or "").kind == "openai"}


def _check_teacher_options(args: DistillArgs, teachers: list[Teacher]) -> None:
    if args.teacher_concurrency < 1:
        raise ApprenticeError(f"--teacher-concurrency must be 1 or more, got {args.teacher_concurrency}")
    if args.teacher_retries < 0:
        raise ApprenticeError(f"--teacher-retries must be 0 or more, got {args.teacher_retries}")
    parse_price(args.teacher_price, "--teacher-price")
    parse_price(args.student_price, "--student-price")
    if args.min_score is not None and not 0.0 <= args.min_score <= 1.0:
        raise ApprenticeError(f"--min-score is a share between 0 and 1, got {args.min_score}")
    if args.verdict_source == "vote":
        if args.min_score is None:
            raise ApprenticeError("--verdict-source vote keeps the runs whose answer has at least --min-score of "
                                  "the teacher's attempts: give it (e.g. 0.6)")
        if args.attempts < 2:
            raise ApprenticeError("--verdict-source vote needs --attempts 2 or more to vote over")
        if any(t.kind == "dataset" for t in teachers):
            raise ApprenticeError("--verdict-source vote: the dataset teacher replays worked solutions, with "
                                  "nothing to vote on; it needs --verdict-source gold or rules")


def run_distill(args: DistillArgs, *, log: Any = print) -> dict[str, Any]:
    """Run the rounds; returns the report dict (also written to the report folder)."""
    teachers = _teachers(args)
    sets = eval_sets(args)
    report: dict[str, Any] = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(args).items()},
                              "rounds": []}
    chats = _check(args, teachers, sets, log)
    if args.start_round > 1:
        _continue(report, args)
    if args.baseline_limit != 0 and "baseline" not in report:
        log(f"round 0: evaluating the starting student {args.student}")
        report["baseline"] = _evaluate(args.student, args, sets, 0,
                                       limit=args.eval_limit if args.baseline_limit < 0 else args.baseline_limit)
    if args.teacher_eval:
        _evaluate_teachers(args, teachers, sets, chats, report, log)
    best = max(([_mean(report["baseline"])] if "baseline" in report else [-1.0])
               + [_mean(row["student"]) for row in report["rounds"]])
    student = args.student
    for round_no in range(args.start_round, args.start_round + args.rounds):
        row = _round(args, round_no, teachers, student, sets, chats, report, log)
        if row is None:
            break
        report["rounds"].append(row)
        write_report(_report_dir(args), report)
        score = _mean(row["student"])
        log(f"round {round_no}: student mean accuracy {score:.1%}"
            + (f" (best so far {best:.1%})" if best >= 0 else ""))
        if score <= best:
            report["stopped"] = f"round {round_no} did not improve on {best:.1%}"
            break
        best, student = score, f"adapter:{row['adapter']}"
    report["best_student"] = student
    write_report(_report_dir(args), report)
    return report


def _evaluate_teachers(args: DistillArgs, teachers: list[Teacher], sets: list[EvalSet], chats: dict[str, Any],
                       report: dict[str, Any], log: Any) -> None:
    """Each model teacher on the held-out sets, once (the eval harness resumes what an earlier run asked)."""
    done = report.setdefault("teacher_eval", {})
    for teacher in {t.spec: t for t in teachers if t.kind == "model"}.values():
        if teacher.spec in done:
            continue
        log(f"teacher {teacher.label}: evaluating it on the held-out sets, to set the students beside it")
        price = teacher_price(teacher, args)
        done[teacher.spec] = {"strategy": teacher.strategy, "price": price, "sets": _evaluate(
            teacher.spec or "", args, sets, 0, chat=chats.get(teacher.spec), strategy=teacher.strategy,
            price=price, folder="teacher-" + re.sub(r"[^\w.-]+", "-", teacher.spec or ""), questions=True)}


def _teacher_pass(args: DistillArgs, round_no: int, teacher: Teacher, student: str, chats: dict[str, Any],
                  log: Any) -> tuple[list[tuple[Any, list[Any]]], dict[str, Any]]:
    """The round's pools and the teacher's pass over them: the pass's counts added up, with its run ids."""
    meta = {"distill": args.name, "round": round_no}
    if teacher.kind == "model" and teacher.spec not in chats:  # a local model teacher: loaded once for the run
        chats[teacher.spec] = load_teacher_model(teacher, retries=args.teacher_retries)
    tally: dict[str, Any] = {**dict.fromkeys(PASS_COUNTS, 0), "run_ids": []}
    pools = _pool(args, round_no)
    for task, items in pools:
        log(f"round {round_no}: teacher {teacher.label} solves {len(items)} {task.name} items")
        level = getattr(task, "level", None)  # an arith or gsm8k pool's level: its cost can be read by level
        counts = solve_pool(teacher, task, items, student=student,
                            meta=meta if level is None else {**meta, "level": level}, attempts=args.attempts,
                            rationalize=args.rationalize, chat=chats.get(teacher.spec),
                            concurrency=args.teacher_concurrency, verdicts=args.verdict_source)
        for key in PASS_COUNTS:  # a pass that counts no checked items is from before answers were optional
            tally[key] += counts.get(key, counts.get("items", 0) if key == "checked" else 0)
        tally["run_ids"] += counts.get("run_ids", [])
    if tally["resumed"]:
        log(f"round {round_no}: {tally['resumed']} teacher runs resumed from an earlier pass (not paid again)")
    return pools, tally


def _teacher_row(args: DistillArgs, teacher: Teacher, tally: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The report row's teacher columns: accuracy on the pool's items with a gold answer, and the pass's cost."""
    price, checked, solved = teacher_price(teacher, args), tally["checked"], tally["solved"]
    return {"teacher": teacher.label,
            "teacher_accuracy": solved / checked if checked else None,
            "teacher_rationalized": tally["rationalized"] / checked if checked else 0.0,
            "teacher_items": tally["items"], "teacher_checked": checked,
            "teacher_runs": tally["runs"], "teacher_resumed": tally["resumed"], "teacher_errors": tally["errors"],
            "teacher_calls": tally["calls"], "teacher_seconds": seconds,
            "teacher_tokens_in": tally["tokens_in"], "teacher_tokens_out": tally["tokens_out"],
            "teacher_cost_usd": cost_usd(tally["tokens_in"], tally["tokens_out"], price),
            "teacher_paid_usd": cost_usd(tally["tokens_in"] - tally["resumed_tokens_in"],
                                         tally["tokens_out"] - tally["resumed_tokens_out"], price),
            "teacher_tokens_per_solved": tally["tokens"] / max(1, solved),
            "teacher_seconds_per_solved": seconds / max(1, solved)}


def _round(args: DistillArgs, round_no: int, teachers: list[Teacher], student: str, sets: list[EvalSet],
           chats: dict[str, Any], report: dict[str, Any], log: Any) -> dict[str, Any] | None:
    """One round: the teacher's pass, harvest, SFT (and DPO), evaluation. None: it stopped (report says why)."""
    from apprentice.training.dpo import DPOArgs
    from apprentice.training.dpo import main as dpo_main
    from apprentice.training.sft import SFTArgs
    from apprentice.training.sft import main as sft_main

    started = time.time()
    teacher = teachers[min(round_no, len(teachers)) - 1].for_student(student)
    pools, tally = _teacher_pass(args, round_no, teacher, student, chats, log)
    teacher_secs = time.time() - started
    dataset = data_path("datasets") / f"{args.name}-r{round_no}"
    try:
        harvested = harvest(HarvestConfig(
            out=dataset, run_ids=tally["run_ids"], seed=args.seed, tools=["calculator"], max_per_question=2,
            react_prompt=args.react_prompt, followups=args.followups, min_score=args.min_score,
            verdict_source=None if args.verdict_source == "gold" else args.verdict_source))
    except NothingToHarvest as err:
        report["stopped"] = f"round {round_no}: the teacher ({teacher.label}) solved nothing to learn from: {err}"
        log(report["stopped"])
        return None
    log(f"round {round_no}: harvested {harvested.train} train / {harvested.eval} eval examples")
    name, dev = f"{args.name}-r{round_no}", None
    sft_main(SFTArgs(data=dataset, name=name, base=student if args.from_last else args.student, qlora=args.qlora,
                     epochs=args.epochs, max_steps=args.max_steps, learning_rate=args.learning_rate,
                     batch_size=args.batch_size, seed=args.seed, eval_steps=50))
    if args.dpo_steps and harvested.pairs:
        log(f"round {round_no}: DPO on {harvested.pairs} verified-vs-failed pairs")
        dpo_main(DPOArgs(data=dataset, name=f"{name}-dpo", base=f"adapter:{name}", qlora=args.qlora,
                         max_steps=args.dpo_steps, learning_rate=args.dpo_learning_rate, seed=args.seed,
                         sft_weight=args.dpo_sft_weight))
        name, dev = _select(args, [name, f"{name}-dpo"], _dev_items(pools, harvested.eval_items), round_no, log)
    try:
        results = _evaluate(f"adapter:{name}", args, sets, round_no,
                            price=parse_price(args.student_price, "--student-price"))
    except ApprenticeError as exc:  # the adapter is trained and registered: keep what the round has
        report["stopped"] = f"round {round_no}: {name} is trained and registered, but its evaluation failed: {exc}"
        _write_partial(_report_dir(args), report)
        raise ApprenticeError(f"{report['stopped']} (report so far in {_report_dir(args)})") from exc
    return {"round": round_no, "adapter": name, **_teacher_row(args, teacher, tally, teacher_secs),
            "harvested": harvested.train + harvested.eval, "pairs": harvested.pairs, "dev": dev,
            "student": results, "seconds": time.time() - started}


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


def _continue(report: dict[str, Any], args: DistillArgs) -> None:
    """Carry the earlier rounds (and round 0) of the report folder into a continued run's report."""
    path = _report_dir(args) / "report.json"
    if not path.is_file():
        return
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
        rows = [row for row in earlier.get("rounds", []) if row["round"] < args.start_round]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ApprenticeError(f"cannot continue from {path}: {exc}") from exc
    report["rounds"] = rows
    report["earlier_args"] = [*earlier.get("earlier_args", []), earlier.get("args", {})]
    for key in ("baseline", "teacher_eval"):
        if key in earlier:
            report[key] = earlier[key]


def _mean(results: dict[str, dict[str, Any]]) -> float:
    return sum(r["accuracy"] for r in results.values()) / max(1, len(results))


def _write_partial(folder: Path, report: dict[str, Any]) -> None:
    """report.json of a run that stopped on an error, whatever it holds (write_report needs a finished round)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    if report.get("rounds") or "baseline" in report:
        write_report(folder, report)


def write_report(folder: Path, report: dict[str, Any]) -> None:
    """report.json, report.md (a table per round beside the floor) and report.png."""
    from apprentice.training.distill_report import plot_rounds, render_markdown

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    (folder / "report.md").write_text(render_markdown(report), encoding="utf-8")
    plot_rounds(report, folder / "report.png")
    if not report.get("rounds") and "baseline" not in report:
        raise ApprenticeError("empty distillation report")

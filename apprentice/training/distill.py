"""Self-improvement runs: teacher solves -> verify -> harvest -> fine-tune -> evaluate, per round.

Each round solves a training pool with the teacher setup (traces in the store, verified by the
task's checker), harvests what passed, fine-tunes the student (from the base, or from the last
adapter; with DPO on top and ``--select dev``, the round keeps whichever of the two adapters does
better on its held-out pool questions), and evaluates it on held-out sets with the same harness as
``apprentice eval``. The run stops when a round no longer improves. The report (``report.json``, ``report.md``,
``report.png``) puts every round beside the trivial-rule floor ("add every number").
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
from apprentice.tasks import get_task
from apprentice.tasks.arith import DISTRACTOR_KINDS, DISTRACTOR_KINDS_HELP
from apprentice.training.harvest import HarvestConfig, NothingToHarvest, harvest
from apprentice.training.teachers import parse_rationalize, parse_teacher, solve_pool

__all__ = ["DistillArgs", "EvalSet", "parse_eval_sets", "run_distill", "trivial_rule_accuracy"]

_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


@dataclass
class DistillArgs:
    """Options of ``apprentice distill``."""

    task: str = field(metadata={"help": "training pool task(s), comma-separated, each TASK[:N] (N items a round, "
                                        "else --pool): arith, svamp, gsm8k"})
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
    eval_sets: list[str] = field(default_factory=lambda: ["arith:1", "arith:2", "arith:3"],
                                 metadata={"help": "held-out sets TASK[:LEVEL] evaluated each round"})
    eval_limit: int = field(default=0, metadata={"help": "items per held-out set (0: the whole split)"})
    baseline_limit: int = field(default=-1, metadata={
        "help": "items per set for round 0, the starting student (-1: as --eval-limit, 0: skip round 0)"})
    arith_size: int = field(default=200, metadata={"help": "size of each generated arith held-out split"})
    react_prompt: str = field(default="full", metadata={
        "help": "full | student: the student learns (and runs with) the short ReAct prompt (prompt erasure)"})
    strategy: str = field(default="react", metadata={"help": "the student's strategy at evaluation"})
    attempts: int = field(default=4, metadata={"help": "self teacher: sampled attempts per item"})
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
    report: Path | None = field(default=None, metadata={"help": "report folder (default: home/reports/distill-NAME)"})
    data: str | None = field(default=None, metadata={"help": "data root or file for file-backed tasks"})
    seed: int = field(default=0, metadata={"help": "seed for pools and splits"})

    def __post_init__(self) -> None:
        # arith's levels default only where arith is pooled: given without it, _pool says --levels does nothing
        if not self.levels and "arith" in {name for name, _ in pool_sizes(self.task, self.pool)}:
            self.levels = [1, 2, 3]


@dataclass(frozen=True)
class EvalSet:
    """A held-out set: a task (with an arith level, or a gsm8k number of steps) on its test split."""

    task: str
    level: int | None = None

    @property
    def label(self) -> str:
        """``arith:1`` / ``svamp``."""
        return f"{self.task}:{self.level}" if self.level is not None else self.task

    def options(self, arith_size: int) -> dict[str, Any]:
        """Task options: a generated arith split has ``arith_size`` items; gsm8k's level is its number of steps."""
        if self.task == "arith":
            return {"level": self.level, "n": arith_size}
        return {"level": self.level} if self.level is not None else {}

    def data(self, data: str | None) -> str | None:
        """The data path this set reads: the distill's ``--data``, except for arith, which generates its items."""
        return data if self.task != "arith" else None

    def load(self, limit: int, data: str | None, seed: int, arith_size: int = 200) -> tuple[Any, list[Any]]:
        """The task and its held-out items (full split when ``limit`` is 0)."""
        task = get_task(self.task, **self.options(arith_size))
        items = task.load(self.data(data), split="test", seed=seed)
        return task, items[:limit] if limit else items


def parse_eval_sets(values: list[str]) -> list[EvalSet]:
    """``arith:2`` -> EvalSet("arith", 2); ``svamp`` -> EvalSet("svamp")."""
    sets = []
    for value in values:
        name, _, level = value.partition(":")
        sets.append(EvalSet(name, int(level) if level else None))
    return sets


def trivial_rule_accuracy(task: Any, items: list[Any]) -> float:
    """The floor: answer with the sum of every number in the question."""
    if not items:
        return 0.0
    hits = 0
    for item in items:
        total = sum(float(n.replace(",", "")) for n in _NUMBER.findall(item.question))
        hits += int(task.check(item, f"{total:g}").correct)
    return hits / len(items)


def pool_sizes(spec: str, default: int) -> list[tuple[str, int]]:
    """``arith:600,svamp`` -> [("arith", 600), ("svamp", default)]."""
    out = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, size = part.partition(":")
        if size and (not size.isdigit() or int(size) == 0):
            raise ApprenticeError(f"--task {part!r}: the pool size after ':' must be a whole number of 1 or more")
        out.append((name.strip(), int(size) if size else default))
    return out


def round_slice(items: list[Any], round_no: int, size: int) -> list[Any]:
    """Round ``round_no``'s ``size`` items: the next slice of ``items``, starting over at the top when
    the split runs out (STaR goes over its training set again each iteration)."""
    start = (round_no - 1) * size
    return [items[(start + i) % len(items)] for i in range(min(size, len(items)))]


#: the tasks whose pool is split over levels: the DistillArgs field that lists them, and how a report names them
POOL_LEVELS = {"arith": ("levels", "arith levels"), "gsm8k": ("gsm8k_levels", "gsm8k steps")}


def _pool(args: DistillArgs, round_no: int) -> list[tuple[Any, list[Any]]]:
    """This round's slice of each task's training split (arith: split evenly over ``levels``; gsm8k: over
    ``gsm8k_levels``, its numbers of steps, when given)."""
    sizes = pool_sizes(args.task, args.pool)
    pooled = {name for name, _ in sizes}
    for flag, value, needs in (("--levels", args.levels, "arith"), ("--gsm8k-levels", args.gsm8k_levels, "gsm8k"),
                               ("--arith-distractors", args.arith_distractors, "arith"),
                               ("--arith-distractor-kind", args.arith_distractor_kind != "other", "arith")):
        if value and needs not in pooled:
            raise ApprenticeError(f"{flag} acts on the {needs} pool, and --task {args.task!r} has none")
    pools = []
    for name, size in sizes:
        levels = (getattr(args, POOL_LEVELS[name][0]) if name in POOL_LEVELS else None) or [None]
        per = max(1, size // len(levels))
        for level in levels:
            if name == "arith":
                # n covers the held-out split too: no train question has the text of a test question
                n = max(per * (args.start_round + args.rounds - 1), args.arith_size)
                task = get_task("arith", level=level, n=n, seed=args.seed, distractors=args.arith_distractors,
                                distractor_kind=args.arith_distractor_kind)
                items = task.load(split="train", seed=args.seed)
            else:
                task = get_task(name, level=level)  # None is dropped: a task without levels
                items = task.load(args.data, split="train", seed=args.seed)
            pools.append((task, round_slice(items, round_no, per)))
    return pools


def _evaluate(spec: str, args: DistillArgs, sets: list[EvalSet], round_no: int,
              limit: int | None = None) -> dict[str, dict[str, Any]]:
    from apprentice.eval import EvalConfig, run_eval

    out = {}
    for eval_set in sets:
        task, items = eval_set.load(args.eval_limit if limit is None else limit, args.data, args.seed,
                                    args.arith_size)
        report = run_eval(EvalConfig(
            task=eval_set.task, strategies=[args.strategy], models=[spec], data=eval_set.data(args.data), split="test",
            seed=args.seed, limit=len(items), tools=["calculator"], task_options=eval_set.options(args.arith_size),
            report_dir=_report_dir(args) / f"round{round_no}-{eval_set.label.replace(':', '-')}",
            command=f"distill round {round_no}"), progress=False)
        cell = report.cells[0]
        per_solved = cell.n / cell.correct if cell.correct else None  # None: nothing solved, no cost per solve
        out[eval_set.label] = {"accuracy": cell.accuracy, "n": cell.n, "ci": [cell.ci_low, cell.ci_high],
                               "tokens_per_solved": per_solved and (cell.tokens_in + cell.tokens_out) * per_solved,
                               "seconds_per_solved": per_solved and cell.seconds * per_solved,
                               "floor": trivial_rule_accuracy(task, items)}
    return out


def _report_dir(args: DistillArgs) -> Path:
    return args.report or data_path("reports") / f"distill-{args.name}"


def run_distill(args: DistillArgs, *, log: Any = print) -> dict[str, Any]:
    """Run the rounds; returns the report dict (also written to the report folder)."""
    from apprentice.training.dpo import DPOArgs
    from apprentice.training.dpo import main as dpo_main
    from apprentice.training.sft import SFTArgs
    from apprentice.training.sft import main as sft_main

    teachers = [parse_teacher(t) for t in ([args.teacher] if isinstance(args.teacher, str) else args.teacher)
                or ["dataset"]]
    sets = parse_eval_sets(args.eval_sets)
    report: dict[str, Any] = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(args).items()},
                              "rounds": []}
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
    HarvestConfig(out=Path("."), react_prompt=args.react_prompt, followups=args.followups)  # fails before any round
    _pool(args, args.start_round)  # a bad task, pool size, level or data path fails before round 0's evaluation
    for eval_set in sets:  # and so does an eval set that cannot be read, not after the first round's training
        try:
            items = eval_set.load(args.eval_limit, args.data, args.seed, args.arith_size)[1]
        except ApprenticeError as exc:
            raise ApprenticeError(f"--eval-sets {eval_set.label}: {exc}") from exc
        if not items:
            raise ApprenticeError(f"--eval-sets {eval_set.label}: no held-out items to evaluate on")
    if args.start_round > 1:
        _continue(report, args)
    if args.baseline_limit != 0 and "baseline" not in report:
        log(f"round 0: evaluating the starting student {args.student}")
        report["baseline"] = _evaluate(args.student, args, sets, 0,
                                       limit=args.eval_limit if args.baseline_limit < 0 else args.baseline_limit)
    best = max(([_mean(report["baseline"])] if "baseline" in report else [-1.0])
               + [_mean(row["student"]) for row in report["rounds"]])
    student = base = args.student
    for round_no in range(args.start_round, args.start_round + args.rounds):
        started = time.time()
        teacher = teachers[min(round_no, len(teachers)) - 1].for_student(student)
        meta = {"distill": args.name, "round": round_no}
        solved = {"items": 0, "solved": 0, "rationalized": 0, "runs": 0, "tokens": 0}
        pools = _pool(args, round_no)
        for task, items in pools:
            log(f"round {round_no}: teacher {teacher.label} solves {len(items)} {task.name} items")
            level = getattr(task, "level", None)  # an arith or gsm8k pool's level: its cost can be read by level
            counts = solve_pool(teacher, task, items, student=student,
                                meta=meta if level is None else {**meta, "level": level}, attempts=args.attempts,
                                rationalize=args.rationalize)
            solved = {k: solved[k] + counts.get(k, 0) for k in solved}
        teacher_secs = time.time() - started
        dataset = data_path("datasets") / f"{args.name}-r{round_no}"
        try:
            harvested = harvest(HarvestConfig(out=dataset, since=started, model=None, filters={}, seed=args.seed,
                                              tools=["calculator"], max_per_question=2,
                                              react_prompt=args.react_prompt, followups=args.followups))
        except NothingToHarvest as err:
            report["stopped"] = f"round {round_no}: the teacher ({teacher.label}) solved nothing to learn from: {err}"
            log(report["stopped"])
            break
        log(f"round {round_no}: harvested {harvested.train} train / {harvested.eval} eval examples")
        name, dev = f"{args.name}-r{round_no}", None
        sft_main(SFTArgs(data=dataset, name=name, base=student if args.from_last else base, qlora=args.qlora,
                         epochs=args.epochs, max_steps=args.max_steps, learning_rate=args.learning_rate,
                         batch_size=args.batch_size, seed=args.seed, eval_steps=50))
        if args.dpo_steps and harvested.pairs:
            log(f"round {round_no}: DPO on {harvested.pairs} verified-vs-failed pairs")
            dpo_main(DPOArgs(data=dataset, name=f"{name}-dpo", base=f"adapter:{name}", qlora=args.qlora,
                             max_steps=args.dpo_steps, learning_rate=args.dpo_learning_rate, seed=args.seed,
                             sft_weight=args.dpo_sft_weight))
            name, dev = _select(args, [name, f"{name}-dpo"], _dev_items(pools, harvested.eval_items), round_no, log)
        try:
            results = _evaluate(f"adapter:{name}", args, sets, round_no)
        except ApprenticeError as exc:  # the adapter is trained and registered: keep what the round has
            report["stopped"] = f"round {round_no}: {name} is trained and registered, but its evaluation failed: {exc}"
            _write_partial(_report_dir(args), report)
            raise ApprenticeError(f"{report['stopped']} (report so far in {_report_dir(args)})") from exc
        row = {"round": round_no, "adapter": name, "teacher": teacher.label,
               "teacher_accuracy": solved["solved"] / max(1, solved["items"]),
               "teacher_rationalized": solved["rationalized"] / max(1, solved["items"]),
               "teacher_runs": solved["runs"], "teacher_seconds": teacher_secs,
               "teacher_tokens_per_solved": solved["tokens"] / max(1, solved["solved"]),
               "teacher_seconds_per_solved": teacher_secs / max(1, solved["solved"]),
               "harvested": harvested.train + harvested.eval, "pairs": harvested.pairs, "dev": dev,
               "student": results,
               "seconds": time.time() - started}
        report["rounds"].append(row)
        write_report(_report_dir(args), report)
        score = _mean(results)
        log(f"round {round_no}: student mean accuracy {score:.1%}"
            + (f" (best so far {best:.1%})" if best >= 0 else ""))
        if score <= best:
            report["stopped"] = f"round {round_no} did not improve on {best:.1%}"
            break
        best, student = score, f"adapter:{name}"
    report["best_student"] = student
    write_report(_report_dir(args), report)
    return report


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
    if "baseline" in earlier:
        report["baseline"] = earlier["baseline"]


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

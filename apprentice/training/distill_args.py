"""The options of ``apprentice distill`` (:class:`DistillArgs`, whose field metadata writes ``--help``) and the
check of every one of them, of the pool's and held-out sets' rows and of a remote teacher's server, before a run's
first model call (:func:`check_args`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apprentice.config import data_path
from apprentice.errors import ApprenticeError
from apprentice.specs import parse_spec
from apprentice.tasks.arith import DISTRACTOR_KINDS, DISTRACTOR_KINDS_HELP
from apprentice.tasks.jsonl import KINDS
from apprentice.training.harvest import HarvestConfig
from apprentice.training.pools import FILE_FIELDS, EvalSet, builtin_data, parse_pool
from apprentice.training.pools import load_pool as _pool
from apprentice.training.teachers import (
    Teacher,
    load_teacher_model,
    parse_price,
    parse_rationalize,
    parse_teacher,
)

__all__ = ["DEFAULT_EVAL_SETS", "DistillArgs", "check_args", "report_dir", "teacher_price", "teachers_of"]

#: The held-out sets of a pool with a built-in task in it, unless --eval-sets names others.
DEFAULT_EVAL_SETS = ("arith:1", "arith:2", "arith:3")


@dataclass
class DistillArgs:
    """Options of ``apprentice distill``."""

    task: str = field(metadata={"help": "training pool task(s), comma-separated, each TASK[:N] (N items a round, "
                                        "else --pool): arith (generated, its levels --levels), schema (word "
                                        "problems generated as arith's, over problem schemas, its levels "
                                        "--schema-levels), svamp, gsm8k (its numbers of steps --gsm8k-levels), "
                                        "or a question file of your own: jsonl "
                                        "(the file --data names), jsonl:PATH or PATH, read with --question-field, "
                                        "--answer-field, --id-field, --answer-kind; its rows may leave the answer "
                                        "out (see --verdict-source). E.g. svamp:200,jsonl:100 --data mine.jsonl"})
    teacher: list[str] = field(default_factory=lambda: ["dataset"], metadata={
        "help": "the teacher of each round, the last one repeating: dataset[,steps|equation|tally] | "
                "self[,STRATEGY] | SPEC[,STRATEGY] (e.g. 'dataset self': bootstrap from worked solutions, then STaR; "
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
    schema_levels: list[int] = field(default_factory=list, metadata={
        "help": "schema levels (operations per problem, 1-3) in the pool, split evenly as arith's over --levels "
                "(default: 1 2 3)"})
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
    student_workers: int = field(default=0, metadata={
        "help": "the student's runs at once (the held-out evaluation, a self teacher's pass), a llama.cpp student "
                "on a replica each (0: one per core that other processes leave idle)"})
    baseline_limit: int = field(default=-1, metadata={
        "help": "items per set for round 0, the starting student (-1: as --eval-limit, 0: skip round 0)"})
    arith_size: int = field(default=200, metadata={"help": "size of each generated arith held-out split"})
    react_prompt: str = field(default="full", metadata={
        "help": "full | student: the student learns (and runs with) the short ReAct prompt (prompt erasure) | "
                "tally: the same, and after each calculator result the harness writes the question's numbers not "
                "used yet (pair it with --teacher dataset,tally)"})
    strategy: str = field(default="react", metadata={"help": "the student's strategy at evaluation"})
    attempts: int = field(default=4, metadata={
        "help": "sampled attempts per item: a self teacher's, or a model teacher's with --verdict-source vote"})
    rationalize: str = field(default="hint", metadata={
        "help": "self teacher: how an item no attempt solved is rationalized: hint (the gold answer as a hint, "
                "erased at harvest; STaR) | dataset[,steps|equation|tally] (the item's worked solution replayed in "
                "the student's format; the hint where it has none) | none"})
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
    contrast_pairs: int = field(default=0, metadata={
        "help": "with --dpo-steps: add up to N contrast pairs per verified one-action training example, the same "
                "trajectory with one number swapped for another of the question's (or a difference's operands "
                "reversed) as the rejected side (the student's most common SVAMP miss is the right operation on "
                "the wrong quantities; 0: none)"})
    contrast_kinds: list[str] = field(default_factory=lambda: ["quantity"], metadata={
        "help": "what the contrast pairs change, N pairs of each: quantity (the above), operation (the operation "
                "it is mistaken for, + and -, * and /, and the thought's verb with it), partial (one operation of a "
                "composed expression on two of its numbers, answered as if it were all), extra (a number of the "
                "question the expression does not use, composed in)"})
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
        if not self.schema_levels and "schema" in {entry.task for entry in entries}:
            self.schema_levels = [1, 2, 3]
        if not self.eval_sets:  # a pool of one's own files is held out from itself; else the arith levels
            files = [entry.path or "jsonl" for entry in entries if entry.task == "jsonl"]
            self.eval_sets = files if entries and len(files) == len(entries) else list(DEFAULT_EVAL_SETS)



def report_dir(args: DistillArgs) -> Path:
    """The run's report folder: --report, else home/reports/distill-NAME."""
    return args.report or data_path("reports") / f"distill-{args.name}"


def teachers_of(args: DistillArgs) -> list[Teacher]:
    """The teacher of each round (--teacher), the last one repeating."""
    return [parse_teacher(t) for t in ([args.teacher] if isinstance(args.teacher, str) else args.teacher)
            or ["dataset"]]


def teacher_price(teacher: Teacher, args: DistillArgs) -> tuple[float, float] | None:
    """A model teacher's price: ``--teacher-price``, else the known price of its OpenAI model name."""
    from apprentice.eval.report import price_of

    if teacher.kind != "model":
        return None
    return parse_price(args.teacher_price, "--teacher-price") or price_of(teacher.spec or "")


def check_args(args: DistillArgs, teachers: list[Teacher], sets: list[EvalSet], log: Any) -> dict[str, Any]:
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
    # fails before any round
    HarvestConfig(out=Path("."), react_prompt=args.react_prompt, followups=args.followups, contrast=args.contrast_pairs,
                  contrast_kinds=args.contrast_kinds)
    if args.contrast_pairs and not args.dpo_steps:
        log("--contrast-pairs are DPO pairs: without --dpo-steps no round trains on them")
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
    if args.student_workers < 0:
        raise ApprenticeError(f"--student-workers must be 0 (one per idle core) or more, got {args.student_workers}")
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

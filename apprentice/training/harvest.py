"""Harvest: traces -> an explanation dataset. Collect, filter, format, split, follow-ups: separate steps.

Output folder:
  ``train.jsonl`` / ``eval.jsonl``  OpenAI-style chat lines (``messages``) with our metadata
  ``pairs.jsonl``                   DPO preference pairs (verified vs failed, same question; contrast pairs
                                    with ``contrast``: one quantity changed)
  ``hf/``                           the same as a Hugging Face ``DatasetDict`` (save_to_disk)
  ``README.md``                     dataset card: counts by source and verdict, length histogram
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from apprentice.agents.react import STUDENT_PROMPTS, earlier_turns
from apprentice.agents.verifier import answer_not_computed, calculator_calls
from apprentice.errors import ApprenticeError
from apprentice.tasks import TASK_NAMES, Item, Task, get_task
from apprentice.traces import Run, TraceStore, open_store
from apprentice.traces.records import VERDICT_SOURCES, Verdict
from apprentice.training.contrast import KINDS as CONTRAST_KINDS
from apprentice.training.contrast import contrast_pairs
from apprentice.training.examples import ChatExample, example_from_run
from apprentice.training.replay import grounded_calls

__all__ = ["HarvestConfig", "HarvestResult", "NothingToHarvest", "harvest", "dataset_react_prompt",
           "collect_runs", "preference_pairs", "write_dataset", "answer_computed", "answer_format"]

#: An Orca-style explanation system prompt (optional; with prompt erasure it is replaced at train time).
EXPLAIN_SYSTEM = ("You are a careful tutor. Think step by step, say why each step follows from the "
                  "question's wording, check each calculation with a tool, then give the final answer.")


HARVEST_META = "harvest.json"


def dataset_react_prompt(folder: Path) -> str:
    """The ReAct prompt a dataset was written with: the system prompt of its first ReAct row (train.jsonl, then
    pairs.jsonl), else what harvest recorded (a dataset with no ReAct row), else ``full`` (older datasets). An
    adapter runs with the prompt this names, so it must be the one its rows were trained on: the rows decide, also
    in a pool put together by hand that kept another harvest's ``harvest.json``."""
    return _rows_prompt(Path(folder)) or _recorded_prompt(Path(folder)) or "full"


def _recorded_prompt(folder: Path) -> str | None:
    """The prompt ``harvest.json`` records, if it is there and readable."""
    try:
        return str(json.loads((folder / HARVEST_META).read_text(encoding="utf-8"))["react_prompt"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _rows_prompt(folder: Path) -> str | None:
    """The prompt (``REACT_PROMPTS``' name, ``full`` for one it does not know) of the first ReAct row with a system
    message in train.jsonl, else pairs.jsonl; None when neither has one it can read."""
    from apprentice.agents.react import REACT_PROMPTS

    # each prompt as a pattern, its fields (tools, names, answer format) any text: "student" and "tally" open alike
    # and differ further on, so the whole template decides (a row's system prompt may go on after it: a transcript)
    patterns = {name: re.compile(".*?".join(re.escape(part) for part in re.split(r"\{\w+\}", text)), re.DOTALL)
                for name, text in REACT_PROMPTS.items()}
    for name, key in (("train.jsonl", "messages"), ("pairs.jsonl", "prompt")):
        try:
            with open(folder / name, encoding="utf-8") as fh:
                for line in fh:
                    row = json.loads(line) if line.strip() else {}
                    messages = row.get(key) if isinstance(row, dict) and row.get("protocol") == "react" else None
                    if messages and isinstance(messages[0], dict) and messages[0].get("role") == "system":
                        system = str(messages[0].get("content", ""))
                        return next((prompt for prompt, pattern in patterns.items() if pattern.match(system)),
                                    "full")
        except (OSError, ValueError):
            continue
    return None


@dataclass
class HarvestConfig:
    """What to select and how to format it."""

    out: Path
    task: str | None = None
    strategy: str | None = None
    model: str | None = None
    since: float | None = None
    until: float | None = None
    only_verified: bool = True
    #: keep runs by the verdict of this source (gold, vote, judge, rules, human) instead of the run's own
    verdict_source: str | None = None
    min_score: float | None = None
    eval_fraction: float = 0.1
    max_chars: int = 4000
    max_per_question: int = 2
    system: str | None = None  # None: the runtime system prompt; "" drops it; text replaces it
    react_prompt: str = "full"  # ReAct examples: the system prompt the student runs with (student: erasure)
    tools: list[str] | None = None
    seed: int = 0
    pairs: bool = True
    #: contrast pairs (``training/contrast.py``) per verified one-action ReAct example of the training split, added
    #: to the DPO pairs: the same trajectory with one quantity changed as the rejected side
    contrast: int = 0
    #: what those pairs change (``contrast.KINDS``): each kind adds up to ``contrast`` pairs per example
    contrast_kinds: tuple[str, ...] = ("quantity",)
    #: share of the training split's ReAct examples written as a chat follow-up (``student`` prompt only)
    followups: float = 0.0
    filters: dict[str, Any] = field(default_factory=dict)
    #: exactly these runs (a distill round's teacher pass, the runs it resumed included) instead of the selection
    run_ids: list[str] | None = None

    def __post_init__(self) -> None:
        if self.verdict_source is not None and self.verdict_source not in VERDICT_SOURCES:
            raise ApprenticeError(f"unknown verdict source {self.verdict_source!r}; choose one of: "
                                  f"{', '.join(VERDICT_SOURCES)}")
        if self.task and self.task not in TASK_NAMES:  # it would select no run, and say only that
            raise ApprenticeError(f"unknown task {self.task!r}; choose one of: {', '.join(TASK_NAMES)}")
        if self.contrast < 0:
            raise ApprenticeError(f"contrast pairs per example must be 0 or more, got {self.contrast}")
        self.contrast_kinds = tuple(self.contrast_kinds)
        if not self.contrast_kinds or any(kind not in CONTRAST_KINDS for kind in self.contrast_kinds):
            raise ApprenticeError(f"contrast kinds must be some of {', '.join(CONTRAST_KINDS)}, got "
                                  f"{', '.join(self.contrast_kinds) or 'none'}")
        if not 0.0 <= self.followups <= 1.0:
            raise ApprenticeError(f"followups must be a share between 0 and 1, got {self.followups}")
        if self.followups and self.react_prompt not in STUDENT_PROMPTS:
            raise ApprenticeError("follow-up examples need a student ReAct prompt (--react-prompt student or tally): "
                                  "with the full prompt a thread's earlier turns are chat messages, not a transcript")
        if self.followups and self.system == "":
            raise ApprenticeError("follow-up examples carry the earlier turns in the system prompt, which "
                                  "--system none drops: use --system runtime")


@dataclass
class HarvestResult:
    """Counts of what was written, and where."""

    out: Path
    train: int
    eval: int
    pairs: int
    seen: int
    skipped: Counter
    #: (task, item id) of each held-out question, in eval.jsonl's order: items a round can select its student on
    eval_items: list[tuple[str, str]] = field(default_factory=list)


def collect_runs(store: TraceStore, config: HarvestConfig) -> list[Run]:
    """Step 1: every finished run matching the selection (verdicts not applied yet)."""
    if config.run_ids is not None:
        return [run for run in map(store.get, dict.fromkeys(config.run_ids)) if run.status == "ok"]
    return list(store.iter_runs(task=config.task, strategy=config.strategy, model=config.model,
                                since=config.since, until=config.until, status="ok", **config.filters))


def _rated_bad(store: TraceStore, runs: list[Run]) -> dict[tuple[str, str], set[str]]:
    """The answers a person rated bad, by a task's question, across the store (a rated batch run counts in a
    distill round's harvest too): a question of a task means the same in every run (a batch's, an eval's, a
    distill pass's), so a "bad" is a no to that answer wherever it is given. A chat turn has no task and means
    what its thread says: its rating stays on the run."""
    bad: dict[tuple[str, str], set[str]] = defaultdict(set)
    for task in sorted({run.task for run in runs if run.task}):
        for rated in store.query(task=task, verdict="incorrect"):
            answer = _answer_key(rated) if rated.checker == "human" else None
            if answer is not None:
                bad[(task, _key(rated.question))].add(answer)
    return bad


def _answer_key(run: Run) -> str | None:
    """The run's answer as its task compares answers (votes, checks)."""
    if not run.task or not run.answer:
        return None
    task = _task(run.task, run.meta.get("answer_kind"))
    return task.normalize(task.extract(run.answer))


def _gold_verdict(run: Run) -> Verdict | None:
    """The run's latest gold verdict; for a run given its gold answer after it ran (a person's correction, from
    ``traces rate --answer`` or the chat), the task's check against it now."""
    verdict = run.verdict_from("gold")
    if verdict is not None or run.gold is None or not run.task:
        return verdict
    task = _task(run.task, run.meta.get("answer_kind"))
    check = task.check(Item(run.item_id or "", run.question, run.gold), task.extract(run.answer or ""))
    return Verdict(check.checker, check.correct, check.score, "checked at harvest against a corrected answer")


def _keep(run: Run, config: HarvestConfig, rated_bad: dict[tuple[str, str], set[str]]) -> str | None:
    """Step 2: why a run is left out (None keeps it)."""
    human = run.verdict_from("human")
    bad_answers = rated_bad.get((run.task, _key(run.question))) if run.task and human is None else None
    if bad_answers and _answer_key(run) in bad_answers:
        return "its answer rated bad by a person"  # in another run of the same question
    if config.verdict_source is not None:
        if human is not None and human.correct is False and config.verdict_source != "human":
            return "rated bad by a person"  # a person's no outweighs any machine's yes
        verdict = _gold_verdict(run) if config.verdict_source == "gold" else run.verdict_from(config.verdict_source)
        if verdict is None:
            return f"no {config.verdict_source} verdict"
        if verdict.correct is False or (verdict.correct is None and config.min_score is None):
            return f"not accepted by its {config.verdict_source} verdict"
        if config.min_score is not None and (verdict.score or 0.0) < config.min_score:
            return "score too low"
        return None if answer_computed(run) else "answer not computed by the calculator"
    if config.only_verified and run.correct is not True:
        return "not verified"
    if config.min_score is not None and (run.score or 0.0) < config.min_score:
        return "score too low"
    if run.correct and not answer_computed(run):
        return "answer not computed by the calculator"
    return None


def answer_computed(run: Run) -> bool:
    """False when a run used the calculator but none of its results is the numeric answer it gave, or when a
    run that was given the answer as a hint (a STaR rationalization) computes with a number it could not know.

    Such an answer was copied from the hint or guessed. Seen in a round of self-taught traces: `137 - 12 + 11`
    -> 136, then "Final Answer: 11" (the hint). And through the calculator (session 44: 10 of 12 hinted GSM8K
    "solves"): "Action Input: 128 / 1" -> 128, the hint, from a question with no 128 in it. Its reasoning does
    not reach the answer, so it is no rationale to learn from. A run whose calculator calls all failed has no
    result to answer from either; a run that never called the calculator is not judged here.
    """
    if answer_not_computed(run.answer, run.steps) is not None:
        return False
    unhinted = run.meta.get("train_question")  # the question without the hint the run was asked with
    return unhinted is None or grounded_calls(unhinted, calculator_calls(run.steps), withheld=run.gold)


@functools.cache
def _task(task: str, kind: str | None) -> Task:
    return get_task(task, **({"kind": kind} if task == "jsonl" and kind else {}))


def _task_format(task: str, kind: str | None) -> str:
    return _task(task, kind).answer_format


def answer_format(run: Run) -> str:
    """The answer instruction the run was prompted with: its task's, with a question file's answer kind (a
    distill pool of one's own records it in the run's meta)."""
    return _task_format(run.task, run.meta.get("answer_kind")) if run.task else ""


def _key(text: str) -> str:
    return hashlib.sha1(" ".join(text.lower().split()).encode()).hexdigest()


def _format(runs: list[Run], config: HarvestConfig, skipped: Counter,
            rated_bad: dict[tuple[str, str], set[str]]) -> list[ChatExample]:
    """Step 3: format kept runs, de-duplicate, cap per question and by length."""
    examples: list[ChatExample] = []
    seen: set[str] = set()
    per_question: Counter = Counter()
    for run in runs:
        reason = _keep(run, config, rated_bad)
        if reason:
            skipped[reason] += 1
            continue
        example = example_from_run(run, answer_format=answer_format(run), system=config.system,
                                   react_prompt=config.react_prompt,
                                   tools=config.tools)
        if example is None:
            skipped["no usable trajectory"] += 1
            continue
        if config.system == "":
            example.messages = [m for m in example.messages if m["role"] != "system"]
        total = sum(len(m["content"]) for m in example.messages)
        question = example.meta["question"]
        qkey, ekey = _key(question), _key(question + "\x00" + example.completion)
        if total > config.max_chars:
            skipped["too long"] += 1
        elif ekey in seen:
            skipped["duplicate"] += 1
        elif per_question[qkey] >= config.max_per_question:
            skipped["question cap"] += 1
        else:
            seen.add(ekey)
            per_question[qkey] += 1
            examples.append(example)
    return examples


def _split(examples: list[ChatExample], fraction: float, seed: int) -> tuple[list, list]:
    """Step 4: a held-out split grouped by question, so no question is in both."""
    questions = sorted({_key(e.meta["question"]) for e in examples})
    random.Random(seed).shuffle(questions)
    # at least one question once there are two or more (a round's eval loss and adapter choice need one),
    # and never all of them (training needs one)
    n_eval = min(len(questions) - 1, max(1, round(len(questions) * fraction))) if fraction > 0 else 0
    held = set(questions[:n_eval])
    train = [e for e in examples if _key(e.meta["question"]) not in held]
    evals = [e for e in examples if _key(e.meta["question"]) in held]
    random.Random(seed).shuffle(train)
    return train, evals


def _as_followups(train: list[ChatExample], config: HarvestConfig) -> None:
    """Step 5: ``config.followups`` of the training split's ReAct examples become a later turn of a chat
    thread: one to three other training questions with their answers go into the system prompt, as
    :func:`~apprentice.agents.react.text_protocol_messages` writes a thread's earlier turns for a student
    (``transcript="always"``: at run time a question that stands alone now goes without them, so these examples
    teach reading past a transcript that only questions pointing back still get).
    Trained on first turns only, a student answered follow-ups 6 points worse than the same questions alone;
    a quarter of the examples written this way left its follow-up accuracy where it was (92.5%, measured in
    ``benchmarks/results/student_followups.txt``). Only for the ``student`` prompt: with the full prompt the
    earlier turns are chat messages, and their answers would be learned as assistant text."""
    react = [e for e in train if e.protocol == "react" and e.messages[0]["role"] == "system"]
    if config.followups <= 0 or len(react) < 2:
        return
    rng = random.Random(config.seed)
    for example in rng.sample(react, round(config.followups * len(react))):
        others = [e for e in rng.sample(react, min(len(react), 4))
                  if e.meta["question"] != example.meta["question"]][:rng.randint(1, 3)]
        if not others:
            continue
        history: list[BaseMessage] = []
        for other in others:
            history += [HumanMessage(other.meta["question"]), AIMessage(str(other.meta.get("answer") or ""))]
        system = example.messages[0]
        example.messages[0] = {**system, "content": f"{system['content']}\n\n{earlier_turns(history)}"}
        example.meta["earlier_turns"] = len(others)


def preference_pairs(runs: list[Run], config: HarvestConfig) -> list[dict[str, Any]]:
    """DPO pairs: a verified and a failed trace of the same question, same strategy."""
    groups: dict[tuple, dict[bool, list[ChatExample]]] = defaultdict(lambda: {True: [], False: []})
    for run in runs:
        if run.correct is None or (run.correct and not answer_computed(run)):
            continue
        example = example_from_run(run, answer_format=answer_format(run), system=config.system, tools=config.tools,
                                   react_prompt=config.react_prompt, forced=not run.correct)
        if example is not None:
            groups[(_key(example.meta["question"]), run.strategy)][run.correct].append(example)
    pairs, rng = [], random.Random(config.seed)
    for good_bad in groups.values():
        good, bad = good_bad[True], good_bad[False]
        for chosen, rejected in zip(good, rng.sample(bad, len(bad)), strict=False):
            if chosen.completion == rejected.completion:
                continue
            pairs.append({"prompt": chosen.messages[:-1],
                          "chosen": [chosen.messages[-1]], "rejected": [rejected.messages[-1]],
                          "protocol": chosen.protocol,
                          "metadata": {"question": chosen.meta["question"], "chosen_run": chosen.meta["run_id"],
                                       "rejected_run": rejected.meta["run_id"]}})
    return pairs


class NothingToHarvest(ApprenticeError):
    """No run passed the selection and formatting (a distill round stops on it)."""


def harvest(config: HarvestConfig, store: TraceStore | None = None) -> HarvestResult:
    """Collect -> filter -> format -> split -> write. Raises if nothing could be harvested."""
    store = store or open_store()
    runs = collect_runs(store, config)
    skipped: Counter = Counter()
    examples = _format(runs, config, skipped, _rated_bad(store, runs))
    if not examples:
        detail = ", ".join(f"{k}: {v}" for k, v in skipped.items()) or "no runs matched"
        raise NothingToHarvest(f"nothing to harvest from {len(runs)} runs ({detail})")
    train, evals = _split(examples, config.eval_fraction, config.seed)
    _as_followups(train, config)
    held = {_key(e.meta["question"]) for e in evals}
    # a held-out question is in no training data: not in SFT's train split, and in no DPO pair either
    pairs = [p for p in preference_pairs(runs, config) if _key(p["metadata"]["question"]) not in held] \
        if config.pairs else []
    if config.pairs and config.contrast:  # from the training split only: no held-out question
        pairs += contrast_pairs([e.to_dict() for e in train], per_example=config.contrast, seed=config.seed,
                                kinds=config.contrast_kinds)
    write_dataset(config.out, train, evals, pairs, runs=len(runs), skipped=skipped,
                  react_prompt=config.react_prompt)
    eval_items = list(dict.fromkeys((str(e.meta["task"]), str(e.meta["item_id"])) for e in evals
                                    if e.meta.get("task") and e.meta.get("item_id")))
    return HarvestResult(config.out, len(train), len(evals), len(pairs), len(runs), skipped, eval_items)


def write_dataset(out: Path, train: list[ChatExample], evals: list[ChatExample],
                  pairs: list[dict[str, Any]], *, runs: int = 0, skipped: Counter | None = None,
                  react_prompt: str = "full") -> None:
    """Write JSONL, the HF dataset folder, the card, and ``harvest.json`` (what training must carry
    into the adapter: the ReAct prompt the examples were written with)."""
    from datasets import Dataset, DatasetDict, disable_progress_bars

    disable_progress_bars()
    out.mkdir(parents=True, exist_ok=True)
    rows = {"train": [e.to_dict() for e in train], "eval": [e.to_dict() for e in evals]}
    for split, items in rows.items():
        with open(out / f"{split}.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in items)
    with open(out / "pairs.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)
    flat = {split: [{"messages": r["messages"], "protocol": r["protocol"],
                     "metadata": json.dumps(r["metadata"], ensure_ascii=False)} for r in items]
            for split, items in rows.items() if items}
    DatasetDict({k: Dataset.from_list(v) for k, v in flat.items()}).save_to_disk(str(out / "hf"))
    (out / HARVEST_META).write_text(json.dumps({"react_prompt": react_prompt, "train": len(train),
                                                "eval": len(evals), "pairs": len(pairs)}), encoding="utf-8")
    (out / "README.md").write_text(dataset_card(train, evals, pairs, runs, skipped or Counter()), encoding="utf-8")


def dataset_card(train: list[ChatExample], evals: list[ChatExample], pairs: list[dict[str, Any]],
                 runs: int, skipped: Counter) -> str:
    """Markdown card: counts by source (teacher, strategy, task), verdict, and a length histogram."""
    every = train + evals
    lines = ["# apprentice harvested dataset", "",
             f"{len(train)} train and {len(evals)} eval examples (split grouped by question), "
             f"{len(pairs)} preference pairs, from {runs} runs.", ""]
    for label, key in (("teacher", "teacher"), ("strategy", "strategy"), ("task", "task"), ("model", "model"),
                       ("verdict", "correct")):
        counts = Counter(str(e.meta.get(key)) for e in every)
        lines += [f"## by {label}", "", *[f"- {k}: {v}" for k, v in counts.most_common()], ""]
    turns = Counter(int(e.meta.get("earlier_turns", 0)) for e in every)
    if len(turns) > 1:  # follow-ups were written
        lines += ["## by earlier turns in the chat thread (0: a first turn)", "",
                  *[f"- {k}: {v}" for k, v in sorted(turns.items())], ""]
    if skipped:
        lines += ["## left out", "", *[f"- {k}: {v}" for k, v in skipped.most_common()], ""]
    lengths = [len(e.completion) for e in every]
    lines += ["## completion length (characters)", ""]
    edges = [0, 100, 200, 400, 800, 1600, 3200, 10**9]
    bins = [sum(lo <= x < hi for x in lengths) for lo, hi in zip(edges, edges[1:], strict=False)]
    scale = 60 / max(1, max(bins))  # the fullest bin gets 60 marks, the others in proportion
    for lo, hi, n in zip(edges, edges[1:], bins, strict=False):
        label = f"{lo}-{hi - 1}" if hi < 10**9 else f"{lo}+"
        lines.append(f"    {label:>10} | {'#' * (round(n * scale) or (1 if n else 0))} {n}")
    return "\n".join(lines) + "\n"

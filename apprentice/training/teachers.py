"""Teachers for a distillation round: each solves a pool of items and leaves verified traces.

- ``dataset[,STYLE]``: worked solutions replayed through the ReAct graph and the real calculator,
  one action per operation (``steps``, the default) or the whole solution as one expression
  (``equation``).
- ``self[,STRATEGY]``: the student amplified (several sampled attempts per item, STaR), with
  failures rationalized (``--rationalize``): the gold answer given as a hint, the hint erased from the
  training prompt at harvest time (``hint``); or the item's worked solution replayed in the
  student's own format (``dataset[,STYLE]``), so the items the student fails, often the multi-step
  ones, still teach a rationale that reaches the answer by computing it.
- ``SPEC[,STRATEGY]``: any model spec (a remote model, a bigger local one) with a strategy. A remote one
  (``openai:MODEL[@URL]``) calls its tools natively (harvest writes its runs in the student's text protocol),
  retries 429 and 5xx answers with backoff, answers several items at once, and a pass over the same items
  again (a killed round started anew) resumes its finished runs from the store instead of paying for them twice.
Every run records ``teacher`` (its kind), ``distill`` (the run name) and ``round`` in its meta.
"""

from __future__ import annotations

import hashlib
import json
import queue
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from apprentice.backends.llamacpp import replicas
from apprentice.errors import ApprenticeError
from apprentice.graphs import run_question
from apprentice.models import load_chat_model, parse_spec
from apprentice.traces import open_store
from apprentice.training.harvest import answer_computed
from apprentice.training.replay import (
    REPLAY_STYLES,
    replay_model,
    replay_wording,
    worked_equation,
    worked_steps,
)

__all__ = ["HINT", "PASS_COUNTS", "Teacher", "cost_usd", "load_teacher_model", "parse_price", "parse_rationalize",
           "parse_teacher", "solve_pool"]

HINT = "\n\n(Hint: the correct final answer is {answer}. Show the steps that reach it.)"


@dataclass(frozen=True)
class Teacher:
    """Who teaches: ``kind`` is dataset, self or model; ``spec`` and ``strategy`` for the others;
    ``replay`` is how a dataset teacher writes its worked solutions (``REPLAY_STYLES``)."""

    kind: str
    spec: str | None = None
    strategy: str = "react"
    replay: str = "steps"

    @property
    def label(self) -> str:
        """What the traces' model column says."""
        dataset = "teacher:dataset" + ("" if self.replay == "steps" else f",{self.replay}")
        return {"dataset": dataset, "self": f"teacher:self:{self.spec}"}.get(self.kind, self.spec or "")

    def for_student(self, student: str) -> Teacher:
        """A self teacher is the student of the moment (its traces and report rows name it)."""
        return replace(self, spec=student) if self.kind == "self" else self


def parse_teacher(text: str) -> Teacher:
    """``dataset[,steps|equation|tally]`` | ``self[,STRATEGY]`` | ``SPEC[,STRATEGY]``."""
    name, _, strategy = text.partition(",")
    name, strategy = name.strip(), (strategy.strip() or "react")
    if name == "dataset":
        style = strategy if strategy != "react" else "steps"
        if style not in REPLAY_STYLES:
            raise ApprenticeError(f"the dataset teacher replays worked solutions as "
                                  f"{', '.join(REPLAY_STYLES[:-1])} or {REPLAY_STYLES[-1]}, not {style!r}")
        return Teacher("dataset", strategy="react", replay=style)
    if name == "self":
        return Teacher("self", strategy=strategy)
    parse_spec(name)
    return Teacher("model", spec=name, strategy=strategy)


def parse_rationalize(text: str) -> Teacher | None:
    """How a self teacher rationalizes a failed item: ``hint`` (a Teacher of kind self: the
    student again, with the answer as a hint), ``dataset[,steps|equation|tally]`` (the dataset teacher's
    worked solution; the hint where the item has none) or ``none``."""
    text = text.strip()
    if text == "none":
        return None
    if text == "hint":
        return Teacher("self")
    if text.partition(",")[0].strip() != "dataset":
        raise ApprenticeError(f"--rationalize is hint, dataset[,{'|'.join(REPLAY_STYLES)}] or none, not {text!r}")
    return parse_teacher(text)


def load_teacher_model(teacher: Teacher, *, retries: int = 6, max_tokens: int = 384) -> BaseChatModel:
    """A model teacher's chat model. A remote one (``openai:MODEL[@URL]``) is probed now, so a server that is not
    there fails before any round, and its client retries a request answered 429 or 5xx ``retries`` times with
    the OpenAI client's own exponential backoff (which honours a server's Retry-After)."""
    spec = parse_spec(teacher.spec or "")
    extra = {"max_retries": retries} if spec.kind == "openai" else {}
    return load_chat_model(spec, max_tokens=max_tokens, **extra)


def parse_price(text: str | None, flag: str) -> tuple[float, float] | None:
    """``"0.15,0.60"`` -> (0.15, 0.60): USD per million tokens in and out; None for none given."""
    if text is None or not str(text).strip():
        return None
    parts = [p.strip() for p in str(text).split(",")]
    try:
        price = tuple(float(p) for p in parts)
    except ValueError:
        price = ()
    if len(price) != 2 or min(price) < 0:
        raise ApprenticeError(f"{flag} {text!r}: give IN,OUT in USD per million tokens, e.g. 0.15,0.60")
    return price[0], price[1]


def cost_usd(tokens_in: float, tokens_out: float, price: tuple[float, float] | None) -> float | None:
    """What the tokens cost at ``price`` (USD per million tokens in, out); None without a price."""
    return None if price is None else (tokens_in * price[0] + tokens_out * price[1]) / 1e6


def solve_pool(teacher: Teacher, task: Any, items: list[Any], *, student: str, meta: dict[str, Any],
               attempts: int = 4, temperature: float = 0.7, rationalize: str = "hint",
               progress: Any = None, chat: BaseChatModel | None = None, concurrency: int = 1,
               verdicts: str = "gold", workers: int = 1) -> dict[str, Any]:
    """Run the teacher over ``items``; returns counts: items, checked (those with a gold answer), solved (the
    rationalized ones too), rationalized, runs, resumed, errors, calls, tokens_in, tokens_out, tokens (resumed
    runs included; resumed_tokens_in and _out are theirs), and the ``run_ids`` of every run the pass made or
    resumed (what the round harvests).

    A model teacher's run that finished in an earlier pass of the same item (the same teacher, strategy,
    question, gold answer and sampling) is resumed from the store instead of asked again: a killed round
    pays for no call twice. A self teacher's runs resume the same way when the student is the same weights
    (the shipped student's version, an adapter's registration) at the same temperature. A model teacher takes
    ``concurrency`` items at once (a remote teacher's requests in flight); a self teacher ``workers`` (a llama.cpp
    student on a replica of its own each, with an equal share of the cores).
    ``verdicts``: ``vote`` samples ``attempts`` runs of a model teacher and records each run's share of the
    vote; ``rules`` records the rules verifier's verdict on every run (neither needs a gold answer)."""
    teacher = teacher.for_student(student)
    fallback = parse_rationalize(rationalize)
    if teacher.kind == "model" and chat is None:
        chat = load_teacher_model(teacher)
    elif teacher.kind == "self":
        chat = load_chat_model(student, temperature=temperature, max_tokens=256)
    workers = max(1, concurrency) if teacher.kind == "model" else max(1, workers) if teacher.kind == "self" else 1
    pass_ = _Pass(teacher, task, chat, meta, attempts, temperature, fallback, verdicts,
                  _model_identity(student, temperature) if teacher.kind == "self" else None,
                  _free(replicas(chat, workers)) if teacher.kind == "self" and workers > 1 else None)
    counts: dict[str, Any] = {"items": len(items), "run_ids": []}
    executor = ThreadPoolExecutor(workers, thread_name_prefix="teacher") if workers > 1 else None
    try:
        for found in (executor.map if executor else map)(pass_.solve, items):
            for key, value in found.items():
                counts[key] = counts.get(key, 0) + value if not isinstance(value, list) else counts[key] + value
            if progress is not None:
                progress.update(1)
    finally:
        if executor is not None:  # a stopped pass leaves the items not yet started alone
            executor.shutdown(cancel_futures=True)
    counts["tokens"] = counts.get("tokens_in", 0) + counts.get("tokens_out", 0)
    return {**dict.fromkeys(PASS_COUNTS, 0), **counts}


def _free(chats: list[Any]) -> queue.SimpleQueue:
    """A queue holding each of ``chats``: a thread takes one, runs an item on it and puts it back."""
    free: queue.SimpleQueue = queue.SimpleQueue()
    for chat in chats:
        free.put(chat)
    return free


#: The counts of a teacher pass (besides ``run_ids``): what :func:`solve_pool` returns and a round adds up.
PASS_COUNTS = ("items", "checked", "solved", "rationalized", "runs", "resumed", "errors", "calls", "tokens_in",
               "tokens_out", "tokens", "resumed_tokens_in", "resumed_tokens_out")


@dataclass(frozen=True)
class _Outcome:
    """One teacher run as the pass counts it: its gold verdict, whether the calculator gave its answer, its
    normalized answer (for a vote) and its cost."""

    run_id: str
    correct: bool | None
    computed: bool
    answer: str | None
    tokens_in: int
    tokens_out: int
    calls: int

    @property
    def solved(self) -> bool:
        """Verified against the gold answer, and computed: what a round counts as a solve."""
        return bool(self.correct) and self.computed


@dataclass(frozen=True)
class _Pass:
    """What every item of one teacher pass shares; :meth:`solve` is one item (threads may run several)."""

    teacher: Teacher
    task: Any
    chat: Any
    meta: dict[str, Any]
    attempts: int
    temperature: float
    fallback: Teacher | None
    verdicts: str
    #: a self teacher's weights and temperature (its resume key), else None
    identity: str | None = None
    #: the chat models the pass's threads take turns on, one item at a time (None: ``chat`` alone)
    free: queue.SimpleQueue | None = None

    def solve(self, item: Any) -> dict[str, Any]:
        """Solve one item; its counts (see :func:`solve_pool`)."""
        if self.free is None:
            return self._solve(item)
        chat = self.free.get()
        try:
            return replace(self, chat=chat, free=None)._solve(item)
        finally:
            self.free.put(chat)

    def _solve(self, item: Any) -> dict[str, Any]:
        counts: Counter = Counter(checked=int(item.answer is not None))
        runs: list[str] = []
        counts["solved"] = int(self._solve_item(item, counts, runs))
        return {**counts, "run_ids": runs}

    def _solve_item(self, item: Any, counts: Counter, runs: list[str]) -> bool:
        teacher, meta = self.teacher, self.meta
        if teacher.kind == "dataset":
            return bool(self._replay(teacher, item, meta, counts, runs))
        kind = "self" if teacher.kind == "self" else "model"
        sampled = teacher.kind == "self" or self.verdicts == "vote"
        outcomes = []
        for attempt in range(self.attempts if sampled else 1):
            options: dict[str, Any] = {"seed": attempt}
            if teacher.kind == "model" and sampled:  # a self teacher's model samples at its own temperature
                options["temperature"] = self.temperature
            outcomes.append(self._run(item.question, item, None, {**meta, "teacher": kind, "attempt": attempt},
                                      counts, runs, options))
        if self.verdicts == "vote":
            _vote(self.task, [o for o in outcomes if o is not None])
        solved = any(o is not None and o.solved for o in outcomes)
        if solved or self.fallback is None or item.answer is None:
            return solved
        if self.fallback.kind == "dataset":
            replayed = self._replay(self.fallback, item, {**meta, "rationalizes": kind}, counts, runs)
            if replayed is not None:
                counts["rationalized"] += int(replayed)
                return replayed
        hinted = item.question + HINT.format(answer=item.answer)
        outcome = self._run(hinted, item, None, {**meta, "teacher": f"{kind}-rationalized",
                                                 "train_question": item.question}, counts, runs, {})
        solved = outcome is not None and outcome.solved
        counts["rationalized"] += int(solved)
        return solved

    def _replay(self, replay: Teacher, item: Any, meta: dict[str, Any], counts: Counter,
                runs: list[str]) -> bool | None:
        """Replay the item's worked solution through the graph (None: the item has none)."""
        steps = (worked_equation if replay.replay == "equation" else worked_steps)(self.task.name, item)
        if not steps:
            return None
        scripted = replay_model(steps, item.question, style=replay.replay)
        # a replay is what it writes: the same text again is the run an earlier pass stored (the same steps written
        # by other code, a replay's wording changed since, are not)
        written = json.dumps(replay_wording(scripted))
        outcome = self._run(item.question, item, (scripted, replay.label, "react"),
                            {**meta, "teacher": "dataset", "replay": replay.replay}, counts, runs, {},
                            replayed=(replay, written))
        return outcome is not None and outcome.solved

    def _run(self, question: str, item: Any, scripted: tuple[Any, str, str] | None, meta: dict[str, Any],
             counts: Counter, runs: list[str], options: dict[str, Any],
             replayed: tuple[Teacher, str] | None = None) -> _Outcome | None:
        """One run of the teacher (``scripted``: of a replay's model, label and strategy instead): a model or self
        teacher's run, or a replay of the same steps (``replayed``: its teacher and written steps), resumed from the
        store when an earlier pass finished it, else made now. Records the
        verdicts the pass asks for besides gold. None: the run failed (its trace says how)."""
        chat, label, strategy = scripted or (self.chat, self.teacher.label, self.teacher.strategy)
        if replayed is not None:
            key = _resume_key(replayed[0], self.task, item, question, options, replayed[1])
        elif scripted is None and self.teacher.kind in ("model", "self"):
            key = _resume_key(self.teacher, self.task, item, question, options, self.identity)
        else:
            key = None
        outcome = _resumed(self.task, item, label, key) if key else None
        counts["runs"] += 1
        if outcome is not None:  # paid for by an earlier pass: its tokens count in the round, not in this pass
            counts.update(resumed=1, resumed_tokens_in=outcome.tokens_in, resumed_tokens_out=outcome.tokens_out)
        else:
            try:
                result = run_question(question, strategy=strategy, model=chat, model_spec=label, task=self.task,
                                      item=item, tools=["calculator"], max_steps=6, options=options or None,
                                      meta={**meta, "teacher_key": key} if key else meta)
            except Exception:  # a failed item is recorded in its trace; the pool goes on
                counts["errors"] += 1
                return None
            outcome = _outcome(open_store().get(result.run_id), self.task, result.correct)
        if self.verdicts == "rules":
            _rules_verdict(self.task, question, outcome.run_id)
        counts.update(tokens_in=outcome.tokens_in, tokens_out=outcome.tokens_out, calls=outcome.calls)
        runs.append(outcome.run_id)
        return outcome


def _resume_key(teacher: Teacher, task: Any, item: Any, question: str, options: dict[str, Any],
                identity: str | None = None) -> str:
    """What makes a model teacher's run the same run again: the teacher and its strategy, the item, the question
    it was asked (a hint changes it), the gold answer and answer kind (they decide the verdict) and the
    sampling options; for a self teacher also ``identity``, the student's weights and temperature (its spec,
    ``student`` or ``adapter:NAME``, names other weights after a new student ships or a name is reused)."""
    fields = {"question": question, "gold": item.answer, "kind": getattr(task, "kind", None),
              "options": options, "tools": ["calculator"], "max_steps": 6}
    if identity is not None:
        fields["model"] = identity
    blob = json.dumps(fields, sort_keys=True, default=str)
    digest = hashlib.sha1(blob.encode()).hexdigest()[:16]
    return f"{teacher.label}|{teacher.strategy}|{task.name}|{item.id}|{digest}"


def _model_identity(spec: str, temperature: float) -> str:
    """The weights behind a student spec and the temperature, for a self teacher's resume key
    (``registry.versioned_spec``, written as the keys of earlier passes are, ``student-VERSION`` and ``NAME@VERSION``,
    so a pass under way resumes across an upgrade)."""
    from apprentice.training.registry import versioned_spec

    weights = versioned_spec(spec)
    if weights != spec:
        weights = weights.replace("student@", "student-", 1) if spec == "student" else weights.removeprefix("adapter:")
    return f"{weights}|t={temperature}"


def _resumed(task: Any, item: Any, label: str, key: str) -> _Outcome | None:
    """The finished run an earlier pass made under ``key``, if any."""
    store = open_store()
    for summary in store.query(task=task.name, item_id=item.id, model=label, status="ok"):
        if summary.meta.get("teacher_key") == key:
            run = store.get(summary.id)
            gold = run.verdict_from("gold")
            return _outcome(run, task, gold.correct if gold else None)
    return None


def _outcome(run: Any, task: Any, correct: bool | None) -> _Outcome:
    answer = task.normalize(task.extract(run.answer)) if run.answer else None
    return _Outcome(run.id, correct, answer_computed(run), answer, run.tokens_in, run.tokens_out,
                    run.model_calls)


def _vote(task: Any, outcomes: list[_Outcome]) -> None:
    """Record on each attempt its answer's share of the attempts' vote (a ``vote`` verdict: no gold needed)."""
    votes = Counter(o.answer for o in outcomes if o.answer is not None)
    store = open_store()
    for outcome in outcomes:
        share = votes[outcome.answer] / len(outcomes) if outcome.answer is not None else 0.0
        earlier = store.get(outcome.run_id).verdict_from("vote")
        if earlier is None or earlier.score != share:  # a resumed attempt keeps the verdict it has
            store.add_verdict(outcome.run_id, verifier="vote", correct=None, score=share,
                              reason=f"the answer's share of the teacher's {len(outcomes)} attempts")


def _rules_verdict(task: Any, question: str, run_id: str) -> None:
    """Record the rules verifier's verdict on a run (once: a resumed run keeps the one it has)."""
    from apprentice.agents.verifier import rules_check

    store = open_store()
    run = store.get(run_id)
    if run.verdict_from("rules") is not None or run.answer is None:
        return
    check = rules_check(task, question, run.answer, run.steps)
    store.add_verdict(run_id, verifier="verify:rules", correct=check.ok, score=check.score, reason=check.reason)

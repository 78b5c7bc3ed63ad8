"""Teachers for a distillation round: each solves a pool of items and leaves verified traces.

- ``dataset[,STYLE]``: worked solutions replayed through the ReAct graph and the real calculator,
  one action per operation (``steps``, the default) or the whole solution as one expression
  (``equation``).
- ``self[,STRATEGY]``: the student amplified (several sampled attempts per item, STaR), with
  failures rationalized (``--rationalize``): the gold answer given as a hint, the hint erased from the
  training prompt at harvest time (``hint``); or the item's worked solution replayed in the
  student's own format (``dataset[,STYLE]``), so the items the student fails, often the multi-step
  ones, still teach a rationale that reaches the answer by computing it.
- ``SPEC[,STRATEGY]``: any model spec (a remote model, a bigger local one) with a strategy.
Every run records ``teacher`` (its kind), ``distill`` (the run name) and ``round`` in its meta.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from apprentice.errors import ApprenticeError
from apprentice.graphs import run_question
from apprentice.models import load_chat_model, parse_spec
from apprentice.traces import open_store
from apprentice.training.harvest import answer_computed
from apprentice.training.replay import REPLAY_STYLES, replay_model, worked_equation, worked_steps

__all__ = ["Teacher", "parse_teacher", "parse_rationalize", "solve_pool", "HINT"]

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
    """``dataset[,steps|equation]`` | ``self[,STRATEGY]`` | ``SPEC[,STRATEGY]``."""
    name, _, strategy = text.partition(",")
    name, strategy = name.strip(), (strategy.strip() or "react")
    if name == "dataset":
        style = strategy if strategy != "react" else "steps"
        if style not in REPLAY_STYLES:
            raise ApprenticeError(f"the dataset teacher replays worked solutions as {' or '.join(REPLAY_STYLES)}, "
                                  f"not {style!r}")
        return Teacher("dataset", strategy="react", replay=style)
    if name == "self":
        return Teacher("self", strategy=strategy)
    parse_spec(name)
    return Teacher("model", spec=name, strategy=strategy)


def parse_rationalize(text: str) -> Teacher | None:
    """How a self teacher rationalizes a failed item: ``hint`` (a Teacher of kind self: the
    student again, with the answer as a hint), ``dataset[,steps|equation]`` (the dataset teacher's
    worked solution; the hint where the item has none) or ``none``."""
    text = text.strip()
    if text == "none":
        return None
    if text == "hint":
        return Teacher("self")
    if text.partition(",")[0].strip() != "dataset":
        raise ApprenticeError(f"--rationalize is hint, dataset[,{'|'.join(REPLAY_STYLES)}] or none, not {text!r}")
    return parse_teacher(text)


def solve_pool(teacher: Teacher, task: Any, items: list[Any], *, student: str, meta: dict[str, Any],
               attempts: int = 4, temperature: float = 0.7, rationalize: str = "hint",
               progress: Any = None) -> dict[str, int]:
    """Run the teacher over ``items``; returns counts (items, solved, rationalized, runs, tokens
    in+out, errors). ``solved`` counts the rationalized items too."""
    counts = {"items": len(items), "solved": 0, "rationalized": 0, "runs": 0, "tokens": 0}
    teacher = teacher.for_student(student)
    fallback = parse_rationalize(rationalize)
    chat = None
    if teacher.kind == "model":
        chat = load_chat_model(teacher.spec or "", max_tokens=384)
    elif teacher.kind == "self":
        chat = load_chat_model(student, temperature=temperature, max_tokens=256)
    for item in items:
        solved = _solve_item(teacher, task, item, chat, meta, attempts, fallback, counts)
        counts["solved"] += int(solved)
        if progress is not None:
            progress.update(1)
    return counts


def _run(question: str, task: Any, item: Any, chat: Any, label: str, strategy: str, meta: dict[str, Any],
         counts: dict[str, int], **kwargs: Any) -> bool:
    counts["runs"] += 1
    try:
        result = run_question(question, strategy=strategy, model=chat, model_spec=label, task=task, item=item,
                              tools=["calculator"], meta=meta, max_steps=6, **kwargs)
    except ApprenticeError:
        counts["errors"] = counts.get("errors", 0) + 1
        return False
    except Exception:  # a failed item is recorded in its trace; the pool goes on
        counts["errors"] = counts.get("errors", 0) + 1
        return False
    counts["tokens"] = counts.get("tokens", 0) + result.tokens_in + result.tokens_out
    if not result.correct:
        return False
    # a verified answer that none of the run's calculator results gives (a copied hint) is not a solve:
    # the harvest leaves it out, and a self teacher goes on to rationalize the item
    try:
        return answer_computed(open_store().get(result.run_id))
    except ApprenticeError:  # the run is not in the store: the verdict is all there is
        return True


def _replay(replay: Teacher, task: Any, item: Any, meta: dict[str, Any], counts: dict[str, int]) -> bool | None:
    """Replay the item's worked solution through the graph (None: the item has none)."""
    steps = (worked_equation if replay.replay == "equation" else worked_steps)(task.name, item)
    if not steps:
        return None
    return _run(item.question, task, item, replay_model(steps, item.question, style=replay.replay),
                replay.label, "react", {**meta, "teacher": "dataset", "replay": replay.replay}, counts)


def _solve_item(teacher: Teacher, task: Any, item: Any, chat: Any, meta: dict[str, Any], attempts: int,
                fallback: Teacher | None, counts: dict[str, int]) -> bool:
    if teacher.kind == "dataset":
        return bool(_replay(teacher, task, item, meta, counts))
    kind = "self" if teacher.kind == "self" else "model"
    solved = False
    for attempt in range(attempts if teacher.kind == "self" else 1):
        solved |= _run(item.question, task, item, chat, teacher.label, teacher.strategy,
                       {**meta, "teacher": kind, "attempt": attempt}, counts,
                       options={"seed": attempt})
    if solved or fallback is None or item.answer is None:
        return solved
    if fallback.kind == "dataset":
        replayed = _replay(fallback, task, item, {**meta, "rationalizes": kind}, counts)
        if replayed is not None:
            counts["rationalized"] += int(replayed)
            return replayed
    hinted = item.question + HINT.format(answer=item.answer)
    solved = _run(hinted, task, item, chat, teacher.label, teacher.strategy,
                  {**meta, "teacher": f"{kind}-rationalized", "train_question": item.question}, counts)
    counts["rationalized"] += int(solved)
    return solved

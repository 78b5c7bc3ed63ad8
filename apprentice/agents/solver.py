"""The solver role: direct (IO) and chain-of-thought prompts, few-shot example selection, revision.

Few-shot examples come from the task's ``fewshot_pool()`` and are chosen by MiniLM similarity to
the question (the offline embeddings in :mod:`apprentice.embeddings`), most similar last so it sits
nearest the question.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from apprentice.tasks.answers import FINAL_ANSWER

__all__ = [
    "COT_TRIGGER",
    "Example",
    "final_line",
    "revise_messages",
    "select_examples",
    "solver_messages",
]

#: (question, worked solution ending in a ``Final Answer:`` line)
Example = tuple[str, str]

IO_SYSTEM = "Answer the question directly. Reply with one line: 'Final Answer: <answer>'.{fmt}"
COT_SYSTEM = ("Solve the problem. Reason step by step, one short step per line, then end with the line "
              "'Final Answer: <answer>'.{fmt}")
#: Kojima et al.'s zero-shot chain-of-thought trigger.
COT_TRIGGER = "Let's think step by step."
REVISE_PROMPT = (
    "Question: {question}\n\nYour previous answer:\n{draft}\n\nA checker found this problem:\n{feedback}\n\n"
    "Write a corrected solution, step by step, ending with 'Final Answer: <answer>'."
)

_POOL_CACHE: dict[tuple[str, ...], np.ndarray] = {}
_POOL_LOCK = threading.Lock()


def _fmt(answer_format: str) -> str:
    return f" {answer_format}" if answer_format else ""


def select_examples(question: str, pool: Sequence[Example], k: int) -> list[Example]:
    """The ``k`` pool examples most similar to ``question`` (MiniLM cosine), least similar first."""
    if k <= 0 or not pool:
        return []
    if k >= len(pool):
        return list(pool)
    from apprentice.embeddings import embed

    key = tuple(q for q, _ in pool)
    with _POOL_LOCK:
        if key not in _POOL_CACHE:
            _POOL_CACHE[key] = embed(list(key))
        vectors = _POOL_CACHE[key]
    query = embed([question])[0]
    order = np.argsort(vectors @ query)[-k:]
    return [pool[int(i)] for i in order]


def solver_messages(
    question: str,
    *,
    mode: str = "cot",
    examples: Sequence[Example] = (),
    answer_format: str = "",
    history: Sequence[BaseMessage] = (),
) -> list[BaseMessage]:
    """Prompt for one answer: ``mode`` is ``"io"`` (answer only) or ``"cot"`` (reason first).

    With no examples, chain-of-thought appends the zero-shot trigger to the question.
    """
    system = (IO_SYSTEM if mode == "io" else COT_SYSTEM).format(fmt=_fmt(answer_format))
    messages: list[BaseMessage] = [SystemMessage(system)]
    for example_q, solution in examples:
        shown = solution if mode == "cot" else _final_only(solution)
        messages += [HumanMessage(example_q), AIMessage(shown)]
    messages += list(history)
    trigger = f"\n\n{COT_TRIGGER}" if mode == "cot" and not examples else ""
    messages.append(HumanMessage(question + trigger))
    return messages


def revise_messages(question: str, draft: str, feedback: str, *, answer_format: str = "") -> list[BaseMessage]:
    """Prompt to rewrite ``draft`` given a verifier's ``feedback``."""
    return [SystemMessage(COT_SYSTEM.format(fmt=_fmt(answer_format))),
            HumanMessage(REVISE_PROMPT.format(question=question, draft=draft.strip(), feedback=feedback.strip()))]


def _final_only(solution: str) -> str:
    lines = [line for line in solution.splitlines() if line.strip().startswith(FINAL_ANSWER)]
    return lines[-1] if lines else solution


def final_line(text: str) -> str:
    """The model's reply as the run's answer: stripped, or a placeholder when it said nothing."""
    return text.strip() or "(no answer)"

"""Self-consistency (Wang et al., 2022): sample n chains of thought at a temperature, fanned out
with ``Send``; normalise each answer with the task and take the majority vote.

``react-sc`` votes the same way over n sampled ReAct runs (tools and all), the voting that fits
a student distilled into the ReAct protocol. The vote distribution goes into the trace (a
``vote`` step and the run's meta). Options: :class:`apprentice.graphs.config.CoTSCConfig` and
:class:`~apprentice.graphs.config.ReactSCConfig` (``samples``, default 5; ``temperature``, default 0.7;
``seed``, default 0; cot-sc also ``fewshot`` and ``max_tokens``).

With option ``verifier`` (``rules``, ``judge``, ``cove``: see :mod:`apprentice.graphs.verify`) each
sample is checked (a ReAct sample with its own tool work) and the vote is weighted: an answer counts
the sum of its samples' scores, so a rejected sample (score 0) does not count, a softly rejected one
(0.5) counts half, and one the verifier cannot judge counts half. Ties go to the answer with more
samples, then the earliest. When every sample is rejected the plain majority stands. The meta keeps
both: ``votes`` and ``majority`` (the plain count and its winner), ``weights`` and ``winner``.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime
from langgraph.types import Send

from apprentice.agents.solver import final_line
from apprentice.agents.verification import run_verifier, verifier_name
from apprentice.graphs.context import RunContext, collect
from apprentice.graphs.cot import solve_once, thread_history
from apprentice.tasks.extract import answer_segments

__all__ = ["SCState", "TURN_DEFAULTS", "build", "build_react", "majority", "weighted"]

#: What each new turn resets (``None`` empties the collected samples).
TURN_DEFAULTS: dict[str, Any] = {"samples": None, "run_meta": {}}


class SCState(TypedDict, total=False):
    """Graph state: the thread, the question, the collected samples and the voted answer."""

    messages: Annotated[list[AnyMessage], add_messages]
    question: str
    answer: str | None
    samples: Annotated[list[dict[str, Any]], collect]
    run_meta: dict[str, Any]


class SampleInput(TypedDict):
    """What one ``Send`` to ``sample`` carries."""

    question: str
    history: list[AnyMessage]
    index: int


def normalized(task: Any, text: str) -> str | None:
    """The vote key of a reply: the task's normalised extracted answer, else the final-answer text."""
    if task is not None:
        return task.normalize(task.extract(text))
    segments = answer_segments(text)
    return " ".join(segments[0].lower().split()) if segments else None


def majority(keys: list[str | None]) -> tuple[str | None, dict[str, int]]:
    """(winner, distribution): the most common non-None key, ties to the earliest; None if none."""
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return None, {}
    best = max(counts.values())
    winner = next(k for k in keys if k is not None and counts[k] == best)
    return winner, dict(counts.most_common())


def weighted(keys: list[str | None], scores: list[float | None]) -> tuple[str | None, dict[str, float]]:
    """(winner, weights): each key's summed verifier score (None, no verdict, counts 0.5); the winner has
    the most weight, then the most samples, then comes first. None when no key has any weight."""
    weights: dict[str, float] = {}
    for key, score in zip(keys, scores, strict=True):
        if key is not None:
            weights[key] = weights.get(key, 0.0) + (0.5 if score is None else score)
    counts = Counter(k for k in keys if k is not None)
    ranked = sorted(weights, key=lambda k: (-weights[k], -counts[k], keys.index(k)))
    if not ranked or weights[ranked[0]] <= 0:
        return None, weights
    return ranked[0], weights


def check_sample(ctx: RunContext, question: str, text: str, index: int, steps: list | None = None) -> dict[str, Any]:
    """The configured verifier's verdict on one sample (with its tool work ``steps``), as a ``verify``
    step and the fields the vote reads; nothing without option ``verifier``."""
    if ctx.config.verifier is None:
        return {}

    result = run_verifier(ctx, verifier_name(ctx), question, text, steps)
    ctx.record("verify", node="sample",
               raw=f"sample {index + 1} {result.verifier}: {result.mark} - {result.reason}",
               data={"sample": index, "verifier": result.verifier, "ok": result.ok, "score": result.score,
                     "reason": result.reason})
    return {"score": result.score, "reason": result.reason}


def fan_out(state: SCState, runtime: Runtime[RunContext]) -> list[Send]:
    """One ``Send`` per sample."""
    ctx = runtime.context
    history = thread_history(state, ctx)
    n = ctx.config.samples
    return [Send("sample", {"question": state["question"], "history": history, "index": i}) for i in range(n)]


def sample(state: SampleInput, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """One chain of thought at temperature, seeded by its index."""
    ctx = runtime.context
    seed = (ctx.config.seed or 0) + state["index"]
    text = solve_once(ctx, state["question"], state["history"], mode="cot", node="sample",
                      temperature=ctx.config.temperature, seed=seed)
    return {"samples": [{"index": state["index"], "text": text, "key": normalized(ctx.task, text),
                         **check_sample(ctx, state["question"], text, state["index"])}]}


def react_sample(state: SampleInput, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """One whole ReAct run at temperature, seeded by its index; its steps go into this trace."""
    from apprentice.graphs import react

    ctx = runtime.context
    ctx.record("thought", node="sample", thought=f"sampled ReAct run {state['index'] + 1}")
    answer, steps = react.run_turn(ctx, state["question"], state["history"], tags={"sample": state["index"]},
                                   seed=(ctx.config.seed or 0) + state["index"],
                                   temperature=ctx.config.temperature)
    text = f"Final Answer: {answer}"  # the form a chain's answer is read from; the run answers ``answer``
    return {"samples": [{"index": state["index"], "text": text, "answer": answer, "key": normalized(ctx.task, text),
                         **check_sample(ctx, state["question"], text, state["index"], steps)}]}


def vote(state: SCState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Majority vote over the normalised answers, weighted by the samples' verdicts when a verifier
    checked them; the winner's first chain is the answer."""
    ctx = runtime.context
    samples = sorted(state.get("samples", []), key=lambda s: s["index"])
    keys = [s["key"] for s in samples]
    winner, distribution = majority(keys)
    weighing: dict[str, Any] = {}  # with a verifier: the plain winner, the weights, each sample's verdict
    if any("score" in s for s in samples):
        chosen_key, weights = weighted(keys, [s.get("score") for s in samples])
        weighing = {"majority": winner, "weights": {k: round(w, 3) for k, w in weights.items()},
                    "verifier": ctx.config.verifier}
        winner = chosen_key if chosen_key is not None else winner
    chosen = next((s for s in samples if s["key"] == winner), samples[0] if samples else None)
    answer = final_line(chosen.get("answer", chosen["text"]) if chosen else "")  # react-sc: bare, as react's
    share = distribution.get(winner, 0) / len(samples) if samples and winner is not None else 0.0
    checks = [{k: s.get(k) for k in ("key", "score", "reason")} for s in samples] if weighing else []
    ctx.record("vote", node="vote", raw=f"{winner!r} won {distribution}"
               + (f" weighted {weighing['weights']}" if weighing else ""),
               data={"distribution": distribution, "winner": winner, "samples": len(samples), **weighing,
                     **({"checks": checks} if checks else {})})
    ctx.record("answer", node="vote", raw=answer)
    meta = {"votes": distribution, "winner": winner, "samples": len(samples), "agreement": round(share, 3),
            **weighing}
    return {"answer": answer, "messages": [AIMessage(answer)], "run_meta": meta}


def _build(sample_node: Any, name: str, checkpointer: Any):
    graph = StateGraph(SCState, context_schema=RunContext)
    graph.add_node("sample", sample_node)
    graph.add_node("vote", vote)
    graph.add_conditional_edges(START, fan_out, ["sample"])
    graph.add_edge("sample", "vote")
    graph.add_edge("vote", END)
    return graph.compile(checkpointer=checkpointer, name=name)


def build(checkpointer: Any = None):
    """Compile the self-consistency graph: START -> sample x n (Send) -> vote -> END."""
    return _build(sample, "cot-sc", checkpointer)


def build_react(checkpointer: Any = None):
    """Compile react-sc: START -> ReAct run x n (Send) -> vote -> END."""
    return _build(react_sample, "react-sc", checkpointer)

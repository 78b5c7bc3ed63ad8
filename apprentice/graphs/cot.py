"""Chain-of-thought as a one-node StateGraph: zero-shot ("Let's think step by step") or few-shot,
with the examples chosen from the task's pool by similarity to the question.

Options: :class:`apprentice.graphs.config.CoTConfig` (``fewshot``, examples, default 2 and 0 for
zero-shot; ``max_tokens``, default 256; ``temperature``, default 0; ``seed``).
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime

from apprentice.agents.grammar import answer_kind, solver_grammar
from apprentice.agents.solver import final_line, select_examples, solver_messages
from apprentice.graphs.context import RunContext
from apprentice.graphs.history import answer_format, history_window

__all__ = ["SolveState", "TURN_DEFAULTS", "build", "solve_once"]

#: What each new turn resets.
TURN_DEFAULTS: dict[str, Any] = {"run_meta": {}}
#: Tokens of a solver call when the strategy leaves ``max_tokens`` to its context (verify's drafts).
DEFAULT_MAX_TOKENS = 256


class SolveState(TypedDict, total=False):
    """Graph state of the single-answer strategies (io, cot)."""

    messages: Annotated[list[AnyMessage], add_messages]
    question: str
    answer: str | None
    run_meta: dict[str, Any]


def solve_once(
    ctx: RunContext,
    question: str,
    history: list[AnyMessage],
    *,
    mode: str,
    node: str,
    **params: Any,
) -> str:
    """One solver call (``mode`` io or cot) with few-shot examples; returns the reply text.

    ``params`` (``temperature``, ``seed``, ``max_tokens``) override the config's; the run's ``seed`` goes
    to the call only when one was given.
    """
    config = ctx.config
    k = config.fewshot
    pool = ctx.task.fewshot_pool() if ctx.task is not None and k > 0 else []
    examples = select_examples(question, pool, k)
    prompt = solver_messages(question, mode=mode, examples=examples, answer_format=answer_format(ctx),
                             history=history)
    params.setdefault("temperature", config.temperature or 0.0)
    params.setdefault("max_tokens", config.max_tokens or DEFAULT_MAX_TOKENS)
    if config.seed is not None:
        params.setdefault("seed", config.seed)
    grammar = solver_grammar(mode, answer=answer_kind(ctx.task)) if ctx.grammar_for("answer") else None
    return ctx.call_model(prompt, node=node, grammar=grammar, **params).text


def thread_history(state: dict[str, Any], ctx: RunContext) -> list[AnyMessage]:
    """The earlier turns of the thread that fit the window (the current question excluded)."""
    return history_window(state["messages"][:-1], ctx.window)[1]


def solve(state: SolveState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Reason step by step and answer."""
    ctx = runtime.context
    text = solve_once(ctx, state["question"], thread_history(state, ctx), mode="cot", node="solve")
    answer = final_line(text)
    ctx.record("answer", node="solve", raw=answer)
    return {"answer": answer, "messages": [AIMessage(answer)],
            "run_meta": {"fewshot": ctx.config.fewshot}}


def build(checkpointer: Any = None):
    """Compile the chain-of-thought graph."""
    graph = StateGraph(SolveState, context_schema=RunContext)
    graph.add_node("solve", solve)
    graph.add_edge(START, "solve")
    graph.add_edge("solve", END)
    return graph.compile(checkpointer=checkpointer, name="cot")

"""Input-output prompting: the answer alone, no reasoning (the baseline of the ToT paper).

Options: :class:`apprentice.graphs.config.IOConfig` (``fewshot``, default 2, examples show only their
final answer; ``max_tokens``, default 64; ``temperature``; ``seed``).
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from apprentice.agents.solver import final_line
from apprentice.graphs.context import RunContext
from apprentice.graphs.cot import SolveState, solve_once, thread_history

__all__ = ["TURN_DEFAULTS", "build"]

#: What each new turn resets.
TURN_DEFAULTS: dict[str, Any] = {"run_meta": {}}


def answer(state: SolveState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Answer directly."""
    ctx = runtime.context
    text = solve_once(ctx, state["question"], thread_history(state, ctx), mode="io", node="answer")
    reply = final_line(text)
    ctx.record("answer", node="answer", raw=reply)
    return {"answer": reply, "messages": [AIMessage(reply)]}


def build(checkpointer: Any = None):
    """Compile the IO graph."""
    graph = StateGraph(SolveState, context_schema=RunContext)
    graph.add_node("answer", answer)
    graph.add_edge(START, "answer")
    graph.add_edge("answer", END)
    return graph.compile(checkpointer=checkpointer, name="io")

"""Strategy name -> graph builder. Every front end (ask, batch, eval, chat) picks from here."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apprentice.errors import ApprenticeError
from apprentice.graphs import cot, cot_sc, io, react, tot, verify

__all__ = ["Strategy", "STRATEGIES", "build_graph", "compiled_graph", "turn_input"]


@dataclass(frozen=True)
class Strategy:
    """A strategy: how to build its graph and what state each new turn starts from.

    Every strategy graph's state has ``messages`` (the thread, ``add_messages``), ``question``
    and ``answer``; it may also set ``tree`` (a search tree) and ``run_meta`` (a dict merged
    into the trace's meta, e.g. a vote distribution).
    """

    name: str
    build: Callable[..., Any]
    description: str
    turn_defaults: dict[str, Any] = field(default_factory=dict)


#: Strategy name -> :class:`Strategy`; ask, batch, eval and chat all choose from here.
STRATEGIES: dict[str, Strategy] = {
    "io": Strategy("io", io.build, "answer directly, no reasoning (input-output prompting)", io.TURN_DEFAULTS),
    "cot": Strategy("cot", cot.build, "chain of thought, zero- or few-shot (similar examples)", cot.TURN_DEFAULTS),
    "cot-sc": Strategy("cot-sc", cot_sc.build,
                       "self-consistency: n sampled chains, majority vote (or weighted by a verifier)",
                       cot_sc.TURN_DEFAULTS),
    "react": Strategy("react", react.build, "reason + act with tools (ReAct)", react.TURN_DEFAULTS),
    "react-sc": Strategy("react-sc", cot_sc.build_react,
                         "self-consistency over n sampled ReAct runs, majority vote (or weighted by a verifier)",
                         cot_sc.TURN_DEFAULTS),
    "tot": Strategy("tot", tot.build, "Tree-of-Thought: propose, value, select (BFS beam or DFS)",
                    tot.TURN_DEFAULTS),
    "verify": Strategy("verify", verify.build, "generate, verify (rules, LLM judge or CoVe), revise",
                       verify.TURN_DEFAULTS),
}


def turn_input(strategy: str, question: str) -> dict[str, Any]:
    """The graph input that starts a new turn of ``strategy`` on ``question``."""
    from langchain_core.messages import HumanMessage

    return {**_get(strategy).turn_defaults, "messages": [HumanMessage(question)], "question": question,
            "answer": None}


def _get(strategy: str) -> Strategy:
    try:
        return STRATEGIES[strategy]
    except KeyError:
        raise ApprenticeError(f"unknown strategy {strategy!r}; choose from: {', '.join(STRATEGIES)}") from None

_COMPILED: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()


def build_graph(strategy: str, checkpointer: Any = None):
    """Compile the graph of ``strategy``; an unknown name is an error naming the choices."""
    return _get(strategy).build(checkpointer=checkpointer)


def compiled_graph(strategy: str, checkpointer: Any = None):
    """Like :func:`build_graph`, compiled once per (strategy, checkpointer) and reused."""
    key = (strategy, id(checkpointer))
    with _LOCK:
        if key not in _COMPILED:
            _COMPILED[key] = build_graph(strategy, checkpointer)
        return _COMPILED[key]

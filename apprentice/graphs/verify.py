"""Generate -> verify -> accept, or revise and verify again, up to ``rounds`` times.

Verifiers (option ``verifier``): ``rules`` (the task's own checks, no model call: Game-of-24 rules,
a plausible answer, exact arithmetic of every ``a op b = c`` claim via the calculator, and for a
ReAct draft an answer its calculator work reached and work that uses every number of the question,
the last a soft rule; see :mod:`apprentice.agents.verifier`), ``judge`` (an LLM grader with a structured
verdict and reason) and ``cove`` (Chain-of-Verification: plan questions, answer them independently
of the draft, compare). The draft comes from the ``inner`` strategy: ``cot`` (default), ``io`` or
``react`` (the ReAct graph runs as a subgraph with the same context, its steps in this trace).
Every verification is a ``verify`` step and a verdict on the run (``verify:<verifier>``).

Two ways to revise a rejected draft (option ``revise``):
- ``feedback`` (default for cot and io): the model rewrites the draft with the verifier's feedback.
- ``resample`` (default for react): a fresh draft from the inner strategy, sampled at
  ``temperature`` with seed ``seed + n``. This is rejection sampling against the verifier. It suits
  a small distilled student, which was trained on its own protocol and never on rewriting a draft
  from feedback. When no resample is accepted, the best-scored draft stands (the verifier's score; the
  earliest on ties, so the first, greedy draft when every draft fails alike).

Options: :class:`apprentice.graphs.config.VerifyConfig`: ``verifier`` (rules with a task, else judge),
``inner`` (cot), ``revise``, ``rounds`` (2 for feedback, 4 for resample), ``temperature`` (0.7 for
resamples), ``seed`` (0), ``fewshot``, ``max_tokens``, ``questions`` (CoVe, 3).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime

from apprentice.agents.grammar import answer_kind, solver_grammar
from apprentice.agents.solver import final_line, revise_messages
from apprentice.agents.verification import run_verifier, verifier_name
from apprentice.graphs.config import REVISE_MODES, VERIFIERS
from apprentice.graphs.context import RunContext, collect
from apprentice.graphs.cot import DEFAULT_MAX_TOKENS, solve_once, thread_history
from apprentice.graphs.history import answer_format
from apprentice.graphs.react import run_turn
from apprentice.traces import Step

__all__ = ["VerifyState", "TURN_DEFAULTS", "VERIFIERS", "REVISE_MODES", "build", "run_verifier"]

#: What each new turn resets.
TURN_DEFAULTS: dict[str, Any] = {"draft": "", "work": [], "revisions": 0, "checks": None,
                                 "run_meta": {}}
DEFAULT_ROUNDS = {"feedback": 2, "resample": 4}
#: The temperature of a resampled draft when the config sets none.
RESAMPLE_TEMPERATURE = 0.7


class VerifyState(TypedDict, total=False):
    """Graph state: the thread, the current draft and its tool work (step dicts), how often it was
    revised, every check so far (each with the draft it checked)."""

    messages: Annotated[list[AnyMessage], add_messages]
    question: str
    answer: str | None
    draft: str
    work: list[dict[str, Any]]
    revisions: int
    checks: Annotated[list[dict[str, Any]], collect]
    run_meta: dict[str, Any]


def inner_strategy(ctx: RunContext) -> str:
    """The strategy of the drafts (``cot`` unless configured)."""
    return ctx.config.inner


def revise_mode(ctx: RunContext) -> str:
    """How a rejected draft is revised: ``resample`` by default for a ReAct draft, else ``feedback``."""
    return ctx.config.revise or ("resample" if inner_strategy(ctx) == "react" else "feedback")


def draft_once(state: VerifyState, ctx: RunContext, node: str, **sampling: Any) -> tuple[str, list[dict[str, Any]]]:
    """One draft from the inner strategy and the tool steps behind it (``sampling``: temperature, seed)."""
    inner = inner_strategy(ctx)
    history = thread_history(state, ctx)
    if inner == "react":
        answer, steps = run_turn(ctx, state["question"], history, **sampling)
        return final_line(answer), [s.to_dict() for s in steps if s.kind in ("action", "observation")]
    return final_line(solve_once(ctx, state["question"], history, mode=inner, node=node, **sampling)), []


# -- nodes -------------------------------------------------------------------------------------


def generate(state: VerifyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """The first draft, from the inner strategy."""
    ctx = runtime.context
    # resampling: the first draft is greedy; ``temperature`` is the resamples'
    greedy = {"temperature": 0.0} if revise_mode(ctx) == "resample" else {}
    draft, work = draft_once(state, ctx, "generate", **greedy)
    return {"draft": draft, "work": work, "revisions": 0, "checks": None}


def verify(state: VerifyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Check the current draft; record the verdict as a step and on the run."""
    ctx = runtime.context
    name = verifier_name(ctx)
    result = run_verifier(ctx, name, state["question"], state["draft"],
                          [Step(**step) for step in state.get("work") or []])
    round_no = state.get("revisions", 0)
    check = {"round": round_no, "verifier": result.verifier, "ok": result.ok, "score": result.score,
             "reason": result.reason, "feedback": result.feedback, "draft": state["draft"]}
    ctx.record("verify", node="verify",
               raw=f"round {round_no} {result.verifier}: {result.mark} - {result.reason}",
               data=check)
    ctx.events.verdict(verifier=f"verify:{result.verifier}", correct=result.ok, score=result.score,
                       reason=f"round {round_no}: {result.reason}")
    return {"checks": [check]}


def revise(state: VerifyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """A new draft: rewritten with the last check's feedback, or sampled afresh (see ``revise``)."""
    ctx = runtime.context
    last = state["checks"][-1]
    n = state.get("revisions", 0) + 1
    if revise_mode(ctx) == "resample":
        ctx.record("thought", node="revise",
                   thought=f"draft rejected ({last['reason']}); sampling draft {n + 1}")
        temperature = RESAMPLE_TEMPERATURE if ctx.config.temperature is None else ctx.config.temperature
        draft, work = draft_once(state, ctx, "revise", seed=(ctx.config.seed or 0) + n, temperature=temperature)
        return {"draft": draft, "work": work, "revisions": n}
    feedback = last["feedback"] or last["reason"]
    prompt = revise_messages(state["question"], state["draft"], feedback, answer_format=answer_format(ctx))
    grammar = solver_grammar("cot", answer=answer_kind(ctx.task)) if ctx.grammar_for("answer") else None
    reply = ctx.call_model(prompt, node="revise", max_tokens=ctx.config.max_tokens or DEFAULT_MAX_TOKENS,
                           grammar=grammar)
    return {"draft": final_line(reply.text), "work": [], "revisions": n}


def finish(state: VerifyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Accept the current draft; when resampling found none the verifier accepts, the best-scored one."""
    ctx = runtime.context
    checks = state.get("checks", [])
    mode = revise_mode(ctx)
    accepted = bool(checks) and checks[-1]["ok"] is not False
    fallback = mode == "resample" and not accepted and state.get("revisions", 0) > 0
    answer = state["draft"]
    if fallback:  # max() keeps the earliest of equal scores (the greedy first draft when all fail alike)
        answer = max(checks, key=lambda c: (c["score"] or 0.0, c["reason"] != "no final answer found"))["draft"]
    ctx.record("answer", node="finish", raw=answer, data={"fallback": True} if fallback else {})
    meta = {"verify": {"verifier": verifier_name(ctx), "revise": mode, "revisions": state.get("revisions", 0),
                       "accepted": accepted, "fallback": fallback,
                       "verdicts": [{k: c[k] for k in ("round", "verifier", "ok", "score")} for c in checks]}}
    return {"answer": answer, "messages": [AIMessage(answer)], "run_meta": meta}


# -- routing -----------------------------------------------------------------------------------


def route_verify(state: VerifyState, runtime: Runtime[RunContext]) -> Literal["revise", "finish"]:
    """Revise a rejected draft while rounds are left; otherwise finish."""
    ctx = runtime.context
    last = state["checks"][-1]
    rounds = DEFAULT_ROUNDS[revise_mode(ctx)] if ctx.config.rounds is None else ctx.config.rounds
    if last["ok"] is False and state.get("revisions", 0) < rounds:
        return "revise"
    return "finish"


def build(checkpointer: Any = None):
    """Compile the verify graph: generate -> verify -> (revise -> verify)* -> finish."""
    graph = StateGraph(VerifyState, context_schema=RunContext)
    graph.add_node("generate", generate)
    graph.add_node("verify", verify)
    graph.add_node("revise", revise)
    graph.add_node("finish", finish)
    graph.add_edge(START, "generate")
    graph.add_edge("generate", "verify")
    graph.add_conditional_edges("verify", route_verify)
    graph.add_edge("revise", "verify")
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer, name="verify")



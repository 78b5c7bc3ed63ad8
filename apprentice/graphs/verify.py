"""Generate -> verify -> accept, or revise with the verifier's feedback, up to ``rounds`` times.

Verifiers (option ``verifier``): ``rules`` (the task's own checker: Game-of-24 rules, exact
arithmetic of every ``a op b = c`` claim via the calculator), ``judge`` (an LLM grader with a
structured verdict and reason) and ``cove`` (Chain-of-Verification: plan questions, answer them
independently of the draft, compare). The draft comes from the ``inner`` strategy: ``cot``
(default), ``io`` or ``react`` (the ReAct graph runs as a subgraph with the same context). Every
verification is a ``verify`` step and a verdict on the run (``verify:<verifier>``).

Options: ``verifier`` (rules with a task, else judge), ``rounds`` (2), ``inner`` (cot), ``fewshot``,
``max_tokens``, ``questions`` (CoVe, 3).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime

from apprentice.agents.cove import cove_check
from apprentice.agents.judge import llm_judge
from apprentice.agents.solver import final_line, revise_messages
from apprentice.agents.verifier import CheckResult, rules_check
from apprentice.errors import ApprenticeError
from apprentice.graphs.context import RunContext
from apprentice.graphs.cot import DEFAULT_MAX_TOKENS, option, solve_once, thread_history
from apprentice.graphs.cot_sc import collect
from apprentice.graphs.history import answer_format

__all__ = ["VerifyState", "TURN_DEFAULTS", "VERIFIERS", "build", "run_verifier"]

#: What each new turn resets.
TURN_DEFAULTS: dict[str, Any] = {"draft": "", "revisions": 0, "checks": None, "run_meta": {}}
VERIFIERS = ("rules", "judge", "cove")
INNER = ("cot", "io", "react")
DEFAULT_ROUNDS = 2


class VerifyState(TypedDict, total=False):
    """Graph state: the thread, the current draft, how often it was revised, every check so far."""

    messages: Annotated[list[AnyMessage], add_messages]
    question: str
    answer: str | None
    draft: str
    revisions: int
    checks: Annotated[list[dict[str, Any]], collect]
    run_meta: dict[str, Any]


def verifier_name(ctx: RunContext) -> str:
    """The configured verifier; ``rules`` needs a task, so without one the judge is the default."""
    name = ctx.options.get("verifier") or ("rules" if ctx.task is not None else "judge")
    if name not in VERIFIERS:
        raise ApprenticeError(f"unknown verifier {name!r}; choose from: {', '.join(VERIFIERS)}")
    return name


def run_verifier(ctx: RunContext, name: str, question: str, draft: str) -> CheckResult:
    """Check ``draft`` with verifier ``name``."""
    if name == "rules":
        return rules_check(ctx.task, question, draft)
    if name == "judge":
        return llm_judge(ctx, question, draft)
    return cove_check(ctx, question, draft, k=int(option(ctx, "questions", 3)))


# -- nodes -------------------------------------------------------------------------------------


def generate(state: VerifyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """The first draft, from the inner strategy."""
    ctx = runtime.context
    inner = option(ctx, "inner", "cot")
    if inner not in INNER:
        raise ApprenticeError(f"unknown inner strategy {inner!r} for verify; choose from: {', '.join(INNER)}")
    if inner == "react":
        from apprentice.graphs.registry import compiled_graph, turn_input

        result = compiled_graph("react").invoke(turn_input("react", state["question"]), context=ctx,
                                                config={"recursion_limit": 8 * ctx.max_steps + 50})
        draft = result.get("answer") or ""
    else:
        draft = solve_once(ctx, state["question"], thread_history(state, ctx), mode=inner, node="generate")
    return {"draft": final_line(draft), "revisions": 0, "checks": None}


def verify(state: VerifyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Check the current draft; record the verdict as a step and on the run."""
    ctx = runtime.context
    name = verifier_name(ctx)
    result = run_verifier(ctx, name, state["question"], state["draft"])
    round_no = state.get("revisions", 0)
    check = {"round": round_no, "verifier": result.verifier, "ok": result.ok, "score": result.score,
             "reason": result.reason, "feedback": result.feedback}
    mark = {True: "accept", False: "reject", None: "no verdict"}[result.ok]
    ctx.recorder.record("verify", node="verify", raw=f"round {round_no} {result.verifier}: {mark} - {result.reason}",
                        data=check)
    store = ctx.recorder.store
    if store is not None:
        store.add_verdict(ctx.recorder.run_id, verifier=f"verify:{result.verifier}", correct=result.ok,
                          score=result.score, reason=f"round {round_no}: {result.reason}")
    return {"checks": [check]}


def revise(state: VerifyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Rewrite the draft with the last check's feedback."""
    ctx = runtime.context
    last = state["checks"][-1]
    feedback = last["feedback"] or last["reason"]
    prompt = revise_messages(state["question"], state["draft"], feedback, answer_format=answer_format(ctx))
    reply = ctx.call_model(prompt, node="revise", max_tokens=int(option(ctx, "max_tokens", DEFAULT_MAX_TOKENS)))
    return {"draft": final_line(reply.text), "revisions": state.get("revisions", 0) + 1}


def finish(state: VerifyState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Accept the current draft as the answer."""
    ctx = runtime.context
    checks = state.get("checks", [])
    answer = state["draft"]
    ctx.recorder.record("answer", node="finish", raw=answer)
    meta = {"verify": {"verifier": verifier_name(ctx), "revisions": state.get("revisions", 0),
                       "accepted": bool(checks) and checks[-1]["ok"] is not False,
                       "verdicts": [{k: c[k] for k in ("round", "verifier", "ok", "score")} for c in checks]}}
    return {"answer": answer, "messages": [AIMessage(answer)], "run_meta": meta}


# -- routing -----------------------------------------------------------------------------------


def route_verify(state: VerifyState, runtime: Runtime[RunContext]) -> Literal["revise", "finish"]:
    """Revise a rejected draft while rounds are left; otherwise finish."""
    ctx = runtime.context
    last = state["checks"][-1]
    rounds = int(option(ctx, "rounds", DEFAULT_ROUNDS))
    if last["ok"] is False and state.get("revisions", 0) < rounds and not ctx.cancelled.is_set():
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



"""ReAct as a LangGraph StateGraph: reason -> act -> observe, until a final answer or the step limit.

Two action protocols share the graph. Models with native tool calling (OpenAI) get the tools
bound; small local models get the text protocol (Thought / Action / Action Input / Observation /
Final Answer), whose scratchpad is the assistant's unfinished message, continued each turn.
A step that does not parse, or names a tool outside the run's allowed set, goes back to the
model as an observation. Threads keep their messages in the checkpointer; the prompt sees a
window of them and, optionally, a running summary of what fell out of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    HumanMessage,
    RemoveMessage,
    ToolMessage,
)
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime

from apprentice.agents.decide import DECIDE_TOOL, DECISION_GRAMMAR, decision_prompt, go_on_opening, parse_decision
from apprentice.agents.grammar import answer_grammar, answer_kind, react_step_grammar
from apprentice.agents.react import (
    FORCE_ANSWER,
    FORMAT_ERROR,
    STOP_SEQUENCES,
    TALLY_PROMPTS,
    UNKNOWN_TOOL_ERROR,
    format_observation,
    native_system_prompt,
    parse_react,
    text_protocol_messages,
)
from apprentice.agents.tally import TALLY_TOOL, calculator_calls, listed, tally_note, unused_after
from apprentice.errors import ApprenticeError
from apprentice.graphs.context import RunContext
from apprentice.graphs.history import answer_format, history_window, summarize_messages
from apprentice.models import supports_native_tools
from apprentice.tools import format_tool_error
from apprentice.traces import Step

__all__ = ["ReactState", "build", "call_tool", "observed", "run_turn", "TURN_DEFAULTS"]

REPEATED_STEP = "Error: the same step again; answering with what is known."

#: What each new turn resets (the thread's messages and summary carry over).
TURN_DEFAULTS = {"scratch": "", "steps": 0, "pending": None, "go_on": None}


class ReactState(TypedDict, total=False):
    """Graph state. ``messages`` is the thread; the rest belongs to the current turn."""

    messages: Annotated[list[AnyMessage], add_messages]
    summary: str
    question: str
    scratch: str
    steps: int
    pending: dict[str, str] | None
    go_on: str | None  # the harness decided to go on (``decide``): the next thought's opening; the step must act
    answer: str | None


def _native(ctx: RunContext) -> bool:
    if ctx.protocol == "auto":
        return bool(ctx.tools) and supports_native_tools(ctx.model)
    return ctx.protocol == "native"


# -- nodes -------------------------------------------------------------------------------------


def summarize(state: ReactState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Fold the messages that left the window into the running summary."""
    ctx = runtime.context
    dropped, _ = history_window(state["messages"][:-1], ctx.window)
    summary = summarize_messages(ctx, state.get("summary", ""), dropped)
    return {"summary": summary, "messages": [RemoveMessage(id=m.id) for m in dropped]}


def reason(state: ReactState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Ask the model for the next step (or the final answer, once the steps are spent)."""
    ctx = runtime.context
    if _native(ctx):
        return _reason_native(state, ctx)
    out = _reason_text(state, ctx)
    return {**out, "go_on": None} if state.get("go_on") else out


def _sampling(ctx: RunContext) -> dict[str, Any]:
    """``temperature``, ``seed`` and ``max_tokens`` where the run's config sets them (react-sc samples at a
    temperature); the model's own defaults otherwise."""
    return {k: v for k in ("temperature", "seed", "max_tokens") if (v := getattr(ctx.config, k, None)) is not None}


def _reason_text(state: ReactState, ctx: RunContext) -> dict[str, Any]:
    scratch = state.get("scratch", "")
    _, history = history_window(state["messages"][:-1], ctx.window)
    prompt = text_protocol_messages(
        question=state["question"], scratch=scratch, tools=list(ctx.tools.values()),
        history=history, summary=state.get("summary", ""), answer_format=answer_format(ctx),
        prompt=getattr(ctx.model, "react_prompt", "full"),
    )
    kind = answer_kind(ctx.task)
    if state.get("steps", 0) >= ctx.max_steps:
        prompt[-1] = AIMessage(prompt[-1].text + FORCE_ANSWER)
        grammar = answer_grammar(answer=kind) if ctx.grammar_for("answer") else None
        reply = ctx.call_model(prompt, node="reason", stop=STOP_SEQUENCES, grammar=grammar, **_sampling(ctx))
        step = parse_react("Final Answer:" + reply.text)
        answer = step.final_answer or reply.text.strip() or "(no answer)"
        ctx.record("answer", node="reason", raw=answer, data=_marks(ctx, grammar, forced=True))
        return {"answer": answer, "pending": None, "messages": [AIMessage(answer)]}
    opening = state.get("go_on") if ctx.tools else None
    if opening:  # the harness opens the thought; the model ends its line and must call a tool
        prompt[-1] = AIMessage(prompt[-1].text + opening)
        grammar = react_step_grammar(list(ctx.tools), answer=kind, final=False, opened=True)
    else:
        grammar = react_step_grammar(list(ctx.tools), answer=kind) if ctx.grammar_for("steps") else None
    reply = ctx.call_model(prompt, node="reason", stop=STOP_SEQUENCES, grammar=grammar, **_sampling(ctx))
    text = (opening or "") + reply.text.rstrip()
    step = parse_react("Thought:" + text, tools=list(ctx.tools))
    marks = _marks(ctx, grammar)
    if f"Thought: {text.strip()}\n" in scratch and step.final_answer is None:
        # the same step again: greedy decoding would loop to the limit, so answer now
        ctx.record("error", node="reason", observation=REPEATED_STEP, raw=text)
        return {"steps": ctx.max_steps, "pending": None}
    scratch += f"Thought: {text.strip()}\n"
    if step.thought:
        ctx.record("thought", node="reason", thought=step.thought, data=marks)
    if step.final_answer is not None:
        ctx.record("answer", node="reason", raw=step.final_answer, data=marks)
        return {"answer": step.final_answer, "scratch": scratch, "pending": None,
                "messages": [AIMessage(step.final_answer)]}
    if step.problem:
        observation = FORMAT_ERROR.format(problem=step.problem)
        ctx.record("error", node="reason", observation=observation, raw=text, data=marks)
        return {"scratch": scratch + f"Observation: {observation}\n", "steps": state.get("steps", 0) + 1,
                "pending": None}
    pending = {"tool": step.tool or "", "input": step.tool_input or "", "thought": step.thought,
               "constrained": bool(marks)}
    return {"scratch": scratch, "pending": pending}


def _marks(ctx: RunContext, grammar: str | None, **data: Any) -> dict[str, Any]:
    """A step's ``data``: ``constrained`` when a grammar shaped it (the chat UI marks such steps)."""
    return {**data, "constrained": True} if grammar and ctx.can_constrain() else data


def _reason_native(state: ReactState, ctx: RunContext) -> dict[str, Any]:
    messages = state["messages"]
    turn_start = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
    _, history = history_window(messages[:turn_start], ctx.window)
    prompt = [native_system_prompt(summary=state.get("summary", ""), answer_format=answer_format(ctx)),
              *history, *messages[turn_start:]]
    model = ctx.model
    if state.get("steps", 0) >= ctx.max_steps:
        prompt.append(HumanMessage("You have used all your steps. Give your final answer now."))
    elif ctx.tools:
        model = ctx.model.bind_tools(list(ctx.tools.values()))
    reply = ctx.call_model(prompt, node="reason", model=model, **_sampling(ctx))
    if reply.tool_calls and state.get("steps", 0) < ctx.max_steps:
        if reply.text.strip():
            ctx.record("thought", node="reason", thought=reply.text.strip())
        return {"messages": [reply]}
    answer = reply.text.strip()
    if answer.lower().startswith("final answer:"):
        answer = answer[len("final answer:"):].strip()
    ctx.record("answer", node="reason", raw=answer)
    return {"messages": [reply], "answer": answer}


def act(state: ReactState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Run the requested tool calls; refusals and tool errors become observations."""
    ctx = runtime.context
    steps = state.get("steps", 0) + 1
    if state.get("pending"):
        pending = state["pending"]
        observation = call_tool(ctx, pending["tool"], pending["input"], constrained=pending.get("constrained", False))
        scratch = observed(ctx, state["question"], state.get("scratch", ""), observation)
        return {"scratch": scratch, "pending": None, "steps": steps}
    calls = state["messages"][-1].tool_calls
    results = [ToolMessage(call_tool(ctx, c["name"], c["args"]), tool_call_id=c["id"], name=c["name"])
               for c in calls]
    return {"messages": results, "steps": steps}


def call_tool(ctx: RunContext, name: str, tool_input: str | dict, *, constrained: bool = False) -> str:
    """Run one tool call as a step of the run: its action and observation recorded, a tool's failure (or an
    unknown tool) returned as the observation the model reads. The one tool path of ReAct and LATS."""
    ctx.check_cancelled()
    shown = tool_input if isinstance(tool_input, str) else str(tool_input)
    ctx.record("action", node="act", tool=name, tool_input=shown,
               data={"constrained": True} if constrained else {})
    tool = ctx.tools.get(name)
    if tool is None:
        observation = UNKNOWN_TOOL_ERROR.format(tool=name, names=", ".join(ctx.tools))
    else:
        try:
            args = tool_input if isinstance(tool_input, dict) else _single_arg(tool, tool_input)
            observation = str(tool.invoke(args))
        except Exception as exc:  # a tool's failure is the model's observation (STYLE rule 3)
            observation = format_tool_error(exc)
    ctx.record("observation", node="act", tool=name, observation=observation)
    return observation


def observed(ctx: RunContext, question: str, scratch: str, observation: str) -> str:
    """A text-protocol scratchpad with a tool's observation added, and, for a model whose ReAct prompt has the
    tally (``TALLY_PROMPTS``), the tally's line after a calculator result (``apprentice.agents.tally``), recorded as
    an observation of :data:`TALLY_TOOL` for the person who reads the run (harvest writes the line again from the
    question and the rebuilt trajectory). The one way ReAct and LATS write an observation."""
    scratch += f"Observation: {format_observation(observation)}\n"
    if getattr(ctx.model, "react_prompt", "full") in TALLY_PROMPTS and (note := tally_note(question, scratch)):
        ctx.record("observation", node="act", tool=TALLY_TOOL, observation=note)
        scratch += note + "\n"
    return scratch


def decide(state: ReactState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """After a calculator result while the question has numbers no input has used: go on, or leave it to the
    model's step (:mod:`apprentice.agents.decide`). ``ask`` puts the decision's question to the model (one call,
    ``yes`` or ``no`` under a grammar; with ``go_on_at``, its probability of yes against that threshold); ``listed``
    goes on while any number is unused. Going on makes the next step a tool call; the decision is an observation of
    :data:`DECIDE_TOOL` in the trace."""
    ctx = runtime.context
    calls = calculator_calls(state.get("scratch", ""))
    unused = unused_after(state["question"], state.get("scratch", "")) or []
    asked = [HumanMessage(decision_prompt(state["question"], calls, unused))]
    p_yes = None
    if ctx.config.decide == "listed":
        go = True
    elif ctx.config.go_on_at is not None:
        p_yes = ctx.score_choices(asked, ("yes", "no"), node="decide")["yes"]
        go = p_yes >= ctx.config.go_on_at
    else:
        reply = ctx.call_model(asked, node="decide", grammar=DECISION_GRAMMAR, temperature=0.0, max_tokens=2)
        go = parse_decision(reply.text) is True
    opening = go_on_opening(unused)
    said = f"go on: the answer needs one of {listed(unused)}" if go and len(unused) > 1 else \
        f"go on: the answer needs {unused[0]}" if go else f"the step decides: {listed(unused)} not needed"
    ctx.record("observation", node="decide", tool=DECIDE_TOOL,
               observation=said + (f" (P(yes) {p_yes:.2f})" if p_yes is not None else ""),
               data=({"opening": opening} if go else {}) | ({"p_yes": p_yes} if p_yes is not None else {}))
    return {"go_on": opening if go else None}


def _single_arg(tool: Any, text: str) -> dict[str, str]:
    fields = list(tool.args)
    return {fields[0]: text} if fields else {}


# -- routing -----------------------------------------------------------------------------------


def route_start(state: ReactState, runtime: Runtime[RunContext]) -> Literal["summarize", "reason"]:
    """Summarize first when the thread has outgrown the window and summaries are on. A ``decide`` the run's model
    cannot follow (the harness's go on is a grammar on a text-protocol step) is refused here, before any call."""
    ctx = runtime.context
    mode = getattr(ctx.config, "decide", "self")
    if mode != "self" and (_native(ctx) or not ctx.can_constrain()):
        raise ApprenticeError(f"decide={mode} needs the text protocol on a model that takes a grammar (llama.cpp); "
                              f"{getattr(ctx.model, 'spec', None) or 'this model'} does not: use decide=self")
    if (at := getattr(ctx.config, "go_on_at", None)) is not None and (mode != "ask" or not ctx.can_score()):
        raise ApprenticeError(f"go_on_at={at:g} needs decide=ask on a model that gives token scores (llama.cpp)"
                              if mode == "ask" else f"go_on_at={at:g} needs decide=ask, not decide={mode}")
    dropped, _ = history_window(state["messages"][:-1], ctx.window)
    return "summarize" if ctx.summarize and dropped else "reason"


def route_reason(state: ReactState, runtime: Runtime[RunContext]) -> Literal["act", "reason", "__end__"]:
    """Act on a pending action or tool calls; reason again after a parse error; end on an answer."""
    if state.get("answer") is not None:
        return END
    if state.get("pending"):
        return "act"
    last = state["messages"][-1] if state.get("messages") else None
    if isinstance(last, AIMessage) and last.tool_calls:
        return "act"
    return "reason"


def route_act(state: ReactState, runtime: Runtime[RunContext]) -> Literal["decide", "reason"]:
    """To the decision (``decide`` other than ``self``) after a calculator result while question numbers are
    unused and steps remain; else back to the model."""
    ctx = runtime.context
    if getattr(ctx.config, "decide", "self") == "self":
        return "reason"
    unused = unused_after(state["question"], state.get("scratch", ""))
    return "decide" if unused and state.get("steps", 0) < ctx.max_steps else "reason"


def build(checkpointer: Any = None):
    """Compile the ReAct graph (optionally with a checkpointer for threads)."""
    graph = StateGraph(ReactState, context_schema=RunContext)
    graph.add_node("summarize", summarize)
    graph.add_node("reason", reason)
    graph.add_node("act", act)
    graph.add_node("decide", decide)
    graph.add_conditional_edges(START, route_start)
    graph.add_edge("summarize", "reason")
    graph.add_conditional_edges("reason", route_reason)
    graph.add_conditional_edges("act", route_act)
    graph.add_edge("decide", "reason")
    return graph.compile(checkpointer=checkpointer, name="react")


@cache
def _subgraph() -> Any:
    return build()


def run_turn(ctx: RunContext, question: str, history: Sequence[AnyMessage] = (), *,
             tags: dict[str, Any] | None = None, **sampling: Any) -> tuple[str, list[Step]]:
    """One whole ReAct turn inside another strategy's run (react-sc's samples, verify's drafts).

    Its steps go into the enclosing run's trace. ``sampling`` (``temperature``, ``seed``) overrides
    the run's config for this turn; ``tags`` go into the data of every step it records
    (``{"sample": 2}``). Returns the answer and the steps this turn recorded (turns that run side by
    side in one run, react-sc's samples, each get their own).
    """
    sub = replace(ctx, config=replace(ctx.config, **sampling)) if sampling else ctx
    with ctx.events.capture(**(tags or {})) as steps:
        out = _subgraph().invoke(
            {**TURN_DEFAULTS, "messages": [*history, HumanMessage(question)], "question": question, "answer": None},
            context=sub, config={"recursion_limit": 8 * ctx.max_steps + 50})
    return out.get("answer") or "", steps

"""Language Agent Tree Search (Zhou et al., 2023) as a StateGraph: Monte-Carlo tree search over ReAct steps.

One iteration: ``select`` descends from the root by UCT to a node without children; ``expand`` samples
``children`` next steps there in ReAct's text protocol (:mod:`apprentice.graphs.react`: same prompt, parser
and tool calls, so an action's observation is the tool's real output); ``evaluate`` values each new step
(the evaluator's sure / likely / impossible, as its first visit) and scores each final answer, its reward
(the verifier's score where the run has one, else the evaluator's); ``simulate`` rolls the best new step out
greedily to a final answer (a step at ``depth`` must answer); ``backpropagate`` adds the rollout's reward to
every node on its path; ``reflect`` turns a failed answer into a lesson that later prompts carry (at most
:data:`MAX_REFLECTIONS`). The search stops when the verifier accepts an answer, when no open node is left,
after ``max_expansions`` expansions or once ``max_calls`` model calls are spent; the answer is the tree's best
final answer (highest reward, then most visits). The whole tree is the state key ``tree``, which the runner
stores with the run (see :mod:`apprentice.graphs.lats_tree` for its shape and the search arithmetic).

Every model takes the text protocol here, native tool callers too: a trajectory is a scratchpad to extend.
Its steps take ReAct's grammar where the run constrains them (``--constrain``, llama.cpp models).

Options: :class:`apprentice.graphs.config.LATSConfig`: ``max_expansions`` (8), ``children`` (3), ``depth`` (5),
``exploration`` (UCT's c, 1.0), ``value`` (llm|rules|both; both where there is a verifier), ``verifier``
(rules with a task), ``reflect`` (on), ``max_calls`` (no cap), ``temperature`` (0.7, of the sampled steps;
rollouts are greedy), ``seed`` (0), ``max_tokens``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime

from apprentice.agents.evaluator import llm_value
from apprentice.agents.grammar import answer_grammar, answer_kind, react_step_grammar
from apprentice.agents.react import (
    FORCE_ANSWER,
    FORMAT_ERROR,
    STOP_SEQUENCES,
    ReactStep,
    parse_react,
    text_protocol_messages,
)
from apprentice.agents.reflector import reflect as reflect_on
from apprentice.agents.reflector import with_lessons
from apprentice.agents.verification import run_verifier
from apprentice.graphs.context import RunContext
from apprentice.graphs.cot import thread_history
from apprentice.graphs.history import answer_format
from apprentice.graphs.lats_tree import backpropagate as backpropagate_reward
from apprentice.graphs.lats_tree import (
    best_terminal,
    new_node,
    path_to,
    scratch_of,
    select_leaf,
)
from apprentice.graphs.react import call_tool, observed  # react's one tool path: action/observation steps
from apprentice.traces import Step

__all__ = ["LATSState", "TURN_DEFAULTS", "WORD_VALUES", "NEUTRAL_VALUE", "MAX_REFLECTIONS", "build",
           "value_method", "verifier_name"]

#: What each new turn resets.
TURN_DEFAULTS: dict[str, Any] = {"tree": None, "selected": None, "fresh": [], "leaf": None, "failed": [],
                                 "reflections": [], "expansions": 0, "solution": None, "run_meta": {}}
#: A step's value from the evaluator's word (a reply with none of them: a little below likely).
WORD_VALUES: dict[str | None, float] = {"sure": 1.0, "likely": 0.5, "impossible": 0.0, None: 0.25}
#: The value of a step, or reward of an answer, that got no model call (``value=rules``, or the calls spent).
NEUTRAL_VALUE = 0.5
#: Lessons at most in one search (the reference stops reflecting at three failed trajectories).
MAX_REFLECTIONS = 3


class LATSState(TypedDict, total=False):
    """Graph state: the thread, the search tree and where the current iteration stands."""

    messages: Annotated[list[AnyMessage], add_messages]
    question: str
    answer: str | None
    tree: dict[str, Any] | None
    selected: int | None
    fresh: list[int]
    leaf: int | None
    failed: list[int]
    reflections: list[str]
    expansions: int
    solution: int | None
    budget: dict[str, int | None]
    run_meta: dict[str, Any]


def verifier_name(ctx: RunContext) -> str | None:
    """The verifier that scores final answers: the configured one; the task's rules where there is a task
    (or ``value=rules`` asks for them); none otherwise."""
    if ctx.config.verifier is not None:
        return ctx.config.verifier
    return "rules" if ctx.task is not None or ctx.config.value == "rules" else None


def value_method(ctx: RunContext) -> str:
    """How nodes are valued: the configured method; both where there is a verifier, else llm."""
    return ctx.config.value or ("both" if verifier_name(ctx) else "llm")


def _calls_left(ctx: RunContext, nodes: list[dict[str, Any]] | None = None) -> int | None:
    """Model calls left under ``max_calls`` (None: no cap). Given the tree's ``nodes``, one call is kept back
    while they hold no final answer: the one :func:`finish` needs to give one."""
    cap = ctx.config.max_calls
    if cap is None:
        return None
    keep = 1 if nodes is not None and best_terminal(nodes) is None else 0
    return max(0, cap - ctx.events.calls - keep)


def _budget(ctx: RunContext, nodes: list[dict[str, Any]]) -> dict[str, int | None]:
    """What the routers after a node need to know of the call budget, put in the state so they read only the
    state: the calls left (``calls``) and those left when one is kept back for an answer (``spare``)."""
    return {"calls": _calls_left(ctx), "spare": _calls_left(ctx, nodes)}


def _nodes(state: LATSState) -> list[dict[str, Any]]:
    """A copy of the tree's nodes to change (state is never changed in place)."""
    return [dict(n) for n in state["tree"]["nodes"]]


def _tree(state: LATSState, nodes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {**state["tree"], "nodes": nodes, **extra}


def _prompt(ctx: RunContext, state: LATSState, nodes: list[dict[str, Any]], node_id: int,
            forced: bool) -> list[BaseMessage]:
    """ReAct's text-protocol prompt for the step after ``node_id``, the lessons in its system prompt."""
    prompt = text_protocol_messages(
        question=state["question"], scratch=scratch_of(nodes, node_id), tools=list(ctx.tools.values()),
        history=thread_history(state, ctx), answer_format=answer_format(ctx),
        prompt=getattr(ctx.model, "react_prompt", "full"))
    prompt = with_lessons(prompt, state.get("reflections") or [])
    if forced:
        prompt[-1] = AIMessage(prompt[-1].text + FORCE_ANSWER)
    return prompt


def _sampling(ctx: RunContext, *, seed: int, forced: bool, greedy: bool = False) -> dict[str, Any]:
    """The step call's parameters, with ReAct's grammar where the run constrains (``--constrain``): a whole
    step, or the bare answer of a forced one."""
    kind = answer_kind(ctx.task)
    if forced:
        grammar = answer_grammar(answer=kind) if ctx.grammar_for("answer") else None
    else:
        grammar = react_step_grammar(list(ctx.tools), answer=kind) if ctx.grammar_for("steps") else None
    params = {"temperature": 0.0 if greedy else ctx.config.temperature, "seed": seed,
              "max_tokens": ctx.config.max_tokens, "grammar": grammar}
    return {k: v for k, v in params.items() if v is not None}


def _key(node: dict[str, Any]) -> tuple:
    """What makes two steps the same: the answer they give, or the action they take."""
    if node.get("answer") is not None:
        return ("answer", " ".join(str(node["answer"]).lower().split()))
    return ("action", node.get("tool"), node.get("tool_input"))


def _add_step(ctx: RunContext, question: str, nodes: list[dict[str, Any]], parent: int, text: str, *, forced: bool,
              seen: set[tuple], rollout: bool = False) -> dict[str, Any]:
    """The node of one sampled step under ``parent``: an action (its tool run now) or a final answer
    (``forced``: the reply to a prompt that ends in ``Final Answer:``). Dead ends stay in the tree and run
    nothing: an unreadable step (``invalid``; the reference keeps only samples with an action), and a step
    that repeats an action of its trajectory, or a sibling's step (``seen`` holds their keys)."""
    text = text.strip()
    graph_node, extra = ("simulate", {"rollout": True}) if rollout else ("expand", {})
    if forced:
        answer = parse_react("Final Answer:" + text).final_answer or text or "(no answer)"
        step, segment = ReactStep(thought="", final_answer=answer), f"Thought:{FORCE_ANSWER} {text}\n"
        extra["forced"] = True
    else:
        step, segment = parse_react("Thought:" + text, tools=list(ctx.tools)), f"Thought: {text}\n"
    if step.problem:
        ctx.record("error", node=graph_node, observation=FORMAT_ERROR.format(problem=step.problem),
                   raw=text, data={"lats_node": len(nodes)})
        return new_node(nodes, parent, thought=step.thought, text=f"unreadable step: {step.problem}",
                        segment=segment, status="invalid", pruned=True, why=f"unreadable: {step.problem}", **extra)
    key = _key({"answer": step.final_answer, "tool": step.tool, "tool_input": step.tool_input})
    done = {("action", nodes[i].get("tool"), nodes[i].get("tool_input")) for i in path_to(nodes, parent)}
    repeated = step.final_answer is None and (key in done or segment in scratch_of(nodes, parent))
    if repeated or key in seen:
        return new_node(nodes, parent, thought=step.thought, text=f"(same step again) {text}", segment=segment,
                        status="duplicate", pruned=True,
                        why="repeats an action of its trajectory" if repeated else "same step as a sibling", **extra)
    seen.add(key)
    node = new_node(nodes, parent, thought=step.thought, segment=segment, **extra)
    with ctx.events.capture(lats_node=node["id"]):
        if step.thought:
            ctx.record("thought", node=graph_node, thought=step.thought)
        if step.final_answer is not None:
            node.update(answer=step.final_answer, text=f"Final Answer: {step.final_answer}")
        else:
            observation = call_tool(ctx, step.tool or "", step.tool_input or "")
            before = scratch_of(nodes, parent)
            node.update(tool=step.tool, tool_input=step.tool_input, observation=observation,
                        text=f"{step.tool}({step.tool_input}) -> {observation}",
                        segment=observed(ctx, question, before + segment, observation)[len(before):])
    return node


def _work(nodes: list[dict[str, Any]], node_id: int) -> list[Step]:
    """The tool work of the trajectory to ``node_id``, as the steps a verifier reads."""
    work = []
    for i in path_to(nodes, node_id):
        node = nodes[i]
        if node.get("tool"):
            work += [Step(idx=len(work), kind="action", tool=node["tool"], tool_input=node.get("tool_input")),
                     Step(idx=len(work) + 1, kind="observation", tool=node["tool"], observation=node["observation"])]
    return work


def _llm_value(ctx: RunContext, state: LATSState, nodes: list[dict[str, Any]],
               node: dict[str, Any]) -> tuple[float, str]:
    """The evaluator's value of the trajectory to ``node``: (value, why)."""
    _, words = llm_value(ctx, state["question"], scratch_of(nodes, node["id"]),
                         seed=(ctx.config.seed or 0) + node["id"])
    return WORD_VALUES[words[0]], f"llm: {words[0] or 'no value word'}"


def _value_step(ctx: RunContext, state: LATSState, nodes: list[dict[str, Any]], node: dict[str, Any]) -> None:
    """Value a new step (not an answer) by the evaluator; neutral where it makes no call."""
    if value_method(ctx) == "rules":
        value, why = NEUTRAL_VALUE, "not valued (value=rules)"
    elif _calls_left(ctx, nodes) == 0:
        value, why = NEUTRAL_VALUE, "not valued (no model calls left)"
    else:
        value, why = _llm_value(ctx, state, nodes, node)
    node.update(why=why, estimate=value)


def _score_answer(ctx: RunContext, state: LATSState, nodes: list[dict[str, Any]], node: dict[str, Any]) -> None:
    """A final answer's reward: the verifier's score (its verdict decides solved or failed), or without one the
    evaluator's value of the whole trajectory (failed below likely). A failed answer is a dead branch."""
    name = verifier_name(ctx) if value_method(ctx) in ("rules", "both") else None
    ok: bool | None = None
    if name is not None and (name == "rules" or _calls_left(ctx, nodes) != 0):
        draft = f"Final Answer: {node['answer']}"
        result = run_verifier(ctx, name, state["question"], draft, _work(nodes, node["id"]))
        ok, reward = result.ok, NEUTRAL_VALUE if result.score is None else result.score
        node.update(verifier=result.verifier, ok=ok, feedback=result.feedback or result.reason,
                    why=f"{result.verifier}: {result.mark} - {result.reason}")
        ctx.record("verify", node="evaluate", raw=f"node {node['id']} {result.verifier}: {result.mark} - "
                   f"{result.reason}", data={"node": node["id"], "verifier": result.verifier, "ok": ok,
                                             "score": result.score, "reason": result.reason})
    elif _calls_left(ctx, nodes) != 0:
        reward, node["why"] = _llm_value(ctx, state, nodes, node)
    else:
        reward, node["why"] = NEUTRAL_VALUE, "not scored (no model calls left)"
    failed = ok is False or (ok is None and reward < NEUTRAL_VALUE)
    node.update(reward=reward, status="solution" if ok else "failed" if failed else "terminal")
    if failed:
        node["pruned"] = True


# -- nodes -------------------------------------------------------------------------------------


def start(state: LATSState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Plant the root: the question, no step taken."""
    nodes: list[dict[str, Any]] = []
    new_node(nodes, None, text=state["question"], status="root", why="the question")
    return {"tree": {"nodes": nodes, "chosen": [], "method": "lats"}, "selected": None, "fresh": [], "leaf": None,
            "failed": [], "reflections": [], "expansions": 0, "solution": None}


def select(state: LATSState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Pick the node to expand by UCT; none once the budget is spent or no node is open."""
    ctx = runtime.context
    config = ctx.config
    spent = _calls_left(ctx, state["tree"]["nodes"]) == 0
    if state.get("expansions", 0) >= config.max_expansions or spent:
        ctx.record("select", node="select", raw="budget spent", data={"node": None})
        return {"selected": None}
    leaf, path = select_leaf(state["tree"]["nodes"], config.exploration, config.depth)
    shown = " > ".join(f"{p['id']} ({p['uct']:g})" for p in path) or "the root"
    ctx.record("select", node="select", raw=f"expand node {leaf}: {shown}" if leaf is not None
               else "no open node left", data={"node": leaf, "path": path})
    return {"selected": leaf, "fresh": [], "leaf": None}


def expand(state: LATSState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Sample ``children`` next steps of the selected node's trajectory and run their actions. The first is
    the greedy step (the one a ReAct run takes, so the first rollout is ReAct's own trajectory, as verify's
    first draft is greedy) unless a rollout already took it from here; the others are sampled at
    ``temperature``. A step that a rollout already took from here counts as a duplicate."""
    ctx = runtime.context
    config = ctx.config
    nodes = _nodes(state)
    parent = nodes[state["selected"]]
    forced = parent["depth"] + 1 >= config.depth
    left = _calls_left(ctx, nodes)
    prompt = _prompt(ctx, state, nodes, parent["id"], forced)
    taken = [n for n in nodes if n["parent"] == parent["id"] and not n.get("pruned")]
    seen = {_key(n) for n in taken}
    fresh = []
    for i in range(config.children if left is None else min(config.children, left)):
        reply = ctx.call_model(prompt, node="expand", stop=STOP_SEQUENCES,
                               **_sampling(ctx, seed=(config.seed or 0) + parent["id"] * 97 + i, forced=forced,
                                           greedy=i == 0 and not taken))
        fresh.append(_add_step(ctx, state["question"], nodes, parent["id"], reply.text, forced=forced, seen=seen)["id"])
    parent.update(status="expanded", expanded=True)
    ctx.record("propose", node="expand", raw=f"from node {parent['id']}: "
               + "; ".join(nodes[i]["text"][:60] for i in fresh),
               data={"parent": parent["id"], "children": fresh})
    return {"tree": _tree(state, nodes), "fresh": fresh, "expansions": state.get("expansions", 0) + 1}


def evaluate(state: LATSState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Value each new step and score each new answer; the evaluation is the node's first visit."""
    ctx = runtime.context
    nodes = _nodes(state)
    failed, solution = [], None
    for node_id in state.get("fresh") or []:
        node = nodes[node_id]
        if node.get("pruned"):  # a duplicate or unreadable step: a dead end, never visited
            continue
        if node.get("answer") is not None:
            _score_answer(ctx, state, nodes, node)
            value = node["reward"]
            failed += [node_id] if node["status"] == "failed" else []
            solution = node_id if node["status"] == "solution" and solution is None else solution
        else:
            _value_step(ctx, state, nodes, node)
            value = node["estimate"]
        backpropagate_reward(nodes, node_id, value)
        ctx.record("value", node="evaluate", raw=f"node {node_id}: {value:g} ({node['why']})",
                   data={"id": node_id, "value": value, "why": node["why"]})
    return {"tree": _tree(state, nodes), "failed": [*(state.get("failed") or []), *failed], "solution": solution,
            "budget": _budget(ctx, nodes)}


def simulate(state: LATSState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Roll the best new step out greedily to a final answer (forced at the depth limit, or after a step
    that repeats an action or cannot be read) and score it; the rollout's steps join the tree."""
    ctx = runtime.context
    nodes = _nodes(state)
    node = nodes[_rollout_start(state)]
    forced_next = False
    while node.get("answer") is None:
        last = _calls_left(ctx, nodes) == 0  # only the call kept back for an answer is left: answer with it
        if last and _calls_left(ctx) == 0:
            break
        forced = last or forced_next or node["depth"] + 1 >= ctx.config.depth
        reply = ctx.call_model(_prompt(ctx, state, nodes, node["id"], forced), node="simulate", stop=STOP_SEQUENCES,
                               **_sampling(ctx, seed=(ctx.config.seed or 0) + node["id"], forced=forced,
                                           greedy=True))
        child = _add_step(ctx, state["question"], nodes, node["id"], reply.text, forced=forced, seen=set(),
                          rollout=True)
        forced_next = bool(child.get("pruned"))  # greedy decoding would only repeat it: answer next
        node = node if forced_next else child
    failed = list(state.get("failed") or [])
    solution = None
    if node.get("answer") is not None:
        _score_answer(ctx, state, nodes, node)
        failed += [node["id"]] if node["status"] == "failed" else []
        solution = node["id"] if node["status"] == "solution" else None
    return {"tree": _tree(state, nodes), "leaf": node["id"], "failed": failed, "solution": solution}


def backpropagate(state: LATSState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Add the rollout's reward (its start's value when the calls ran out first) to every node on its path."""
    nodes = _nodes(state)
    leaf = nodes[state["leaf"]]
    reward = leaf["reward"] if leaf.get("answer") is not None else nodes[_rollout_start(state)]["value"]
    updated = backpropagate_reward(nodes, leaf["id"], reward)
    runtime.context.record("value", node="backpropagate", raw=f"reward {reward:g} from node {leaf['id']} "
                           f"up to the root ({len(updated)} nodes)",
                           data={"id": leaf["id"], "reward": reward, "path": updated[::-1]})
    return {"tree": _tree(state, nodes), "leaf": None, "budget": _budget(runtime.context, nodes)}


def reflect(state: LATSState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Turn the latest failed answer not reflected on yet into a lesson for later prompts."""
    ctx = runtime.context
    nodes = _nodes(state)
    lessons = list(state.get("reflections") or [])
    reflected = {n["answer"] for n in nodes if n.get("reflection")}
    target = next((i for i in reversed(state.get("failed") or []) if nodes[i]["answer"] not in reflected), None)
    if target is not None:
        node = nodes[target]
        lesson = reflect_on(ctx, state["question"], scratch_of(nodes, target), node.get("feedback") or node["why"],
                            seed=(ctx.config.seed or 0) + target)
        if lesson:
            lessons.append(lesson)
            node["reflection"] = lesson
            ctx.record("thought", node="reflect", thought=f"reflection on node {target}: {lesson}",
                       data={"lats_node": target, "reflection": lesson})
    return {"tree": _tree(state, nodes), "reflections": lessons, "failed": []}


def finish(state: LATSState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Answer from the best final answer in the tree; with none, force one from the best open step."""
    ctx = runtime.context
    nodes = _nodes(state)
    best = best_terminal(nodes)
    if best is None:
        best = _forced_answer(ctx, state, nodes)
    node = nodes[best]
    answer = node["answer"]
    ctx.record("answer", node="finish", raw=answer)
    if node.get("verifier"):
        ctx.events.verdict(verifier=f"verify:{node['verifier']}", correct=node.get("ok"), score=node["reward"],
                           reason=f"lats node {best}: {node['why']}")
    meta = {"lats": {"expansions": state.get("expansions", 0), "nodes": len(nodes),
                     "solved": state.get("solution") is not None, "value": value_method(ctx),
                     "verifier": verifier_name(ctx), "reflections": len(state.get("reflections") or []),
                     "answer_node": best, "reward": node["reward"], "visits": node["visits"],
                     "trajectory": scratch_of(nodes, best)}}
    return {"answer": answer, "messages": [AIMessage(answer)], "run_meta": meta,
            "tree": _tree(state, nodes, chosen=path_to(nodes, best))}


def _forced_answer(ctx: RunContext, state: LATSState, nodes: list[dict[str, Any]]) -> int:
    """A final answer from the open node of highest value (deepest, then earliest on ties): one call, the one
    ``max_calls`` keeps back while the tree has no answer."""
    open_nodes = [n for n in nodes if n.get("answer") is None and not n.get("pruned")]
    base = max(open_nodes, key=lambda n: (n["value"], n["depth"], -n["id"]))
    reply = ctx.call_model(_prompt(ctx, state, nodes, base["id"], True), node="finish", stop=STOP_SEQUENCES,
                           **_sampling(ctx, seed=ctx.config.seed or 0, forced=True, greedy=True))
    node = _add_step(ctx, state["question"], nodes, base["id"], reply.text, forced=True, seen=set())
    node.update(status="terminal", why="the search found no answer; answered from the best step")
    return node["id"]


def _rollout_start(state: LATSState) -> int | None:
    """The new step a rollout starts from: the open one of highest value (the earliest on ties)."""
    nodes = state["tree"]["nodes"]
    fresh = [nodes[i] for i in state.get("fresh") or []
             if nodes[i].get("answer") is None and not nodes[i].get("pruned")]
    return max(fresh, key=lambda n: (n["value"], -n["id"]))["id"] if fresh else None


# -- routing -----------------------------------------------------------------------------------


def route_select(state: LATSState) -> Literal["expand", "finish"]:
    """Expand the selected node; finish when none was selected."""
    return "expand" if state.get("selected") is not None else "finish"


def route_evaluate(state: LATSState, runtime: Runtime[RunContext]) -> Literal["simulate", "reflect", "select",
                                                                               "finish"]:
    """Finish on a verified answer; roll out from the best new step when there is one and calls are left."""
    if state.get("solution") is not None:
        return "finish"
    if _rollout_start(state) is not None and state["budget"]["calls"] != 0:
        return "simulate"
    return _reflect_or_select(state, runtime.context)


def route_backpropagate(state: LATSState, runtime: Runtime[RunContext]) -> Literal["reflect", "select", "finish"]:
    """Finish on a verified answer; reflect on a failed one; otherwise select again."""
    if state.get("solution") is not None:
        return "finish"
    return _reflect_or_select(state, runtime.context)


def _reflect_or_select(state: LATSState, ctx: RunContext) -> Literal["reflect", "select"]:
    reflections = state.get("reflections") or []
    wanted = ctx.config.reflect == "on" and state.get("failed") and len(reflections) < MAX_REFLECTIONS
    return "reflect" if wanted and state["budget"]["spare"] != 0 else "select"


def build(checkpointer: Any = None):
    """Compile the LATS graph: start -> (select -> expand -> evaluate -> [simulate -> backpropagate]
    -> [reflect])* -> finish."""
    graph = StateGraph(LATSState, context_schema=RunContext)
    for name, fn in (("start", start), ("select", select), ("expand", expand), ("evaluate", evaluate),
                     ("simulate", simulate), ("backpropagate", backpropagate), ("reflect", reflect),
                     ("finish", finish)):
        graph.add_node(name, fn)
    graph.add_edge(START, "start")
    graph.add_edge("start", "select")
    graph.add_conditional_edges("select", route_select, ["expand", "finish"])
    graph.add_edge("expand", "evaluate")
    graph.add_conditional_edges("evaluate", route_evaluate, ["simulate", "reflect", "select", "finish"])
    graph.add_edge("simulate", "backpropagate")
    graph.add_conditional_edges("backpropagate", route_backpropagate, ["reflect", "select", "finish"])
    graph.add_edge("reflect", "select")
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer, name="lats")

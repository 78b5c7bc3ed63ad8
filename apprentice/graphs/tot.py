"""Tree-of-Thought (Yao et al., 2023) as a StateGraph: propose -> value -> select, breadth-first
(beam) or depth-first with backtracking.

Each round fans out one ``propose`` per frontier state with ``Send``; new states are de-duplicated,
then one ``value`` per state is fanned out (LLM sure/likely/impossible votes averaged over
``values_per_state`` samples, and/or the task's programmatic rules); ``select`` keeps the best
``breadth`` (BFS) or pushes the children onto a stack (DFS). The search stops at ``depth``, or as
soon as a state is a verified solution. The whole tree, every node with its value and why, is
the state key ``tree`` (the runner stores it with the run).

Options: :class:`apprentice.graphs.config.ToTConfig`: ``method`` (bfs|dfs), ``breadth`` (2), ``proposals``
per state (4), ``depth`` (3), ``values_per_state`` (1), ``value`` (llm|rules|both; both where the task has
rules), ``threshold`` (DFS: the least value worth exploring, 0.5), ``max_expansions`` (DFS, 12),
``max_tokens`` (128), ``seed`` (0, added to each proposal's and value's own).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime
from langgraph.types import Send

from apprentice.agents.evaluator import llm_value
from apprentice.agents.proposer import propose_steps, space_for
from apprentice.graphs.context import RunContext, collect

__all__ = ["ToTState", "TURN_DEFAULTS", "build", "SOLVED_VALUE"]

#: What each new turn resets.
TURN_DEFAULTS: dict[str, Any] = {"tree": None, "frontier": [], "stack": [], "rounds": 0, "proposals": None,
                                 "valued": None, "solution": None, "run_meta": {}}
#: The value of a state the task's rules confirm as a solution.
SOLVED_VALUE = 100.0


class ToTState(TypedDict, total=False):
    """Graph state: the thread, the search tree and this round's fan-in lists."""

    messages: Annotated[list[AnyMessage], add_messages]
    question: str
    answer: str | None
    tree: dict[str, Any] | None
    frontier: list[int]
    stack: list[int]
    rounds: int
    proposals: Annotated[list[dict[str, Any]], collect]
    valued: Annotated[list[dict[str, Any]], collect]
    solution: int | None
    run_meta: dict[str, Any]


def _value_method(ctx: RunContext) -> str:
    """The configured ``value`` method; by default both where the task has rules (Game of 24), else llm."""
    if ctx.config.value is not None:
        return ctx.config.value
    return "both" if space_for(ctx.task).game24 else "llm"


# -- nodes -------------------------------------------------------------------------------------


def start(state: ToTState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Plant the root: the problem with no steps taken."""
    space = space_for(runtime.context.task)
    root_state = space.root(state["question"])
    root = {"id": 0, "parent": None, "depth": 0, "step": None, "text": space.describe(root_state),
            "state": root_state, "value": None, "why": "root", "status": "expanded"}
    return {"tree": {"nodes": [root], "chosen": [], "method": runtime.context.config.method},
            "frontier": [0], "stack": [], "rounds": 0, "proposals": None, "valued": None, "solution": None}


def propose(payload: dict[str, Any], runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Propose next steps from one state (a ``Send`` target) and apply them by the task's rules."""
    ctx = runtime.context
    config, space, node = ctx.config, space_for(ctx.task), payload["node"]
    steps, raw = propose_steps(ctx, space, payload["question"], node["state"], config.proposals,
                               max_tokens=config.max_tokens, seed=(config.seed or 0) + node["id"] * 97)
    out = [{"parent": node["id"], "step": step, "state": space.apply(node["state"], step)} for step in steps]
    ctx.record("propose", node="propose", raw=f"from node {node['id']}: {len(out)} proposals, "
               f"{sum(o['state'] is not None for o in out)} valid",
               data={"parent": node["id"], "steps": steps})
    return {"proposals": out or [{"parent": node["id"], "step": None, "state": None, "raw": raw[:200]}]}


def dedupe(state: ToTState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Give proposals node ids; invalid and duplicate ones are kept in the tree as pruned."""
    space = space_for(runtime.context.task)
    nodes = [dict(n) for n in state["tree"]["nodes"]]
    seen = {space.key(n["state"]) for n in nodes if n["status"] not in ("invalid", "duplicate")}
    for proposal in sorted(state.get("proposals", []), key=lambda p: p["parent"]):
        parent = nodes[proposal["parent"]]
        node = {"id": len(nodes), "parent": parent["id"], "depth": parent["depth"] + 1, "step": proposal["step"],
                "state": proposal["state"], "value": 0.0, "status": "pending", "why": ""}
        if proposal["state"] is None:
            node.update(status="invalid", why="no step proposed" if proposal["step"] is None
                        else "the task's rules reject this step")
        elif space.key(proposal["state"]) in seen:
            node.update(status="duplicate", why="same state as an earlier node")
        else:
            seen.add(space.key(proposal["state"]))
            node.update(text=space.describe(proposal["state"]), value=None)
        nodes.append(node)
    return {"tree": {**state["tree"], "nodes": nodes}, "proposals": None}


def value(payload: dict[str, Any], runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Value one new state (a ``Send`` target): rules first, then the LLM's averaged votes."""
    ctx = runtime.context
    space, node, method = space_for(ctx.task), payload["node"], _value_method(ctx)
    if space.solved(node["state"]):
        result = {"id": node["id"], "value": SOLVED_VALUE, "why": "verified solution (task rules)"}
    else:
        rule = space.rule_value(node["state"]) if method in ("rules", "both") else None
        if rule == 0.0:
            result = {"id": node["id"], "value": 0.0, "why": "rules: cannot lead to a solution"}
        elif method == "rules":
            result = {"id": node["id"], "value": 1.0 if rule is None else rule, "why": "rules: still possible"}
        else:
            score, words = llm_value(ctx, space.value_question(payload["question"], node["state"]),
                                     space.describe(node["state"]), samples=ctx.config.values_per_state,
                                     game24=space.game24, seed=(ctx.config.seed or 0) + node["id"])
            result = {"id": node["id"], "value": round(score, 4), "why": f"llm votes {words}", "votes": words}
    ctx.record("value", node="value", raw=f"node {node['id']}: {result['value']} ({result['why']})",
               data=result)
    return {"valued": [result]}


def select(state: ToTState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Write the values into the tree and choose what to expand next (beam or stack)."""
    ctx = runtime.context
    config, space = ctx.config, space_for(ctx.task)
    nodes = [dict(n) for n in state["tree"]["nodes"]]
    for result in state.get("valued", []):
        nodes[result["id"]].update(value=result["value"], why=result["why"], status="valued")
    fresh = [n for n in nodes if n["status"] == "valued" and n["parent"] in state["frontier"]]
    solution = next((n["id"] for n in fresh if space.solved(n["state"])), None)
    if solution is None and not space.game24:
        ranked = sorted(fresh, key=lambda n: -n["value"])
        if ranked and space.terminal(ranked[0]["state"]) and ranked[0]["value"] > 0:
            solution = ranked[0]["id"]
    open_nodes = [n for n in fresh if n["value"] > 0 and not space.terminal(n["state"])
                  and n["depth"] < config.depth]
    stack = list(state.get("stack", []))
    if solution is not None:
        frontier = []
    elif config.method == "dfs":
        keep = [n for n in open_nodes if n["value"] >= config.threshold]
        stack += [n["id"] for n in sorted(keep, key=lambda n: n["value"])]
        frontier = [stack.pop()] if stack else []
    else:
        frontier = [n["id"] for n in sorted(open_nodes, key=lambda n: -n["value"])[: config.breadth]]
    for n in fresh:
        n["status"] = "kept" if n["id"] in frontier or n["id"] in stack else "pruned"
        if n["status"] == "pruned" and n["id"] != solution and n["value"] > 0:
            n["why"] = f"pruned: not among the best ({n['why']})"
    for node_id in frontier:
        nodes[node_id]["status"] = "expanded"
    if solution is not None:
        nodes[solution]["status"] = "solution"
    ctx.record("select", node="select", raw=f"expand {frontier}", data={"frontier": frontier})
    return {"tree": {**state["tree"], "nodes": nodes}, "frontier": frontier, "stack": stack,
            "rounds": state.get("rounds", 0) + 1, "valued": None, "solution": solution}


def finish(state: ToTState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Answer from the solution, or from the best deepest state when none was verified."""
    ctx = runtime.context
    space = space_for(ctx.task)
    nodes = state["tree"]["nodes"]
    best = state.get("solution")
    if best is None:
        scored = [n for n in nodes if n["state"] is not None]
        best = max(scored, key=lambda n: ((n["value"] or 0.0) > 0, n["depth"], n["value"] or 0.0, -n["id"]))["id"]
    path, cursor = [], best
    while cursor is not None:
        path.append(cursor)
        cursor = nodes[cursor]["parent"]
    answer = space.answer(nodes[best]["state"])
    ctx.record("answer", node="finish", raw=answer)
    meta = {"tot": {"method": ctx.config.method, "nodes": len(nodes), "rounds": state.get("rounds", 0),
                    "solved": state.get("solution") is not None, "value": _value_method(ctx)}}
    return {"answer": answer, "messages": [AIMessage(answer)], "run_meta": meta,
            "tree": {**state["tree"], "chosen": path[::-1]}}


# -- routing -----------------------------------------------------------------------------------


def route_expand(state: ToTState, runtime: Runtime[RunContext]) -> list[Send] | Literal["finish"]:
    """Fan out ``propose`` over the frontier, or finish (solved, exhausted, out of budget)."""
    ctx = runtime.context
    limit = ctx.config.max_expansions if ctx.config.method == "dfs" else ctx.config.depth
    if state.get("solution") is not None or not state.get("frontier") or state.get("rounds", 0) >= limit:
        return "finish"
    nodes = state["tree"]["nodes"]
    return [Send("propose", {"question": state["question"], "node": nodes[i]}) for i in state["frontier"]]


def route_value(state: ToTState) -> list[Send] | Literal["select"]:
    """Fan out ``value`` over the new, unique states; straight to ``select`` when there are none."""
    pending = [n for n in state["tree"]["nodes"] if n["status"] == "pending"]
    if not pending:
        return "select"
    return [Send("value", {"question": state["question"], "node": n}) for n in pending]


def build(checkpointer: Any = None):
    """Compile the ToT graph: start -> (propose* -> dedupe -> value* -> select)^depth -> finish."""
    graph = StateGraph(ToTState, context_schema=RunContext)
    for name, fn in (("start", start), ("propose", propose), ("dedupe", dedupe), ("value", value),
                     ("select", select), ("finish", finish)):
        graph.add_node(name, fn)
    graph.add_edge(START, "start")
    graph.add_conditional_edges("start", route_expand, ["propose", "finish"])
    graph.add_edge("propose", "dedupe")
    graph.add_conditional_edges("dedupe", route_value, ["value", "select"])
    graph.add_edge("value", "select")
    graph.add_conditional_edges("select", route_expand, ["propose", "finish"])
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer, name="tot")

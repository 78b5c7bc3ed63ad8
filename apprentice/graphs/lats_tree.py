"""The search tree of LATS as plain data, and the Monte-Carlo tree search arithmetic over it (pure functions).

The tree is a list of node dicts, a node's ``id`` its index, so it goes into graph state, checkpoints and
the trace as it is (the shape of ToT's tree: ``id``, ``parent``, ``depth``, ``text``, ``value``, ``status``,
``why``; the chat UI's tree view reads those). A LATS node adds the ReAct step that led to it
(``thought``, ``tool``/``tool_input`` and ``observation``, or ``answer``), the text-protocol ``segment`` it
adds to the scratchpad, ``visits`` and ``reward`` (a final answer's score).

``value`` is the node's running mean: an evaluation counts as the node's first visit (as in LangGraph's LATS
tutorial), and each reward backpropagated through it is one more (the paper's
``V(s) <- (V(s) (N(s) - 1) + r) / N(s)``). Selection descends from the root by
``UCT(s) = V(s) + c sqrt(ln N(parent) / N(s))`` to a node not ``expanded`` yet. A rollout's steps join the tree
under the step it started from without using that step up: as in the reference, where rollout nodes hang off
the tree, the step can still be expanded with sampled children of its own.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["new_node", "children_of", "uct", "select_leaf", "backpropagate", "path_to", "scratch_of",
           "best_terminal", "is_open"]

Node = dict[str, Any]


def new_node(nodes: list[Node], parent: int | None, **fields: Any) -> Node:
    """Append a fresh node under ``parent`` (no visits, value 0) and return it."""
    depth = 0 if parent is None else nodes[parent]["depth"] + 1
    node = {"id": len(nodes), "parent": parent, "depth": depth, "text": "", "segment": "", "value": 0.0,
            "visits": 0, "reward": None, "status": "open", "why": "", **fields}
    nodes.append(node)
    return node


def children_of(nodes: list[Node]) -> dict[int, list[int]]:
    """Node id -> its children's ids, in order of creation."""
    children: dict[int, list[int]] = {n["id"]: [] for n in nodes}
    for n in nodes:
        if n["parent"] is not None:
            children[n["parent"]].append(n["id"])
    return children


def uct(node: Node, parent_visits: int, c: float) -> float:
    """The upper confidence bound of ``node``: its mean value plus ``c`` times the exploration bonus."""
    return node["value"] + c * math.sqrt(math.log(max(parent_visits, 1)) / max(node["visits"], 1))


def is_open(nodes: list[Node], node_id: int, max_depth: int, children: dict[int, list[int]] | None = None) -> bool:
    """Whether search can still go on at or below ``node_id``: it is no answer and no dead end, and it is
    either not expanded yet and above the depth limit, or has an open child."""
    children = children if children is not None else children_of(nodes)
    node = nodes[node_id]
    if node.get("answer") is not None or node.get("pruned"):
        return False
    if not node.get("expanded"):
        return node["depth"] < max_depth
    return any(is_open(nodes, child, max_depth, children) for child in children[node_id])


def select_leaf(nodes: list[Node], c: float, max_depth: int) -> tuple[int | None, list[dict[str, Any]]]:
    """Descend from the root, at each node to the open child of highest UCT (the earliest on ties), to a
    node not expanded yet: (its id, the path taken as ``{"id", "uct"}`` rows). ``None`` when nothing is open
    (the tree is exhausted)."""
    children = children_of(nodes)
    if not is_open(nodes, 0, max_depth, children):
        return None, []
    current, path = 0, []
    while nodes[current].get("expanded"):
        parent_visits = nodes[current]["visits"]
        candidates = [k for k in children[current] if is_open(nodes, k, max_depth, children)]
        best = max(candidates, key=lambda k: (uct(nodes[k], parent_visits, c), -k))
        path.append({"id": best, "uct": round(uct(nodes[best], parent_visits, c), 4)})
        current = best
    return current, path


def backpropagate(nodes: list[Node], node_id: int, reward: float) -> list[int]:
    """One visit with ``reward`` for ``node_id`` and every ancestor (mean value updated in place); returns
    the ids updated, leaf first."""
    updated = []
    cursor: int | None = node_id
    while cursor is not None:
        node = nodes[cursor]
        node["visits"] += 1
        node["value"] = round((node["value"] * (node["visits"] - 1) + reward) / node["visits"], 6)
        updated.append(cursor)
        cursor = node["parent"]
    return updated


def path_to(nodes: list[Node], node_id: int) -> list[int]:
    """The ids from the root down to ``node_id``."""
    path: list[int] = []
    cursor: int | None = node_id
    while cursor is not None:
        path.append(cursor)
        cursor = nodes[cursor]["parent"]
    return path[::-1]


def scratch_of(nodes: list[Node], node_id: int) -> str:
    """The text-protocol scratchpad of the trajectory that ends at ``node_id``."""
    return "".join(nodes[i]["segment"] for i in path_to(nodes, node_id))


def best_terminal(nodes: list[Node]) -> int | None:
    """The answer node of highest reward, then most visits, then the earliest; None when there is none."""
    answers = [n for n in nodes if n.get("answer") is not None and n["status"] != "duplicate"]
    if not answers:
        return None
    return max(answers, key=lambda n: (n["reward"] if n["reward"] is not None else -1.0, n["visits"], -n["id"]))["id"]

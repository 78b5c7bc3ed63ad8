"""A search tree (Tree-of-Thought, LATS) as a tree: candidates with their values (and, for LATS, visits and
rewards), pruned branches struck out, the chosen path starred."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree

from apprentice.tui.steps import node_text, tree_rows

__all__ = ["SearchTree"]


def _label(node: dict, pruned: bool, chosen: bool) -> Text:
    text = node_text(node)[:70]
    value = node.get("value", node.get("score"))
    label = Text()
    label.append("★ " if chosen else ("✗ " if pruned else "· "),
                 style="bold green" if chosen else ("red" if pruned else ""))
    label.append(text, style="bold" if chosen else ("dim strike" if pruned else ""))
    if value is not None:
        label.append(f"  [{value:.2f}]" if isinstance(value, float) else f"  [{value}]", style="cyan")
    if node.get("visits") is not None:  # a Monte-Carlo search node (LATS): how often it was visited, its reward
        visits, reward = node["visits"], node.get("reward")
        label.append(f" {visits} visit{'' if visits == 1 else 's'}" + (f", reward {reward:g}" if reward is not None
                                                                        else ""), style="dim cyan")
    return label


class SearchTree(Tree[dict]):
    """A read-only view of a run's ``tree`` (see :func:`apprentice.tui.steps.tree_rows`)."""

    def __init__(self, tree: dict | None, **kwargs) -> None:
        super().__init__("search tree", **kwargs)
        self.show_root = True
        self.guide_depth = 2
        self._fill(tree)

    def _fill(self, tree: dict | None) -> None:
        rows = tree_rows(tree)
        parents = [self.root]
        for depth, node, pruned, chosen in rows:
            del parents[depth + 1:]
            parent = parents[min(depth, len(parents) - 1)]
            child = parent.add(_label(node, pruned, chosen), data=node, expand=chosen or depth == 0)
            child.allow_expand = True
            parents.append(child)
        for node in self._leaves():
            node.allow_expand = False
        self.root.expand()
        self.root.set_label(Text(f"search tree · {len(rows)} nodes"))

    def _leaves(self):
        stack = [self.root]
        while stack:
            node = stack.pop()
            if not node.children:
                yield node
            stack.extend(node.children)

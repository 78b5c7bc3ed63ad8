"""The help screen: every key, from the bindings themselves (so it cannot go stale)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

__all__ = ["HelpScreen", "help_markdown"]

_ABOUT = """\
Ask a question below and watch the agent work: each thought, tool call, observation and verdict
appears under the answer as a collapsible block (click or Enter to open); a step a grammar kept
well formed (local models) says `constrained`. Tree-of-Thought and LATS answers show the search tree
(LATS with visits and rewards); self-consistency answers show the vote. Threads live in the sidebar and
survive restarts. `ctrl+p` opens the command palette (switch model or strategy, export, ...).
Keys can be changed in `keymap.json` in the data folder: `{"new_thread": "ctrl+k"}`.
"""


def _detail(screen: object, binding: Binding) -> str:
    """The first line of the action's docstring, so the help says what the key does."""
    action = getattr(screen, f"action_{binding.action.split('(')[0]}", None)
    doc = (getattr(action, "__doc__", None) or "").strip().splitlines()
    return doc[0] if doc else ""


def help_markdown(bindings: list[Binding], screen: object = None) -> str:
    """The help text: a paragraph, then one table row per binding (key, name, what it does)."""
    rows = [f"| `{b.key_display or b.key}` | {b.description} (`{b.id}`) | {_detail(screen, b)} |"
            for b in bindings if b.description]
    return "\n".join(["# apprentice chat", "", _ABOUT, "| key | name | does |", "|---|---|---|", *rows,
                      "| `ctrl+p` | palette | every command, fuzzy-searched |",
                      "| `ctrl+q` | quit | leave (threads are kept) |", "",
                      "Press `escape` to close this help."])


class HelpScreen(ModalScreen[None]):
    """Shows the keys of the chat screen."""

    BINDINGS = [("escape", "dismiss(None)", "Close"), ("f1", "dismiss(None)", "Close")]

    def __init__(self, bindings: list[Binding], screen: object = None) -> None:
        super().__init__()
        self.bindings = bindings
        self.source_screen = screen

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Markdown(help_markdown(self.bindings, self.source_screen))

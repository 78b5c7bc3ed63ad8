"""The status line above the key footer: model, strategy, and the last answer's tokens and time."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static

__all__ = ["StatusBar"]


class StatusBar(Static):
    """Shows the seat (model, strategy) and the cost of the last answer."""

    model = reactive("local")
    strategy = reactive("react")
    model_state = reactive("loading")
    tokens_in = reactive(0)
    tokens_out = reactive(0)
    seconds = reactive(0.0)

    def render(self) -> str:
        state = "" if self.model_state == "ready" else f" ({self.model_state})"
        from apprentice.tui.agent import seat_label

        return (f"model {seat_label(self.model)}{state} │ strategy {self.strategy} │ "
                f"last answer: {self.tokens_in} tok in / {self.tokens_out} out · {self.seconds:.1f} s")

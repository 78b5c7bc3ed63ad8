"""The Textual app: configuration, styles and the first screen; the screens do the rest."""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.language_models.chat_models import BaseChatModel
from textual.app import App

from apprentice.tui.agent import ChatAgent
from apprentice.tui.screens import ChatScreen
from apprentice.tui.sessions import SessionStore

__all__ = ["ChatApp", "run_chat"]


class ChatApp(App):
    """``apprentice chat``: talk to the agent and watch it reason.

    Args:
        model: a model spec (loaded on a worker once the screen is up) or a ready chat model.
        strategy: a strategy name from :data:`apprentice.graphs.STRATEGIES`.
        loader: how specs become models (default :func:`apprentice.models.load_chat_model`).
        sessions: where thread titles are kept (default ``home()/threads.db``).
    """

    TITLE = "apprentice"
    CSS_PATH = "styles/app.tcss"

    def __init__(self, model: str | BaseChatModel = "local", strategy: str = "react", *,
                 loader: Callable[[str], BaseChatModel] | None = None,
                 sessions: SessionStore | None = None) -> None:
        super().__init__()
        self.agent = ChatAgent(model, strategy, loader=loader)
        self.sessions = sessions or SessionStore()

    def on_mount(self) -> None:
        self.push_screen(ChatScreen(self.agent, self.sessions))

    def on_unmount(self) -> None:
        for block in self.query("AnswerBlock"):
            block.cancel()


def run_chat(model: str = "local", strategy: str = "react") -> None:
    """Open the chat UI in the terminal (blocks until the user quits)."""
    ChatApp(model, strategy).run()

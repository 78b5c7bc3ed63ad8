"""The Textual app: configuration, styles and the first screen; the screens do the rest."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from textual.app import App

from apprentice.config import data_path
from apprentice.tui.agent import ChatAgent
from apprentice.tui.screens import ChatScreen
from apprentice.tui.sessions import SessionStore

__all__ = ["ChatApp", "run_chat", "terminal_alive"]

#: How often a running app checks that its terminal is still there (seconds).
TERMINAL_CHECK_SECONDS = 2.0


def terminal_alive(fd: int) -> bool:
    """Whether ``fd`` is still an open terminal. A hung-up terminal (its window closed, its tmux
    server killed) reads as end-of-file forever and fails every ioctl with EIO."""
    try:
        import termios  # POSIX only; elsewhere there is nothing to check

        termios.tcgetattr(fd)
    except ImportError:
        return True
    except (OSError, ValueError, termios.error):
        return False
    return True


class ChatApp(App):
    """``apprentice chat``: talk to the agent and watch it reason.

    Args:
        model: a model spec (loaded on a worker once the screen is up) or a ready chat model; by default
            the shipped student where this install has one, else the embedded base model.
        strategy: a strategy name from :data:`apprentice.graphs.STRATEGIES`.
        options: strategy settings for every turn (``{"samples": 5, "verifier": "rules"}``).
        loader: how specs become models (default :func:`apprentice.models.load_chat_model`).
        sessions: where thread titles are kept (default ``home()/threads.db``).

    Keys can be changed in ``home()/keymap.json``: binding id -> key, e.g.
    ``{"new_thread": "ctrl+k", "export_thread": "f5"}`` (ids are the action names in the help).
    """

    TITLE = "apprentice"
    CSS_PATH = "styles/app.tcss"

    def __init__(self, model: str | BaseChatModel | None = None, strategy: str = "react", *,
                 options: dict[str, Any] | None = None,
                 loader: Callable[[str], BaseChatModel] | None = None,
                 sessions: SessionStore | None = None) -> None:
        super().__init__()
        self.agent = ChatAgent(model, strategy, loader=loader, options=options)
        self.sessions = sessions or SessionStore()
        self.keymap: dict[str, str] = {}
        self._keymap_error: str | None = None
        self._load_keymap()

    def _load_keymap(self) -> None:
        path = data_path("keymap.json")
        if not path.exists():
            return
        try:
            keymap = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(keymap, dict):
                raise ValueError("expected an object of binding id -> key")
            self.keymap = {str(k): str(v) for k, v in keymap.items()}
        except (OSError, ValueError) as exc:
            self._keymap_error = f"{path}: {exc}"

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)
        self.push_screen(ChatScreen(self.agent, self.sessions))
        if self._keymap_error:
            self.notify(f"keymap ignored: {self._keymap_error}", severity="warning")
        if not self.is_headless and sys.__stdin__ is not None and sys.__stdin__.isatty():
            threading.Thread(target=self.watch_terminal, args=(sys.__stdin__.fileno(), asyncio.get_running_loop()),
                             name="terminal-watch", daemon=True).start()

    def watch_terminal(self, fd: int, loop: asyncio.AbstractEventLoop, *, interval: float = TERMINAL_CHECK_SECONDS,
                       grace: float = 5.0) -> None:
        """Quit when the terminal goes away (runs on its own thread until then).

        Textual's input thread reads end-of-file from a hung-up terminal in a busy loop, so an
        orphaned app would spin a CPU until killed; and once its writer thread dies on EIO, a
        streaming answer can block the event loop on a full output queue. So the check runs here,
        asks the loop to exit, and ends the process itself if the loop cannot within ``grace``
        seconds. Threads are saved as each turn ends (SqliteSaver); nothing finished is lost."""
        while terminal_alive(fd):
            time.sleep(interval)
        try:
            loop.call_soon_threadsafe(lambda: self.exit(return_code=1))
        except RuntimeError:  # the loop has already closed: the app is gone
            return
        time.sleep(grace)
        if self.is_running:
            os._exit(1)


def run_chat(model: str | None = None, strategy: str = "react", options: dict[str, Any] | None = None) -> int:
    """Open the chat UI in the terminal (blocks until the user quits); the app's exit status."""
    app = ChatApp(model, strategy, options=options)
    app.run()
    return app.return_code or 0

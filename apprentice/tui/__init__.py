"""The Textual chat UI (``apprentice chat``): threads, live reasoning steps, model and strategy
pickers. Imports are lazy so that the CLI starts fast."""

from __future__ import annotations

__all__ = ["ChatApp", "run_chat"]


def __getattr__(name: str):
    if name in __all__:
        from apprentice.tui import app

        return getattr(app, name)
    raise AttributeError(name)

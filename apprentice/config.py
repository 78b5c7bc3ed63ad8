"""Where apprentice keeps its data: one directory, overridable with ``APPRENTICE_HOME``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["home", "data_path"]

_DEFAULT_HOME = Path("~/.local/share/apprentice")


def home() -> Path:
    """Return the data directory (created on first use).

    ``APPRENTICE_HOME`` wins over the default ``~/.local/share/apprentice``; tests always set it.
    """
    root = Path(os.environ.get("APPRENTICE_HOME") or _DEFAULT_HOME).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def data_path(name: str) -> Path:
    """Return ``home()/name``: ``traces.db``, ``threads.db``, ``memory.db``, ``adapters``, ..."""
    return home() / name

"""Strategy graphs: LangGraph StateGraphs that hold control flow only (roles live in agents/).

Names load on first use, so importing one graph module does not load the runner (models, tools, traces).
"""

from __future__ import annotations

import importlib
from typing import Any

#: name -> the module that defines it
_EXPORTS = {
    "StrategyConfig": "apprentice.graphs.config",
    "RunContext": "apprentice.graphs.context",
    "RunCancelled": "apprentice.graphs.context",
    "TraceEvents": "apprentice.graphs.context",
    "TraceRecorder": "apprentice.graphs.recording",
    **dict.fromkeys(("STRATEGIES", "Strategy", "build_graph", "compiled_graph", "options_for", "options_help",
                     "strategy_config", "turn_input"), "apprentice.graphs.registry"),
    "RunResult": "apprentice.graphs.runner",
    "run_question": "apprentice.graphs.runner",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'apprentice.graphs' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value

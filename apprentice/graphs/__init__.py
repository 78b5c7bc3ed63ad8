"""Strategy graphs: LangGraph StateGraphs that hold control flow only (roles live in agents/)."""

from apprentice.graphs.config import StrategyConfig
from apprentice.graphs.context import Recorder, RunContext
from apprentice.graphs.registry import (
    STRATEGIES,
    Strategy,
    build_graph,
    compiled_graph,
    options_for,
    options_help,
    strategy_config,
    turn_input,
)
from apprentice.graphs.runner import RunResult, run_question

__all__ = ["STRATEGIES", "Strategy", "StrategyConfig", "strategy_config", "options_for", "options_help",
           "turn_input", "build_graph", "compiled_graph", "Recorder", "RunContext", "RunResult", "run_question"]

"""LangChain tools for the agents: calculator, web search, document retrieval and long-term memory.

Each tool takes one string, so native tool calls and a text protocol (``Action: calculator`` /
``Action Input: 12*7``) can both use it. Tool objects turn failures into observations
(:data:`TOOL_ERROR_TEMPLATE`); :func:`run_tool` raises them instead, for the command line.
"""

from apprentice.tools.calculator import CalculatorError, calculate, evaluate
from apprentice.tools.errors import (
    TOOL_ERROR_TEMPLATE,
    ToolError,
    ToolInputError,
    ToolUnavailableError,
    format_tool_error,
)
from apprentice.tools.memory import (
    close_memory_store,
    open_memory_store,
    recall,
    remember,
)
from apprentice.tools.registry import TOOL_NAMES, ToolContext, get_tools, run_tool
from apprentice.tools.retrieval import DocumentIndex, Hit, retrieve
from apprentice.tools.search import search_web

__all__ = [
    "TOOL_ERROR_TEMPLATE",
    "TOOL_NAMES",
    "CalculatorError",
    "DocumentIndex",
    "Hit",
    "ToolContext",
    "ToolError",
    "ToolInputError",
    "ToolUnavailableError",
    "calculate",
    "close_memory_store",
    "evaluate",
    "format_tool_error",
    "get_tools",
    "open_memory_store",
    "recall",
    "remember",
    "retrieve",
    "run_tool",
    "search_web",
]

"""The tool registry: tools by name for agents (:func:`get_tools`) and by hand (:func:`run_tool`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from langchain_core.tools import BaseTool

from apprentice.errors import ApprenticeError
from apprentice.secrets import redact
from apprentice.tools.calculator import calculate, make_calculator_tool
from apprentice.tools.memory import make_memory_tools, recall, remember
from apprentice.tools.retrieval import make_retrieve_tool, retrieve
from apprentice.tools.search import make_web_search_tool, search_web

__all__ = ["TOOL_NAMES", "ToolContext", "get_tools", "run_tool"]

TOOL_NAMES = ("calculator", "web_search", "retrieve", "remember", "recall")


@dataclass
class ToolContext:
    """What tools need to know about the session they serve.

    Attributes:
        docs_dir: the folder ``retrieve`` searches; ``$APPRENTICE_DOCS`` when None.
        user_id: whose long-term memories ``remember`` and ``recall`` use.
        memory_path: the memory database; ``data_path("memory.db")`` when None.
    """

    docs_dir: Path | None = None
    user_id: str = "default"
    memory_path: Path | None = None


def _check_names(names: Sequence[str]) -> None:
    unknown = [name for name in names if name not in TOOL_NAMES]
    if unknown:
        raise ApprenticeError(f"unknown tool '{unknown[0]}'; choose from: {', '.join(TOOL_NAMES)}")


def _build(name: str, context: ToolContext) -> BaseTool:
    if name == "calculator":
        return make_calculator_tool()
    if name == "web_search":
        return make_web_search_tool()
    if name == "retrieve":
        return make_retrieve_tool(context.docs_dir)
    remember_tool, recall_tool = make_memory_tools(context.user_id, context.memory_path)
    return remember_tool if name == "remember" else recall_tool


def get_tools(names: Sequence[str] | None = None, context: ToolContext | None = None) -> list[BaseTool]:
    """Build LangChain tools by name, in the order given (all of :data:`TOOL_NAMES` by default).

    Tool failures come back from these objects as observations for the model, never as exceptions.

    Raises:
        ApprenticeError: an unknown tool name.
    """
    names = TOOL_NAMES if names is None else tuple(names)
    _check_names(names)
    context = context or ToolContext()
    return [_build(name, context) for name in names]


def _runners(context: ToolContext) -> dict[str, Callable[[str], str]]:
    return {
        "calculator": calculate,
        "web_search": search_web,
        "retrieve": lambda text: retrieve(text, docs_dir=context.docs_dir),
        "remember": lambda text: remember(text, user_id=context.user_id, path=context.memory_path),
        "recall": lambda text: recall(text, user_id=context.user_id, path=context.memory_path),
    }


def run_tool(name: str, text: str, context: ToolContext | None = None) -> str:
    """Run one tool on one input by hand (``apprentice tool NAME INPUT``) and return its output.

    Raises:
        ApprenticeError: an unknown tool, bad input (``ToolInputError``, ``CalculatorError``) or an
            unavailable tool (``ToolUnavailableError``), each a one-line message for the CLI.
    """
    _check_names([name])
    return redact(_runners(context or ToolContext())[name](text))

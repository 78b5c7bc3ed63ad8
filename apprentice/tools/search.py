"""The web_search tool: a few DuckDuckGo results through the ``ddgs`` metasearch package.

Search is best effort. Offline, rate limited or failing, the plain function raises
:class:`ToolUnavailableError` and the tool object hands the model the observation
``search unavailable: <reason>`` instead, so an agent can go on without it.
"""

from __future__ import annotations

import threading
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from apprentice.secrets import redact
from apprentice.tools.errors import (
    ToolInputError,
    ToolUnavailableError,
    format_tool_error,
)

__all__ = ["DEFAULT_BACKEND", "SearchInput", "format_results", "make_web_search_tool", "search_web"]

DEFAULT_BACKEND = "duckduckgo"
_TIMEOUT_S = 8
_MAX_RESULTS = 5
_SNIPPET_CHARS = 200
_MAX_QUERY_CHARS = 400

_DESCRIPTION = (
    "Search the web (DuckDuckGo) for facts you do not know: people, places, dates, recent events. "
    "Input: a short search query, e.g. 'capital of Australia' or 'Eiffel Tower height'. Returns the "
    "top results as a numbered list of title, url and snippet. It may be unavailable (offline)."
)


class SearchInput(BaseModel):
    """Arguments of the web_search tool."""

    query: str = Field(description="A short web search query, e.g. 'population of Lyon 2020'.")


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def format_results(results: list[dict[str, Any]], snippet_chars: int = _SNIPPET_CHARS) -> str:
    """Format ddgs text results as a compact numbered list: title, url, then a short snippet."""
    lines = []
    for number, result in enumerate(results, start=1):
        title = _short(result.get("title") or "(no title)", 120)
        url = result.get("href") or result.get("url") or ""
        lines.append(f"{number}. {title} - {url}".rstrip(" -"))
        snippet = result.get("body") or result.get("snippet") or ""
        if snippet:
            lines.append(f"   {_short(snippet, snippet_chars)}")
    return "\n".join(lines)


def _reason(exc: BaseException) -> str:
    """A short reason from a ddgs/network exception: its first line, without the traceback noise."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if "ratelimit" in type(exc).__name__.lower() or "202" in text or "rate" in lowered:
        return "rate limited"
    if "timed out" in lowered or "timeout" in type(exc).__name__.lower():
        return "timed out"
    if "dns" in lowered or "resolve" in lowered:
        return "offline (DNS lookup failed)"
    if any(word in lowered for word in ("connect", "network", "unreachable")):
        return "offline or unreachable"
    return _short(text, 120)


def _run_with_deadline(call: Any, deadline_s: float) -> Any:
    """Run ``call()`` in a daemon thread; ddgs waits per engine, this bounds the total wall time."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="web-search", daemon=True)
    worker.start()
    worker.join(deadline_s)
    if worker.is_alive():
        raise TimeoutError("timed out")
    if "error" in box:
        raise box["error"]
    return box["value"]


def search_web(
    query: str,
    *,
    k: int = _MAX_RESULTS,
    timeout: int = _TIMEOUT_S,
    backend: str = DEFAULT_BACKEND,
    ddgs_class: type | None = None,
) -> str:
    """Search the web and return the top ``k`` results as a numbered list.

    Args:
        query: the search query; secrets found in it are redacted before it leaves the machine.
        k: how many results to keep.
        timeout: seconds per request (the whole search is bounded by about twice that).
        backend: ddgs backend(s), e.g. ``"duckduckgo"`` or ``"auto"``.
        ddgs_class: a stand-in for ``ddgs.DDGS`` (tests); the real one by default.

    Raises:
        ToolInputError: empty query.
        ToolUnavailableError: ``search unavailable: <reason>`` (offline, rate limited, no results).
    """
    query = redact(" ".join(query.split()))[:_MAX_QUERY_CHARS]
    if not query:
        raise ToolInputError("empty search query")
    if ddgs_class is None:
        try:
            from ddgs import DDGS as ddgs_class  # noqa: N811
        except ImportError:
            raise ToolUnavailableError("search unavailable: the ddgs package is not installed") from None

    def call() -> list[dict[str, Any]]:
        return ddgs_class(timeout=timeout).text(query, max_results=k, backend=backend)

    try:
        results = _run_with_deadline(call, deadline_s=2 * timeout + 2)
    except Exception as exc:  # noqa: BLE001 - any failure means "no search", never a crash
        raise ToolUnavailableError(f"search unavailable: {_reason(exc)}") from exc
    if not results:
        raise ToolUnavailableError("search unavailable: no results")
    return redact(format_results(list(results)[:k]))


def _run_web_search(query: str) -> str:
    return search_web(query)


def make_web_search_tool() -> BaseTool:
    """The ``web_search`` tool; unavailability comes back as an observation, not an exception."""
    return StructuredTool.from_function(
        func=_run_web_search,
        name="web_search",
        description=_DESCRIPTION,
        args_schema=SearchInput,
        handle_tool_error=format_tool_error,
    )

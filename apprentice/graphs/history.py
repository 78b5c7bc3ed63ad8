"""Conversation memory shared by every strategy: a window over the thread plus a running summary."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage

from apprentice.graphs.context import RunContext

__all__ = ["history_window", "summarize_messages", "answer_format", "SUMMARY_PROMPT"]

SUMMARY_PROMPT = (
    "Summarize this conversation in at most five sentences for your own later use. Keep names, "
    "numbers, facts the user told you and answers you gave.\n\n"
    "Earlier summary:\n{summary}\n\nConversation:\n{transcript}\n\nSummary:"
)


def history_window(
    messages: Sequence[AnyMessage], window: int
) -> tuple[list[AnyMessage], list[AnyMessage]]:
    """Split past messages into (dropped, kept): kept is at most ``window`` messages, starting
    on a human message so a tool result never loses the call it answers."""
    messages = list(messages)
    if window <= 0:
        return messages, []
    start = max(0, len(messages) - window)
    while start < len(messages) and not isinstance(messages[start], HumanMessage):
        start += 1
    return messages[:start], messages[start:]


def summarize_messages(ctx: RunContext, summary: str, dropped: Sequence[AnyMessage]) -> str:
    """Ask the model to fold ``dropped`` messages into ``summary``."""
    transcript = "\n".join(f"{m.type}: {m.text}" for m in dropped if m.text.strip())
    prompt = SUMMARY_PROMPT.format(summary=summary or "(none)", transcript=transcript)
    reply = ctx.call_model([SystemMessage("You write short, faithful summaries."), HumanMessage(prompt)],
                           node="summarize", max_tokens=200)
    text = reply.text.strip() or summary
    ctx.record("summary", node="summarize", raw=text, data={"folded": len(dropped)})
    return text


def answer_format(ctx: RunContext) -> str:
    """The task's instruction for how to write the final answer ('' without a task)."""
    return getattr(ctx.task, "answer_format", "") if ctx.task is not None else ""

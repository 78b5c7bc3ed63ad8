"""The reflector role (Reflexion, and LATS after it): a failed attempt, read back with why it failed, turned
into a short lesson that later attempts at the same question see in their prompt.

Following the LATS reference (lapisrocks/LanguageAgentTreeSearch), a lesson diagnoses the failure and
names a plan in a few sentences; it never gives the answer itself. The prompt asks for one paragraph and
the parser keeps the first one, so a small model that goes on to solve the problem is cut short.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

__all__ = ["REFLECT_SYSTEM", "LESSONS_HEADER", "reflection_messages", "parse_reflection", "reflect",
           "with_lessons"]

REFLECT_SYSTEM = ("You review a failed attempt at a problem. In two or three sentences, say why it failed and "
                  "what to do differently next time. Do not give the answer.")
REFLECT_PROMPT = "Problem: {question}\n\nAttempt:\n{attempt}\n\nWhy it was rejected: {feedback}\n\nReflection:"
#: Put before the lessons in a later attempt's system prompt.
LESSONS_HEADER = "Earlier attempts at this question failed. Lessons from them:"
#: A lesson is a few sentences; longer text is a model solving the problem instead.
MAX_CHARS = 400


def reflection_messages(question: str, attempt: str, feedback: str) -> list[BaseMessage]:
    """The prompt asking for a lesson from ``attempt`` (its steps and final answer), rejected for ``feedback``."""
    return [SystemMessage(REFLECT_SYSTEM),
            HumanMessage(REFLECT_PROMPT.format(question=question, attempt=attempt.strip() or "(no steps)",
                                               feedback=feedback.strip() or "the answer was judged wrong"))]


def parse_reflection(text: str) -> str:
    """The lesson in a reply: its first paragraph, on one line, at most :data:`MAX_CHARS` characters."""
    paragraph = next((p for p in (text or "").strip().split("\n\n") if p.strip()), "")
    lesson = " ".join(paragraph.split())
    if lesson.lower().startswith("reflection:"):
        lesson = lesson[len("reflection:"):].strip()
    return lesson if len(lesson) <= MAX_CHARS else lesson[: MAX_CHARS - 1].rstrip() + "…"


def reflect(ctx, question: str, attempt: str, feedback: str, *, max_tokens: int = 96, seed: int = 0) -> str:
    """Ask the model in ``ctx`` for a lesson from a failed ``attempt`` (one call, greedy); "" if it wrote none."""
    reply = ctx.call_model(reflection_messages(question, attempt, feedback), node="reflect",
                           max_tokens=max_tokens, temperature=0.0, seed=seed)
    return parse_reflection(reply.text)


def with_lessons(messages: Sequence[BaseMessage], lessons: Sequence[str]) -> list[BaseMessage]:
    """``messages`` with ``lessons`` appended to their system prompt (unchanged when there are none)."""
    messages = list(messages)
    if not lessons or not messages or not isinstance(messages[0], SystemMessage):
        return messages
    listed = "\n".join(f"- {lesson}" for lesson in lessons)
    return [SystemMessage(f"{messages[0].text}\n\n{LESSONS_HEADER}\n{listed}"), *messages[1:]]

"""The evaluator role: judge how promising a partial solution is (sure / likely / impossible).

The value words and their weights follow princeton-nlp/tree-of-thought-llm (``sure`` 20,
``likely`` 1, ``impossible`` 0.001); a reply with none of them counts as ``likely`` at a lower
weight, so a model that writes garbage neither prunes nor promotes a state.
"""

from __future__ import annotations

import re

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

__all__ = ["VALUE_WEIGHTS", "UNREAD_VALUE", "llm_value", "parse_value", "value_messages"]

VALUE_WEIGHTS = {"sure": 20.0, "likely": 1.0, "impossible": 0.001}
#: The weight of a reply that names no value word.
UNREAD_VALUE = 0.5

VALUE_SYSTEM = ("You judge partial solutions. Say whether the partial solution can still reach a correct "
                "final answer. End with exactly one word: sure, likely or impossible.")
VALUE_PROMPT = "{examples}Problem: {question}\nPartial solution:\n{state}\nJudgement:"
GAME24_EXAMPLES = (
    "Problem: can these numbers reach 24? 10 14\nPartial solution:\n10 + 14 = 24\nJudgement: sure\n\n"
    "Problem: can these numbers reach 24? 1 3 3\nPartial solution:\n1 * 3 * 3 = 9, (1 + 3) * 3 = 12\n"
    "Judgement: impossible\n\n"
    "Problem: can these numbers reach 24? 4 4 10\nPartial solution:\n(10 - 4) * 4 = 24\nJudgement: sure\n\n"
)
_WORD = re.compile(r"\b(sure|likely|impossible)\b", re.I)


def value_messages(question: str, state: str, *, game24: bool = False) -> list[BaseMessage]:
    """Prompt asking for one value judgement of ``state`` (a partial solution) on ``question``."""
    examples = GAME24_EXAMPLES if game24 else ""
    return [SystemMessage(VALUE_SYSTEM),
            HumanMessage(VALUE_PROMPT.format(examples=examples, question=question, state=state or "(nothing yet)"))]


def parse_value(text: str) -> tuple[float, str | None]:
    """(weight, word) of a judgement: the last value word in ``text``; unreadable -> (UNREAD_VALUE, None)."""
    words = _WORD.findall(text or "")
    if not words:
        return UNREAD_VALUE, None
    word = words[-1].lower()
    return VALUE_WEIGHTS[word], word


def llm_value(ctx, question: str, state_text: str, *, samples: int = 1, game24: bool = False,
              seed: int = 0) -> tuple[float, list[str | None]]:
    """The mean weight of ``samples`` value judgements (temperature 0.7 when more than one)."""
    prompt = value_messages(question, state_text, game24=game24)
    weights, words = [], []
    for i in range(max(1, samples)):
        reply = ctx.call_model(prompt, node="value", max_tokens=24, temperature=0.7 if samples > 1 else 0.0,
                               seed=seed + i).text
        weight, word = parse_value(reply)
        weights.append(weight)
        words.append(word)
    return sum(weights) / len(weights), words

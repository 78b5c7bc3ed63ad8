"""Chat example -> (input_ids, labels) with the loss on what the student writes, nothing else.

The prompt (system, user) and every span the harness writes at inference (the ReAct prefill and
tool observations) get label -100. The prompt is rendered by the same sandboxed template code
the model sees at inference, so train and run formats cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from apprentice.backends.template import render_chat
from apprentice.training.examples import learned_spans

__all__ = ["tokenize_example", "IGNORE_INDEX"]

IGNORE_INDEX = -100


def tokenize_example(
    messages: list[dict[str, str]], protocol: str, tokenizer: Any, *, max_length: int = 1024, learn: str = "all"
) -> dict[str, list[int]]:
    """Tokenize one conversation whose last message is the assistant's (``learn``: what of it the loss counts,
    :data:`~apprentice.training.examples.LEARN_MODES`).

    Returns ``input_ids``, ``attention_mask`` and ``labels`` (``-100`` where no loss applies),
    truncated to ``max_length`` tokens.
    """
    prompt = render_chat(getattr(tokenizer, "chat_template", None), messages[:-1],
                         bos_token=tokenizer.bos_token or "", eos_token=tokenizer.eos_token or "")
    completion = messages[-1]["content"]
    end = tokenizer.eos_token or "<|im_end|>"
    text = prompt + completion + end
    spans = [(len(prompt) + a, len(prompt) + b) for a, b in learned_spans(completion, protocol, learn)]
    if spans or learn == "all":  # a continuation without an opening teaches nothing, not even to stop
        spans.append((len(prompt) + len(completion), len(text)))  # learn to stop
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                        truncation=True, max_length=max_length)
    labels = []
    for token_id, (start, stop) in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True):
        inside = any(a <= start < b for a, b in spans) and stop > start
        labels.append(token_id if inside else IGNORE_INDEX)
    return {"input_ids": list(encoded["input_ids"]), "attention_mask": [1] * len(labels), "labels": labels}

"""Keep secrets out of everything the product stores, shows or exports: the value of any secret-looking
env var, and anything shaped like a well-known API key, is masked."""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from typing import Any

from pydantic import BaseModel

__all__ = ["REDACTED", "KEY_PATTERN", "redact", "redact_obj", "secret_values"]

REDACTED = "[redacted]"
_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
_MIN_SECRET_LENGTH = 8

#: Keys that give themselves away by their shape, set in the environment or not: OpenAI and Anthropic
#: (``sk-``, with a digit so that words like ``sk-learn-compatible`` stay), GitHub, Hugging Face, AWS
#: access key ids, Slack, Google, GitLab.
KEY_PATTERN = re.compile(
    r"(?<![\w-])(?:"
    r"sk-(?=[\w-]*\d)[\w-]{20,}"
    r"|gh[opsru]_[A-Za-z0-9]{30,}|github_pat_\w{30,}"
    r"|hf_[A-Za-z0-9]{30,}"
    r"|AKIA[0-9A-Z]{16}"
    r"|xox[abprs]-[\w-]{10,}"
    r"|AIza[\w-]{35}"
    r"|glpat-[\w-]{20,}"
    r")"
)


_cache: tuple[dict, list[str]] = ({}, [])


def secret_values() -> list[str]:
    """Return the values of env vars whose names contain KEY, TOKEN, SECRET or PASSWORD.

    Only values of at least 8 characters count (shorter ones would mask ordinary words);
    the longest come first so that a secret containing another is masked whole. The filtered
    list is recomputed only when the environment changed (a dict comparison in C), since
    every trace write asks for it.
    """
    global _cache
    raw = getattr(os.environ, "_data", None)
    if raw is not None and raw == _cache[0]:
        return _cache[1]
    values = {
        value
        for name, value in os.environ.items()
        if len(value) >= _MIN_SECRET_LENGTH and any(word in name.upper() for word in _SECRET_WORDS)
    }
    result = sorted(values, key=len, reverse=True)
    if raw is not None:
        _cache = (dict(raw), result)
    return result


def redact(text: str) -> str:
    """Replace every secret value and every key-shaped token in ``text`` with ``[redacted]``.

    Keys set after import are covered too. ``text`` itself comes back when there was nothing to mask.
    """
    for value in secret_values():
        if value in text:
            text = text.replace(value, REDACTED)
    if KEY_PATTERN.search(text):
        text = KEY_PATTERN.sub(REDACTED, text)
    return text


def redact_obj(value: Any) -> Any:
    """``value`` with :func:`redact` applied to every string inside it, at any depth.

    Dicts (keys too), lists, tuples, sets, pydantic models (LangChain messages) and dataclasses are
    copied where something inside them changed and returned as they are otherwise; the original is
    never modified, so a graph's live state stays as the model wrote it. Other objects pass unchanged.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return _redact_dict(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return _redact_collection(value)
    if isinstance(value, BaseModel):
        changes = _changed_fields(value, type(value).model_fields)
        return value.model_copy(update=changes) if changes else value
    if type(value).__name__ == "Send" and type(value).__module__.startswith("langgraph"):
        # LangGraph's Send (a map step's payload: the question, the history) is kept in checkpoints too
        arg = redact_obj(value.arg)
        return value if arg is value.arg else type(value)(value.node, arg)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = _changed_fields(value, [f.name for f in dataclasses.fields(value)])
        if not changes:
            return value
        clone = copy.copy(value)
        for name, new in changes.items():
            object.__setattr__(clone, name, new)  # frozen dataclasses too
        return clone
    return value


def _changed_fields(obj: Any, names: Any) -> dict[str, Any]:
    changes = {}
    for name in names:
        old = getattr(obj, name, None)
        new = redact_obj(old)
        if new is not old:
            changes[name] = new
    return changes


def _redact_dict(value: dict) -> dict:
    pairs = [(redact_obj(k), redact_obj(v)) for k, v in value.items()]
    if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, value.items(), strict=True)):
        return value
    clone = copy.copy(value)  # keeps a dict subclass and its settings (defaultdict's factory)
    clone.clear()
    clone.update(pairs)
    return clone


def _redact_collection(value: Any) -> Any:
    items = [redact_obj(v) for v in value]
    if all(new is old for new, old in zip(items, value, strict=True)):
        return value
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
        return type(value)(*items)
    return type(value)(items)

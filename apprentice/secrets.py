"""Keep secrets out of tool inputs and outputs: any value of a secret-looking env var is masked."""

from __future__ import annotations

import os

__all__ = ["REDACTED", "redact", "secret_values"]

REDACTED = "[redacted]"
_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
_MIN_SECRET_LENGTH = 8


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
    """Replace every secret value found in ``text`` with ``[redacted]``.

    Keys set after import are covered too.
    """
    for value in secret_values():
        if value in text:
            text = text.replace(value, REDACTED)
    return text

"""Helpers for selecting traces from the command line."""

from __future__ import annotations

import datetime as dt
import re
import time

from apprentice.errors import ApprenticeError

__all__ = ["parse_since"]

_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str) -> float:
    """Epoch seconds from an age (``90m``, ``2h``, ``3d``) or an ISO date/time."""
    text = text.strip()
    age = _AGE.match(text)
    if age:
        return time.time() - float(age.group(1)) * _UNITS[age.group(2)]
    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ApprenticeError(f"cannot read time {text!r}; use an ISO date like 2026-11-22 or an age like 2h") from None

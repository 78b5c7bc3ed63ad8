"""SVAMP: one-unknown arithmetic word problems; the model sees ``Body + " " + Question``."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, ClassVar

from apprentice.errors import DataError
from apprentice.tasks.answers import FINAL_ANSWER, NumericTask
from apprentice.tasks.base import Item, read_records, require, resolve_source, stable_id
from apprentice.tasks.extract import format_number, parse_number

__all__ = ["SVAMPTask", "equation_solution"]

_FLOAT = re.compile(r"\d+\.\d+|\d+")
_POOL_PER_TYPE = 2


def _plain_equation(equation: str) -> str:
    """``( 76.0 - 25.0 )`` -> ``76 - 25``: numbers in canonical form, outer parentheses and
    padding inside parentheses dropped."""
    text = _FLOAT.sub(lambda match: format_number(Fraction(match.group())), equation)
    text = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", text)).strip()
    if text.startswith("(") and text.endswith(")") and text.count("(") == 1:
        text = text[1:-1]
    return text


def equation_solution(equation: str, answer: str) -> str:
    """A short worked solution from SVAMP's equation, ending in the final answer line."""
    return f"The quantity asked for is {_plain_equation(equation)} = {answer}.\n{FINAL_ANSWER} {answer}"


class SVAMPTask(NumericTask):
    """SVAMP (``arithmetic/SVAMP.json``); ``meta`` keeps ``equation`` and ``type``."""

    name: ClassVar[str] = "svamp"
    default_file: ClassVar[str] = "arithmetic/SVAMP.json"
    hf_id: ClassVar[str] = "ChilleD/SVAMP"

    def parse(self, row: dict[str, Any], where: str) -> Item:
        """One SVAMP record (ID, Body, Question, Equation, Answer, Type)."""
        body = str(require(row, "Body", where)).strip()
        question = str(require(row, "Question", where)).strip()
        value = parse_number(str(require(row, "Answer", where)))
        if value is None:
            raise DataError(f"{where}: Answer {row['Answer']!r} is not a number")
        item_id = str(row.get("ID") or row.get("id") or "").strip() or None
        framed = f"{body} {question}".strip()
        return Item(
            id=item_id or stable_id("svamp", framed),
            question=framed,
            answer=format_number(value),
            meta={"equation": str(row.get("Equation", "")).strip(), "type": str(row.get("Type", "")).strip()},
        )

    def fewshot_pool(self) -> list[tuple[str, str]]:
        """Two problems per SVAMP type, from the end of the file, solved by their equations; the
        hand-written pool when no file is available."""
        source = self._source or resolve_source(None, self.default_file)
        try:
            records = read_records(source) if not isinstance(source, str) else []
        except DataError:
            records = []
        chosen: dict[str, list[Item]] = {}
        for record in reversed(records):
            item = self.parse(record.row, record.where)
            kind = item.meta["type"].lower().replace("divison", "division")
            if item.meta["equation"] and len(chosen.setdefault(kind, [])) < _POOL_PER_TYPE:
                chosen[kind].append(item)
        pool = [item for items in chosen.values() for item in items]
        if not pool:
            return super().fewshot_pool()
        return [(item.question, equation_solution(item.meta["equation"], item.answer or "")) for item in pool]

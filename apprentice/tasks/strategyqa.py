"""StrategyQA: yes/no questions whose reasoning steps are implicit (FireAct's dev file)."""

from __future__ import annotations

from typing import Any, ClassVar

from apprentice.errors import DataError
from apprentice.tasks.answers import FINAL_ANSWER, LabelTask
from apprentice.tasks.base import Item, read_records, require, resolve_source, stable_id
from apprentice.tasks.extract import YES_NO

__all__ = ["STRATEGYQA_POOL", "StrategyQATask", "facts_solution"]

_POOL_SIZE = 6

STRATEGYQA_POOL: list[tuple[str, str]] = [
    (
        "Does water boil at a lower temperature on the summit of Mount Everest than at sea level?",
        "Air pressure on the summit of Everest is about a third of that at sea level.\n"
        "Lower pressure lowers the boiling point of water, to roughly 70 degrees Celsius there.\n"
        f"{FINAL_ANSWER} yes",
    ),
    (
        "Could William Shakespeare have typed his plays on a typewriter?",
        "Shakespeare died in 1616.\nThe first commercially successful typewriters appeared in the 1870s.\n"
        f"{FINAL_ANSWER} no",
    ),
    (
        "Do wild penguins and polar bears meet?",
        "Wild penguins live almost entirely in the Southern Hemisphere.\n"
        "Polar bears live only in the Arctic, in the far north.\n"
        f"{FINAL_ANSWER} no",
    ),
    (
        "Is a tomato a fruit in the botanical sense?",
        "Botanically, a fruit is the seed-bearing structure that develops from a flower's ovary.\n"
        f"A tomato develops from the flower's ovary and holds the seeds.\n{FINAL_ANSWER} yes",
    ),
]


def facts_solution(facts: list[str], answer: str) -> str:
    """A worked solution from StrategyQA's gold facts, ending in the final answer line."""
    lines = [fact.strip().rstrip(".") + "." for fact in facts if fact.strip()]
    return "\n".join([*lines, f"{FINAL_ANSWER} {answer}"])


class StrategyQATask(LabelTask):
    """StrategyQA (``multihop_qa/strategyqa_fireact_dev.json``): gold ``yes``/``no`` from the bool
    answer; ``meta`` keeps ``facts``, ``decomposition``, ``term`` and ``description``."""

    name: ClassVar[str] = "strategyqa"
    answer_format: ClassVar[str] = "Answer yes or no."
    default_file: ClassVar[str] = "multihop_qa/strategyqa_fireact_dev.json"
    synonyms: ClassVar[dict[str, str]] = YES_NO
    hf_split: ClassVar[str] = "train"

    def parse(self, row: dict[str, Any], where: str) -> Item:
        """One record with ``question`` and a boolean (or yes/no) ``answer``."""
        question = str(require(row, "question", where)).strip()
        raw = require(row, "answer", where)
        answer = ("yes" if raw else "no") if isinstance(raw, bool) else YES_NO.get(str(raw).strip().lower())
        if answer is None:
            raise DataError(f"{where}: answer {raw!r} is not a boolean or yes/no")
        meta = {name: row[name] for name in ("facts", "decomposition", "term", "description") if row.get(name)}
        key = row.get("qid")
        item_id = str(key) if key else stable_id("strategyqa", question)
        return Item(id=item_id, question=question, answer=answer, meta=meta)

    def fewshot_pool(self) -> list[tuple[str, str]]:
        """Six questions from the end of the data file, solved by their gold facts; the hand-written
        pool when no file is available."""
        source = self._source or resolve_source(None, self.default_file)
        try:
            records = read_records(source) if not isinstance(source, str) else []
        except DataError:
            records = []
        items = [self.parse(record.row, record.where) for record in records[-_POOL_SIZE:]]
        pool = [
            (item.question, facts_solution(item.meta["facts"], item.answer or ""))
            for item in items
            if item.meta.get("facts")
        ]
        return pool or list(STRATEGYQA_POOL)

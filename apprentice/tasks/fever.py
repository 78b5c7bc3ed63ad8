"""FEVER fact verification: is a claim SUPPORTED, REFUTED, or is there NOT ENOUGH INFO?"""

from __future__ import annotations

from typing import Any, ClassVar

from apprentice.errors import DataError
from apprentice.tasks.answers import FINAL_ANSWER, LabelTask
from apprentice.tasks.base import Item, require, stable_id
from apprentice.tasks.extract import FEVER_LABELS

__all__ = ["FEVER_POOL", "FeverTask", "LABELS"]

LABELS = ("SUPPORTS", "REFUTES", "NOT ENOUGH INFO")

FEVER_POOL: list[tuple[str, str]] = [
    (
        "Claim: The Eiffel Tower is located in Berlin.",
        f"The Eiffel Tower stands on the Champ de Mars in Paris, France, not in Berlin.\n{FINAL_ANSWER} REFUTES",
    ),
    (
        "Claim: Marie Curie won Nobel Prizes in two different sciences.",
        "Marie Curie won the Nobel Prize in Physics in 1903 and the Nobel Prize in Chemistry in 1911.\n"
        f"{FINAL_ANSWER} SUPPORTS",
    ),
    (
        "Claim: Johann Sebastian Bach's favourite colour was green.",
        "Biographies of Bach describe his life and music; none records a favourite colour.\n"
        f"{FINAL_ANSWER} NOT ENOUGH INFO",
    ),
    (
        "Claim: The Pacific Ocean is smaller than the Atlantic Ocean.",
        "The Pacific is the largest ocean on Earth, about twice the area of the Atlantic.\n"
        f"{FINAL_ANSWER} REFUTES",
    ),
    (
        "Claim: Mount Everest is on the border between Nepal and China.",
        "Mount Everest lies in the Himalayas on the border of Nepal and the Tibet region of China.\n"
        f"{FINAL_ANSWER} SUPPORTS",
    ),
    (
        "Claim: Isaac Newton's neighbour in Woolsthorpe owned a grey cat.",
        "Accounts of Newton's life in Woolsthorpe say nothing about a neighbour's cat.\n"
        f"{FINAL_ANSWER} NOT ENOUGH INFO",
    ),
]


class FeverTask(LabelTask):
    """FEVER claims (``fact_verification/fever_react_dev500.jsonl``); the model sees ``Claim: ...``.

    ``meta`` keeps the bare ``claim``, ``verifiable`` and the gold ``evidence`` pointers. The
    extractor maps synonyms (true/supported -> SUPPORTS, false/refuted -> REFUTES, unknown/not enough
    info -> NOT ENOUGH INFO; see :data:`~apprentice.tasks.extract.FEVER_LABELS`).
    """

    name: ClassVar[str] = "fever"
    answer_format: ClassVar[str] = "Answer with one label: SUPPORTS, REFUTES, or NOT ENOUGH INFO."
    default_file: ClassVar[str] = "fact_verification/fever_react_dev500.jsonl"
    synonyms: ClassVar[dict[str, str]] = FEVER_LABELS
    hf_split: ClassVar[str] = "labelled_dev"

    def parse(self, row: dict[str, Any], where: str) -> Item:
        """One ``{"id", "claim", "label", ...}`` record; the label must be one of :data:`LABELS`."""
        claim = str(require(row, "claim", where)).strip()
        label = " ".join(str(require(row, "label", where)).upper().split())
        if label not in LABELS:
            raise DataError(f"{where}: label {label!r} is not one of {', '.join(LABELS)}")
        key = row.get("id", row.get("idx"))
        meta = {"claim": claim, "verifiable": row.get("verifiable"), "evidence": row.get("evidence")}
        return Item(
            id=f"fever-{key}" if key is not None else stable_id("fever", claim),
            question=f"Claim: {claim}",
            answer=label,
            meta={name: value for name, value in meta.items() if value is not None},
        )

    def fewshot_pool(self) -> list[tuple[str, str]]:
        """A hand-written pool: two claims per label with a one-line justification."""
        return list(FEVER_POOL)

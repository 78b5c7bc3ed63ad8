"""Preference tuning with TRL's DPOTrainer on verified-vs-failed pairs of the same question.

The policy continues a LoRA adapter (``--base adapter:SFT``) or starts one on a base; the
reference is the starting policy itself (a frozen merged copy), so DPO moves the student away
from its own failures rather than back toward the untuned base.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apprentice.agents.decide import GO_ON_OPENING
from apprentice.agents.tally import TALLY_PREFIX
from apprentice.config import data_path
from apprentice.errors import DataError
from apprentice.training.base_model import load_for_training, lora_config, resolve_base
from apprentice.training.config import (
    TrainArgs,
    add_dataclass_arguments,
)
from apprentice.training.examples import learned_spans
from apprentice.training.sft import dataset_lines, run_as_script, train_and_register, trainer_arguments

__all__ = ["CREDITS", "DPOArgs", "credit_mask", "main", "make_parser", "load_pairs"]

#: ``--credit``: the completion tokens DPO counts (see :class:`DPOArgs`).
CREDITS = ("all", "written", "action")
_OBSERVATION = re.compile(r"Observation:")
#: the harness's opening of a thought it decided goes on, after the observation's line (``decide``)
_OPENED = re.compile(rf"Thought:{GO_ON_OPENING.pattern}")


@dataclass
class DPOArgs(TrainArgs):
    """Options of ``apprentice train dpo``: the shared ones, with DPO's own defaults, plus beta."""

    beta: float = field(default=0.1, metadata={"help": "DPO beta (strength of the KL anchor)"})
    sft_weight: float = field(default=0.0, metadata={
        "help": "weight of an added NLL loss on the chosen side (RPO; TRL loss_type sigmoid+sft): keeps DPO from "
                "lowering the likelihood of what chosen and rejected share, e.g. the Final Answer line (0: plain DPO)"})
    learning_rate: float = field(default=5e-5, metadata={"help": "peak learning rate"})
    batch_size: int = field(default=2, metadata={"help": "per-device batch size"})
    credit: str = field(default="all", metadata={
        "choices": CREDITS,
        "help": "which completion tokens DPO's log-probabilities count: all (TRL's way); written = what SFT "
                "learns, the model's own text on both sides: not the calculator's observations nor the Thought: "
                "the harness writes after them; action = not the observations either, and nothing of the "
                "rejected side after its first observation, so a failure is charged to the choices that made it, "
                "not to a final answer that copies its wrong result faithfully. Measured (sessions 44 and 46: the "
                "shipped student, a self-taught pool, 200 steps; SVAMP right of 200, answers that are not the "
                "calculator's): all 97, 23; written 98, 27; action 74, 0: the push, now on the last tokens before "
                "the observation, taught it to cut the question's numbers short (\"400 / 4\" for 40). So the "
                "observations' tokens neither cost reading nor make the unfaithful answers; the rejected side's "
                "answer does"})


def credit_mask(pieces: list[str], *, rejected: bool, credit: str = "action") -> list[int]:
    """1 for each token (its decoded text in ``pieces``) that ``credit`` counts, else 0.

    ``written``: the tokens SFT learns (:func:`~apprentice.training.examples.learned_spans`, a token counted where
    it starts, as :func:`~apprentice.training.tokenization.tokenize_example` labels it). ``action``: all but every
    ``Observation:`` line's value (to its newline, and the harness's tally line and go-on opening after it), and on a
    rejected side every token after its first one.
    """
    mask, spans, at = [1] * len(pieces), [], 0
    for piece in pieces:
        spans.append((at, at + len(piece)))
        at += len(piece)
    text = "".join(pieces)
    if credit == "written":
        learned = learned_spans(text, "react")
        return [int(stop > start and any(a <= start < b for a, b in learned)) for start, stop in spans]
    for match in _OBSERVATION.finditer(text):
        end = len(text) if rejected else (text.find("\n", match.end()) + 1 or len(text))
        if text.startswith(TALLY_PREFIX, end):  # the harness's tally after it (``tally`` prompt) is no choice either
            end = text.find("\n", end) + 1 or len(text)
        if opened := _OPENED.match(text, end):  # nor its opening of a thought it decided goes on (``decide``)
            end = opened.end()
        for k, (start, stop) in enumerate(spans):
            if start < end and stop > match.end():
                mask[k] = 0
        if rejected:
            break
    return mask


def _credit_collator(tokenizer: Any, base: Any, credit: str) -> Any:
    """TRL's preference collator with ``credit``'s mask on each completion (positions past the prompt)."""

    def collate(examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = base(examples)
        mask, rows = batch["completion_mask"], len(examples)
        for i, example in enumerate(examples):
            for row, key in ((i, "chosen_ids"), (rows + i, "rejected_ids")):
                pieces = [tokenizer.decode([token]) for token in example[key]]
                start = len(example["prompt_ids"])
                for j, keep in enumerate(credit_mask(pieces, rejected=key == "rejected_ids", credit=credit)):
                    if not keep and start + j < mask.shape[1]:
                        mask[row, start + j] = 0
        return batch

    return collate


def load_pairs(folder: Path) -> list[dict[str, Any]]:
    """Conversational preference rows (prompt, chosen, rejected) from ``pairs.jsonl``."""
    path = folder / "pairs.jsonl"
    if not path.exists():
        raise DataError(f"{path} not found (harvest with pairs enabled first)")
    rows = []
    for number, line in enumerate(dataset_lines(path), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.append({"prompt": row["prompt"], "chosen": row["chosen"], "rejected": row["rejected"]})
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{path}:{number}: not a preference pair ({exc})") from exc
    if not rows:
        raise DataError(f"{path}: no preference pairs")
    return rows


def _reference(choice: Any):
    """A frozen copy of the starting policy (the base with the parent adapter merged in)."""
    import torch
    from transformers import AutoModelForCausalLM

    if choice.parent_dir is not None:
        from apprentice.training.registry import get_adapter, merged_model

        model, _ = merged_model(get_adapter(choice.parent_adapter).base, choice.parent_dir)
    else:
        model = AutoModelForCausalLM.from_pretrained(choice.folder, use_safetensors=True, dtype=torch.float32)
    model.requires_grad_(False)
    return model.eval()


def main(args: DPOArgs):
    """Train with DPO, save into the registry, return the :class:`AdapterRecord`."""
    from datasets import Dataset
    from trl import DPOConfig

    from apprentice.training.label_head import LabelHeadDPOTrainer
    from apprentice.training.registry import validate_name

    validate_name(args.name)
    rows = load_pairs(args.data)
    choice = resolve_base(args.base)
    lora = lora_config(args.lora_r, args.lora_alpha, args.lora_dropout, args.target_modules)
    tokenizer, model = load_for_training(choice, qlora=args.qlora, lora=lora, seed=args.seed)
    output_dir = data_path("runs") / f"dpo-{args.name}"
    losses = {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, args.sft_weight]} if args.sft_weight else {}
    config = DPOConfig(**trainer_arguments(args, output_dir, has_eval=False), beta=args.beta,
                       max_length=args.max_length, **losses)
    trainer = LabelHeadDPOTrainer(model=model, ref_model=_reference(choice), args=config,
                                  train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    if args.credit != "all":
        trainer.data_collator = _credit_collator(tokenizer, trainer.data_collator, args.credit)
    return train_and_register(trainer, tokenizer, args, kind="dpo", choice=choice, output_dir=output_dir)


def make_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Flags from :class:`DPOArgs` plus ``--config FILE.yaml``."""
    parser = parser or argparse.ArgumentParser(prog="apprentice train dpo", description=__doc__)
    add_dataclass_arguments(parser, DPOArgs)
    return parser


if __name__ == "__main__":  # accelerate launch -m apprentice.training.dpo ...
    run_as_script(DPOArgs, main, make_parser())

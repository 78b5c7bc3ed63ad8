"""Supervised fine-tuning with TRL's SFTTrainer and (Q)LoRA; the result goes into the adapter registry.

Run it as ``apprentice train sft ...`` or, for several GPUs, ``accelerate launch -m
apprentice.training.sft ...`` (same flags). Loss is on the assistant's own tokens only: the
dataset is tokenized here with labels -100 on the prompt and on tool observations.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from apprentice.config import data_path
from apprentice.errors import ApprenticeError, DataError
from apprentice.training.base_model import load_for_training, lora_config, resolve_base
from apprentice.training.config import (
    TrainArgs,
    add_dataclass_arguments,
    config_from_args,
)
from apprentice.training.examples import LEARN_MODES
from apprentice.training.tokenization import tokenize_example

__all__ = ["SFTArgs", "main", "make_parser", "dataset_lines", "load_chat_split", "trainer_arguments",
           "finish_training", "train_and_register", "run_as_script"]


@dataclass
class SFTArgs(TrainArgs):
    """Options of ``apprentice train sft`` (and of ``python -m apprentice.training.sft``)."""


def dataset_lines(path: Path) -> list[str]:
    """The lines of a dataset file; one that is binary or cannot be read is a :class:`DataError` naming it.

    Split at ``\n`` only: JSON keeps U+2028, U+2029 and U+0085 raw inside a string (``json.dumps(...,
    ensure_ascii=False)`` writes them so), and ``str.splitlines`` would cut a row there (a GSM8K train question
    has U+2028)."""
    try:
        return path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                        "expected JSON lines as apprentice harvest writes them") from exc
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc


def load_chat_split(folder: Path, split: str) -> list[dict[str, Any]]:
    """Rows of ``folder/split.jsonl`` (``[]`` if the file is absent or empty)."""
    path = folder / f"{split}.jsonl"
    if not path.exists():
        return []
    rows = []
    for number, line in enumerate(dataset_lines(path), 1):
        if line.strip():
            try:
                row = json.loads(line)
                row["messages"][-1]["content"]  # noqa: B018 - shape check
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise DataError(f"{path}:{number}: not a chat example ({exc})") from exc
            if row.get("learn", "all") not in LEARN_MODES:
                raise DataError(f"{path}:{number}: learn must be one of {', '.join(LEARN_MODES)}, "
                                f"not {row['learn']!r}")
            rows.append(row)
    return rows


def _tokenized(rows: list[dict[str, Any]], tokenizer: Any, max_length: int):
    from datasets import Dataset

    data = [tokenize_example(r["messages"], r.get("protocol", "plain"), tokenizer, max_length=max_length,
                             learn=r.get("learn", "all")) for r in rows]
    return Dataset.from_list([d for d in data if any(x != -100 for x in d["labels"])])


def trainer_arguments(args: Any, output_dir: Path, has_eval: bool) -> dict[str, Any]:
    """TrainingArguments shared by SFT and DPO: eval, checkpoints, early stopping, logging."""
    import torch

    steps = max(1, args.eval_steps)
    common: dict[str, Any] = dict(
        output_dir=str(output_dir), num_train_epochs=args.epochs, max_steps=args.max_steps,
        learning_rate=args.learning_rate, per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size, gradient_accumulation_steps=args.grad_accum,
        lr_scheduler_type="cosine", warmup_steps=min(10, steps), logging_steps=max(1, min(10, steps)),
        save_strategy="steps", save_steps=steps, save_total_limit=args.save_total_limit,
        report_to=[] if args.report_to == "none" else [args.report_to], seed=args.seed,
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        optim="paged_adamw_8bit" if (args.qlora and torch.cuda.is_available()) else "adamw_torch",
        use_cpu=not torch.cuda.is_available(), disable_tqdm=False, dataloader_num_workers=0,
        # activation checkpointing trades compute for memory: worth it on a GPU, a pure loss on a CPU
        activation_checkpointing=torch.cuda.is_available(),
    )
    if has_eval:
        common.update(eval_strategy="steps", eval_steps=steps, load_best_model_at_end=True,
                      metric_for_best_model="eval_loss", greater_is_better=False)
    return common


def train_and_register(trainer: Any, tokenizer: Any, args: Any, *, kind: str, choice: Any, output_dir: Path):
    """Train (resuming from the last checkpoint when asked, and only a training of the same dataset and base) and
    save the adapter to the registry."""
    from accelerate import PartialState
    from transformers.trainer_utils import get_last_checkpoint

    from apprentice.training.callbacks import ThreadCallback
    from apprentice.training.registry import dataset_fingerprint

    fingerprint, state = dataset_fingerprint(args.data), PartialState()
    if state.is_main_process:
        _prepare_output_dir(output_dir, {"data": str(args.data), "fingerprint": fingerprint, "base": args.base},
                            resume=args.resume)
    state.wait_for_everyone()  # under accelerate launch, no process looks for checkpoints before the folder is set
    last = get_last_checkpoint(str(output_dir)) if args.resume else None
    trainer.add_callback(ThreadCallback())
    trainer.train(resume_from_checkpoint=last)
    return finish_training(trainer, tokenizer, args, kind=kind, fingerprint=fingerprint,
                           choice=choice, resumed=last is not None)


def _prepare_output_dir(output_dir: Path, training: dict[str, str], *, resume: bool) -> None:
    """Keep ``output_dir``'s checkpoints only for a resume of the same training (``training.json`` records its
    dataset, fingerprint and base); else empty it, so that a later resume never picks up an older training's
    checkpoint (a killed retrain would register the old weights under the new dataset)."""
    record = output_dir / "training.json"
    try:
        recorded = json.loads(record.read_text(encoding="utf-8"))
        same = resume and all(recorded.get(key) == training[key] for key in ("fingerprint", "base"))
    except (OSError, ValueError, AttributeError):  # none (a new folder, or an older version's checkpoints)
        same = False
    if not same:
        if output_dir.exists():
            shutil.rmtree(output_dir)
        output_dir.mkdir(parents=True)
        record.write_text(json.dumps(training, indent=2), encoding="utf-8")


def run_as_script(config_cls: type, train: Any, parser: argparse.ArgumentParser) -> None:
    """``python -m apprentice.training.sft|dpo`` (and ``accelerate launch -m ...``)."""
    try:
        record = train(config_from_args(config_cls, parser.parse_args()))
        print(f"adapter {record.name} saved to {record.path}")
    except ApprenticeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


def finish_training(trainer: Any, tokenizer: Any, args: Any, *, kind: str, fingerprint: str,
                    choice: Any, resumed: bool):
    """Save the adapter into the registry with its provenance and metrics."""
    from apprentice.training.harvest import dataset_react_prompt
    from apprentice.training.registry import register_adapter

    history = trainer.state.log_history
    metrics = {k: v for row in history for k, v in row.items() if k.endswith("loss") or k in ("epoch", "step")}
    metrics["global_step"] = trainer.state.global_step
    # where the training's time went (a resumed training's runtime counts from its checkpoint)
    metrics["train_seconds"] = round(sum(float(row.get("train_runtime", 0)) for row in history), 1)
    metrics["eval_loss_seconds"] = round(sum(float(row.get("eval_runtime", 0)) for row in history), 1)
    if getattr(trainer.state, "best_metric", None) is not None:
        metrics["best_eval_loss"] = trainer.state.best_metric
    return register_adapter(
        args.name, model=trainer.model, tokenizer=tokenizer, base=choice.spec if not choice.parent_adapter
        else _root_base(choice.parent_adapter), parent=choice.parent_adapter, kind=kind,
        dataset=str(args.data), fingerprint=fingerprint, training_args=_jsonable(asdict(args)),
        metrics=metrics, resumed=resumed, export_gguf=args.export_gguf,
        react_prompt=dataset_react_prompt(args.data),
    )


def _root_base(adapter: str) -> str:
    from apprentice.training.registry import get_adapter

    return get_adapter(adapter).base


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


def main(args: SFTArgs):
    """Train, save into the registry, and return the :class:`AdapterRecord`."""
    from transformers import EarlyStoppingCallback
    from trl import SFTConfig

    from apprentice.training.label_head import LabelHeadSFTTrainer
    from apprentice.training.registry import validate_name

    validate_name(args.name)
    train_rows, eval_rows = load_chat_split(args.data, "train"), load_chat_split(args.data, "eval")
    eval_rows = eval_rows[:args.eval_examples] if args.eval_examples > 0 else eval_rows
    if not train_rows:
        raise DataError(f"{args.data}: no training examples (train.jsonl missing or empty)")
    choice = resolve_base(args.base)
    lora = lora_config(args.lora_r, args.lora_alpha, args.lora_dropout, args.target_modules)
    tokenizer, model = load_for_training(choice, qlora=args.qlora, lora=lora, seed=args.seed)
    train_ds = _tokenized(train_rows, tokenizer, args.max_length)
    eval_ds = _tokenized(eval_rows, tokenizer, args.max_length) if eval_rows else None
    output_dir = data_path("runs") / f"sft-{args.name}"
    config = SFTConfig(**trainer_arguments(args, output_dir, eval_ds is not None and len(eval_ds) > 0),
                       max_length=args.max_length, packing=False, dataset_kwargs={"skip_prepare_dataset": False},
                       # batches of similar length pad little: most of a CPU step is spent on padding otherwise
                       train_sampling_strategy="group_by_length")
    callbacks = [EarlyStoppingCallback(early_stopping_patience=args.patience)] if config.load_best_model_at_end else []
    trainer = LabelHeadSFTTrainer(model=model, args=config, train_dataset=train_ds,
                                  eval_dataset=eval_ds if config.load_best_model_at_end else None,
                                  processing_class=tokenizer, callbacks=callbacks)
    return train_and_register(trainer, tokenizer, args, kind="sft", choice=choice, output_dir=output_dir)


def make_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Flags from :class:`SFTArgs` (help from field metadata) plus ``--config FILE.yaml``."""
    parser = parser or argparse.ArgumentParser(prog="apprentice train sft", description=__doc__)
    add_dataclass_arguments(parser, SFTArgs)
    return parser


if __name__ == "__main__":  # accelerate launch -m apprentice.training.sft ...
    run_as_script(SFTArgs, main, make_parser())

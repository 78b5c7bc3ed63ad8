"""Dataclass configs -> command-line flags (help and choices from field metadata), with YAML files
layered under the flags, as TRL's scripts do (``main(*configs)`` + ``make_parser()``)."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from apprentice.errors import DataError

__all__ = ["TrainArgs", "add_dataclass_arguments", "config_from_args"]

T = TypeVar("T")


def _base_type(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _base_type(args[0]) if args else str
    if origin in (list, tuple):
        return list
    return tp


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, *, skip: tuple[str, ...] = ()) -> None:
    """Add one ``--flag`` per field of dataclass ``cls`` (required fields become required flags)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = _base_type(hints[f.name])
        help_text = f.metadata.get("help", "")
        kwargs: dict[str, Any] = {"dest": f.name, "help": help_text, "default": argparse.SUPPRESS}
        if "choices" in f.metadata:
            kwargs["choices"] = f.metadata["choices"]
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if kind is list:
            kwargs["nargs"] = "+"
            inner = typing.get_args(hints[f.name])
            if inner and inner[0] in (int, float):
                kwargs["type"] = inner[0]
        elif kind in (int, float):
            kwargs["type"] = kind
        elif kind is Path:
            kwargs["type"] = Path
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            kwargs["help"] = f"{help_text} (required)"
        default = f.default if f.default is not dataclasses.MISSING else None
        if default not in (None, dataclasses.MISSING):
            kwargs["help"] += f" (default: {default})"
        parser.add_argument(flag, **kwargs)
    parser.add_argument("--config", type=Path, help="YAML file of these options; flags override it")


def config_from_args(cls: type[T], args: argparse.Namespace) -> T:
    """Build ``cls`` from a YAML ``--config`` (if any) overridden by the flags given."""
    values: dict[str, Any] = {}
    config_file = getattr(args, "config", None)
    if config_file:
        import yaml

        try:
            loaded = yaml.safe_load(Path(config_file).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise DataError(f"cannot read config {config_file}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise DataError(f"config {config_file} must be a mapping of option: value")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(loaded) - names)
        if unknown:
            raise DataError(f"config {config_file}: unknown options {', '.join(unknown)}")
        values.update(loaded)
    for f in dataclasses.fields(cls):
        if f.name in vars(args):
            values[f.name] = getattr(args, f.name)
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in values
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise DataError("missing required option(s): " + ", ".join("--" + m.replace("_", "-") for m in missing))
    return cls(**values)


@dataclass
class TrainArgs:
    """Options shared by ``apprentice train sft`` and ``apprentice train dpo``."""

    data: Path = field(metadata={"help": "a harvested dataset folder (from apprentice harvest)"})
    name: str = field(metadata={"help": "name of the adapter in the registry"})
    base: str = field(default="local", metadata={"help": "base model spec: local, local:PATH or adapter:NAME"})
    qlora: bool = field(default=False, metadata={"help": "load the base in 4-bit NF4 (bitsandbytes)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha"})
    lora_dropout: float = field(default=0.0, metadata={
        "help": "LoRA dropout (also on a parent adapter's layers); 0 makes a CPU step ~16%% faster, and one epoch "
                "over a few thousand examples hardly overfits"})
    target_modules: str = field(default="all-linear",
                                metadata={"help": "LoRA targets ('all-linear' = every projection)"})
    epochs: float = field(default=1.0, metadata={"help": "training epochs"})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many steps (-1: epochs decide)"})
    learning_rate: float = field(default=2e-4, metadata={"help": "peak learning rate"})
    batch_size: int = field(default=4, metadata={"help": "per-device batch size"})
    grad_accum: int = field(default=1, metadata={"help": "gradient accumulation steps"})
    max_length: int = field(default=768, metadata={"help": "truncate examples to this many tokens"})
    eval_steps: int = field(default=50, metadata={"help": "evaluate (and checkpoint) every N steps"})
    eval_examples: int = field(default=48, metadata={
        "help": "held-out examples the eval loss (best checkpoint, early stopping) is measured on, the first of the "
                "eval split; 0: all (an evaluation of 86 took 52 s of a CPU round's training, ~7 steps' worth)"})
    patience: int = field(default=3, metadata={"help": "early stopping: evaluations without improvement"})
    save_total_limit: int = field(default=2, metadata={"help": "checkpoints kept for resuming"})
    resume: bool = field(default=True, metadata={
        "help": "resume from the last checkpoint of this name (only a training of the same dataset and base; any "
                "other starts clean)"})
    report_to: str = field(default="none", metadata={"help": "tensorboard, wandb or none"})
    seed: int = field(default=0, metadata={"help": "random seed (data order, LoRA init)"})
    export_gguf: bool = field(default=True, metadata={"help": "also merge into a GGUF for llama.cpp-speed inference"})

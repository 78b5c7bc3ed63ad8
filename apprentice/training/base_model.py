"""The model a training run starts from: a base spec -> HF folder -> (Q)LoRA-ready PEFT model."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apprentice.errors import ModelSpecError
from apprentice.models import adapter_name
from apprentice.specs import parse_spec
from apprentice.threads import cpu_threads
from apprentice.training.registry import base_folder, get_adapter

__all__ = ["BaseChoice", "load_for_training", "load_tokenizer", "lora_config", "resolve_base"]


@dataclass(frozen=True)
class BaseChoice:
    """Where training starts: the HF base folder, and the adapter to continue (if any)."""

    spec: str
    folder: Path
    parent_adapter: str | None = None
    parent_dir: Path | None = None


def resolve_base(spec: str) -> BaseChoice:
    """``local`` / ``local:PATH`` (GGUF or HF folder) / ``adapter:NAME`` / ``student`` -> a safetensors HF
    folder (and the adapter to continue from)."""
    parsed = parse_spec(spec)
    if parsed.kind == "openai":
        raise ModelSpecError(f"cannot fine-tune {spec}: training needs local weights (local, local:PATH, student, "
                             "adapter:NAME)")
    if parsed.kind in ("adapter", "student"):  # the shipped student is imported into the registry first
        record = get_adapter(adapter_name(parsed))
        return BaseChoice(str(parsed), base_folder(record.base), record.name, record.path)
    return BaseChoice(str(parsed), base_folder(str(parsed)))


def lora_config(r: int, alpha: int, dropout: float, target_modules: str | list[str]):
    """LoRA on all projection layers by default (the QLoRA recipe)."""
    from peft import LoraConfig

    targets = target_modules if target_modules != "all-linear" else "all-linear"
    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets,
                      bias="none", task_type="CAUSAL_LM")


def load_tokenizer(choice: BaseChoice) -> Any:
    """The base's tokenizer, padding with its end-of-sequence token when it names no pad token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(choice.folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_for_training(choice: BaseChoice, *, qlora: bool, lora: Any, seed: int = 0) -> tuple[Any, Any]:
    """Tokenizer and a trainable PEFT model (4-bit NF4 base with double quantization if ``qlora``);
    ``seed`` fixes the LoRA initialisation."""
    import torch
    from peft import PeftModel, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, set_seed

    set_seed(seed)
    torch.set_num_threads(cpu_threads())
    tokenizer = load_tokenizer(choice)
    kwargs: dict[str, Any] = {"use_safetensors": True, "dtype": torch.float32}
    if qlora:
        compute = torch.bfloat16 if torch.cuda.is_available() else torch.float32
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute)
        if torch.cuda.is_available():
            kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))}
    model = AutoModelForCausalLM.from_pretrained(choice.folder, **kwargs)
    if qlora:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=torch.cuda.is_available())
    if choice.parent_dir is not None:
        model = PeftModel.from_pretrained(model, str(choice.parent_dir), is_trainable=True)
        _set_dropout(model, lora.lora_dropout)  # the parent's saved config would bring back its own
        for config in model.peft_config.values():
            # the base it trains on here, as a new adapter's config names it: a parent trained on another machine
            # names that one's folder, the shipped student the hub id, and PEFT's save would look there (on the
            # hub, over the network) for the base's config
            config.base_model_name_or_path = str(choice.folder)
    else:
        model = get_peft_model(model, lora)
    return tokenizer, model


def _set_dropout(model: Any, p: float) -> None:
    """Every LoRA layer's dropout to ``p`` (an identity at 0, as PEFT builds it for a new adapter)."""
    import torch

    for module in model.modules():
        dropouts = getattr(module, "lora_dropout", None)
        if isinstance(dropouts, torch.nn.ModuleDict):
            for key in list(dropouts.keys()):
                dropouts[key] = torch.nn.Dropout(p) if p > 0 else torch.nn.Identity()
    for config in model.peft_config.values():
        config.lora_dropout = p

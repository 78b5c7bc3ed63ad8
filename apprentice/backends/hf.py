"""transformers engine (through langchain-huggingface): the seat a trained student takes.

Weights load from safetensors only (no pickle). The embedded GGUF is converted once to a
safetensors folder under ``home()/models`` so that training and LoRA inference have an HF base.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import PrivateAttr

from apprentice.backends.local import LocalChatModel
from apprentice.config import data_path
from apprentice.errors import ModelSpecError, ModelUnavailableError
from apprentice.threads import cpu_threads

__all__ = ["TransformersChatModel", "hf_base_from_gguf", "load_hf", "models_dir", "require_safetensors"]

_CACHE: dict[tuple[str, str | None], tuple[Any, Any]] = {}
_LOCK = threading.Lock()


def require_safetensors(folder: Path, what: str = "model") -> None:
    """Refuse a folder whose weights are not safetensors (pickle files can run code)."""
    if not folder.is_dir():
        raise ModelSpecError(f"{what} folder not found: {folder}")
    if not any(folder.glob("*.safetensors")):
        pickles = [p.name for p in folder.glob("*") if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".ckpt"}]
        hint = f" (found {', '.join(pickles)}: pickle files are refused)" if pickles else ""
        raise ModelSpecError(f"{what} folder {folder} has no .safetensors weights{hint}")


def models_dir() -> Path:
    """Where converted base models are cached: ``APPRENTICE_MODELS`` or ``home()/models``."""
    override = os.environ.get("APPRENTICE_MODELS")
    return Path(override).expanduser() if override else data_path("models")


def hf_base_from_gguf(gguf_path: Path) -> Path:
    """Convert a GGUF file once into a safetensors folder (cached) and return the folder.

    transformers dequantizes the GGUF to fp32; its quantizer and quantization config are
    dropped before saving so the folder reloads as a plain model in well under a second.
    """
    digest = hashlib.sha1(f"{gguf_path.resolve()}:{gguf_path.stat().st_size}".encode()).hexdigest()[:10]
    target = models_dir() / f"{gguf_path.stem}-{digest}"
    if (target / "config.json").is_file():
        return target
    from filelock import FileLock
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").is_file():
            return target
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tok = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
            model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        except Exception as exc:  # transformers raises many types for a bad file
            raise ModelUnavailableError(f"transformers could not read {gguf_path.name}: {exc}") from exc
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        tmp.rename(target)
    return target


def load_hf(model_dir: str | Path, adapter_dir: str | Path | None = None):
    """Load (once per process) tokenizer and model from safetensors, with a LoRA adapter on top."""
    model_dir = Path(model_dir).expanduser()
    require_safetensors(model_dir)
    key = (str(model_dir.resolve()), str(adapter_dir) if adapter_dir else None)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        try:
            tok = AutoTokenizer.from_pretrained(model_dir)
            model = AutoModelForCausalLM.from_pretrained(model_dir, use_safetensors=True, dtype=torch.float32)
        except (OSError, ValueError) as exc:
            raise ModelUnavailableError(f"transformers could not load {model_dir}: {exc}") from exc
        if adapter_dir is not None:
            from peft import PeftModel

            require_safetensors(Path(adapter_dir), "adapter")
            try:
                model = PeftModel.from_pretrained(model, str(adapter_dir))
            except (OSError, ValueError, RuntimeError, KeyError) as exc:
                raise ModelSpecError(f"adapter {adapter_dir} does not fit base {model_dir.name}: {exc}") from exc
        model.eval()
        torch.set_num_threads(cpu_threads())
        _CACHE[key] = (tok, model)
        return tok, model


class TransformersChatModel(LocalChatModel):
    """A Hugging Face causal LM (optionally with a LoRA adapter) via langchain-huggingface."""

    model_dir: str
    adapter_dir: str | None = None
    _tok: Any = PrivateAttr(default=None)
    _pipe: Any = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        from langchain_huggingface import HuggingFacePipeline
        from transformers import pipeline

        tok, model = load_hf(self.model_dir, self.adapter_dir)
        self._tok = tok
        self._pipe = HuggingFacePipeline(pipeline=pipeline("text-generation", model=model, tokenizer=tok))

    @property
    def _llm_type(self) -> str:
        return "transformers"

    @property
    def chat_template(self) -> str | None:
        return getattr(self._tok, "chat_template", None)

    @property
    def special_tokens(self) -> dict[str, str]:
        return {"bos_token": self._tok.bos_token or "", "eos_token": self._tok.eos_token or ""}

    def count_tokens(self, text: str) -> int:
        return len(self._tok(text, add_special_tokens=False)["input_ids"])

    def _complete(
        self, prompt: str, *, stop: list[str], temperature: float, max_tokens: int, seed: int | None
    ) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        if seed is not None:
            torch.manual_seed(seed)
        gen = {"max_new_tokens": max_tokens, "do_sample": temperature > 0, "return_full_text": False}
        if temperature > 0:
            gen.update(temperature=temperature, top_p=self.top_p)
        if stop:
            gen.update(stop_strings=stop, tokenizer=self._tok)
        # Our own generate thread rather than HuggingFacePipeline.stream's: closing this generator stops
        # it at the next token (and waits for it), where that one ran on to max_new_tokens unseen.
        closed, failure = threading.Event(), []
        streamer = TextIteratorStreamer(self._tok, timeout=60.0, skip_prompt=True, skip_special_tokens=True)
        gen.update(streamer=streamer, stopping_criteria=StoppingCriteriaList([_stop_when(closed)]))

        def generate() -> None:
            try:
                self._pipe.pipeline(prompt, **gen)
            except Exception as exc:  # raised in the reader's thread, below
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=generate, name="apprentice-generate-hf")
        worker.start()
        try:
            yield from _hold_back_stops(streamer, stop)
        finally:
            closed.set()
            worker.join()
        if failure:
            raise failure[0]


def _hold_back_stops(pieces: Iterator[str], stop: list[str]) -> Iterator[str]:
    """``pieces`` up to the first stop string, holding back as many characters as the longest stop
    string, so no part of one leaks out."""
    hold = max((len(s) for s in stop), default=0)
    buf, sent = "", 0
    for piece in pieces:
        buf += piece
        cut = min((buf.find(s) for s in stop if s in buf), default=-1)
        if cut >= 0:
            if cut > sent:
                yield buf[sent:cut]
            return
        if len(buf) - hold > sent:
            yield buf[sent:len(buf) - hold]
            sent = len(buf) - hold
    if sent < len(buf):
        yield buf[sent:]


def _stop_when(event: threading.Event):
    """A transformers stopping criterion that ends generation once ``event`` is set."""
    import torch
    from transformers import StoppingCriteria

    class _StopWhen(StoppingCriteria):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any):
            return torch.full((input_ids.shape[0],), event.is_set(), dtype=torch.bool, device=input_ids.device)

    return _StopWhen()

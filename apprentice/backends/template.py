"""Chat templates rendered in a sandbox: a model file's template is data, never code.

A GGUF or tokenizer_config.json carries a Jinja chat template; llama-cpp-python once rendered it
unsandboxed (CVE-2024-34359). We always render with Jinja's ImmutableSandboxedEnvironment.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from apprentice.errors import ModelUnavailableError

__all__ = ["CHATML_TEMPLATE", "render_chat"]

#: Fallback when a model ships no template (SmolLM2's own is ChatML).
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@lru_cache(maxsize=16)
def _compile(template: str):
    # what Hugging Face's renderer offers templates: {% break %}/{% continue %}, raise_exception, strftime_now
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    def strftime_now(fmt: str) -> str:
        return dt.datetime.now().strftime(fmt)

    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(template)


def render_chat(
    template: str | None,
    messages: list[dict[str, str]],
    *,
    prefill: str | None = None,
    bos_token: str = "",
    eos_token: str = "",
    tools: list[dict] | None = None,
) -> str:
    """Render ``messages`` into a prompt that ends where the assistant speaks next.

    Args:
        template: the model's Jinja chat template (None: ChatML).
        messages: ``{"role", "content"}`` dicts, roles system/user/assistant.
        prefill: text the assistant has already said in this turn; generation continues it.
        bos_token: the model's BOS string, for templates that use it.
        eos_token: the model's EOS string, for templates that use it.
        tools: JSON-schema tool definitions for templates that list them (``tools=`` as transformers passes
            it); None for the text protocol, which lists tools in its own system prompt.
    """
    try:
        prompt = _compile(template or CHATML_TEMPLATE).render(
            messages=messages, add_generation_prompt=True, bos_token=bos_token, eos_token=eos_token, tools=tools
        )
    except SecurityError as exc:
        raise ModelUnavailableError(f"the model's chat template tried something unsafe and was refused: {exc}") from exc
    except TemplateError as exc:
        raise ModelUnavailableError(f"the model's chat template failed to render: {exc}") from exc
    return prompt + (prefill or "")

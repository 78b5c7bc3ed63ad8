"""Chat templates: a model file's template is data rendered in a sandbox; prefill continues a turn."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from apprentice.backends import (
    CHATML_TEMPLATE,
    LocalChatModel,
    render_chat,
    to_chat_dicts,
)
from apprentice.errors import ModelUnavailableError

MALICIOUS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('touch {marker}').read() }}",
    "{{ lipsum.__globals__['os'].popen('touch {marker}').read() }}",
    "{{ joiner.__init__.__globals__.os.system('touch {marker}') }}",
    "{{ self.__init__.__globals__.__builtins__.__import__('os').system('touch {marker}') }}",
    "{% for m in messages %}{{ messages.append(m) }}{% endfor %}",
    "{{ namespace.__init__.__globals__.os.popen('touch {marker}').read() }}",
]


class _EngineStub(LocalChatModel):
    """A local model whose engine only records that it was asked to run."""

    template: str | None = None
    completed: list[str] = []

    @property
    def _llm_type(self) -> str:
        return "stub"

    @property
    def chat_template(self) -> str | None:
        return self.template

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _complete(self, prompt: str, **params) -> Iterator[str]:
        self.completed.append(prompt)
        yield "ok"


@pytest.mark.parametrize("template", MALICIOUS)
def test_a_malicious_template_is_refused_and_runs_nothing(template, tmp_path):
    marker = tmp_path / "pwned"
    template = template.replace("{marker}", str(marker))
    with pytest.raises(ModelUnavailableError, match="unsafe and was refused"):
        render_chat(template, [{"role": "user", "content": "hi"}])
    model = _EngineStub(template=template, completed=[])
    with pytest.raises(ModelUnavailableError):
        model.invoke("hi")
    assert model.completed == [] and not marker.exists()


def test_a_broken_template_is_a_clear_error_and_raise_exception_works():
    with pytest.raises(ModelUnavailableError, match="failed to render"):
        render_chat("{% for %}", [])
    with pytest.raises(ModelUnavailableError, match="failed to render: roles must alternate"):
        render_chat("{{ raise_exception('roles must alternate') }}", [{"role": "user", "content": "x"}])


def test_chatml_is_the_fallback_and_ends_where_the_assistant_speaks():
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    prompt = render_chat(None, messages)
    assert prompt == render_chat(CHATML_TEMPLATE, messages)
    assert prompt == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"


def test_special_tokens_reach_the_template():
    template = "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{{ eos_token }}{% endfor %}"
    assert render_chat(template, [{"role": "user", "content": "a"}], bos_token="<s>", eos_token="</s>") == "<s>a</s>"


def test_prefill_continues_the_assistant_message():
    dicts, prefill = to_chat_dicts([HumanMessage("What is 2+2?"), AIMessage("Thought:")])
    assert prefill == "Thought:" and dicts == [{"role": "user", "content": "What is 2+2?"}]
    prompt = render_chat(None, dicts, prefill=prefill)
    assert prompt.endswith("<|im_start|>assistant\nThought:")


def test_messages_map_to_template_roles():
    dicts, prefill = to_chat_dicts([
        SystemMessage("sys"), HumanMessage("q"), AIMessage("a"), ToolMessage("84", tool_call_id="1"),
        HumanMessage("next"),
    ])
    assert prefill is None
    assert dicts == [{"role": "system", "content": "sys"}, {"role": "user", "content": "q"},
                     {"role": "assistant", "content": "a"}, {"role": "user", "content": "Observation: 84"},
                     {"role": "user", "content": "next"}]


def test_an_ai_message_with_tool_calls_is_not_a_prefill():
    call = AIMessage("", tool_calls=[{"name": "calculator", "args": {"expression": "1+1"}, "id": "c1"}])
    _, prefill = to_chat_dicts([HumanMessage("q"), call])
    assert prefill is None


def test_the_embedded_models_own_template_with_prefill(local_model):
    prompt = local_model.render([HumanMessage("What is 2+2?"), AIMessage("Thought:")])
    assert prompt.endswith("<|im_start|>assistant\nThought:")
    assert prompt.count("<|im_end|>") == prompt.count("<|im_start|>") - 1  # the last turn stays open
    assert "<|im_start|>user\nWhat is 2+2?<|im_end|>" in prompt
    assert local_model.render([HumanMessage("hi")]).endswith("<|im_start|>assistant\n")


def test_what_newer_templates_use_renders():
    """Loop controls, strftime_now and tools=, as Hugging Face's renderer offers them (Llama 3.x, Qwen 2.5)."""
    template = ("{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}{{ m['content'] }}{% endfor %}"
                "|{{ strftime_now('%Y') }}|{% if tools %}{{ tools | length }} tools{% else %}no tools{% endif %}")
    messages = [{"role": "user", "content": "first"}, {"role": "user", "content": "second"}]
    import datetime as dt

    assert render_chat(template, messages) == f"first|{dt.datetime.now():%Y}|no tools"
    assert render_chat(template, messages, tools=[{"type": "function"}]).endswith("|1 tools")


class _NoChatMLStub(_EngineStub):
    """A vocabulary where ChatML's markers are plain text (several tokens each), as Gemma's."""

    def count_tokens(self, text: str) -> int:
        return len(text)


def test_no_template_and_no_chatml_tokens_is_refused_not_guessed():
    model = _NoChatMLStub(template=None, completed=[])
    with pytest.raises(ModelUnavailableError, match="no chat template and its vocabulary has no ChatML tokens"):
        model.invoke("hi")
    assert model.completed == []
    with_template = _NoChatMLStub(template="{% for m in messages %}{{ m['content'] }}{% endfor %}", completed=[])
    assert with_template.invoke("hi").content == "ok" and with_template.completed == ["hi"]
    assert _EngineStub(template=None, completed=[]).invoke("hi").content == "ok"  # ChatML tokens: ChatML


def test_the_embedded_model_knows_chatml_tokens(local_model):
    assert local_model.count_tokens("<|im_start|>") == 1 and local_model._template() == local_model.chat_template

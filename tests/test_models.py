"""Model specs and the local engines: llama.cpp on the embedded GGUF and transformers on its HF copy."""

from __future__ import annotations

import httpx
import openai
import pytest
from fixtures_models import free_port, hf_folder, hf_home, local_1t  # noqa: F401 - fixtures
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage

from apprentice.backends import ScriptedChatModel
from apprentice.backends.hf import TransformersChatModel, hf_base_from_gguf
from apprentice.backends.llamacpp import LlamaCppChatModel
from apprentice.errors import ModelSpecError, ModelUnavailableError
from apprentice.models import (
    ModelSpec,
    embedded_model_path,
    load_chat_model,
    model_error,
    parse_spec,
    supports_native_tools,
)

COUNT = [HumanMessage("Count from 1 to 10, separated by commas.")]

# -- spec strings -------------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1)
_url = st.builds(lambda scheme, rest: f"{scheme}://{rest}", st.sampled_from(["http", "https"]),
                 st.from_regex(r"[a-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9/]*)?", fullmatch=True))
_valid_specs = st.one_of(
    st.just("local"),
    _text.map(lambda t: f"local:{t}"),
    _text.map(lambda t: f"adapter:{t}"),
    _text.filter(lambda t: "@" not in t).map(lambda t: f"openai:{t}"),
    st.builds(lambda name, url: f"openai:{name}@{url}", _text.filter(lambda t: "@" not in t), _url),
)


@given(_valid_specs)
def test_valid_specs_round_trip(spec):
    parsed = parse_spec(spec)
    assert str(parsed) == spec
    assert parse_spec(str(parsed)) == parsed


@pytest.mark.parametrize("spec, expected", [
    ("local", ModelSpec("local")),
    ("  local  ", ModelSpec("local")),
    ("local:", ModelSpec("local")),
    ("local:~/models/x.gguf", ModelSpec("local", "~/models/x.gguf")),
    ("adapter:math-v2", ModelSpec("adapter", "math-v2")),
    ("openai:gpt-4o-mini", ModelSpec("openai", "gpt-4o-mini")),
    ("openai:smol@http://127.0.0.1:8000/v1", ModelSpec("openai", "smol", "http://127.0.0.1:8000/v1")),
])
def test_parse_spec(spec, expected):
    assert parse_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", "gpt-4o", "adapter:", "openai:", "openai:@http://x", "openai:m@ftp://x",
                                  "openai:m@localhost:8000", "remote:x", "LOCAL"])
def test_malformed_specs_are_refused(spec):
    with pytest.raises(ModelSpecError, match="unknown model spec"):
        parse_spec(spec)


# -- loading: bad targets -------------------------------------------------------------------------


def test_missing_or_non_gguf_files_and_pickle_folders_are_refused(tmp_path):
    with pytest.raises(ModelSpecError, match="model path not found"):
        load_chat_model(f"local:{tmp_path / 'missing.gguf'}")
    fake = tmp_path / "x.gguf"
    fake.write_text("not a model")
    with pytest.raises(ModelSpecError, match="not a GGUF file"):
        load_chat_model(f"local:{fake}")
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ModelSpecError, match=r"found pytorch_model\.bin: pickle files are refused"):
        load_chat_model(f"local:{folder}")


def test_openai_needs_a_key_or_a_server(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ModelUnavailableError, match="needs OPENAI_API_KEY"):
        load_chat_model("openai:gpt-4o-mini")
    with pytest.raises(ModelUnavailableError, match="cannot reach model server"):
        load_chat_model(f"openai:smol@http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used-000")
    chat = load_chat_model("openai:gpt-4o-mini", temperature=0.3, max_tokens=7)  # no network until called
    assert (chat.model_name, chat.temperature, chat.max_tokens, chat.stream_usage) == ("gpt-4o-mini", 0.3, 7, True)
    assert supports_native_tools(chat)


def test_client_errors_become_one_clear_line():
    request = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")

    def status(cls, code):
        return cls("refused", response=httpx.Response(code, request=request), body=None)

    assert "cannot reach the model server" in str(model_error(openai.APIConnectionError(request=request)))
    assert "HTTP 401" in str(model_error(status(openai.AuthenticationError, 401)))
    assert "rate-limiting" in str(model_error(status(openai.RateLimitError, 429)))
    assert "HTTP 500" in str(model_error(status(openai.InternalServerError, 500)))
    assert model_error(ValueError("a bug")) is None


def test_supports_native_tools():
    assert supports_native_tools(ScriptedChatModel(native_tools=True))
    assert not supports_native_tools(ScriptedChatModel())


# -- the embedded model through llama.cpp ---------------------------------------------------------


@pytest.mark.slow
def test_local_answers_with_usage(local_1t):  # noqa: F811
    assert isinstance(local_1t, LlamaCppChatModel) and not supports_native_tools(local_1t)
    reply = local_1t.invoke([HumanMessage("What is the capital of France?")], max_tokens=8)
    usage = reply.usage_metadata
    assert reply.text.strip()
    assert usage["input_tokens"] > 10 and 0 < usage["output_tokens"] <= 9
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert reply.response_metadata["model_name"] == "local"


@pytest.mark.slow
def test_local_streams_and_stops_at_a_stop_string(local_1t):  # noqa: F811
    chunks = list(local_1t.stream(COUNT, stop=["5"], max_tokens=24))
    text = "".join(c.text for c in chunks)
    assert len(chunks) >= 4 and text.startswith("1, 2") and "5" not in text
    assert chunks[-1].usage_metadata["output_tokens"] > 0


@pytest.mark.slow
def test_local_prefill_continues_the_assistant_message(local_1t):  # noqa: F811
    messages = [HumanMessage("What is the capital of France?"), AIMessage("The capital of France is")]
    reply = local_1t.invoke(messages, max_tokens=6)
    assert "Paris" in reply.text and not reply.text.startswith("The capital")


@pytest.mark.slow
def test_local_seed_makes_sampling_repeatable(local_1t):  # noqa: F811
    draw = lambda seed: local_1t.invoke("Name a colour.", temperature=1.0, seed=seed, max_tokens=8).text  # noqa: E731
    assert draw(7) == draw(7)


def test_local_path_to_the_embedded_gguf_shares_the_loaded_weights(local_1t):  # noqa: F811
    chat = load_chat_model(f"local:{embedded_model_path()}", n_ctx=2048)
    assert isinstance(chat, LlamaCppChatModel) and chat.llm is local_1t.llm
    assert chat.spec == f"local:{embedded_model_path()}"


# -- the HF copy through transformers -------------------------------------------------------------


def test_hf_conversion_is_cached_and_safetensors_only(hf_folder, hf_home, monkeypatch):  # noqa: F811
    names = {p.name for p in hf_folder.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pth", ".pkl", ".gguf")) for n in names)
    from apprentice.backends.hf import models_dir

    assert hf_folder.parent == models_dir()  # APPRENTICE_MODELS (shared by the session) or home/models
    stamp = (hf_folder / "model.safetensors").stat().st_mtime_ns
    import transformers

    def no_reconversion(*args, **kwargs):
        raise AssertionError("converted twice")

    monkeypatch.setenv("APPRENTICE_HOME", str(hf_home))
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_reconversion)
    assert hf_base_from_gguf(embedded_model_path()) == hf_folder
    assert (hf_folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_hf_conversion_of_a_bad_file_is_a_clear_error(tmp_path):
    fake = tmp_path / "broken.gguf"
    fake.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelUnavailableError, match="transformers could not read broken.gguf"):
        hf_base_from_gguf(fake)


@pytest.fixture(scope="module")
def hf_model(hf_folder):  # noqa: F811
    return load_chat_model(f"local:{hf_folder}", max_tokens=24)


@pytest.mark.slow
def test_hf_model_answers_streams_and_stops(hf_model, hf_folder):  # noqa: F811
    assert isinstance(hf_model, TransformersChatModel) and hf_model.spec == f"local:{hf_folder}"
    reply = hf_model.invoke([HumanMessage("What is the capital of France?")], max_tokens=12)
    assert "Paris" in reply.text and reply.usage_metadata["output_tokens"] > 0
    chunks = list(hf_model.stream(COUNT, stop=["5"], max_tokens=30))
    text = "".join(c.text for c in chunks)
    assert len(chunks) >= 3 and text.startswith("1, 2") and "5" not in text
    assert chunks[-1].usage_metadata["input_tokens"] > 10


@pytest.mark.slow
def test_hf_model_prefill_uses_the_same_template(hf_model, local_1t):  # noqa: F811
    messages = [HumanMessage("What is 2+2?"), AIMessage("Thought:")]
    assert hf_model.render(messages) == local_1t.render(messages)
    assert "Paris" in hf_model.invoke([HumanMessage("What is the capital of France?"),
                                       AIMessage("The capital of France is")], max_tokens=6).text


def test_two_chat_models_on_one_gguf_never_decode_at_once(local_1t, monkeypatch):  # noqa: F811
    import threading
    import time

    other = load_chat_model("local", n_ctx=2048, max_tokens=8)
    assert other.llm is local_1t.llm  # one llama.cpp context, shared through the cache
    inside, peak, guard = [0], [0], threading.Lock()

    def fake_completion(prompt, **kwargs):  # the engine, instrumented: how many decode at once?
        with guard:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        try:
            for piece in ("a", "b", "c"):
                time.sleep(0.05)
                yield {"choices": [{"text": piece}]}
        finally:
            with guard:
                inside[0] -= 1

    monkeypatch.setattr(local_1t.llm, "create_completion", fake_completion)
    threads = [threading.Thread(target=m.invoke, args=("hi",)) for m in (local_1t, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 1


def test_converted_models_default_to_the_home_folder(monkeypatch, tmp_path):
    from apprentice.backends.hf import models_dir

    monkeypatch.delenv("APPRENTICE_MODELS")
    monkeypatch.setenv("APPRENTICE_HOME", str(tmp_path))
    assert models_dir() == tmp_path / "models"

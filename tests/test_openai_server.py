"""The ``openai:MODEL@URL`` path against a real OpenAI-compatible server (llama-cpp-python's, on the
embedded GGUF, started on 127.0.0.1 by the test)."""

from __future__ import annotations

import json

import pytest
from fixtures_models import free_port, openai_server  # noqa: F401 - fixture

from apprentice.cli import main
from apprentice.errors import ModelUnavailableError
from apprentice.graphs import run_question
from apprentice.models import load_chat_model, supports_native_tools
from apprentice.traces import open_store

pytestmark = pytest.mark.slow

PROMPT = "Count from 1 to 10, separated by commas."


@pytest.fixture(scope="module")
def smol(openai_server):  # noqa: F811
    return load_chat_model(f"openai:smol@{openai_server}", max_tokens=24)


def test_streaming_yields_several_chunks(smol):
    chunks = list(smol.stream(PROMPT))
    text = "".join(c.text for c in chunks)
    assert len([c for c in chunks if c.text]) >= 4 and "1, 2" in text
    assert supports_native_tools(smol)


def test_invoke_reports_usage_and_stops_at_a_stop_string(smol):
    reply = smol.invoke(PROMPT, stop=["5"])
    usage = reply.usage_metadata
    assert reply.text.strip() and "5" not in reply.text
    assert usage["input_tokens"] > 10 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert reply.response_metadata["token_usage"]["prompt_tokens"] == usage["input_tokens"]


def test_this_server_sends_no_usage_when_streaming(smol):
    """llama-cpp-python's server ignores ``stream_options.include_usage`` (vLLM and OpenAI honour it)."""
    assert not any(c.usage_metadata for c in smol.stream(PROMPT))


def test_a_run_on_a_server_without_streamed_usage_still_counts_tokens(smol, openai_server):  # noqa: F811
    result = run_question("What is 2 plus 3?", model=smol, model_spec=f"openai:smol@{openai_server}",
                          tools=[], protocol="text", max_steps=1)
    run = open_store().get(result.run_id)
    assert run.model_calls >= 1 and run.tokens_in > 0 and run.tokens_out > 0


def test_ask_end_to_end_with_the_text_protocol(openai_server, capsys):  # noqa: F811
    spec = f"openai:smol@{openai_server}"
    code = main(["ask", "What is 2 plus 3?", "--model", spec, "--protocol", "text", "--tools", "calculator",
                 "--max-steps", "1", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)
    assert result["status"] == "ok" and result["model"] == spec and result["answer"]
    run = open_store().get(result["run_id"])
    assert run.model == spec and run.model_calls == result["model_calls"] >= 1
    assert run.steps[0].kind == "llm" and run.steps[0].raw and run.steps[-1].kind == "answer"
    assert run.steps[0].latency_s > 0


def test_a_server_that_is_down_is_one_error_line_and_exit_3(capsys):
    url = f"http://127.0.0.1:{free_port()}/v1"
    assert main(["ask", "hi", "--model", f"openai:smol@{url}", "--protocol", "text"]) == 3
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(f"error: cannot reach model server at {url}") and captured.out == ""
    assert open_store().count() == 0


def test_a_server_that_goes_down_mid_run_is_recorded_and_translated():
    chat = load_chat_model(f"openai:smol@http://127.0.0.1:{free_port()}/v1", check=False, max_retries=0,
                           timeout=5)
    with pytest.raises(ModelUnavailableError, match="cannot reach the model server"):
        run_question("What is 2 plus 3?", model=chat, model_spec="openai:smol", tools=["calculator"],
                     protocol="text")
    (run,) = open_store().query()
    assert run.status == "error" and "ConnectionError" in run.error and run.model == "openai:smol"


def test_a_missing_key_is_one_error_line_and_exit_3(capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert main(["ask", "hi", "--model", "openai:gpt-4o-mini"]) == 3
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: openai:gpt-4o-mini needs OPENAI_API_KEY")

"""`apprentice serve` over real HTTP on 127.0.0.1: the official OpenAI client, ChatOpenAI (through this
project's own ``openai:NAME@URL`` spec) and the run loop talk to it; keys and bad requests are refused
in OpenAI's error shape."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
import uvicorn

from apprentice.backends.scripted import ScriptedChatModel
from apprentice.cli import main
from apprentice.errors import ApprenticeError
from apprentice.graphs import run_question
from apprentice.models import load_chat_model
from apprentice.serve import check_bind, create_app, remote_warning, served_name

KEY = "sk-test-123"


def _client(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=30)


def test_openai_client_plain_and_streaming(serve_app):
    model = ScriptedChatModel(script=["The answer is four. STOP here"], cycle=True)
    url = serve_app(model, name="student", api_key=KEY)
    client = _client(url)

    plain = client.chat.completions.create(
        model="student", messages=[{"role": "user", "content": "2+2?"}], temperature=0.3, max_tokens=50,
        stop=["STOP"], seed=7,
    )
    chunks = list(client.chat.completions.create(
        model="student", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}],
        stream=True, stream_options={"include_usage": True},
    ))

    assert plain.choices[0].message.content == "The answer is four. "
    assert plain.choices[0].finish_reason == "stop" and plain.usage.completion_tokens == 4
    assert model.calls_kwargs[0] == {"stop": ["STOP"], "temperature": 0.3, "max_tokens": 50, "seed": 7}
    assert [m.type for m in model.prompts[1]] == ["system", "human"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The answer is four. STOP here"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 6
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert [m.id for m in client.models.list().data][:2] == ["student", "student+io"]  # then every strategy


def test_finish_reason_is_length_at_the_token_cap(serve_app):
    url = serve_app(ScriptedChatModel(script=["one two three"], cycle=True), name="student")
    reply = _client(url, key="anything").chat.completions.create(
        model="student", messages=[{"role": "user", "content": "count"}], max_tokens=3)
    assert reply.choices[0].finish_reason == "length"  # no --api-key: any key is fine


def test_this_projects_openai_spec_and_run_loop_talk_to_the_server(serve_app, monkeypatch):
    model = ScriptedChatModel(script=["Final Answer: 4"], cycle=True)
    url = serve_app(model, name="student", api_key=KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    chat = load_chat_model(f"openai:student@{url}", max_retries=0)

    assert chat.invoke("2+2?").content == "Final Answer: 4"
    streamed = list(chat.stream("2+2?"))
    assert "".join(c.text for c in streamed) == "Final Answer: 4"
    assert sum(c.usage_metadata["output_tokens"] for c in streamed if c.usage_metadata) == 3
    result = run_question("What is 2 + 2?", model=chat, model_spec=f"openai:student@{url}")
    assert result.status == "ok" and result.answer == "4"  # tools offered; the Final Answer comes back as content


def test_wrong_or_missing_key_is_refused(serve_app):
    url = serve_app(ScriptedChatModel(script=["hi"], cycle=True), name="student", api_key=KEY)
    message = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.AuthenticationError) as wrong:
        _client(url, key="sk-wrong").chat.completions.create(model="student", messages=message)
    missing = httpx.get(url + "/models")

    assert wrong.value.status_code == 401
    assert wrong.value.body["code"] == "invalid_api_key"
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "invalid_request_error"


def test_bad_requests_get_openai_style_errors(serve_app):
    url = serve_app(ScriptedChatModel(script=["hi"], cycle=True), name="student", api_key=KEY)
    client = _client(url)
    user = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.BadRequestError) as empty:
        client.chat.completions.create(model="student", messages=[])
    with pytest.raises(openai.BadRequestError) as hot:
        client.chat.completions.create(model="student", messages=user, temperature=5)
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="gpt-9", messages=user)
    raw = httpx.post(url + "/chat/completions", content=b"{not json",
                     headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    image = httpx.post(url + "/chat/completions", headers={"Authorization": f"Bearer {KEY}"}, json={
        "model": "student", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]})

    assert empty.value.status_code == 400 and empty.value.body["param"] == "messages"
    assert hot.value.body["param"] == "temperature" and hot.value.body["type"] == "invalid_request_error"
    assert unknown.value.body["code"] == "model_not_found"
    assert raw.status_code == 400 and raw.json()["error"]["param"] is None
    assert raw.json()["error"]["message"].startswith("invalid JSON body: Expecting property name")
    assert image.status_code == 400 and "text only" in image.json()["error"]["message"]


def test_a_failing_model_is_a_server_error_not_a_crash(serve_app):
    url = serve_app(ScriptedChatModel(script=[RuntimeError("weights on fire")], cycle=True), name="student")
    with pytest.raises(openai.InternalServerError) as failed:
        _client(url).chat.completions.create(model="student", messages=[{"role": "user", "content": "hi"}])
    assert failed.value.status_code == 500 and "weights on fire" in failed.value.body["message"]


def test_the_embedded_model_is_served(serve_app, local_model):
    url = serve_app(local_model, name="local")
    stream = _client(url).chat.completions.create(
        model="local", messages=[{"role": "user", "content": "Say hello."}], max_tokens=8, stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()
    assert 0 < chunks[-1].usage.completion_tokens <= 8 and chunks[-1].usage.prompt_tokens > 0


def test_remote_bind_needs_a_key(capsys):
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("0.0.0.0", "k")
    check_bind("0.0.0.0", None, allow_remote=True)
    with pytest.raises(ApprenticeError, match="--api-key"):
        check_bind("0.0.0.0", None)
    assert main(["serve", "--host", "192.168.1.5", "--api-key", ""]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: refusing to serve on 192.168.1.5") and err.count("\n") == 1


def test_served_names():
    assert served_name("local") == "local"
    assert served_name("adapter:gsm-student") == "gsm-student"
    assert served_name("local:/models/SmolLM2.Q4.gguf") == "SmolLM2.Q4"
    assert served_name("openai:gpt-4o-mini@http://h:1/v1") == "gpt-4o-mini"


def test_the_serve_command_passes_an_openai_spec_through(tmp_path):
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from fake_openai_server import start_server

    upstream = start_server()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = "import sys; from apprentice.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, "serve", "--model", f"openai:fake@{upstream.url}",
                             "--port", str(port), "--api-key", KEY, "--log-level", "warning"],
                            env=os.environ.copy(), stderr=subprocess.PIPE, text=True)
    try:
        banner = proc.stderr.readline()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        reply = _client(f"http://127.0.0.1:{port}/v1").chat.completions.create(
            model="fake", messages=[{"role": "user", "content": "What is 20 + 23?"}])
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stderr.close()
        upstream.shutdown()
    assert banner.startswith(f"serving openai:fake@{upstream.url} as 'fake' on http://127.0.0.1:{port}/v1")
    assert reply.choices[0].message.content == "Final Answer: 43"


def test_what_openai_refuses_is_refused(serve_app):
    url = serve_app(ScriptedChatModel(script=["hi"], cycle=True), name="student")
    client = _client(url)
    user = [{"role": "user", "content": "hi"}]
    refused = {}
    for param, extra in [("stream_options", {"stream_options": {"include_usage": True}}),
                         ("stop", {"stop": ["a", "b", "c", "d", "e"]}),
                         ("logprobs", {"logprobs": True}), ("top_logprobs", {"top_logprobs": 2})]:
        with pytest.raises(openai.BadRequestError) as error:
            client.chat.completions.create(model="student", messages=user, **extra)
        refused[param] = error.value.body
    fine = client.chat.completions.create(model="student", messages=user, stop=["a", "b", "c", "d"],
                                          logprobs=False)

    assert {param: body["param"] for param, body in refused.items()} == {p: p for p in refused}
    assert "only allowed when 'stream' is enabled" in refused["stream_options"]["message"]
    assert "at most 4" in refused["stop"]["message"]
    assert refused["logprobs"]["message"] == "logprobs are not supported by this server."
    assert fine.choices[0].message.content == "hi"


def test_a_model_can_be_retrieved_by_id(serve_app):
    url = serve_app(ScriptedChatModel(script=["hi"], cycle=True), name="student", api_key=KEY)
    client = _client(url)
    model = client.models.retrieve("student")
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("gpt-9")
    unkeyed = httpx.get(url + "/models/student")

    assert (model.id, model.object, model.owned_by) == ("student", "model", "apprentice")
    assert model.model_dump() == client.models.list().data[0].model_dump()
    assert missing.value.body["code"] == "model_not_found"
    assert unkeyed.status_code == 401


def _raw_post(url: str, head: bytes, body: bytes) -> bytes:
    """POST ``body`` after ``head`` (extra header lines) on a bare socket; the answer, a JSON one."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + head + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):  # the headers, then a JSON body
            answer += sock.recv(4096)
        return answer


def test_request_bodies_are_capped_before_they_are_read(serve_app):
    url = serve_app(ScriptedChatModel(script=["hi"], cycle=True), name="student", max_body_bytes=100_000)
    # 20 MB announced, 64 KB sent: the answer comes without the rest being read
    declared = _raw_post(url, b"Content-Length: 20000000\r\n", b"x" * 65536)
    chunk = b"%x\r\n%s\r\n" % (50_000, b" " * 50_000)
    chunked = _raw_post(url, b"Transfer-Encoding: chunked\r\n", chunk * 3 + b"0\r\n\r\n")
    small = httpx.post(url + "/chat/completions", json={"model": "student", "messages": [
        {"role": "user", "content": "x" * 90_000}]})

    for answer in (declared, chunked):
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
        assert error["code"] == "request_too_large" and "at most 100000 bytes" in error["message"]
    assert small.status_code == 200


def test_requests_past_the_queue_are_refused_not_parked(serve_app):
    url = serve_app(ScriptedChatModel(script=["hi"], cycle=True, latency_s=1.0), name="student",
                    workers=1, max_queue=1)
    body = {"model": "student", "messages": [{"role": "user", "content": "hi"}]}
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda _: httpx.post(url + "/chat/completions", json=body, timeout=20), range(4)))
    codes = sorted(r.status_code for r in replies)
    busy = next(r for r in replies if r.status_code == 503)

    assert codes == [200, 200, 503, 503]
    assert busy.headers["retry-after"] == "1" and busy.json()["error"]["code"] == "server_overloaded"


def test_health_reports_the_queue_and_a_stalled_model(serve_app):
    url = serve_app(ScriptedChatModel(script=["hi"], cycle=True, latency_s=1.5), name="student", stall_s=0.5)
    root = url.removesuffix("/v1")
    idle = httpx.get(root + "/health")
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(httpx.post, url + "/chat/completions", timeout=20,
                              json={"model": "student", "messages": [{"role": "user", "content": "hi"}]})
        time.sleep(0.2)
        busy = httpx.get(root + "/health")
        time.sleep(0.8)
        stalled = httpx.get(root + "/health")
        assert pending.result().status_code == 200
    after = httpx.get(root + "/health")

    assert idle.json() == {"status": "ok", "model": "student", "running": 0, "queued": 0, "workers": 8,
                           "max_queue": 64}
    assert busy.status_code == 200 and busy.json()["running"] == 1
    assert stalled.status_code == 503 and stalled.json()["status"] == "stalled"
    assert after.status_code == 200 and after.json()["running"] == 0


def test_a_busy_port_is_one_error_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--model", "openai:fake@http://127.0.0.1:9/v1", "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"error: cannot listen on 127.0.0.1:{port}: address already in use\n"


def test_a_remote_bind_warns_on_stderr(monkeypatch, capsys):

    from apprentice.serve import server

    monkeypatch.setattr(server, "listen", lambda host, port: socket.socket())  # never bind beyond loopback
    monkeypatch.setattr(server, "create_app", lambda *a, **kw: create_app(ScriptedChatModel(script=["hi"]),
                                                                         name="student"))
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    server.serve("local", host="0.0.0.0", port=8000, allow_remote=True)
    keyless = capsys.readouterr().err.splitlines()
    server.serve("local", host="10.1.2.3", port=8000, api_key="k")
    keyed = capsys.readouterr().err.splitlines()

    assert keyless[0] == ("warning: serving on 0.0.0.0 without an API key: anyone who can reach this port can "
                          "use the model") and keyless[1].startswith("serving local as 'student'")
    assert keyed[0].startswith("warning: serving on 10.1.2.3 over plain HTTP: the API key and every conversation")
    assert remote_warning("127.0.0.1", None) is None and remote_warning("::1", "k") is None


def test_the_api_key_can_come_from_the_environment(monkeypatch):
    from apprentice.cli import make_parser

    monkeypatch.setenv("APPRENTICE_API_KEY", "sk-from-env")
    args = make_parser().parse_args(["serve"])
    serve_parser = make_parser()._subparsers._group_actions[0].choices["serve"]
    text = " ".join(serve_parser.format_help().split())
    assert args.api_key == "sk-from-env"
    assert "APPRENTICE_API_KEY" in text and "visible to every user in ps" in text


async def test_a_request_cancelled_while_queued_holds_no_body_and_no_slot():
    """Submit-then-leave, over and over, while one generation runs: the queue's slots come back and no cancelled
    request keeps its messages in the executor's queue (memory stayed bounded only by count before)."""

    from langchain_core.messages import HumanMessage

    from apprentice.serve.protocol import ChatRequest
    from apprentice.serve.worker import GenerationPool

    release = threading.Event()

    class Blocking(ScriptedChatModel):
        def _stream(self, *args, **kwargs):
            release.wait(10)
            yield from super()._stream(*args, **kwargs)

    pool = GenerationPool(Blocking(script=["done"], cycle=True), workers=1, max_queue=4)
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])
    first = pool.submit([HumanMessage("hi")], request)
    left = []
    for _ in range(50):
        generation = pool.submit([HumanMessage("x" * 10_000)], request)
        generation.cancel()
        left.append(generation)
    assert pool.status()["queued"] == 0 and all(g.work is None for g in left)
    release.set()
    assert await first.next_piece() == "done"
    pool.shutdown()
